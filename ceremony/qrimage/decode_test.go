package qrimage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/makiuchi-d/gozxing"
	qrcode "github.com/skip2/go-qrcode"

	"github.com/devicepki/ceremony/ceremony/durable"
)

// modulesOf returns the dark modules of text's code, quiet zone included.
func modulesOf(t testing.TB, text string, l Level) [][]bool {
	t.Helper()
	q, err := Encode(text, l)
	if err != nil {
		t.Fatal(err)
	}
	bm, err := modules(q)
	if err != nil {
		t.Fatal(err)
	}
	return bm
}

// scaled draws modules at a scale that need not be a whole number of
// pixels per module, with nearest-neighbour sampling, as a screenshot of a
// zoomed image would.
func scaled(bm [][]bool, scale float64) *image.Gray {
	side := int(float64(len(bm)) * scale)
	img := image.NewGray(image.Rect(0, 0, side, side))
	for y := range side {
		for x := range side {
			if !bm[int(float64(y)/scale)][int(float64(x)/scale)] {
				img.Pix[y*img.Stride+x] = 0xff
			}
		}
	}
	return img
}

func encodeJPEG(t testing.TB, img image.Image, quality int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: quality}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestDecodeFilePNG(t *testing.T) {
	dir := t.TempDir()
	text := frameText(newRand(40), 1200)
	b, err := PNG(text, Medium, 4)
	if err != nil {
		t.Fatal(err)
	}
	// Told apart by content: a PNG called .jpg, or with no extension.
	for _, name := range []string{"frame-01.png", "frame.jpg", "frame"} {
		got, err := DecodeFile(writeFile(t, dir, name, b))
		if err != nil || got != text {
			t.Fatalf("%s: read %q, %v", name, got, err)
		}
	}
}

func TestDecodeFileJPEG(t *testing.T) {
	dir := t.TempDir()
	r := newRand(41)
	for _, tc := range []struct {
		l       Level
		n       int
		scale   float64
		quality int
	}{
		{Medium, 1200, 4, 90},
		{Medium, 1200, 3.5, 90},
		{Low, 1200, 2.7, 85},
		{High, 1200, 5, 75},
		{Quartile, 2420, 3, 90},
	} {
		text := frameText(r, tc.n)
		jpg := encodeJPEG(t, scaled(modulesOf(t, text, tc.l), tc.scale), tc.quality)
		p := writeFile(t, dir, "frame.png", jpg) // a JPEG called .png
		got, err := DecodeFile(p)
		if err != nil || got != text {
			t.Fatalf("level %v, %d characters, %.1f px per module, quality %d: read %q, %v", tc.l, tc.n, tc.scale, tc.quality, got, err)
		}
		os.Remove(p)
	}
}

// photo draws a code the way a camera might see it: off-centre on a larger
// canvas with an uneven grey background, turned by angle degrees, at a
// scale that is not a whole number of pixels, with less contrast, some
// noise and a dark object beside it.
func photo(bm [][]bool, scale, angle float64, seed uint64) *image.Gray {
	r := newRand(seed)
	n := float64(len(bm))
	w, h := int(n*scale*1.8), int(n*scale*1.5)
	img := image.NewGray(image.Rect(0, 0, w, h))
	ox, oy := float64(w)*0.38, float64(h)*0.45 // where the code's centre is
	sin, cos := math.Sincos(angle * math.Pi / 180)
	for y := range h {
		for x := range w {
			// Background: a grey gradient, with a dark block in one corner.
			v := 120 + 60*float64(x)/float64(w)
			if x < w/8 && y < h/5 {
				v = 20
			}
			dx, dy := float64(x)-ox, float64(y)-oy
			u := (dx*cos+dy*sin)/scale + n/2 // module coordinates
			vv := (-dx*sin+dy*cos)/scale + n/2
			if u >= 0 && vv >= 0 && u < n && vv < n {
				if bm[int(vv)][int(u)] {
					v = 50
				} else {
					v = 215
				}
			}
			v += float64(r.IntN(31) - 15)
			img.Pix[y*img.Stride+x] = uint8(max(0, min(255, v)))
		}
	}
	return img
}

