package pdf

import (
	"math"
	"strconv"
	"strings"

	"github.com/devicepki/ceremony/ceremony/record"
)

// usable is the height of a page's content area.
const usable = bottom - marginTop

// seg is a run of text in one font on one line, and its width.
type seg struct {
	family, style string
	size          float64
	text          string
	w             float64
}

// tline is one laid-out line.
type tline []seg

// fontFor returns the font a span's style shows in, at base size.
func fontFor(s record.Style, base float64) (family, style string, size float64) {
	switch {
	case s&(record.Mono|record.Verbatim) != 0:
		return mono, "", base * 0.9
	case s&record.Bold != 0:
		return sans, "B", base
	}
	return sans, "", base
}

// tokens splits text after each run of spaces, so that lines break
// between words.
func tokens(s string) []string {
	var out []string
	start, inSpace := 0, false
	for i, r := range s {
		if r == ' ' {
			inSpace = true
			continue
		}
		if inSpace {
			out = append(out, s[start:i])
			start = i
		}
		inSpace = false
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

// wrap breaks styled text into lines at most width wide; bold makes every
// span bold. A word wider than a line (a digest) is broken between
// characters.
func (w *writer) wrap(t record.Text, base, width float64, bold bool) []tline {
	f := w.f
	var lines []tline
	var cur tline
	x := 0.0
	flush := func() {
		// A line does not end in spaces.
		for len(cur) > 0 {
			l := &cur[len(cur)-1]
			trimmed := strings.TrimRight(l.text, " ")
			if trimmed == l.text {
				break
			}
			f.SetFont(l.family, l.style, l.size)
			l.text, l.w = trimmed, f.GetStringWidth(trimmed)
			if trimmed != "" {
				break
			}
			cur = cur[:len(cur)-1]
		}
		lines = append(lines, cur)
		cur, x = nil, 0
	}
	add := func(fam, st string, size float64, s string, sw float64) {
		if n := len(cur); n > 0 && cur[n-1].family == fam && cur[n-1].style == st && cur[n-1].size == size {
			cur[n-1].text += s
			cur[n-1].w += sw
		} else {
			cur = append(cur, seg{fam, st, size, s, sw})
		}
		x += sw
	}
	for _, sp := range t {
		style := sp.Style
		if bold {
			style |= record.Bold
		}
		fam, st, size := fontFor(style, base)
		f.SetFont(fam, st, size)
		for _, tok := range tokens(printable(fam+st, sp.Text)) {
			tw := f.GetStringWidth(tok)
			if x+tw <= width {
				add(fam, st, size, tok, tw)
				continue
			}
			word := strings.TrimRight(tok, " ")
			if ww := f.GetStringWidth(word); x+ww <= width {
				add(fam, st, size, word, ww)
				flush()
				continue
			}
			if x > 0 {
				flush()
			}
			pieces := splitRunes(f.GetStringWidth, []rune(word), width)
			for i, p := range pieces {
				add(fam, st, size, p.text, p.w)
				if i < len(pieces)-1 {
					flush()
				}
			}
			if rest := tok[len(strings.TrimRight(tok, " ")):]; rest != "" {
				add(fam, st, size, rest, f.GetStringWidth(rest))
			}
		}
	}
	if len(cur) > 0 || len(lines) == 0 {
		flush()
	}
	return lines
}

// piece is a run of text and its width.
type piece struct {
	text string
	w    float64
}

// splitRunes breaks r into pieces at most max wide (each at least one
// rune), in one pass: a character's width does not depend on its
// neighbours (no kerning), so each is measured once. A word of n
// characters costs O(n), not O(n²) as measuring every prefix would: a
// transcript may hold a name 100,000 characters long.
func splitRunes(width func(string) float64, r []rune, max float64) []piece {
	var out []piece
	start, w := 0, 0.0
	for i, c := range r {
		cw := width(string(c))
		if i > start && w+cw > max {
			out = append(out, piece{string(r[start:i]), w})
			start, w = i, 0
		}
		w += cw
	}
	if start < len(r) || len(out) == 0 {
		out = append(out, piece{string(r[start:]), w})
	}
	return out
}

// draw draws a laid-out line with its top left at x, y.
func (w *writer) draw(l tline, x, y, lh float64) {
	for _, s := range l {
		w.f.SetFont(s.family, s.style, s.size)
		w.f.SetXY(x, y)
		w.f.CellFormat(s.w, lh, s.text, "", 0, "L", false, 0, "")
		x += s.w
	}
	w.fresh = false
}

// flow draws lines at x, one below the other, going on on a new page where
// one does not fit.
func (w *writer) flow(lines []tline, x, lh float64) {
	for _, l := range lines {
		if w.f.GetY()+lh > bottom {
			w.newPage()
		}
		y := w.f.GetY()
		w.draw(l, x, y, lh)
		w.f.SetY(y + lh)
	}
}

// keep starts a new page when h does not fit on this one but fits on a
// page of its own.
func (w *writer) keep(h float64) {
	if h <= usable {
		w.room(h)
	}
}

// block lays out one block; next is the block after it (nil at the end).
func (w *writer) block(b record.Block, next *record.Block) {
	switch b.Kind {
	case record.Heading:
		size := map[int]float64{1: 16, 2: 13}[b.Level]
		if size == 0 {
			size = 11
		}
		if b.NewPage && !w.fresh {
			w.newPage()
		}
		w.space(size * 0.3)
		lh := size * 0.5
		lines := w.wrap(b.Text, size, textW, true)
		// A heading stays with the start of what follows it.
		w.keep(float64(len(lines))*lh + 14)
		w.flow(lines, marginX, lh)
		w.f.SetY(w.f.GetY() + 1.5)
	case record.Paragraph:
		lines := w.wrap(b.Text, 10, textW, false)
		w.keep(float64(len(lines)) * 4.6)
		w.flow(lines, marginX, 4.6)
		w.f.SetY(w.f.GetY() + 2)
	case record.Quote:
		lines := w.wrap(b.Text, 10, textW-6, false)
		h := float64(len(lines)) * 4.6
		w.keep(h)
		y := w.f.GetY()
		w.flow(lines, marginX+6, 4.6)
		if w.f.GetY() > y {
			w.f.SetDrawColor(150, 150, 150)
			w.f.SetLineWidth(0.8)
			w.f.Line(marginX+2, y+0.5, marginX+2, w.f.GetY()-0.5)
		}
		w.f.SetY(w.f.GetY() + 2)
	case record.Item:
		w.item(b, next)
	case record.Table:
		w.table(b)
	case record.Code:
		w.code(b)
	case record.Signature:
		lines := w.wrap(b.Text, 10, textW, true)
		const gap, lh = 12.0, 4.6
		w.keep(float64(len(lines))*lh + gap + lh + 8)
		w.flow(lines, marginX, lh)
		w.f.SetY(w.f.GetY() + gap)
		w.flow(w.wrap(record.Text{{Text: record.SignatureLine}}, 10, textW, false), marginX, lh)
		w.f.SetY(w.f.GetY() + 8)
	}
}

// item lays out a list item with its sub-items, kept on one page.
func (w *writer) item(b record.Block, next *record.Block) {
	const lh, sublh = 4.4, 4.0
	mark := "•"
	if b.Number > 0 {
		mark = strconv.Itoa(b.Number) + "."
	}
	lines := w.wrap(b.Text, 9.5, textW-6, false)
	var subs [][]tline
	h := float64(len(lines)) * lh
	for _, s := range b.Sub {
		sl := w.wrap(s, 8.5, textW-12, false)
		subs = append(subs, sl)
		h += float64(len(sl)) * sublh
	}
	w.keep(h)
	if w.f.GetY()+lh > bottom {
		w.newPage()
	}
	w.draw(tline{{sans, "", 9.5, mark, 0}}, marginX+1, w.f.GetY(), lh)
	w.flow(lines, marginX+6, lh)
	for _, sl := range subs {
		if w.f.GetY()+sublh > bottom {
			w.newPage()
		}
		w.draw(tline{{sans, "", 8.5, "–", 0}}, marginX+7.5, w.f.GetY(), sublh)
		w.flow(sl, marginX+12, sublh)
	}
	gap := 0.8
	if next == nil || next.Kind != record.Item {
		gap = 2.5
	}
	w.f.SetY(w.f.GetY() + gap)
}

// code lays out preformatted lines in the monospace font: a short block
// is kept on one page, a long one (the appendix) flows.
func (w *writer) code(b record.Block) {
	const size, lh = 8.5, 3.9
	f := w.f
	f.SetFont(mono, "", size)
	var lines []tline
	for _, l := range b.Lines {
		l = printable(mono, l)
		for _, p := range splitRunes(f.GetStringWidth, []rune(l), textW-4) {
			lines = append(lines, tline{{mono, "", size, p.text, p.w}})
		}
	}
	w.keep(float64(len(lines))*lh + 2)
	f.SetFillColor(242, 242, 242)
	for i, l := range lines {
		if f.GetY()+lh > bottom {
			w.newPage()
		}
		y := f.GetY()
		top, hgt := y, lh
		if i == 0 || w.fresh {
			top, hgt = y-1, lh+1
		}
		if i == len(lines)-1 {
			hgt++
		}
		f.Rect(marginX, top, textW, hgt, "F")
		w.draw(l, marginX+2, y, lh)
		f.SetY(y + lh)
	}
	f.SetY(f.GetY() + 3)
}

// columns returns a table's column widths.
func columns(b record.Block) []float64 {
	n := len(b.Header)
	shares := make([]float64, n)
	switch {
	case n == 2 && headerless(b):
		shares = []float64{0.2, 0.8}
	case n == 2:
		shares = []float64{0.3, 0.7}
	case n == 4:
		shares = []float64{0.25, 0.09, 0.33, 0.33}
	default:
		for i := range shares {
			shares[i] = 1 / float64(n)
		}
	}
	for i := range shares {
		shares[i] *= textW
	}
	return shares
}

func headerless(b record.Block) bool {
	for _, h := range b.Header {
		if h.String() != "" {
			return false
		}
	}
	return true
}

// table lays out a table: a row is never split across pages (unless it is
// taller than a page), and the header row is repeated on every page the
// table continues on. A table without header shows its first column in
// bold.
func (w *writer) table(b record.Block) {
	const size, lh = 9.0, 4.2
	widths := columns(b)
	cells := func(r []record.Text, bold bool) ([][]tline, float64) {
		var out [][]tline
		n := 1
		for i := range widths {
			var t record.Text
			if i < len(r) {
				t = r[i]
			}
			l := w.wrap(t, size, widths[i]-2*cellPad, bold || (i == 0 && headerless(b)))
			out = append(out, l)
			n = max(n, len(l))
		}
		return out, float64(n)*lh + 2*cellPad
	}
	var header [][]tline
	headerH := 0.0
	if !headerless(b) {
		header, headerH = cells(b.Header, true)
	}
	drawRow := func(c [][]tline, from, to int, fill bool) {
		y := w.f.GetY()
		h := float64(to-from)*lh + 2*cellPad
		x := marginX
		w.f.SetDrawColor(160, 160, 160)
		w.f.SetLineWidth(0.2)
		w.f.SetFillColor(230, 230, 230)
		for i, lines := range c {
			style := "D"
			if fill {
				style = "FD"
			}
			w.f.Rect(x, y, widths[i], h, style)
			for j := from; j < to && j < len(lines); j++ {
				w.draw(lines[j], x+cellPad, y+cellPad+float64(j-from)*lh, lh)
			}
			x += widths[i]
		}
		w.fresh = false
		w.f.SetY(y + h)
	}
	drawHeader := func() {
		if header != nil {
			drawRow(header, 0, int(math.Round((headerH-2*cellPad)/lh)), true)
		}
	}
	w.space(1)
	first := true
	for _, r := range b.Rows {
		c, h := cells(r, false)
		if first {
			w.keep(headerH + min(h, usable-headerH))
			drawHeader()
			first = false
		} else if w.f.GetY()+h > bottom {
			w.newPage()
			drawHeader()
		}
		n := int(math.Round((h - 2*cellPad) / lh))
		// A row taller than a page goes on over pages.
		for from := 0; from < n; {
			fits := int((bottom - w.f.GetY() - 2*cellPad) / lh)
			if fits < 1 {
				w.newPage()
				drawHeader()
				continue
			}
			to := min(n, from+fits)
			drawRow(c, from, to, false)
			from = to
		}
	}
	if first {
		drawHeader()
	}
	w.f.SetY(w.f.GetY() + 3)
}
