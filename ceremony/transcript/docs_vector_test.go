package transcript_test

import (
	"os"
	"strings"
	"testing"

	"github.com/devicepki/ceremony/ceremony/transcript"
)

// formatsPage is the documentation page whose transcript vector this test
// checks, relative to this package.
const formatsPage = "../../docs/formats.md"

// docVector returns the fenced block that follows the line
// "<!-- vector: NAME -->" in formatsPage, without its fences.
func docVector(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(formatsPage)
	if err != nil {
		t.Fatal(err)
	}
	marker := "<!-- vector: " + name + " -->\n"
	_, after, ok := strings.Cut(string(data), marker)
	if !ok {
		t.Fatalf("%s: no %q", formatsPage, strings.TrimSpace(marker))
	}
	if !strings.HasPrefix(after, "```") {
		t.Fatalf("%s: vector %s: the marker is not followed by a fenced block", formatsPage, name)
	}
	_, body, _ := strings.Cut(after, "\n")
	body, _, ok = strings.Cut(body, "```")
	if !ok {
		t.Fatalf("%s: vector %s: the fenced block is not closed", formatsPage, name)
	}
	return body
}

// TestDocsTranscriptVector checks the transcript test vector in
// docs/formats.md: two events that chain from the genesis value, event 2's
// prev being the SHA-256 of line 1, and the head the page gives.
func TestDocsTranscriptVector(t *testing.T) {
	text := docVector(t, "transcript")
	c, err := transcript.Check([]byte(text))
	if err != nil {
		t.Fatalf("the page's transcript does not check: %v", err)
	}
	if len(c.Events) != 2 || string(c.Events[0].Type) != "ceremony-started" || string(c.Events[1].Type) != "attendance" {
		t.Fatalf("the page's transcript has %d events, want ceremony-started and attendance", len(c.Events))
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if c.Events[0].Prev != transcript.Genesis || c.Events[1].Prev != transcript.LineHash([]byte(lines[0])) {
		t.Errorf("prev values %s, %s do not chain", c.Events[0].Prev, c.Events[1].Prev)
	}
	head := strings.TrimSpace(docVector(t, "transcript-head"))
	if c.Head != head || transcript.LineHash([]byte(lines[1])) != head {
		t.Errorf("head %s; the page says %s", c.Head, head)
	}
}
