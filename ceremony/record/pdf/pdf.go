// Package pdf renders the printable record of a ceremony as a PDF
// (OUT/transcript.pdf), from the same record.Document as transcript.md, so
// the two never say different things.
//
// The PDF is A4. Every page's footer holds "page N of M", the ceremony's
// name and the transcript's final digest as words (all 32, on two lines),
// so that a loose page can be matched to its ceremony and its transcript.
// Table rows, list items with their details, and signature blocks are never
// split across pages (a row taller than a whole page, which only a hostile
// transcript makes, is the one exception: it continues on the next page);
// a table's header row is repeated on each page it continues on. The
// Signatures, Witness attestation and Auditor attestation sections, and the
// appendix (the script and templates as run, in a monospace font), each
// start on a new page.
//
// The output is deterministic: the same transcript gives the same bytes
// (the document's dates are the last event's time, its catalogs sorted, and
// nothing random is written), so that `ceremony import` can check a
// carried transcript.pdf against the verified transcript beside it, and
// `ceremony transcript show --pdf` reproduces it at any time.
//
// It is written with codeberg.org/go-pdf/fpdf, a pure-Go library made for
// writing PDFs (no C, no external program, which an offline ceremony
// machine does not have). The fonts are the Go fonts (Go Regular, Go Bold,
// Go Mono), embedded as TrueType subsets: PDF's core fonts know only
// cp1252, while names in a transcript may be in any script. Measured with
// golang.org/x/image/font/sfnt, the three Go fonts have the same coverage:
// 283 of Unicode's 1481 Latin characters (Latin-1 and Latin Extended-A:
// the letters of the European languages), 71 Greek and 98 Cyrillic
// characters (the modern alphabets), the record's own symbols (• – — “ ” …)
// and U+FFFD, which the record puts for control, invisible and
// direction-changing characters; they have no Han, Hangul, Arabic or Hebrew
// character and no emoji. A character a font lacks is printed as U+FFFD,
// measured like any other, so that it can never break the layout; the
// Markdown record keeps such characters, the PDF shows that something was
// there.
package pdf

import (
	"bytes"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"codeberg.org/go-pdf/fpdf"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/gomono"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/sfnt"

	"github.com/devicepki/ceremony/ceremony/record"
	"github.com/devicepki/ceremony/ceremony/transcript"
)

// Page geometry, in millimetres.
const (
	pageW, pageH = 210.0, 297.0
	marginX      = 18.0
	marginTop    = 15.0
	// bottom is where content ends; the footer lies below it.
	bottom  = pageH - 26.0
	footerY = pageH - 22.0
	textW   = pageW - 2*marginX
	// cellPad is the padding inside a table cell.
	cellPad = 1.2
)

// Font families.
const (
	sans = "go"
	mono = "gomono"
)

// Render returns the PDF record of a checked transcript.
func Render(c *transcript.Chain) ([]byte, error) {
	return RenderDocument(record.Build(c))
}

// RenderDocument returns a record document as a PDF. It lays the document
// out twice: once to count the pages, once to write "page N of M".
func RenderDocument(d *record.Document) ([]byte, error) {
	n, err := layout(d, 0, nil)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if _, err := layout(d, n, &out); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// fonts parses the embedded fonts once, to know which characters they
// have.
var fonts = func() map[string]*sfnt.Font {
	m := map[string]*sfnt.Font{}
	for name, ttf := range map[string][]byte{sans: goregular.TTF, sans + "B": gobold.TTF, mono: gomono.TTF} {
		f, err := sfnt.Parse(ttf)
		if err != nil {
			panic(fmt.Sprintf("pdf: the embedded font %s: %v", name, err))
		}
		m[name] = f
	}
	return m
}()

// printable replaces, for font key (family plus style), what cannot be
// printed: tabs become spaces, other control, invisible and
// direction-changing characters, and characters the font has no glyph
// for, become U+FFFD.
func printable(key, s string) string {
	f := fonts[key]
	var buf sfnt.Buffer
	ok := true
	for _, r := range s {
		if !has(f, &buf, r) {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t':
			return ' '
		case has(f, &buf, r):
			return r
		}
		return '\uFFFD'
	}, s)
}

func has(f *sfnt.Font, buf *sfnt.Buffer, r rune) bool {
	if r == utf8.RuneError || r == ' ' {
		return true
	}
	if !unicode.IsPrint(r) {
		return false
	}
	i, err := f.GlyphIndex(buf, r)
	return err == nil && i != 0
}

