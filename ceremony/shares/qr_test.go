package shares

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	qrcode "github.com/skip2/go-qrcode"
)

// zbarimg decodes a PNG with zbarimg (package zbar-tools), the independent
// QR reader an auditor would use. The test fails if it is not installed.
func zbarimg(t *testing.T, pngData []byte) string {
	t.Helper()
	bin, err := exec.LookPath("zbarimg")
	if err != nil {
		t.Fatalf("zbarimg is needed to check QR codes (apt-get install zbar-tools): %v", err)
	}
	f := filepath.Join(t.TempDir(), "share.png")
	if err := os.WriteFile(f, pngData, 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "--raw", "-q", "-Sdisable", "-Sqrcode.enable", f)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("zbarimg: %v: %s", err, stderr.String())
	}
	return strings.TrimSuffix(string(out), "\n")
}

func TestQRPNG(t *testing.T) {
	shares := []*Share{fixedShare()}
	for _, secLen := range []int{1, 32, 64} {
		ss, _, _ := split(t, Activation, 3, 5, secLen)
		shares = append(shares, ss[0], ss[4])
	}
	for _, s := range shares {
		b, err := s.QRPNG()
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: not a PNG: %v", s.Describe(), err)
		}
		q, err := s.qr()
		if err != nil {
			t.Fatal(err)
		}
		modules := 17 + 4*q.VersionNumber + 8 // with the quiet zone
		if w := img.Bounds().Dx(); w != modules*qrPixelsPerModule {
			t.Errorf("%s: image is %d pixels wide, want %d", s.Describe(), w, modules*qrPixelsPerModule)
		}
		want := str(s.Compact())
		got := zbarimg(t, b)
		if got != want {
			t.Fatalf("%s: zbarimg read\n%q\nwant\n%q", s.Describe(), got, want)
		}
		p, err := Parse([]byte(got + "\n"))
		if err != nil {
			t.Fatal(err)
		}
		sameShare(t, p, s)
	}
	// A 32-byte secret's 124 characters fit version 6 at level M in
	// alphanumeric mode (154 characters); in 8-bit mode, as the same text
	// in lower case must be, version 6 holds only 106.
	s := fixedShare()
	q, err := s.qr()
	if err != nil {
		t.Fatal(err)
	}
	lower, err := qrcode.New(strings.ToLower(str(s.Compact())), qrcode.Medium)
	if err != nil {
		t.Fatal(err)
	}
	if q.VersionNumber != 6 || lower.VersionNumber <= q.VersionNumber {
		t.Errorf("QR version %d (lower case: %d), want 6 (alphanumeric mode, level M)", q.VersionNumber, lower.VersionNumber)
	}
}

func TestQRTerminal(t *testing.T) {
	s := fixedShare()
	out, err := s.QRTerminal()
	if err != nil {
		t.Fatal(err)
	}
	q, err := s.qr()
	if err != nil {
		t.Fatal(err)
	}
	// Modules plus two 4-module quiet zones, two module rows a line.
	size := 17 + 4*q.VersionNumber + 8
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != (size+1)/2 {
		t.Errorf("%d lines, want %d", len(lines), (size+1)/2)
	}
	for i, l := range lines {
		if n := len([]rune(l)); n != size {
			t.Errorf("line %d has %d columns, want %d", i+1, n, size)
		}
	}
	// Read the modules back (a space is dark, a block light) and check
	// that they are the QR code's and that zbarimg reads them.
	bits := q.Bitmap()
	img := image.NewGray(image.Rect(0, 0, size*4, size*4))
	for y, l := range lines {
		for x, r := range []rune(l) {
			top, bottom := r == ' ' || r == '▄', r == ' ' || r == '▀'
			if !strings.ContainsRune(" ▀▄█", r) {
				t.Fatalf("line %d: unexpected %q", y+1, r)
			}
			for i, dark := range []bool{top, bottom} {
				row := 2*y + i
				if row >= size {
					continue
				}
				if dark != bits[row][x] {
					t.Fatalf("module (%d, %d) differs from the QR code", x, row)
				}
				c := color.Gray{Y: 255}
				if dark {
					c.Y = 0
				}
				for py := range 4 {
					for px := range 4 {
						img.SetGray(4*x+px, 4*row+py, c)
					}
				}
			}
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if got, want := zbarimg(t, b.Bytes()), str(s.Compact()); got != want {
		t.Errorf("zbarimg read %q from the terminal QR code, want %q", got, want)
	}
}

func TestQRRejectsInvalidShare(t *testing.T) {
	for _, edit := range []func(*Share){
		func(s *Share) { s.Purpose = 'C' },
		func(s *Share) { s.Threshold = 1 },
		func(s *Share) { s.Index = 6 },
		func(s *Share) { s.Count = 256 },
		func(s *Share) { s.Split = SplitID{} },
		func(s *Share) { s.Value.Wipe() },
	} {
		s := with(fixedShare(), edit)
		if _, err := s.QRPNG(); err == nil {
			t.Errorf("QRPNG accepted %s", s.Describe())
		}
		if _, err := s.QRTerminal(); err == nil {
			t.Errorf("QRTerminal accepted %s", s.Describe())
		}
	}
}
