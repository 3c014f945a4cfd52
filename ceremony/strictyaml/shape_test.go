package strictyaml

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goccy/go-yaml/lexer"
)

// The shape limits leave the project's own files far inside them, and
// refuse, with the line, a file nested too deeply in flow or block style
// or holding too many nodes, before the parser sees it.
func TestShapeLimits(t *testing.T) {
	var files []string
	for _, pattern := range []string{"scripts/*.yaml", "scripts/demo/*.yaml", "templates/*.yaml", "examples/*/*.yaml"} {
		m, _ := filepath.Glob(filepath.Join("..", "..", pattern))
		files = append(files, m...)
	}
	if len(files) < 20 {
		t.Fatalf("only %d project YAML files found", len(files))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		depth, nodes := shape(data)
		if depth > MaxDepth/3 || nodes > MaxNodes/5 {
			t.Errorf("%s nests %d levels and holds %d nodes: too close to the limits", f, depth, nodes)
		}
		if err := checkShape(f, data); err != nil {
			t.Error(err)
		}
	}

	block := "version: 1\n"
	for i := range MaxDepth + 1 {
		block += strings.Repeat(" ", i) + "- a:\n"
	}
	for name, tc := range map[string]struct{ data, want string }{
		"flow":      {"version: 1\ntitle: " + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + "\n", "f.yaml:2: nested more than 32 levels deep"},
		"flow maps": {"version: 1\nx:\n  y: " + strings.Repeat("{a: ", 40) + "1" + strings.Repeat("}", 40) + "\n", "f.yaml:3: nested more than 32 levels deep"},
		"block":     {block, "f.yaml:34: nested more than 32 levels deep"},
		"nodes":     {"version: 1\nroles:\n" + strings.Repeat("  - a\n", MaxNodes), "f.yaml:25000: more than 50000 YAML nodes"},
	} {
		var v map[string]any
		_, err := Decode("f.yaml", []byte(tc.data), &v)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
	// Text that merely holds brackets, in plain or quoted scalars, is not
	// nesting.
	var v map[string]any
	if _, err := Decode("f.yaml", []byte("a: \"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"\nb: x[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\nc: |\n  [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n"), &v); err != nil {
		t.Errorf("brackets in text: %v", err)
	}
}

// shape measures a file as checkShape sees it: its deepest nesting and
// its number of tokens.
func shape(data []byte) (depth, nodes int) {
	for d := 1; d <= MaxDepth; d++ {
		if checkShapeDepth(data, d) == nil {
			return d, countTokens(data)
		}
	}
	return MaxDepth + 1, countTokens(data)
}

func checkShapeDepth(data []byte, depth int) error {
	return checkShapeLimits("f", data, depth, MaxNodes)
}

func countTokens(data []byte) int { return len(lexer.Tokenize(string(data))) }

// Text in a ceremony file is printable: a control character other than
// newline, or an invisible or direction-changing one, in a value or a
// key, quoted or in a block, is refused with its line and column and
// without repeating the text. Letters of any script, combining marks and
// symbols pass.
func TestControlCharactersRefused(t *testing.T) {
	for name, tc := range map[string]struct{ data, want string }{
		"escape":      {"title: \"a\\e[2Jb\"\n", "f.yaml:1:8: the text holds the control character U+001B"},
		"nul":         {"a: b\ntitle: \"x\\0y\"\n", "f.yaml:2:8: the text holds the control character U+0000"},
		"tab":         {"title: \"a\\tb\"\n", "U+0009"},
		"bidi":        {"title: \"abc\u202edef\"\n", "U+202E"},
		"zero width":  {"title: \"a\u200bb\"\n", "U+200B"},
		"in a key":    {"\"k\\e\": v\n", "U+001B"},
		"in a block":  {"say: |\n  line one\n  line \x1b[31m two\n", "U+001B"},
		"raw c1":      {"title: \"a\u0085b\"\n", "U+0085"},
		"single-quot": {"title: 'a\x07b'\n", "U+0007"},
		// Anywhere in the file, comments included, by line and column.
		"latin-1 comment": {"# Gepr\xfcft\ntitle: x\n", "f.yaml:1:7: the byte 0xFC is not UTF-8 text: save the file as UTF-8"},
		"latin-1 title":   {"a: b\ntitle: J\xfcrgen\n", "f.yaml:2:9: the byte 0xFC is not UTF-8 text"},
		"bom":             {"\uFEFFtitle: x\n", "f.yaml:1:1: a byte-order mark (U+FEFF): save the file as UTF-8 without one"},
		"raw tab in text": {"title: Root\tCA\n", "f.yaml:1:12: a tab: indent with spaces, and write spaces in text"},
		"tab in comment":  {"title: x # a\tb\n", "f.yaml:1:13: a tab"},
		"escape comment":  {"# \x1b[2J\ntitle: x\n", "f.yaml:1:3: the text holds the control character U+001B"},
		"lone CR":         {"title: x\rother: y\n", "f.yaml:1:9: the text holds the control character U+000D"},
		"bidi comment":    {"title: x # \u202e\n", "f.yaml:1:12: the text holds the control character U+202E"},
	} {
		var v map[string]any
		_, err := Decode("f.yaml", []byte(tc.data), &v)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") || strings.ContainsAny(err.Error(), "\x1b\x00\u202e") {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
	var v map[string]any
	if _, err := Decode("f.yaml", []byte("title: \"Çoşkun Kuştepe, 王小明, e\u0301, ✓\"\nsay: |\n  two\n  lines\n"), &v); err != nil {
		t.Errorf("printable text refused: %v", err)
	}
	if _, err := Decode("f.yaml", []byte("# saved on Windows\r\ntitle: x\r\n"), &v); err != nil {
		t.Errorf("CRLF line ends refused: %v", err)
	}
}

// A number beyond any setting is refused in words, not as a Go overflow.
func TestHugeNumbers(t *testing.T) {
	for _, n := range []string{"9223372036854775808", "99999999999999999999999", "-9223372036854775809", "2147483648"} {
		var v struct{ Min int }
		_, err := Decode("f.yaml", []byte("min: "+n+"\n"), &v)
		if err == nil || !strings.Contains(err.Error(), "f.yaml:1:6: this number is out of range") || strings.Contains(err.Error(), "unmarshal") {
			t.Errorf("%s: %v", n, err)
		}
	}
	var v struct{ Min int }
	if _, err := Decode("f.yaml", []byte("min: 2147483647\n"), &v); err != nil || v.Min != 2147483647 {
		t.Errorf("the largest number: %v %d", err, v.Min)
	}
}
