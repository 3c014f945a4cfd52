package qrimage

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"strings"
	"unicode/utf8"
)

// Terminal draws the QR code of text (see [Encode]) with the Unicode half
// blocks ▀ (U+2580), ▄ (U+2584), █ (U+2588) and spaces: each character is
// one module wide and two modules high, so the code looks square in a
// terminal whose cells are about twice as high as wide. It includes a quiet
// zone of [QuietZone] modules (5 below, to fill the last line). Lines are
// joined by "\n", with no newline after the last; cols and rows are the
// width and number of lines.
//
// The blocks are drawn in the terminal's text colour, the spaces show its
// background:
//
//   - invert false: blocks are the dark modules. For dark text on a light
//     background, and for paper.
//   - invert true: blocks are the light modules (quiet zone included). For
//     light text on a dark background, the usual terminal.
//
// The wrong choice shows a negative image, which many phone scanners read
// but some scanners do not.
//
// The half blocks are "ambiguous width" characters in Unicode: a terminal
// set up for East Asian text may draw them two cells wide, which distorts
// the code.
func Terminal(text string, level Level, invert bool) (s string, cols, rows int, err error) {
	q, err := Encode(text, level)
	if err != nil {
		return "", 0, 0, err
	}
	bm, err := modules(q)
	if err != nil {
		return "", 0, 0, err
	}
	n := len(bm)
	if n%2 == 1 {
		bm = append(bm, make([]bool, n)) // one more light row
	}
	var b strings.Builder
	b.Grow(len(bm) / 2 * (n*len("█") + 1))
	for y := 0; y < len(bm); y += 2 {
		if y > 0 {
			b.WriteByte('\n')
		}
		for x := range n {
			// A module is drawn when it is dark, or light if inverted.
			top, bottom := bm[y][x] != invert, bm[y+1][x] != invert
			switch {
			case top && bottom:
				b.WriteString("█")
			case top:
				b.WriteString("▀")
			case bottom:
				b.WriteString("▄")
			default:
				b.WriteByte(' ')
			}
		}
	}
	return b.String(), n, len(bm) / 2, nil
}

// TerminalSize returns the width and number of lines of [Terminal]'s
// rendering of text, without drawing it.
func TerminalSize(text string, level Level) (cols, rows int, err error) {
	q, err := Encode(text, level)
	if err != nil {
		return 0, 0, err
	}
	c, r := terminalSize(q.VersionNumber)
	return c, r, nil
}

// terminalSize returns the width and number of lines of [Terminal]'s
// rendering of a version v code: 4v+25 columns and 2v+13 lines.
func terminalSize(v int) (cols, rows int) {
	n := symbolSize(v) + 2*QuietZone // always odd
	return n, (n + 1) / 2
}

// FitChars returns the largest number of characters such that [Terminal]'s
// rendering of any [Alphanumeric] text that long fits in cols columns and
// rows lines at the given level, or 0 if not even the smallest code fits. A
// version 1 code needs 29 columns and 15 lines, version 40 needs 185 and
// 93; leave a line or two for a caption.
func FitChars(level Level, cols, rows int) int {
	best := 0
	for v := 1; v <= MaxVersion; v++ {
		c, r := terminalSize(v)
		if c > cols || r > rows {
			break
		}
		best = Capacity(level, v)
	}
	return best
}

// TerminalImage draws text as [Terminal] renders it — lines of the half
// blocks ▀ ▄ █ and spaces, all equally wide — as an image, each module
// scale pixels square, the way a camera sees the screen. invert says how
// the blocks were drawn, as for Terminal: false, blocks are dark modules
// (black on white); true, blocks are light (white on black). It is how the
// tests check that what a terminal shows scans.
func TerminalImage(text string, invert bool, scale int) (*image.Gray, error) {
	lines := strings.Split(text, "\n")
	cols := utf8.RuneCountInString(lines[0])
	if scale < 1 || cols == 0 {
		return nil, errors.New("qr terminal image: empty text or scale below 1")
	}
	ink, bg := color.Gray{Y: 0}, color.Gray{Y: 0xff}
	if invert {
		ink, bg = bg, ink
	}
	img := image.NewGray(image.Rect(0, 0, cols*scale, len(lines)*2*scale))
	fill := func(x, y int, on bool) { // module (x, y)
		c := bg
		if on {
			c = ink
		}
		for py := y * scale; py < (y+1)*scale; py++ {
			for px := x * scale; px < (x+1)*scale; px++ {
				img.SetGray(px, py, c)
			}
		}
	}
	for y, line := range lines {
		if n := utf8.RuneCountInString(line); n != cols {
			return nil, fmt.Errorf("qr terminal image: line %d is %d characters wide, line 1 is %d", y+1, n, cols)
		}
		x := 0
		for _, r := range line {
			var top, bottom bool
			switch r {
			case ' ':
			case '▀':
				top = true
			case '▄':
				bottom = true
			case '█':
				top, bottom = true, true
			default:
				return nil, fmt.Errorf("qr terminal image: line %d: %q is not a half block", y+1, r)
			}
			fill(x, 2*y, top)
			fill(x, 2*y+1, bottom)
			x++
		}
	}
	return img, nil
}
