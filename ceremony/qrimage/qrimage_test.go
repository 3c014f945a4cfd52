package qrimage

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"
	qrcode "github.com/skip2/go-qrcode"
)

func TestParseLevel(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Level
	}{
		{"L", Low}, {"l", Low}, {"low", Low}, {"LOW", Low},
		{"M", Medium}, {"m", Medium}, {"Medium", Medium},
		{"Q", Quartile}, {"q", Quartile}, {"quartile", Quartile},
		{"H", High}, {"h", High}, {"HiGh", High},
	} {
		got, err := ParseLevel(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "x", "lo", "highest", " M", "M ", "7", "quartil"} {
		_, err := ParseLevel(in)
		if err == nil || !strings.Contains(err.Error(), "use L, M, Q or H (low, medium, quartile, high)") || !strings.Contains(err.Error(), fmt.Sprintf("%q", in)) {
			t.Errorf("ParseLevel(%q): %v", in, err)
		}
	}
	for _, l := range levels {
		back, err := ParseLevel(l.String())
		if err != nil || back != l {
			t.Errorf("ParseLevel(%v.String()) = %v, %v", l, back, err)
		}
		var u Level
		b, err := l.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		if err := u.UnmarshalText(b); err != nil || u != l {
			t.Errorf("text round trip of %v: %v, %v", l, u, err)
		}
	}
	if s := Level(0).String(); s != "Level(0)" {
		t.Errorf("Level(0).String() = %q", s)
	}
	if _, err := Level(0).MarshalText(); err == nil {
		t.Error("MarshalText of the zero Level succeeded")
	}
}

// The capacities that the QR standard publishes (ISO/IEC 18004 table 7,
// alphanumeric mode), independent of our table of data codewords.
func TestCapacityPublished(t *testing.T) {
	for _, tc := range []struct {
		v    int
		want [4]int
	}{
		{1, [4]int{25, 20, 16, 10}},
		{2, [4]int{47, 38, 29, 20}},
		{10, [4]int{395, 311, 221, 174}},
		{27, [4]int{2132, 1637, 1172, 910}},
		{40, [4]int{4296, 3391, 2420, 1852}},
	} {
		for i, l := range levels {
			if got := Capacity(l, tc.v); got != tc.want[i] {
				t.Errorf("Capacity(%v, %d) = %d, want %d", l, tc.v, got, tc.want[i])
			}
		}
	}
	for _, tc := range []struct {
		l Level
		v int
	}{{0, 1}, {5, 1}, {Low, 0}, {Low, 41}, {High, -1}} {
		if got := Capacity(tc.l, tc.v); got != 0 {
			t.Errorf("Capacity(%d, %d) = %d, want 0", tc.l, tc.v, got)
		}
	}
}

// Every entry of the capacity table is exactly what go-qrcode fits in that
// version: Capacity characters fit, one more does not.
func TestCapacityMatchesGoQRCode(t *testing.T) {
	r := newRand(1)
	for _, l := range levels {
		rl, _ := l.recovery()
		for v := 1; v <= MaxVersion; v++ {
			n := Capacity(l, v)
			if _, err := qrcode.NewWithForcedVersion(letters(r, n), v, rl); err != nil {
				t.Errorf("level %v version %d: %d letters do not fit: %v", l, v, n, err)
			}
			if _, err := qrcode.NewWithForcedVersion(letters(r, n+1), v, rl); err == nil {
				t.Errorf("level %v version %d: %d letters fit, Capacity says %d", l, v, n+1, n)
			}
		}
	}
}

// byteCapacity is how many bytes a version v code holds in byte mode.
func byteCapacity(l Level, v int) int {
	countBits := 16
	if v <= 9 {
		countBits = 8
	}
	return (8*dataCodewords[v-1][l-1] - 4 - countBits) / 8
}