// writer lays a document out on pages.
type writer struct {
	f     *fpdf.Fpdf
	doc   *record.Document
	pages int // the total, or 0 while counting
	// fresh says nothing was drawn on the current page yet.
	fresh bool
}

func layout(d *record.Document, pages int, out *bytes.Buffer) (int, error) {
	f := fpdf.New("P", "mm", "A4", "")
	f.SetMargins(marginX, marginTop, marginX)
	f.SetAutoPageBreak(false, 0)
	f.SetCellMargin(0)
	// fpdf writes into the font bytes it is given while it cuts the
	// subset it embeds (measured: a second PDF in the same process came
	// out different), so each PDF gets its own copy.
	f.AddUTF8FontFromBytes(sans, "", bytes.Clone(goregular.TTF))
	f.AddUTF8FontFromBytes(sans, "B", bytes.Clone(gobold.TTF))
	f.AddUTF8FontFromBytes(mono, "", bytes.Clone(gomono.TTF))
	f.SetCatalogSort(true)
	t := d.Time.UTC()
	if d.Time.IsZero() {
		t = time.Unix(0, 0).UTC()
	}
	f.SetCreationDate(t)
	f.SetModificationDate(t)
	f.SetTitle(printable(sans, "Ceremony record: "+d.Title), true)
	f.SetCreator("ceremony", false)
	w := &writer{f: f, doc: d, pages: pages}
	f.SetFooterFunc(w.footer)
	w.newPage()
	for i, b := range d.Blocks {
		var next *record.Block
		if i+1 < len(d.Blocks) {
			next = &d.Blocks[i+1]
		}
		w.block(b, next)
		if err := f.Error(); err != nil {
			return 0, err
		}
	}
	n := f.PageNo()
	if out == nil {
		// Counting: the pages are laid out, nothing is written.
		return n, f.Error()
	}
	return n, f.Output(out)
}

func (w *writer) newPage() {
	w.f.AddPage()
	w.f.SetXY(marginX, marginTop)
	w.fresh = true
}

// room makes sure h millimetres fit below the current position, starting
// a new page if they do not (and if the page is not fresh).
func (w *writer) room(h float64) {
	if w.f.GetY()+h > bottom && !w.fresh {
		w.newPage()
	}
}

// space moves down by h, unless at the top of a page.
func (w *writer) space(h float64) {
	if !w.fresh {
		w.f.SetY(w.f.GetY() + h)
	}
}

// footer draws "page N of M", the title and the digest words.
func (w *writer) footer() {
	f := w.f
	f.SetDrawColor(120, 120, 120)
	f.SetLineWidth(0.2)
	f.Line(marginX, footerY-1.5, pageW-marginX, footerY-1.5)
	page := fmt.Sprintf("page %d of %d", f.PageNo(), w.pages)
	f.SetFont(sans, "B", 8)
	pw := f.GetStringWidth(page)
	f.SetFont(sans, "", 8)
	title := fit(f, printable(sans, strings.Join(strings.Fields(w.doc.Title), " ")), textW-pw-6)
	f.SetXY(marginX, footerY)
	f.CellFormat(textW-pw-4, 4, title, "", 0, "L", false, 0, "")
	f.SetFont(sans, "B", 8)
	f.SetXY(pageW-marginX-pw, footerY)
	f.CellFormat(pw, 4, page, "", 0, "R", false, 0, "")
	// The final digest as words: half on each line, in the largest
	// small size that fits.
	half := (len(w.doc.Words) + 1) / 2
	lines := []string{
		"Final digest: " + strings.Join(w.doc.Words[:half], " "),
		"" + strings.Join(w.doc.Words[half:], " "),
	}
	size := 7.5
	for ; size > 4; size -= 0.5 {
		f.SetFont(mono, "", size)
		if f.GetStringWidth(lines[0]) <= textW && f.GetStringWidth(strings.Repeat(" ", 14)+lines[1]) <= textW {
			break
		}
	}
	lines[1] = strings.Repeat(" ", 14) + lines[1]
	for i, l := range lines {
		f.SetXY(marginX, footerY+5+float64(i)*3.5)
		f.CellFormat(textW, 3.5, l, "", 0, "L", false, 0, "")
	}
}

// fit shortens s with "…" until it is at most width wide in the current
// font.
func fit(f *fpdf.Fpdf, s string, width float64) string {
	if f.GetStringWidth(s) <= width {
		return s
	}
	r := []rune(s)
	lo, hi := 0, len(r)
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if f.GetStringWidth(string(r[:mid])+"…") <= width {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return string(r[:lo]) + "…"
}
