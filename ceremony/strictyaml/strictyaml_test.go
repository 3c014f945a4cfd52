package strictyaml

import (
	"strings"
	"testing"
)

type inner struct {
	B string           `yaml:"b"`
	C map[string]inner `yaml:"c"`
}

type doc struct {
	A    int     `yaml:"a"`
	Flag bool    `yaml:"flag"`
	I    inner   `yaml:"inner"`
	L    []inner `yaml:"list"`
}

func TestDecodeRejects(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"unknown field", "a: 1\ncolour: red\n", `f.yaml:2:1: unknown field "colour"`},
		{"unknown nested field", "inner:\n  b: x\n  zz: 1\n", `f.yaml:3:3: unknown field "zz"`},
		{"unknown field in list", "list:\n - b: x\n - b: y\n   q: 1\n", `f.yaml:4:4: unknown field "q"`},
		{"duplicate key", "a: 1\na: 2\n", `f.yaml:2:1: mapping key "a" already defined`},
		{"wrong type", "a: x\n", "f.yaml:1:4: expected an integer, found string"},
		{"wrong type bool", "flag: maybe\n", "f.yaml:1:7: expected true or false, found string"},
		{"two documents", "a: 1\n---\na: 2\n", "f.yaml: holds 2 YAML documents; exactly one is allowed"},
		{"empty", "", "f.yaml: empty document"},
		{"only a comment", "# nothing\n", "f.yaml: empty document"},
		{"not a mapping", "- 1\n- 2\n", "f.yaml: the document must be a mapping"},
		{"syntax", "a: [1\n", "f.yaml:1:4: sequence end token ']' not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v doc
			_, err := Decode("f.yaml", []byte(tc.in), &v)
			if err == nil {
				t.Fatalf("Decode(%q) succeeded", tc.in)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("error = %q, want prefix %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error spans several lines: %q", err)
			}
		})
	}
}

func TestLineAndErrorf(t *testing.T) {
	var v doc
	d, err := Decode("f.yaml", []byte("a: 1\nlist:\n - b: x\n - b: y\n   c:\n     key-x:\n       b: z\ninner:\n  b: q\n"), &v)
	if err != nil {
		t.Fatal(err)
	}
	if v.L[1].C["key-x"].B != "z" {
		t.Fatalf("decoded %+v", v)
	}
	for path, want := range map[string]int{"a": 1, "list[1].b": 4, "list[1].c.key-x.b": 7, "inner.b": 9, "missing": 0, "list[7]": 0} {
		if got := d.Line(path); got != want {
			t.Errorf("Line(%q) = %d, want %d", path, got, want)
		}
	}
	if got := d.Errorf("list[1].b", "bad %s", "value").Error(); got != "f.yaml:4: list[1].b: bad value" {
		t.Errorf("Errorf = %q", got)
	}
	if got := d.Errorf("nowhere", "missing").Error(); got != "f.yaml: nowhere: missing" {
		t.Errorf("Errorf = %q", got)
	}
	if got := d.Errorf("", "whole file").Error(); got != "f.yaml: whole file" {
		t.Errorf("Errorf = %q", got)
	}
}