// A photograph is not read as a clean render but by the fallback, which
// looks for the code's finder patterns.
func TestDecodePhotoLike(t *testing.T) {
	dir := t.TempDir()
	r := newRand(42)
	for _, tc := range []struct {
		l            Level
		n            int
		scale, angle float64
	}{
		{Medium, 1200, 4.3, 0},
		{Medium, 1200, 4.3, 6},
		{Quartile, 400, 3.6, -11},
		{High, 100, 5.2, 30},
	} {
		text := frameText(r, tc.n)
		img := photo(modulesOf(t, text, tc.l), tc.scale, tc.angle, uint64(tc.n))
		bmp, err := gozxing.NewBinaryBitmapFromImage(img)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := decodeWith(bmp, pureHints); ok {
			t.Fatalf("level %v, %d characters, %v°: read as a clean render; the test does not reach the fallback", tc.l, tc.n, tc.angle)
		}
		got, err := Decode(img)
		if err != nil || got != text {
			t.Fatalf("level %v, %d characters, %v°: read %q, %v", tc.l, tc.n, tc.angle, got, err)
		}
		// The same as a JPEG file.
		p := writeFile(t, dir, "photo.jpg", encodeJPEG(t, img, 90))
		got, err = DecodeFile(p)
		if err != nil || got != text {
			t.Fatalf("level %v, %d characters, %v°, JPEG: read %q, %v", tc.l, tc.n, tc.angle, got, err)
		}
		os.Remove(p)
	}
}

// A negative (a code drawn for the other kind of terminal background) is
// read by the last attempt.
func TestDecodeNegative(t *testing.T) {
	text := frameText(newRand(43), 600)
	img := scaled(modulesOf(t, text, Medium), 3)
	for i := range img.Pix {
		img.Pix[i] = ^img.Pix[i]
	}
	got, err := Decode(img)
	if err != nil || got != text {
		t.Fatalf("read %q, %v", got, err)
	}
}

func TestDecodeNothing(t *testing.T) {
	blank := image.NewGray(image.Rect(0, 0, 300, 300))
	for i := range blank.Pix {
		blank.Pix[i] = 0xff
	}
	noise := image.NewGray(image.Rect(0, 0, 300, 300))
	r := newRand(44)
	for i := range noise.Pix {
		noise.Pix[i] = uint8(r.IntN(256))
	}
	// Half a code.
	half := scaled(modulesOf(t, frameText(r, 300), Medium), 3)
	half = half.SubImage(image.Rect(0, 0, half.Bounds().Dx()/2, half.Bounds().Dy())).(*image.Gray)
	for name, img := range map[string]image.Image{
		"white": blank, "noise": noise, "half a code": half,
		"1 pixel": image.NewGray(image.Rect(0, 0, 1, 1)),
	} {
		if got, err := Decode(img); !errors.Is(err, ErrNotFound) || err.Error() != "no QR code found" {
			t.Errorf("%s: read %q, %v", name, got, err)
		}
	}
	for name, img := range map[string]image.Image{
		"nil": nil, "empty": image.NewGray(image.Rectangle{}),
	} {
		if _, err := Decode(img); err == nil || err.Error() != "empty image: no QR code found" {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// A code in byte mode, or with characters outside the alphanumeric set,
// did not come from Encode: refused, and its text not returned.
func TestDecodeRefusesOtherText(t *testing.T) {
	for _, text := range []string{"hello, world", "ABC\nDEF", "https://example.com/"} {
		q, err := qrcode.New(text, qrcode.Medium)
		if err != nil {
			t.Fatal(err)
		}
		q.DisableBorder = false
		got, err := Decode(q.Image(-4))
		if err == nil || !strings.Contains(err.Error(), "the QR code's text: character") || !strings.Contains(err.Error(), "is not in the QR alphanumeric set") {
			t.Errorf("%q: read %q, %v", text, got, err)
		}
	}
}

// pngChunk returns a PNG chunk with its length and CRC.
func pngChunk(typ string, data []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	b = append(b, typ...)
	b = append(b, data...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[4:]))
}

// pngHeader returns the start of a PNG file that claims to be w×h pixels
// of 8-bit grey, with no image data.
func pngHeader(w, h uint32) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 0, 0, 0, 0) // bit depth 8, greyscale, no interlace
	return append([]byte("\x89PNG\r\n\x1a\n"), pngChunk("IHDR", ihdr)...)
}

