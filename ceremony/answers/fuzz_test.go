package answers

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devicepki/ceremony/internal/fuzzcheck"

	"github.com/devicepki/ceremony/ceremony/engine"
	"github.com/devicepki/ceremony/ceremony/script"
)

// FuzzParseAnswers: an answers file, checked against one of the shipped
// scripts (picked by the first argument), never panics the parser; an
// error is one printable line; an accepted file is for that script and
// is accepted again.
func FuzzParseAnswers(f *testing.F) {
	root := filepath.Join("..", "..")
	paths, _ := filepath.Glob(filepath.Join(root, "scripts", "*.yaml"))
	var scripts []*script.Script
	for _, p := range paths {
		s, err := engine.LoadScript(p)
		if err != nil {
			f.Fatal(err)
		}
		scripts = append(scripts, s)
	}
	if len(scripts) == 0 {
		f.Fatal("no scripts")
	}
	answers, _ := filepath.Glob(filepath.Join(root, "scripts", "demo", "*.answers.yaml"))
	for _, p := range answers {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		for i, s := range scripts {
			if strings.Contains(string(data), "\nscript: "+s.Name+"\n") {
				f.Add(uint8(i), true, data)
				f.Add(uint8(i), false, data)
			}
		}
	}
	dir := filepath.Join(f.TempDir(), "answers.yaml")
	f.Fuzz(func(t *testing.T, which uint8, rehearsal bool, data []byte) {
		s := scripts[int(which)%len(scripts)]
		a, err := parse(dir, data, s, nil, rehearsal)
		if err != nil {
			fuzzcheck.OneLine(t, err)
			return
		}
		if a.f.Script != s.Name || a.f.Version != 1 {
			t.Fatalf("accepted answers for %q (version %d) for script %q", a.f.Script, a.f.Version, s.Name)
		}
		if _, err := parse(dir, data, s, nil, rehearsal); err != nil {
			t.Fatalf("accepted answers refused the second time: %v", err)
		}
	})
}
