package qrimage

import (
	"bytes"
	"image"
	"image/png"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var levels = []Level{Low, Medium, Quartile, High}

// newRand returns a seeded generator, so that every run tests the same texts.
func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)) }

// randText returns n random characters of the alphanumeric set.
func randText(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = Alphanumeric[r.IntN(len(Alphanumeric))]
	}
	return string(b)
}

// letters returns n random letters A-Z: text that go-qrcode can only
// encode as a single alphanumeric segment (no run of digits to split off).
func letters(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('A' + r.IntN(26))
	}
	return string(b)
}

// frameText returns a text shaped like a real frame, about n characters.
func frameText(r *rand.Rand, n int) string {
	const b32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	rnd := func(k int) string {
		b := make([]byte, k)
		for i := range b {
			b[i] = b32[r.IntN(len(b32))]
		}
		return string(b)
	}
	head := "CQR1." + rnd(8) + ".3-17." + rnd(52) + "."
	return head + rnd(n-len(head)-9) + ":1A2B3C4D"
}

func decodePNG(t testing.TB, b []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decode our own PNG: %v", err)
	}
	return img
}

func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// rasterise draws a Terminal rendering the way a terminal shows it: each
// character cell is one module wide and two high, scale pixels per module.
// The ink is black and the background white, or the other way round when
// inverted (light text on a dark background).
func rasterise(t testing.TB, s string, invert bool, scale int) *image.Gray {
	t.Helper()
	img, err := TerminalImage(s, invert, scale)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// needZbarimg fails the test if zbarimg, the independent decoder the tests
// check our codes with, is not installed.
func needZbarimg(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("zbarimg")
	if err != nil {
		t.Fatalf("zbarimg is needed to check the QR codes with an independent decoder; install the Debian package zbar-tools: %v", err)
	}
	return p
}

// zbarimg decodes the QR code in an image file with zbarimg, QR codes only.
// In text mode --raw prints the text and a newline.
func zbarimg(t testing.TB, path string) string {
	t.Helper()
	cmd := exec.Command(needZbarimg(t), "-q", "--raw", "-Sdisable", "-Sqrcode.enable", path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("zbarimg %s: %v: %s", filepath.Base(path), err, stderr.Bytes())
	}
	s, ok := strings.CutSuffix(string(out), "\n")
	if !ok {
		t.Fatalf("zbarimg %s: output does not end in a newline: %q", filepath.Base(path), out)
	}
	return s
}
