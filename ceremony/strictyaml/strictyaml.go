// Package strictyaml decodes the project's YAML files (templates, scripts,
// answers, HSM configs) strictly: unknown fields, duplicate keys, type
// mismatches and extra documents are errors. Every error is one line that
// names the file and the line, and semantic errors found after decoding can
// name the YAML path and be located in the file too.
//
// It also refuses the YAML features that make a file mean something other
// than what it shows: anchors, aliases and merge keys (which also make
// "billion laughs" expansion impossible), explicit tags, and numbers,
// booleans or infinities written so that they would not read back as the
// same text (0010 is the number 8 in YAML; such a value must be quoted).
// These errors never repeat the value, which might be a misplaced secret.
package strictyaml

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/lexer"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// Document is a decoded YAML file, kept so that errors about its values can
// say where in the file they are.
type Document struct {
	name string
	file *ast.File
}

// MaxSize is the largest file Decode accepts.
const MaxSize = 1 << 20

// MaxDepth is how deeply a file's collections may nest (block and flow
// together); MaxNodes is how many YAML tokens a file may hold. The
// shipped files nest at most 5 levels and hold at most 650 tokens
// (TestShapeLimits keeps them far inside the limits); without the limits
// a megabyte of "[[[[" runs the parser out of memory (2 GB and more).
const (
	MaxDepth = 32
	MaxNodes = 50000
)

// Option changes how Decode reports errors.
type Option int

const (
	// Sensitive keeps quoted text out of syntax error messages, for files in
	// which a person might type a secret by mistake (answers files).
	Sensitive Option = iota + 1
)

// Decode parses data (read from the file called name) into v. The document
// must be a single YAML mapping whose every key corresponds to a field of v.
func Decode(name string, data []byte, v any, opts ...Option) (*Document, error) {
	sensitive := false
	for _, o := range opts {
		sensitive = sensitive || o == Sensitive
	}
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%s: %d bytes is larger than the %d-byte limit for a ceremony file", name, len(data), MaxSize)
	}
	if err := checkText(name, data); err != nil {
		return nil, err
	}
	if err := checkShape(name, data); err != nil {
		return nil, err
	}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		err = oneLine(name, err)
		if sensitive {
			err = errors.New(quoted.ReplaceAllString(err.Error(), `"…"`))
		}
		return nil, err
	}
	docs := 0
	for _, d := range f.Docs {
		if d != nil && d.Body != nil {
			docs++
		}
	}
	switch {
	case docs == 0:
		return nil, fmt.Errorf("%s: empty document", name)
	case docs > 1:
		return nil, fmt.Errorf("%s: holds %d YAML documents; exactly one is allowed", name, docs)
	}
	if _, ok := f.Docs[0].Body.(*ast.MappingNode); !ok {
		if _, ok := f.Docs[0].Body.(*ast.MappingValueNode); !ok {
			return nil, fmt.Errorf("%s: the document must be a mapping (key: value lines)", name)
		}
	}
	if err := plainOnly(name, f); err != nil {
		return nil, err
	}
	if err := yaml.UnmarshalWithOptions(data, v, yaml.Strict()); err != nil {
		return nil, oneLine(name, err)
	}
	return &Document{name: name, file: f}, nil
}

// Name returns the file name the document was read from.
func (d *Document) Name() string { return d.name }

// Line returns the line number of the value at path ("steps[2].template"), or
// 0 if the path is not in the document (for example a missing field).
func (d *Document) Line(path string) int {
	if d == nil || d.file == nil || path == "" {
		return 0
	}
	p, err := yaml.PathString("$." + path)
	if err != nil {
		return 0
	}
	n, err := p.FilterFile(d.file)
	if err != nil || n == nil || n.GetToken() == nil {
		return 0
	}
	return n.GetToken().Position.Line
}

// Errorf returns an error about the value at path, prefixed with the file
// name, the line (when the path exists in the file) and the path itself:
//
//	templates/root-ca.yaml:12: validity.duration: 30y exceeds the 25-year limit for a root
//
// Control characters (a key of the file in the path, a value printed
// with %s) are escaped as in Go, so that the error is one printable line.
func (d *Document) Errorf(path, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	where := d.name
	if l := d.Line(path); l > 0 {
		where = fmt.Sprintf("%s:%d", d.name, l)
	}
	if path == "" {
		return errors.New(escapeControl(where + ": " + msg))
	}
	return errors.New(escapeControl(where + ": " + path + ": " + msg))
}