// Encode uses alphanumeric mode: text that fills version v exactly is put
// in version v, although in byte mode it would not fit there, and one more
// character moves it to version v+1. gozxing sees no byte segment in it.
func TestEncodeAlphanumericMode(t *testing.T) {
	r := newRand(2)
	for _, l := range levels {
		for _, v := range []int{1, 2, 5, 9, 10, 17, 26, 27, 33, 39, 40} {
			n := Capacity(l, v)
			if byteCapacity(l, v) >= n {
				t.Fatalf("level %v version %d: byte mode holds %d ≥ %d; this case proves nothing", l, v, byteCapacity(l, v), n)
			}
			text := letters(r, n)
			q, err := Encode(text, l)
			if err != nil {
				t.Fatalf("level %v, %d characters: %v", l, n, err)
			}
			if q.VersionNumber != v {
				t.Errorf("level %v, %d characters: version %d, want %d (byte mode would need %d)", l, n, q.VersionNumber, v, versionForBytes(l, n))
			}
			if v < MaxVersion {
				q, err := Encode(letters(r, n+1), l)
				if err != nil || q.VersionNumber != v+1 {
					t.Errorf("level %v, %d characters: version %v, %v; want %d", l, n+1, q.VersionNumber, err, v+1)
				}
			}
			if v <= 10 { // decoding is slow for the large ones; the mode is the same
				res := zxingDecode(t, text, l)
				if _, ok := res.GetResultMetadata()[gozxing.ResultMetadataType_BYTE_SEGMENTS]; ok {
					t.Errorf("level %v version %d: gozxing found a byte-mode segment", l, v)
				}
			}
		}
	}
}

func versionForBytes(l Level, n int) int {
	for v := 1; v <= MaxVersion; v++ {
		if byteCapacity(l, v) >= n {
			return v
		}
	}
	return 0
}

// zxingDecode renders text and decodes it with gozxing's reader directly,
// for its metadata.
func zxingDecode(t *testing.T, text string, l Level) *gozxing.Result {
	t.Helper()
	b, err := PNG(text, l, 2)
	if err != nil {
		t.Fatal(err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(decodePNG(t, b))
	if err != nil {
		t.Fatal(err)
	}
	res, err := zxqr.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true})
	if err != nil {
		t.Fatalf("gozxing: %v", err)
	}
	if res.GetText() != text {
		t.Fatalf("gozxing read %q, want %q", res.GetText(), text)
	}
	if ec := res.GetResultMetadata()[gozxing.ResultMetadataType_ERROR_CORRECTION_LEVEL]; ec != l.String() {
		t.Fatalf("gozxing read level %v, want %v", ec, l)
	}
	return res
}

func TestEncodeRefuses(t *testing.T) {
	max := Capacity(Medium, MaxVersion)
	for _, tc := range []struct {
		name, text string
		level      Level
		want       string
	}{
		{"empty", "", Medium, "QR text is empty"},
		{"lower case", "ABCdEF", Medium, `character 4 ('d', U+0064) is not in the QR alphanumeric set`},
		{"newline", "ABC\n", Medium, `character 4 ('\n', U+000A)`},
		{"non-ASCII", "AÉB", Medium, `character 2 ('É', U+00C9)`},
		{"after non-ASCII", "ÉÉ#", Medium, `character 1 ('É', U+00C9)`},
		{"invalid UTF-8", "AB\xff", Medium, `character 3 ('�', U+FFFD)`},
		{"underscore", "A_B", Medium, `character 2 ('_', U+005F)`},
		{"NUL", "A\x00", Medium, `character 2 ('\x00', U+0000)`},
		{"too long", strings.Repeat("A", max+1), Medium, fmt.Sprintf("QR text is %d characters long; at most %d fit in one QR code at level M", max+1, max)},
		{"too long at H", strings.Repeat("A", 1853), High, "at most 1852 fit in one QR code at level H"},
		{"far too long", strings.Repeat("9", 100000), Low, "at most 4296 fit"},
		{"zero level", "ABC", 0, "invalid QR error-correction level 0"},
		{"bad level", "ABC", 7, "invalid QR error-correction level 7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Encode(tc.text, tc.level)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Encode: %v; want an error containing %q", err, tc.want)
			}
			if _, err2 := PNG(tc.text, tc.level, 4); err2 == nil || err2.Error() != err.Error() {
				t.Errorf("PNG: %v", err2)
			}
			if _, _, _, err2 := Terminal(tc.text, tc.level, false); err2 == nil || err2.Error() != err.Error() {
				t.Errorf("Terminal: %v", err2)
			}
			if _, _, err2 := TerminalSize(tc.text, tc.level); err2 == nil || err2.Error() != err.Error() {
				t.Errorf("TerminalSize: %v", err2)
			}
		})
	}
	// The whole alphanumeric set is accepted, digits included.
	if _, err := Encode(Alphanumeric, Medium); err != nil {
		t.Fatal(err)
	}
	if err := CheckText(Alphanumeric); err != nil {
		t.Fatal(err)
	}
}