// jpegWithSize returns a valid small JPEG whose frame header is changed to
// claim w×h pixels.
func jpegWithSize(t *testing.T, w, h uint16) []byte {
	b := encodeJPEG(t, image.NewGray(image.Rect(0, 0, 16, 16)), 90)
	i := bytes.Index(b, []byte{0xff, 0xc0}) // baseline start of frame
	if i < 0 {
		t.Fatal("no SOF0 marker in the JPEG")
	}
	// FF C0, length (2), precision (1), height (2), width (2)
	binary.BigEndian.PutUint16(b[i+5:], h)
	binary.BigEndian.PutUint16(b[i+7:], w)
	return b
}

func TestDecodeFileHostile(t *testing.T) {
	dir := t.TempDir()
	good, err := PNG(frameText(newRand(45), 500), Medium, 4)
	if err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.png")
	if err := os.WriteFile(big, good, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, MaxFileSize+1); err != nil { // sparse
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo.png")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "frames.png")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	white := image.NewGray(image.Rect(0, 0, 200, 200))
	for i := range white.Pix {
		white.Pix[i] = 0xff
	}
	for _, tc := range []struct {
		name string
		path string // or
		data []byte
		want string
		is   error
	}{
		{name: "missing", path: filepath.Join(dir, "nothing.png"), want: "open " + filepath.Join(dir, "nothing.png") + ": no such file or directory", is: os.ErrNotExist},
		{name: "directory", path: sub, want: sub + ": not a regular file", is: durable.ErrNotRegular},
		{name: "FIFO", path: fifo, want: fifo + ": not a regular file", is: durable.ErrNotRegular},
		{name: "too large", path: big, want: big + ": file too large", is: durable.ErrTooLarge},
		{name: "empty.png", data: nil, want: "empty.png: not a PNG or JPEG image"},
		{name: "text.png", data: []byte("CQR1.ABCDEFGH.3-17.XYZ\n"), want: "text.png: not a PNG or JPEG image"},
		{name: "gif.png", data: []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), want: "gif.png: not a PNG or JPEG image"},
		{name: "signature.png", data: []byte("\x89PNG\r\n\x1a\n"), want: "signature.png: bad PNG image: unexpected EOF"},
		{name: "truncated.png", data: good[:len(good)/2], want: "truncated.png: bad PNG image: "},
		{name: "bad-crc.png", data: func() []byte {
			b := bytes.Clone(good)
			b[len(b)/2] ^= 0xff
			return b
		}(), want: "bad-crc.png: bad PNG image: "},
		{name: "huge.png", data: pngHeader(100000, 100000), want: "huge.png: PNG image of 100000×100000 pixels: refusing to decode more than 10000×10000 or 24000000 pixels"},
		{name: "wide.png", data: pngHeader(10001, 1), want: "wide.png: PNG image of 10001×1 pixels: refusing"},
		{name: "many-pixels.png", data: pngHeader(10000, 5001), want: "many-pixels.png: PNG image of 10000×5001 pixels: refusing"},
		{name: "zero.png", data: pngHeader(0, 0), want: "zero.png: bad PNG image: png: invalid format"},
		{name: "max.png", data: pngHeader(1<<31-1, 1<<31-1), want: "max.png: bad PNG image: png: unsupported feature: dimension overflow"},
		{name: "header-only.png", data: pngHeader(100, 100), want: "header-only.png: bad PNG image: unexpected EOF"},
		{name: "huge.jpg", data: jpegWithSize(t, 60000, 60000), want: "huge.jpg: JPEG image of 60000×60000 pixels: refusing"},
		{name: "truncated.jpg", data: encodeJPEG(t, white, 90)[:300], want: "truncated.jpg: bad JPEG image: unexpected EOF"},
		{name: "blank.jpg", data: encodeJPEG(t, white, 90), want: "blank.jpg: no QR code found", is: ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.path
			want := tc.want
			if p == "" {
				p = writeFile(t, dir, tc.name, tc.data)
				want = filepath.Join(dir, tc.want)
			}
			got, err := DecodeFile(p)
			if err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("read %q, %v; want an error starting %q", got, err, want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("%v is not %v", err, tc.is)
			}
		})
	}
}