// oneLine turns a go-yaml error into "name:line:col: message".
func oneLine(name string, err error) error {
	var ye yaml.Error
	if errors.As(err, &ye) {
		msg := ye.GetMessage()
		var te *yaml.TypeError
		if errors.As(err, &te) && te.DstType != nil {
			msg = fmt.Sprintf("expected %s, found %s", kindWord(te.DstType), kindWord(te.SrcType))
		}
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			return fmt.Errorf("%s:%d:%d: %s", name, tk.Position.Line, tk.Position.Column, firstLine(msg))
		}
		return fmt.Errorf("%s: %s", name, firstLine(msg))
	}
	return fmt.Errorf("%s: %s", name, firstLine(err.Error()))
}

// maxNumber bounds a number in a ceremony file: the largest setting any
// field takes (days of validity, bits, bytes) is far smaller, and a
// larger one would overflow the field it is decoded into.
const maxNumber = 1<<31 - 1

var (
	quoted    = regexp.MustCompile(`"[^"]*"`)
	decimalRE = regexp.MustCompile(`^-?(0|[1-9][0-9]*)$`)
)

// checkShape refuses, before the file is parsed, a file that nests
// deeper than MaxDepth or holds more than MaxNodes tokens, naming the
// line of the first token past the limit. The lexer is linear in the
// file's size; the parser is not, for deep nesting.
func checkShape(name string, data []byte) error {
	return checkShapeLimits(name, data, MaxDepth, MaxNodes)
}

func checkShapeLimits(name string, data []byte, maxDepth, maxNodes int) error {
	if err := prescan(name, data, maxDepth, maxNodes); err != nil {
		return err
	}
	toks := lexer.Tokenize(string(data))
	at := func(tk *token.Token) string {
		if tk.Position != nil {
			return fmt.Sprintf("%s:%d", name, tk.Position.Line)
		}
		return name
	}
	var indents []int // the columns of the open block collections
	flow, line := 0, 0
	for i, tk := range toks {
		if i == maxNodes {
			return fmt.Errorf("%s: more than %d YAML nodes; a ceremony file holds far fewer", at(tk), maxNodes)
		}
		if tk.Type == token.CommentType || tk.Position == nil {
			continue
		}
		// The first token of a line, outside flow collections, opens
		// or closes block levels by its indentation.
		if tk.Position.Line != line && flow == 0 {
			line = tk.Position.Line
			col := tk.Position.Column
			for len(indents) > 0 && indents[len(indents)-1] >= col {
				indents = indents[:len(indents)-1]
			}
			indents = append(indents, col)
		}
		line = tk.Position.Line
		switch tk.Type {
		case token.SequenceStartType, token.MappingStartType:
			flow++
		case token.SequenceEndType, token.MappingEndType:
			flow = max(flow-1, 0)
		}
		if len(indents)+flow > maxDepth {
			return fmt.Errorf("%s: nested more than %d levels deep; a ceremony file nests far less", at(tk), maxDepth)
		}
	}
	return nil
}

