package qrimage

import (
	"bytes"
	"image"
	"image/png"
	"strings"
	"testing"
	"unicode/utf8"
)

func encodeGrayPNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// The terminal rendering scans: drawn back into an image the way a
// terminal shows it, it decodes to the same text, for every level, either
// way round, small to large.
func TestTerminalScans(t *testing.T) {
	r := newRand(30)
	for _, l := range levels {
		for _, n := range []int{1, 25, 300, 1200, Capacity(l, MaxVersion)} {
			text := frameText(r, max(n, 100))[:n]
			for _, invert := range []bool{false, true} {
				s, cols, rows, err := Terminal(text, l, invert)
				if err != nil {
					t.Fatalf("level %v, %d characters: %v", l, n, err)
				}
				q, _ := Encode(text, l)
				v := q.VersionNumber
				if cols != 4*v+25 || rows != 2*v+13 {
					t.Fatalf("level %v version %d: %d×%d, want %d×%d", l, v, cols, rows, 4*v+25, 2*v+13)
				}
				if c, r, err := TerminalSize(text, l); err != nil || c != cols || r != rows {
					t.Fatalf("TerminalSize = %d, %d, %v; Terminal drew %d×%d", c, r, err, cols, rows)
				}
				lines := strings.Split(s, "\n")
				if len(lines) != rows {
					t.Fatalf("%d lines, want %d", len(lines), rows)
				}
				for i, line := range lines {
					if utf8.RuneCountInString(line) != cols {
						t.Fatalf("line %d: %d characters, want %d", i+1, utf8.RuneCountInString(line), cols)
					}
				}
				checkQuietZone(t, lines, invert)
				got, err := Decode(rasterise(t, s, invert, 2))
				if err != nil || got != text {
					t.Fatalf("level %v, %d characters, invert %v: read %q, %v", l, n, invert, got, err)
				}
			}
		}
	}
}

// checkQuietZone checks that the 4 modules around the code are light: the
// first 2 and last 2 lines and the first and last 4 columns.
func checkQuietZone(t *testing.T, lines []string, invert bool) {
	t.Helper()
	light := " "
	if invert {
		light = "█"
	}
	for _, i := range []int{0, 1, len(lines) - 2, len(lines) - 1} {
		if strings.Trim(lines[i], light) != "" {
			t.Fatalf("invert %v: line %d of the quiet zone is not all %q", invert, i+1, light)
		}
	}
	for i, line := range lines {
		rs := []rune(line)
		if edge := string(rs[:4]) + string(rs[len(rs)-4:]); strings.Trim(edge, light) != "" {
			t.Fatalf("invert %v: line %d: quiet zone columns %q", invert, i+1, edge)
		}
	}
}

// With invert, the drawing is go-qrcode's own ToSmallString(false), apart
// from the last line, which go-qrcode draws half high.
func TestTerminalMatchesGoQRCode(t *testing.T) {
	text := frameText(newRand(31), 500)
	s, _, _, err := Terminal(text, Quartile, true)
	if err != nil {
		t.Fatal(err)
	}
	q, _ := Encode(text, Quartile)
	theirs := strings.Split(strings.TrimSuffix(q.ToSmallString(false), "\n"), "\n")
	ours := strings.Split(s, "\n")
	if len(ours) != len(theirs) {
		t.Fatalf("%d lines, go-qrcode has %d", len(ours), len(theirs))
	}
	for i := range len(ours) - 1 {
		if ours[i] != theirs[i] {
			t.Fatalf("line %d differs:\n%s\n%s", i+1, ours[i], theirs[i])
		}
	}
}

func TestFitChars(t *testing.T) {
	for _, tc := range []struct {
		l          Level
		cols, rows int
		want       int
	}{
		{Low, 28, 100, 0},
		{Low, 100, 14, 0},
		{Low, 29, 15, 25},                     // version 1
		{Medium, 80, 24, Capacity(Medium, 5)}, // 45 columns, 23 lines
		{Medium, 80, 50, Capacity(Medium, 13)},
		{Medium, 200, 60, Capacity(Medium, 23)},
		{High, 185, 93, 1852},
		{High, 1000, 1000, 1852},
		{Low, 0, 0, 0},
		{Low, -5, 50, 0},
		{0, 200, 200, 0},
	} {
		if got := FitChars(tc.l, tc.cols, tc.rows); got != tc.want {
			t.Errorf("FitChars(%v, %d, %d) = %d, want %d", tc.l, tc.cols, tc.rows, got, tc.want)
		}
	}
	// Whatever FitChars says fits does, and one character more does not.
	r := newRand(32)
	for _, l := range levels {
		for range 20 {
			cols, rows := 20+r.IntN(200), 10+r.IntN(100)
			n := FitChars(l, cols, rows)
			if n == 0 {
				if c, rr, _ := TerminalSize("A", l); c <= cols && rr <= rows {
					t.Fatalf("FitChars(%v, %d, %d) = 0, but 1 character takes %d×%d", l, cols, rows, c, rr)
				}
				continue
			}
			c, rr, err := TerminalSize(randText(r, n), l)
			if err != nil || c > cols || rr > rows {
				t.Fatalf("FitChars(%v, %d, %d) = %d, which takes %d×%d (%v)", l, cols, rows, n, c, rr, err)
			}
			if n < Capacity(l, MaxVersion) {
				c, rr, err := TerminalSize(letters(r, n+1), l)
				if err != nil || (c <= cols && rr <= rows) {
					t.Fatalf("FitChars(%v, %d, %d) = %d, but %d letters take %d×%d (%v)", l, cols, rows, n, n+1, c, rr, err)
				}
			}
		}
	}
}

func TestTerminalImageRefusesWhatIsNotARendering(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"██\n█", "line 2 is 1 characters wide, line 1 is 2"},
		{"█x", `line 1: 'x' is not a half block`},
		{"", "empty text"},
	} {
		if _, err := TerminalImage(tc.text, false, 1); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("TerminalImage(%q) = %v, want an error with %q", tc.text, err, tc.want)
		}
	}
	img, err := TerminalImage("▀▄", true, 2)
	if err != nil {
		t.Fatal(err)
	}
	// Inverted: blocks are light. Top-left module light, bottom-left dark.
	if img.GrayAt(0, 0).Y != 0xff || img.GrayAt(0, 2).Y != 0 || img.GrayAt(2, 0).Y != 0 || img.GrayAt(2, 2).Y != 0xff {
		t.Errorf("modules drawn wrongly: %v %v %v %v", img.GrayAt(0, 0), img.GrayAt(0, 2), img.GrayAt(2, 0), img.GrayAt(2, 2))
	}
}
