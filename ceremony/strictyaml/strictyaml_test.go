package strictyaml

import (
	"fmt"
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
		{"wrong type", "a: x\n", "f.yaml:1:4: expected an integer, found a string"},
		{"wrong type bool", "flag: maybe\n", "f.yaml:1:7: expected true or false, found a string"},
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

type textDoc struct {
	S    string   `yaml:"s"`
	N    int      `yaml:"n"`
	List []string `yaml:"list"`
}

// Values that YAML would silently turn into something else are refused, and
// the error does not repeat them.
func TestRefusesValuesThatChangeMeaning(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"s: 0010\n", "f.yaml:1:4: this value is a number in YAML but not written as a plain decimal"},
		{"s: 012345\n", "not written as a plain decimal"},
		{"s: 0x1F\n", "not written as a plain decimal"},
		{"s: 0o17\n", "not written as a plain decimal"},
		{"s: 1_000\n", "not written as a plain decimal"},
		{"s: +1\n", "not written as a plain decimal"},
		{"n: -0\n", "not written as a plain decimal"},
		{"s: 1.50\n", "would not read back as written"},
		{"s: .5\n", "would not read back as written"},
		{"s: True\n", "write true or false in lower case"},
		{"s: .inf\n", ".inf and .nan are not allowed"},
		{"s: !!str 0123\n", "f.yaml:1:4: YAML tags (!!...) are not allowed"},
		{"s: !!binary aGVsbG8=\n", "YAML tags"},
		{"s: &a x\nlist: [*a]\n", "anchors, aliases and merge keys"},
		{"list: [x]\n<<: {s: y}\n", "anchors, aliases and merge keys"},
	} {
		var v textDoc
		_, err := Decode("f.yaml", []byte(tc.in), &v)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Decode(%q) = %v, want %q", tc.in, err, tc.want)
			continue
		}
		for _, secretish := range []string{"0010", "012345", "0x1F", "0123", "aGVsbG8"} {
			if strings.Contains(tc.in, secretish) && strings.Contains(err.Error(), secretish) {
				t.Errorf("error %q repeats the value", err)
			}
		}
	}
	// What stays: quoted text, plain decimals, lower-case booleans, nulls.
	var v textDoc
	if _, err := Decode("f.yaml", []byte("s: '0010'\nn: 10\nlist: [\"0x1F\", 2026-11-21, 12:30, yes, null]\n"), &v); err != nil {
		t.Fatal(err)
	}
	if v.S != "0010" || v.N != 10 || strings.Join(v.List, ",") != "0x1F,2026-11-21,12:30,yes," {
		t.Fatalf("decoded %+v", v)
	}
}

func TestAliasBombIsRefusedCheaply(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x]\n")
	for i := 1; i < 30; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	var v map[string]any
	if _, err := Decode("bomb.yaml", []byte(b.String()), &v); err == nil || !strings.Contains(err.Error(), "anchors, aliases") {
		t.Fatalf("err = %v", err)
	}
}

func TestSizeLimitAndSensitiveSyntaxErrors(t *testing.T) {
	var v textDoc
	if _, err := Decode("big.yaml", []byte("s: "+strings.Repeat("x", MaxSize)), &v); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("err = %v", err)
	}
	in := []byte("s: |hunter2\n  x\n")
	_, plain := Decode("f.yaml", in, &v)
	_, quiet := Decode("f.yaml", in, &v, Sensitive)
	if plain == nil || quiet == nil {
		t.Fatal("syntax error accepted")
	}
	if !strings.Contains(plain.Error(), "hunter2") {
		t.Fatalf("the parser no longer quotes the text (%q); this test proves nothing", plain)
	}
	if strings.Contains(quiet.Error(), "hunter2") || !strings.HasPrefix(quiet.Error(), "f.yaml:1:") {
		t.Fatalf("sensitive error %q", quiet)
	}
}

// An empty document after the mapping ("---" at the end of the file) does
// not panic the checks; FuzzParseConfig and FuzzParseRevocations found it.
func TestEmptyTrailingDocument(t *testing.T) {
	for _, in := range []string{"0:\n---", "name: x\n---\n", "---\nname: x\n---\n"} {
		var v struct {
			Name string `yaml:"name"`
		}
		_, err := Decode("in.yaml", []byte(in), &v)
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: %v", in, err)
		}
	}
}