// prescan bounds what the lexer is given, in one pass over the bytes: the
// lexer's tokens cost some hundred bytes each, so a megabyte of "[" (or
// of "a,") would cost hundreds of megabytes before the token limits
// could be applied. It counts flow brackets where YAML reads them as
// brackets (at the start of a value, or inside a flow collection; quoted
// text and comments skipped) and refuses nesting past maxDepth; and it
// refuses a file whose non-blank lines, commas and brackets together
// pass twice maxNodes, each of which starts at least one token. The
// lexer's count (checkShapeLimits) is the exact check.
func prescan(name string, data []byte, maxDepth, maxNodes int) error {
	depth, units, line := 0, 0, 1
	valueStart, blank := true, true // at the start of a value; the line so far is spaces
	indent := 0                     // the current line's indentation
	block := -1                     // in a block scalar: the indentation of the line that opened it
	for i := 0; i < len(data); i++ {
		c := data[i]
		if blank && c == ' ' {
			indent++
		}
		switch {
		case c == '\n':
			line++
			if !blank {
				units++
			}
			valueStart, blank, indent = true, true, 0
			// A block scalar's lines are text: skip each line indented
			// more than the one that opened it (and blank ones).
			for block >= 0 {
				j, n := i+1, 0
				for j < len(data) && data[j] == ' ' {
					j, n = j+1, n+1
				}
				if j < len(data) && data[j] != '\n' && n <= block {
					block = -1
					break
				}
				for j < len(data) && data[j] != '\n' {
					j++
				}
				if j >= len(data) {
					return nil
				}
				i, line, units = j, line+1, units+1
			}
			continue
		case c == ' ' || c == '\t' || c == '\r':
			continue
		case c == '#' && (i == 0 || data[i-1] == ' ' || data[i-1] == '\t' || data[i-1] == '\n'):
			for i < len(data) && data[i] != '\n' {
				i++
			}
			i--
			continue
		}
		blank = false
		switch {
		case (c == '"' || c == '\'') && valueStart:
			// Skip the quoted text ("" escapes with \, '' with '').
			for i++; i < len(data); i++ {
				if data[i] == '\n' {
					line++
				}
				if c == '"' && data[i] == '\\' {
					i++
					continue
				}
				if data[i] == c {
					if c == '\'' && i+1 < len(data) && data[i+1] == '\'' {
						i++
						continue
					}
					break
				}
			}
			valueStart = false
		case (c == '[' || c == '{') && (valueStart || depth > 0):
			depth++
			units++
			if depth > maxDepth {
				return fmt.Errorf("%s:%d: nested more than %d levels deep; a ceremony file nests far less", name, line, maxDepth)
			}
			valueStart = true
		case (c == ']' || c == '}') && depth > 0:
			depth--
			valueStart = false
		case (c == '|' || c == '>') && valueStart && depth == 0:
			block = indent
			valueStart = false
		case c == ',' && depth > 0:
			units++
			valueStart = true
		case c == '-' || c == ':' || c == '?':
			valueStart = i+1 >= len(data) || data[i+1] == ' ' || data[i+1] == '\n' || data[i+1] == '\t'
		default:
			valueStart = false
		}
		if units > 2*maxNodes {
			return fmt.Errorf("%s:%d: more than %d YAML nodes; a ceremony file holds far fewer", name, line, maxNodes)
		}
	}
	return nil
}

// plainOnly refuses the YAML features that can make a value differ from its
// text, before anything is decoded.
func plainOnly(name string, f *ast.File) error {
	var bad error
	where := func(n ast.Node) string {
		if tk := n.GetToken(); tk != nil && tk.Position != nil {
			return fmt.Sprintf("%s:%d:%d", name, tk.Position.Line, tk.Position.Column)
		}
		return name
	}
	v := visitFunc(func(n ast.Node) bool {
		if bad != nil {
			return false
		}
		text := ""
		if tk := n.GetToken(); tk != nil {
			text = tk.Value
		}
		switch n := n.(type) {
		case *ast.AnchorNode, *ast.AliasNode, *ast.MergeKeyNode:
			bad = fmt.Errorf("%s: anchors, aliases and merge keys (&, *, <<) are not allowed; write each value out", where(n))
		case *ast.TagNode:
			bad = fmt.Errorf("%s: YAML tags (!!...) are not allowed; put the value in quotes if it is text", where(n))
		case *ast.IntegerNode:
			if !decimalRE.MatchString(text) || text == "-0" {
				bad = fmt.Errorf("%s: this value is a number in YAML but not written as a plain decimal; put it in quotes to keep it as text", where(n))
			} else if v, err := strconv.ParseInt(text, 10, 32); err != nil || v < -maxNumber || v > maxNumber {
				bad = fmt.Errorf("%s: this number is out of range: no setting in a ceremony file takes one beyond ±%d (put it in quotes if it is text, such as a serial number)", where(n), maxNumber)
			}
		case *ast.FloatNode:
			if strconv.FormatFloat(n.Value, 'f', -1, 64) != text {
				bad = fmt.Errorf("%s: this value is a number in YAML that would not read back as written; put it in quotes to keep it as text", where(n))
			}
		case *ast.BoolNode:
			if text != "true" && text != "false" {
				bad = fmt.Errorf("%s: write true or false in lower case, or put the value in quotes to keep it as text", where(n))
			}
		case *ast.InfinityNode, *ast.NanNode:
			bad = fmt.Errorf("%s: .inf and .nan are not allowed; put the value in quotes to keep it as text", where(n))
		case *ast.StringNode:
			if tk := n.GetToken(); tk != nil && tk.Type == token.StringType && decimalRE.MatchString(text) {
				// A plain integer beyond int64 is read as text, which
				// no number field takes.
				bad = fmt.Errorf("%s: this number is out of range: no setting in a ceremony file takes one beyond ±%d (put it in quotes if it is text, such as a serial number)", where(n), maxNumber)
			} else if i := strings.IndexFunc(n.Value, unprintable); i >= 0 {
				r, _ := utf8.DecodeRuneInString(n.Value[i:])
				bad = fmt.Errorf("%s: the text holds the control character U+%04X; a ceremony file holds printable text and newlines only", where(n), r)
			}
		}
		return bad == nil
	})
	for _, d := range f.Docs {
		// An empty document ("---" at the end) has no body, and its
		// GetToken would dereference it: walk only the bodies.
		if d != nil && d.Body != nil {
			ast.Walk(v, d.Body)
		}
	}
	return bad
}

