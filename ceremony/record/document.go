package record

import (
	"strings"
	"time"
)

// Document is the printable record as a small document model: Build makes
// it from a transcript once, and each renderer (Markdown here, PDF in
// record/pdf) lays the same blocks out in its own way, so that the two
// records never say different things.
type Document struct {
	// Title is the ceremony's name (from the transcript, not sanitised:
	// a renderer makes it safe where it shows it).
	Title string
	// Head is the transcript's final digest in hex; Words is the same
	// digest as words, one per byte.
	Head  string
	Words []string
	// Time is the time of the transcript's last event (zero if it has
	// none or it does not parse): the record's date, for renderers that
	// stamp one.
	Time time.Time
	// Blocks are the record's content, in order.
	Blocks []Block
}

// BlockKind says what a Block is.
type BlockKind int

// The kinds of block.
const (
	// Heading is a heading of Level 1 to 3; NewPage asks a paged
	// renderer to start it on a new page.
	Heading BlockKind = iota + 1
	// Paragraph is running text.
	Paragraph
	// Quote is text read aloud.
	Quote
	// Item is a list item (numbered if Number > 0) with sub-items; items
	// that follow one another are one list.
	Item
	// Table is a table with a header (all cells empty for a table of
	// keys and values) and rows.
	Table
	// Code is preformatted text, one element of Lines per line, shown in
	// a monospace font as it is.
	Code
	// Signature is a line to sign: Text says who signs, and a paged
	// renderer never splits it across pages.
	Signature
)

// Block is one block of a Document. Which fields are used depends on Kind.
type Block struct {
	Kind    BlockKind
	Level   int    // Heading
	NewPage bool   // Heading
	Number  int    // Item: its number in a numbered list, 0 for a bullet
	Text    Text   // Heading, Paragraph, Quote, Item, Signature
	Sub     []Text // Item: sub-items
	Header  []Text // Table
	Rows    [][]Text
	Lines   []string // Code
}

// SignatureLine is what a signature block asks for below the signer.
const SignatureLine = "Signature: ________________________________  Date: ______________"

// Style is how a Span shows: bits that combine.
type Style uint8

// The styles of a span.
const (
	// Bold text.
	Bold Style = 1 << iota
	// Mono is a literal (a file name, a digest, a time): Markdown puts it
	// in a code span between single backticks.
	Mono
	// Outside marks text from outside the tool (a name, a reason, a CSR's
	// subject), made one line with control, invisible and
	// direction-changing characters replaced by U+FFFD when the document
	// is built; Markdown also escapes < and > (and | in a table) so that
	// no HTML renders and no cell breaks.
	Outside
	// Verbatim is a literal from outside shown exactly as it is: Markdown
	// puts it in a code span whose fence is longer than any run of
	// backticks in it.
	Verbatim
)

// Span is a run of text in one style.
type Span struct {
	Text  string
	Style Style
}

// Text is a line of spans.
type Text []Span

// String returns the text without styles.
func (t Text) String() string {
	var b strings.Builder
	for _, s := range t {
		b.WriteString(s.Text)
	}
	return b.String()
}

// line builds a Text from spans.
func line(spans ...Span) Text { return spans }

// plain is text the tool wrote (or that the record always showed as it is).
func plain(s string) Span { return Span{Text: s} }

// bold is bold text the tool wrote.
func bold(s string) Span { return Span{Text: s, Style: Bold} }

// mono is a literal shown in a monospace font.
func mono(s string) Span { return Span{Text: s, Style: Mono} }

// outside is text from the transcript, made one line and inert.
func outside(s string) Span { return Span{Text: clean(s), Style: Outside} }

// outsideMono is a literal from the transcript, made one line and inert.
func outsideMono(s string) Span { return Span{Text: clean(s), Style: Outside | Mono} }

// verbatim is a literal from the transcript shown as it is, on one line.
func verbatim(s string) Span {
	return Span{Text: strings.Join(strings.Fields(Printable(strings.NewReplacer("\n", " ", "\t", " ", "\r", " ").Replace(s))), " "), Style: Verbatim}
}

// doc collects blocks.
type doc struct{ Document }

func (d *doc) add(b Block) { d.Blocks = append(d.Blocks, b) }

func (d *doc) heading(level int, t ...Span) { d.add(Block{Kind: Heading, Level: level, Text: t}) }

// section starts a level-2 section on a new page.
func (d *doc) section(t ...Span) {
	d.add(Block{Kind: Heading, Level: 2, NewPage: true, Text: t})
}

func (d *doc) para(t ...Span) { d.add(Block{Kind: Paragraph, Text: t}) }

func (d *doc) quote(t ...Span) { d.add(Block{Kind: Quote, Text: t}) }

// item adds a list item; sub adds a sub-item to the last one.
func (d *doc) item(number int, t ...Span) { d.add(Block{Kind: Item, Number: number, Text: t}) }

func (d *doc) sub(t ...Span) {
	last := &d.Blocks[len(d.Blocks)-1]
	last.Sub = append(last.Sub, t)
}

func (d *doc) code(lines ...string) { d.add(Block{Kind: Code, Lines: lines}) }

func (d *doc) signature(t ...Span) { d.add(Block{Kind: Signature, Text: t}) }

// table adds a table and returns it, for rows to be added one a line.
func (d *doc) table(header ...Text) *table {
	d.add(Block{Kind: Table, Header: header})
	return &table{d: d, i: len(d.Blocks) - 1}
}

type table struct {
	d *doc
	i int
}

func (t *table) row(cells ...Text) { b := &t.d.Blocks[t.i]; b.Rows = append(b.Rows, cells) }

// kv adds a row to a table of keys and values.
func (t *table) kv(key string, value ...Span) { t.row(line(plain(key)), value) }