// A screenshot of a rendering with a coloured background and a margin.
func TestDecodeColour(t *testing.T) {
	text := frameText(newRand(46), 800)
	bm := modulesOf(t, text, Quartile)
	const s, margin = 3, 40
	side := len(bm)*s + 2*margin
	img := image.NewRGBA(image.Rect(0, 0, side, side))
	for y := range side {
		for x := range side {
			c := color.RGBA{0xf0, 0xe8, 0xd0, 0xff} // paper
			mx, my := (x-margin)/s, (y-margin)/s
			if x >= margin && y >= margin && mx < len(bm) && my < len(bm) && bm[my][mx] {
				c = color.RGBA{0x10, 0x20, 0x60, 0xff} // dark blue ink
			}
			img.SetRGBA(x, y, c)
		}
	}
	got, err := Decode(img)
	if err != nil || got != text {
		t.Fatalf("read %q, %v", got, err)
	}
}

// A clean render at a fractional number of pixels per module, as in a
// screenshot of a zoomed page. gozxing reads none of these large codes at
// 3.5 pixels per module, either way; decodePureSized reads them all.
func TestDecodeFractionalScale(t *testing.T) {
	r := newRand(47)
	for _, l := range levels {
		for _, n := range []int{60, 1200, Capacity(l, MaxVersion)} {
			for _, scale := range []float64{1.5, 2.5, 3.5, 3.75, 4.4} {
				text := randText(r, n)
				img := scaled(modulesOf(t, text, l), scale)
				if n == 1200 && scale == 3.5 {
					bmp, _ := gozxing.NewBinaryBitmapFromImage(img)
					_, pure := decodeWith(bmp, pureHints)
					_, hard := decodeWith(bmp, tryHarderHints)
					if pure || hard {
						t.Fatalf("level %v, %d characters at %.2f px per module: gozxing reads it (pure %v, detector %v); the test does not reach decodePureSized", l, n, scale, pure, hard)
					}
				}
				got, err := Decode(img)
				if err != nil || got != text {
					t.Fatalf("level %v, %d characters at %.2f px per module: read %q, %v", l, n, scale, got, err)
				}
			}
		}
	}
}

// A large code in a photograph where gozxing's detector finds the finder
// patterns but misjudges the code's size; decodeResized reads it.
func TestDecodePhotoResized(t *testing.T) {
	for _, tc := range []struct {
		seed         uint64
		scale, angle float64
	}{{0, 4.3, 8}, {1, 2.6, 20}} {
		text := frameText(newRand(500+tc.seed), 2000)
		img := photo(modulesOf(t, text, Medium), tc.scale, tc.angle, tc.seed)
		bmp, _ := gozxing.NewBinaryBitmapFromImage(img)
		if _, ok := decodeWith(bmp, tryHarderHints); ok {
			t.Fatalf("%v: gozxing's detector reads it; the test does not reach decodeResized", tc)
		}
		got, err := Decode(img)
		if err != nil || got != text {
			t.Fatalf("%v: read %q, %v", tc, got, err)
		}
	}
}

// A panic inside the decoder counts as not finding a code.
func TestSafely(t *testing.T) {
	text, ok := safely(func() (string, bool) { panic("index out of range") })
	if text != "" || ok {
		t.Fatalf("safely = %q, %v", text, ok)
	}
	if text, ok := safely(func() (string, bool) { return "ABC", true }); text != "ABC" || !ok {
		t.Fatalf("safely = %q, %v", text, ok)
	}
}

// DecodeFile on arbitrary bytes returns text or an error naming the file,
// and never panics. go test runs the seeds; go test -fuzz explores.
func FuzzDecodeFile(f *testing.F) {
	good, err := PNG("CQR1.ABCDEFGH.1-1.HELLO", Medium, 2)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)-20])
	f.Add(pngHeader(64, 64))
	f.Add(encodeJPEG(f, scaled(modulesOf(f, "HELLO", Low), 3), 80))
	f.Add([]byte("not an image"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "in")
		os.Remove(p)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		text, err := DecodeFile(p)
		switch {
		case err != nil && !strings.HasPrefix(err.Error(), p+": "):
			t.Fatalf("error does not name the file: %v", err)
		case err == nil && CheckText(text) != nil:
			t.Fatalf("read text that Encode refuses: %q", text)
		}
	})
}

// A 16-bit image is refused before its pixels are decoded (a small file
// of them takes hundreds of megabytes).
func TestDecodeFileRefuses16Bit(t *testing.T) {
	img := image.NewGray16(image.Rect(0, 0, 64, 64))
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "deep.png")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeFile(path); err == nil || !strings.Contains(err.Error(), "16-bit") {
		t.Fatalf("%v", err)
	}
}