// checkText refuses, by its line and column, a byte or character no
// ceremony file may hold anywhere, comments included (a script's whole
// text is carried in its transcript and printed in the record): bytes that
// are not UTF-8 (the text would be read one way here and another there,
// and the transcript's copy would not match the file), a byte-order mark,
// a tab, and any character unprintable refuses. A carriage return is
// taken before a newline only (a file saved on Windows).
func checkText(name string, data []byte) error {
	line, col := 1, 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		where := fmt.Sprintf("%s:%d:%d", name, line, col)
		switch {
		case r == utf8.RuneError && size <= 1:
			return fmt.Errorf("%s: the byte 0x%02X is not UTF-8 text: save the file as UTF-8", where, data[i])
		case r == '\uFEFF':
			return fmt.Errorf("%s: a byte-order mark (U+FEFF): save the file as UTF-8 without one", where)
		case r == '\t':
			return fmt.Errorf("%s: a tab: indent with spaces, and write spaces in text", where)
		case r == '\r' && i+1 < len(data) && data[i+1] == '\n':
		case r == '\n':
			line, col = line+1, 0
		case unprintable(r):
			return fmt.Errorf("%s: the text holds the control character U+%04X; a ceremony file holds printable text and newlines only", where, r)
		}
		i += size
		col++
	}
	return nil
}

// unprintable reports a character no text in a ceremony file may hold:
// a control character other than newline (tab included: YAML does not
// indent with it), or an invisible or direction-changing one (U+200B,
// U+202E, ...), all of which could make text read differently on a
// terminal or on paper than it is.
func unprintable(r rune) bool {
	return r != '\n' && r != ' ' && !unicode.IsPrint(r) && !unicode.IsMark(r)
}

type visitFunc func(ast.Node) bool

func (v visitFunc) Visit(n ast.Node) ast.Visitor {
	if !v(n) {
		return nil
	}
	return v
}

// kindWord names a Go type the way a YAML author thinks of it.
func kindWord(t reflect.Type) string {
	if t == nil {
		return "nothing"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	default:
		return t.String()
	}
}

// firstLine returns the first line of a go-yaml message, with any other
// control character it quotes from the file (a key of "\x01") escaped as
// in Go.
func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return escapeControl(s)
}

