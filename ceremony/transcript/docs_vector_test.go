package transcript_test

import (
	"strings"
	"testing"

	"github.com/devicepki/ceremony/ceremony/transcript"
	"github.com/devicepki/ceremony/internal/docvector"
)

// TestDocsTranscriptVector checks the transcript test vector in
// docs/formats.md: two events that chain from the genesis value, event 2's
// prev being the SHA-256 of line 1, and the head the page gives.
func TestDocsTranscriptVector(t *testing.T) {
	text := docvector.Vector(t, "transcript")
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
	head := strings.TrimSpace(docvector.Vector(t, "transcript-head"))
	if c.Head != head || transcript.LineHash([]byte(lines[1])) != head {
		t.Errorf("head %s; the page says %s", c.Head, head)
	}
}
