package strictyaml

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devicepki/ceremony/internal/fuzzcheck"
)

// addYAMLSeeds adds every YAML file of the repository's scripts, templates
// and examples (and the demo's answers files) to the corpus.
func addYAMLSeeds(f *testing.F) {
	for _, pat := range []string{"scripts/*.yaml", "scripts/demo/*.yaml", "templates/*.yaml", "examples/*/*.yaml"} {
		files, _ := filepath.Glob(filepath.Join("..", "..", pat))
		for _, p := range files {
			if data, err := os.ReadFile(p); err == nil {
				f.Add(data)
			}
		}
	}
}

type fuzzDoc struct {
	Version int               `yaml:"version"`
	Name    string            `yaml:"name"`
	On      bool              `yaml:"on"`
	List    []string          `yaml:"list"`
	Map     map[string]string `yaml:"map"`
	Steps   []struct {
		ID   string `yaml:"id"`
		Kind string `yaml:"kind"`
		Rest Node   `yaml:"rest"`
	} `yaml:"steps"`
	Nested struct {
		A string `yaml:"a"`
		B []int  `yaml:"b"`
	} `yaml:"nested"`
}

// FuzzDecode: whatever the bytes, Decode returns one printable line of
// error naming the file, or a document, and never panics; Sensitive does
// not change the outcome; Line never panics on a decoded document.
func FuzzDecode(f *testing.F) {
	addYAMLSeeds(f)
	f.Add([]byte("version: 1\nname: x\nlist: [a, b]\nmap: {k: v}\nnested:\n  a: y\n  b: [1, 2]\n"))
	f.Add([]byte("steps:\n  - id: a\n    kind: confirm\n    rest: {x: 1}\n"))
	f.Add([]byte("a: &x 1\nb: *x\n"))
	f.Add([]byte("name: !!str 0010\n"))
	f.Add([]byte("\x01:")) // a control character in an unknown key's error
	f.Fuzz(func(t *testing.T, data []byte) {
		var v fuzzDoc
		doc, err := Decode("in.yaml", data, &v)
		fuzzcheck.OneLine(t, err)
		if err != nil && !strings.HasPrefix(err.Error(), "in.yaml") {
			t.Fatalf("error does not name the file: %v", err)
		}
		var w fuzzDoc
		_, serr := Decode("in.yaml", data, &w, Sensitive)
		fuzzcheck.OneLine(t, serr)
		if (err == nil) != (serr == nil) {
			t.Fatalf("Sensitive changes the outcome: %v / %v", err, serr)
		}
		if err != nil {
			return
		}
		for _, p := range []string{"version", "name", "list[0]", "map.k", "steps[0].rest", "nested.b[1]", "]["} {
			_ = doc.Line(p)
		}
		fuzzcheck.OneLine(t, doc.Errorf("name", "bad %q", v.Name))
	})
}