// escapeControl escapes the control characters of s as strconv.Quote
// would, and leaves everything else as it is.
func escapeControl(s string) string {
	if strings.IndexFunc(s, unicode.IsControl) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsControl(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Node is a part of a document kept undecoded, for a caller that decides
// from one of its fields what the rest must hold (a script step, whose
// kind says which fields it takes). Decode a Node with Document.DecodeNode.
type Node struct {
	node ast.Node
}

// UnmarshalYAML keeps the node.
func (n *Node) UnmarshalYAML(node ast.Node) error {
	n.node = node
	return nil
}

// Key is a key of a mapping node and where it stands.
type Key struct {
	Name         string
	Line, Column int
}

// Only returns the mapping node with only the given keys, to decode part
// of it strictly.
func (n Node) Only(keep func(key string) bool) Node {
	values, ok := n.mappingValues()
	if !ok {
		return n
	}
	m := &ast.MappingNode{BaseNode: &ast.BaseNode{}}
	if orig, ok := n.node.(*ast.MappingNode); ok {
		c := *orig
		m = &c
	} else {
		m.Start = values[0].GetToken()
	}
	m.Values = nil
	for _, v := range values {
		if keep(keyName(v.Key)) {
			m.Values = append(m.Values, v)
		}
	}
	return Node{node: m}
}

// mappingValues returns the key-value pairs of a mapping node, or false.
func (n Node) mappingValues() ([]*ast.MappingValueNode, bool) {
	switch m := n.node.(type) {
	case *ast.MappingNode:
		return m.Values, true
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{m}, true
	}
	return nil, false
}

// Keys returns the keys of a mapping node in document order, or false if
// the node is not a mapping.
func (n Node) Keys() ([]Key, bool) {
	values, ok := n.mappingValues()
	if !ok {
		return nil, false
	}
	keys := make([]Key, 0, len(values))
	for _, v := range values {
		k := Key{Name: keyName(v.Key)}
		if tk := v.Key.GetToken(); tk != nil && tk.Position != nil {
			k.Line, k.Column = tk.Position.Line, tk.Position.Column
		}
		keys = append(keys, k)
	}
	return keys, true
}

// Strings calls f with the text of every string scalar in the node, with
// its path below the node ("label", "subject.CN", "options[1].text").
func (n Node) Strings(f func(path, text string)) {
	walkStrings(n.node, "", f)
}

func walkStrings(node ast.Node, path string, f func(path, text string)) {
	join := func(key string) string {
		if path == "" {
			return key
		}
		return path + "." + key
	}
	switch v := node.(type) {
	case *ast.MappingNode:
		for _, mv := range v.Values {
			walkStrings(mv.Value, join(keyName(mv.Key)), f)
		}
	case *ast.MappingValueNode:
		walkStrings(v.Value, join(keyName(v.Key)), f)
	case *ast.SequenceNode:
		for i, e := range v.Values {
			walkStrings(e, fmt.Sprintf("%s[%d]", path, i), f)
		}
	case *ast.StringNode:
		f(path, v.Value)
	case *ast.LiteralNode:
		if v.Value != nil {
			f(path, v.Value.Value)
		}
	}
}

// DecodeNode decodes a kept node into v strictly (unknown fields and type
// mismatches are errors), and reports errors as Decode does, naming the
// file, line and column.
func (d *Document) DecodeNode(n Node, v any) error {
	if n.node == nil {
		return fmt.Errorf("%s: empty value", d.name)
	}
	if err := yaml.NodeToValue(n.node, v, yaml.Strict()); err != nil {
		return oneLine(d.name, err)
	}
	return nil
}

// Scalar returns the text of the value under key in a mapping node, if
// the key is there (present) and its value is a scalar (a string, quoted
// or not, a block of text, a number or a boolean, as written).
func (n Node) Scalar(key string) (text string, scalar, present bool) {
	values, _ := n.mappingValues()
	for _, v := range values {
		if keyName(v.Key) != key {
			continue
		}
		switch sv := v.Value.(type) {
		case *ast.StringNode:
			return sv.Value, true, true
		case *ast.LiteralNode:
			if sv.Value != nil {
				return strings.TrimSuffix(sv.Value.Value, "\n"), true, true
			}
		case ast.ScalarNode:
			if tk := sv.GetToken(); tk != nil {
				return tk.Value, true, true
			}
		}
		return "", false, true
	}
	return "", false, false
}

// keyName is a mapping key as its text: a quoted key without its quotes.
func keyName(k ast.MapKeyNode) string {
	if s, ok := k.(*ast.StringNode); ok {
		return s.Value
	}
	return k.String()
}
