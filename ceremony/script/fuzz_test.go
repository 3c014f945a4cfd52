package script_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devicepki/ceremony/internal/fuzzcheck"

	"github.com/devicepki/ceremony/ceremony/engine"
)

// FuzzParseScript: engine.ParseScript, which knows every step kind, never
// panics; an error is one printable line naming the file; an accepted
// script keeps its text and parses again the same.
func FuzzParseScript(f *testing.F) {
	for _, pat := range []string{"scripts/*.yaml", "examples/*/*.yaml"} {
		files, _ := filepath.Glob(filepath.Join("..", "..", pat))
		for _, p := range files {
			if data, err := os.ReadFile(p); err == nil {
				f.Add(data)
			}
		}
	}
	f.Add([]byte("name: x\nsteps: []\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := engine.ParseScript("s.yaml", data)
		if err != nil {
			fuzzcheck.OneLine(t, err)
			if !strings.HasPrefix(err.Error(), "s.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if s.Text != string(data) || s.Name == "" || len(s.Steps) == 0 {
			t.Fatalf("accepted script: name %q, %d steps, text kept %v", s.Name, len(s.Steps), s.Text == string(data))
		}
		again, err := engine.ParseScript("s.yaml", []byte(s.Text))
		if err != nil || again.SHA256 != s.SHA256 || len(again.Steps) != len(s.Steps) {
			t.Fatalf("accepted script does not parse again the same: %v", err)
		}
	})
}
