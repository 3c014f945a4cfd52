package qrimage

import (
	"fmt"
	"testing"
)

// The codes read the same in zbarimg, an independent decoder (what an
// auditor might use), for every level and from 1 character to the most a
// version 40 code holds.
func TestZbarimgRoundTrip(t *testing.T) {
	needZbarimg(t)
	for _, l := range levels {
		t.Run(l.String(), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			r := newRand(uint64(l) + 20)
			for i, n := range roundTripLengths(r, l) {
				text := randText(r, n)
				ms := 2 + i%3
				b, err := PNG(text, l, ms)
				if err != nil {
					t.Fatalf("%d characters: %v", n, err)
				}
				p := writeFile(t, dir, fmt.Sprintf("frame-%02d.png", i), b)
				if got := zbarimg(t, p); got != text {
					t.Fatalf("%d characters, %d px per module: zbarimg read %q, want %q", n, ms, got, text)
				}
			}
		})
	}
}

// A real frame's text, read by zbarimg from the terminal rendering too.
func TestZbarimgTerminal(t *testing.T) {
	needZbarimg(t)
	dir := t.TempDir()
	text := frameText(newRand(21), 1200)
	for _, invert := range []bool{false, true} {
		s, _, _, err := Terminal(text, Medium, invert)
		if err != nil {
			t.Fatal(err)
		}
		b := encodeGrayPNG(t, rasterise(t, s, invert, 3))
		p := writeFile(t, dir, fmt.Sprintf("terminal-%v.png", invert), b)
		if got := zbarimg(t, p); got != text {
			t.Fatalf("invert %v: zbarimg read %q, want %q", invert, got, text)
		}
	}
}