func TestPNG(t *testing.T) {
	text := frameText(newRand(3), 1200)
	for _, ms := range []int{1, 3, 8} {
		b, err := PNG(text, Medium, ms)
		if err != nil {
			t.Fatal(err)
		}
		b2, _ := PNG(text, Medium, ms)
		if !bytes.Equal(b, b2) {
			t.Fatalf("module size %d: two renders differ", ms)
		}
		cfg, err := png.DecodeConfig(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		q, _ := Encode(text, Medium)
		side := (symbolSize(q.VersionNumber) + 2*QuietZone) * ms
		if cfg.Width != side || cfg.Height != side {
			t.Fatalf("module size %d: %d×%d pixels, want %d×%d", ms, cfg.Width, cfg.Height, side, side)
		}
		img := decodePNG(t, b)
		// Only black and white; the quiet zone is white; the top-left
		// finder pattern starts right after it.
		for y := range side {
			for x := range side {
				r, g, bl, a := img.At(x, y).RGBA()
				black := r == 0 && g == 0 && bl == 0 && a == 0xffff
				white := r == 0xffff && g == 0xffff && bl == 0xffff && a == 0xffff
				if !black && !white {
					t.Fatalf("module size %d: pixel (%d, %d) is neither black nor white", ms, x, y)
				}
				inQuiet := x < QuietZone*ms || y < QuietZone*ms || x >= side-QuietZone*ms || y >= side-QuietZone*ms
				if inQuiet && !white {
					t.Fatalf("module size %d: pixel (%d, %d) of the quiet zone is not white", ms, x, y)
				}
				if x >= QuietZone*ms && x < (QuietZone+7)*ms && y == QuietZone*ms && !black {
					t.Fatalf("module size %d: pixel (%d, %d) of the finder pattern is not black", ms, x, y)
				}
			}
		}
		if _, ok := img.(*image.Paletted); !ok || b[24] != 1 || b[25] != 3 {
			t.Errorf("module size %d: decoded as %T, bit depth %d, colour type %d; want a 1-bit paletted image", ms, img, b[24], b[25])
		}
	}
	if _, err := PNG(text, Medium, 0); err == nil || !strings.Contains(err.Error(), "module size 0") {
		t.Errorf("module size 0: %v", err)
	}
	if _, err := PNG(text, Medium, -4); err == nil || !strings.Contains(err.Error(), "module size -4") {
		t.Errorf("module size -4: %v", err)
	}
	if _, err := PNG(text, Medium, 100); err == nil || !strings.Contains(err.Error(), "wider than 10000 pixels") {
		t.Errorf("module size 100: %v", err)
	}
}

// Round trips through PNG and gozxing for every level, from 1 character
// to the most a version 40 code holds.
func TestRoundTrip(t *testing.T) {
	for _, l := range levels {
		t.Run(l.String(), func(t *testing.T) {
			t.Parallel()
			r := newRand(uint64(l) + 10)
			for i, n := range roundTripLengths(r, l) {
				text := randText(r, n)
				ms := 1 + i%4
				b, err := PNG(text, l, ms)
				if err != nil {
					t.Fatalf("%d characters: %v", n, err)
				}
				got, err := Decode(decodePNG(t, b))
				if err != nil {
					t.Fatalf("%d characters, %d px per module: %v", n, ms, err)
				}
				if got != text {
					t.Fatalf("%d characters, %d px per module: read %q, want %q", n, ms, got, text)
				}
			}
		})
	}
}

// roundTripLengths returns text lengths from 1 to the level's maximum:
// small ones, the edges of a few versions, and random ones in between.
func roundTripLengths(r interface{ IntN(int) int }, l Level) []int {
	max := Capacity(l, MaxVersion)
	ns := []int{1, 2, 3, 7, 44, 45, 46, 1200, max - 1, max}
	for _, v := range []int{1, 9, 10, 26, 27} {
		ns = append(ns, Capacity(l, v), Capacity(l, v)+1)
	}
	for range 8 {
		ns = append(ns, 1+r.IntN(max))
	}
	return ns
}

// The sizes of a typical frame of 1200 characters, which the exporter and
// the terminal layout plan with.
func TestFrameVersions(t *testing.T) {
	text := frameText(newRand(4), 1200)
	for _, tc := range []struct {
		l          Level
		version    int
		cols, rows int
	}{
		{Low, 20, 105, 53},
		{Medium, 23, 117, 59},
		{Quartile, 28, 137, 69},
		{High, 32, 153, 77},
	} {
		q, err := Encode(text, tc.l)
		if err != nil {
			t.Fatal(err)
		}
		cols, rows, err := TerminalSize(text, tc.l)
		if err != nil || q.VersionNumber != tc.version || cols != tc.cols || rows != tc.rows {
			t.Errorf("level %v: version %d, %d×%d, %v; want version %d, %d×%d", tc.l, q.VersionNumber, cols, rows, err, tc.version, tc.cols, tc.rows)
		}
	}
}
