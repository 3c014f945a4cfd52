// Package docvector reads the test vectors that docs/formats.md gives, for
// the tests that check them against the code: each vector is the fenced
// block after a line "<!-- vector: NAME -->".
package docvector

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Page is the documentation page that holds the vectors, relative to the
// module's root.
const Page = "docs/formats.md"

// Vector returns the fenced block that follows "<!-- vector: name -->" in
// Page, without its fences. A missing or malformed vector fails the test.
func Vector(t testing.TB, name string) string {
	t.Helper()
	_, self, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(self), "..", "..", filepath.FromSlash(Page))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	marker := "<!-- vector: " + name + " -->\n"
	_, after, ok := strings.Cut(string(data), marker)
	if !ok {
		t.Fatalf("%s: no %q", Page, strings.TrimSpace(marker))
	}
	if !strings.HasPrefix(after, "```") {
		t.Fatalf("%s: vector %s: the marker is not followed by a fenced block", Page, name)
	}
	_, body, _ := strings.Cut(after, "\n")
	body, _, ok = strings.Cut(body, "```")
	if !ok {
		t.Fatalf("%s: vector %s: the fenced block is not closed", Page, name)
	}
	return body
}
