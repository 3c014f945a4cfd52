package main

import (
	"bytes"
	"compress/zlib"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/devicepki/ceremony/ceremony/qrimage"
	"github.com/devicepki/ceremony/internal/ceremonytest"
)

// memoryCeiling is what no input may make the program use: 256 MiB of
// resident memory, as the kernel counts it (getrusage's ru_maxrss).
const memoryCeiling = 256 << 20

// gnuTime measures a run's peak resident memory (-f %M, in KiB).
const gnuTime = "/usr/bin/time"

// TestMemoryCeiling runs the program on the largest inputs its readers
// take, of the kinds that cost the most memory per byte read, and checks
// the peak resident memory of each run. A scanned QR image is the worst:
// its pixels, not its file size, set the cost, so the images are the
// largest qrimage decodes (qrimage.MaxPixels) in the formats that decode
// to the most bytes per pixel: 8-bit RGBA PNG, also interlaced (Go's PNG
// decoder holds every pass and the merged image), and a JPEG. Then a
// transcript just under its 8 MiB limit, of the smallest events (the most
// of them), verified, shown and rendered as PDF; and a CRL just under its
// 4 MiB, checked by verify --crl and by import.
//
// Not a timing test: the runs are measured by memory only.
func TestMemoryCeiling(t *testing.T) {
	if _, err := os.Stat(gnuTime); err != nil {
		t.Fatalf("GNU time (Debian package time) is needed to measure a run's memory: %v", err)
	}
	dir := t.TempDir()
	side := 1
	for (side+1)*(side+1) <= qrimage.MaxPixels {
		side++
	}
	img := checkerboard(side)
	write := func(name string, data []byte) string {
		t.Helper()
		if len(data) > qrimage.MaxFileSize {
			t.Fatalf("%s: %d bytes, past the image file limit: the test would measure a refusal", name, len(data))
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	plain := write("rgba.png", buf.Bytes())
	interlaced := write("rgba-interlaced.png", adam7PNG(t, img))
	buf.Reset()
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	jpg := write("photo.jpg", buf.Bytes())
	// Check the interlaced writer against the standard decoder: the run
	// must measure a decode, not a refusal of a bad file.
	if f, err := os.Open(interlaced); err != nil {
		t.Fatal(err)
	} else if cfg, err := png.DecodeConfig(f); err != nil || cfg.Width != side || cfg.ColorModel != color.NRGBAModel {
		t.Fatalf("interlaced PNG: %+v %v", cfg, err)
	}

	big := bigTranscript(t, dir)
	crlCeremony, crl := bigCRL(t, dir)
	const noCode, unsealed = "no QR code found", "unsealed"
	for _, tc := range []struct {
		name string
		args []string
		// want is in the output: the run did the work, not refuse it.
		want string
	}{
		{"RGBA PNG", []string{"qr", "import", "--out", filepath.Join(dir, "o1"), plain}, noCode},
		{"interlaced RGBA PNG", []string{"qr", "import", "--out", filepath.Join(dir, "o2"), interlaced}, noCode},
		{"JPEG", []string{"qr", "import", "--out", filepath.Join(dir, "o3"), jpg}, noCode},
		{"transcript verify", []string{"transcript", "verify", big, "--root-fingerprint", strings.Repeat("ab", 32)}, unsealed},
		{"transcript show", []string{"transcript", "show", big}, "Root key"},
		{"transcript show --pdf", []string{"transcript", "show", "--pdf", filepath.Join(dir, "big.pdf"), big}, ""},
		{"transcript verify --crl", []string{"transcript", "verify", crlCeremony.Path(), "--root", crlCeremony.RootPEM, "--crl", crl}, "CRL OK"},
		{"import of a CRL", []string{"import", "--root", crlCeremony.RootPEM, "--out", filepath.Join(dir, "o4"), crl}, "ACCEPTED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// GNU time forks the program itself: its peak is its own, not
			// this test process's (a child started from here would carry
			// this process's high-water mark through exec).
			rssFile := filepath.Join(dir, "rss")
			cmd := exec.Command(gnuTime, append([]string{"-f", "%M", "-o", rssFile, "ceremony"}, tc.args...)...)
			cmd.Env = append(os.Environ(), "GOMEMLIMIT=") // the program's own limit
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if err != nil && !errors.As(err, &exit) {
				t.Fatal(err)
			}
			// No code is in the pictures: the decoder tries every way it
			// knows, which is the most work an image costs. The transcript
			// is read whole, every event checked and rendered.
			if !strings.Contains(string(out), tc.want) {
				t.Fatalf("want %q in the output, got:\n%.2000s", tc.want, out)
			}
			b, err := os.ReadFile(rssFile)
			if err != nil {
				t.Fatal(err)
			}
			// The last line; GNU time puts "Command exited with non-zero
			// status N" before it.
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			kib, err := strconv.ParseInt(lines[len(lines)-1], 10, 64)
			if err != nil {
				t.Fatalf("%s -f %%M wrote %q: %v", gnuTime, b, err)
			}
			rss := kib << 10
			t.Logf("%s: peak resident memory %d MiB", tc.name, rss>>20)
			if rss > memoryCeiling {
				t.Errorf("peak resident memory %d MiB, past %d MiB", rss>>20, memoryCeiling>>20)
			}
		})
	}
}

// bigTranscript writes an intact, unsealed transcript just under the 8 MiB
// a transcript may have, its hash chain sound: the events of a small
// sealed ceremony but its seal, then copies of its confirmation up to the
// limit (each line as the writer made it, with its seq and prev changed).
// It returns its path.
func bigTranscript(t *testing.T, dir string) string {
	t.Helper()
	p := ceremonytest.NewPKI(t, "Memory Root")
	c := ceremonytest.NewCeremony(t, p)
	lines := strings.Split(strings.TrimSuffix(string(c.Transcript), "\n"), "\n")
	lines = lines[:len(lines)-1] // the seal
	seqPrev := regexp.MustCompile(`^\{"seq":[0-9]+,("time":"[^"]*",)"prev":"[0-9a-f]{64}",`)
	var out bytes.Buffer
	prev := strings.Repeat("0", 64)
	add := func(seq int, line string) {
		l := seqPrev.ReplaceAllString(line, fmt.Sprintf(`{"seq":%d,${1}"prev":"%s",`, seq, prev))
		sum := sha256.Sum256([]byte(l))
		prev = hex.EncodeToString(sum[:])
		out.WriteString(l + "\n")
	}
	confirmed := ""
	for i, l := range lines {
		if strings.Contains(l, `"type":"confirmed"`) {
			confirmed = l
		}
		add(i+1, l)
	}
	if confirmed == "" {
		t.Fatal("no confirmed event to copy")
	}
	// The copies at the last event's time: times never go back.
	timeOf := regexp.MustCompile(`"time":"[^"]*"`)
	confirmed = timeOf.ReplaceAllLiteralString(confirmed, timeOf.FindString(lines[len(lines)-1]))
	for seq := len(lines) + 1; out.Len() < 8<<20-1024; seq++ {
		add(seq, confirmed)
	}
	path := filepath.Join(dir, "big", "transcript.jsonl")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// bigCRL writes a CRL of the root of a small sealed ceremony, just under
// the 4 MiB a CRL may have, of the smallest entries (the most of them),
// and returns the ceremony and the CRL's path.
func bigCRL(t *testing.T, dir string) (*ceremonytest.Ceremony, string) {
	t.Helper()
	p := ceremonytest.NewPKI(t, "Memory CRL Root")
	c := ceremonytest.NewCeremony(t, p)
	now := time.Now()
	entries := make([]x509.RevocationListEntry, 154_000)
	for i := range entries {
		entries[i] = x509.RevocationListEntry{SerialNumber: big.NewInt(1), RevocationTime: now.Add(-time.Hour)}
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(2), ThisUpdate: now.Add(-time.Hour), NextUpdate: now.AddDate(0, 1, 0), RevokedCertificateEntries: entries}, p.Root, p.RootKey)
	if err != nil {
		t.Fatal(err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
	if len(data) > 4<<20 || len(data) < 4<<20-100<<10 {
		t.Fatalf("the CRL is %d bytes: not just under 4 MiB", len(data))
	}
	path := filepath.Join(dir, "big.crl.pem")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return c, path
}

// checkerboard is a side×side 8-bit RGBA image of 40-pixel squares, half
// transparent so no encoder drops its alpha channel.
func checkerboard(side int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, side, side))
	for y := 0; y < side; y++ {
		for x := 0; x < side; x++ {
			v := uint8(255)
			if (x/40+y/40)%2 == 0 {
				v = 0
			}
			i := img.PixOffset(x, y)
			copy(img.Pix[i:i+4], []byte{v, v, v, 200})
		}
	}
	return img
}

// adam7PNG writes img as an interlaced (Adam7) 8-bit RGBA PNG, which
// image/png cannot write.
func adam7PNG(t *testing.T, img *image.NRGBA) []byte {
	t.Helper()
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	var raw bytes.Buffer
	z, _ := zlib.NewWriterLevel(&raw, zlib.BestSpeed)
	for _, p := range [7][4]int{{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}} {
		x0, y0, dx, dy := p[0], p[1], p[2], p[3]
		pw, ph := (w-x0+dx-1)/dx, (h-y0+dy-1)/dy
		if pw <= 0 || ph <= 0 {
			continue
		}
		row := make([]byte, 1+4*pw) // filter type 0, then the pixels
		for y := y0; y < h; y += dy {
			for i, x := 0, x0; x < w; i, x = i+1, x+dx {
				o := img.PixOffset(x, y)
				copy(row[1+4*i:], img.Pix[o:o+4])
			}
			if _, err := z.Write(row); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	out.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		binary.Write(&out, binary.BigEndian, uint32(len(data)))
		c := crc32.NewIEEE()
		c.Write([]byte(typ))
		c.Write(data)
		out.WriteString(typ)
		out.Write(data)
		binary.Write(&out, binary.BigEndian, c.Sum32())
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	copy(ihdr[8:], []byte{8, 6, 0, 0, 1}) // depth 8, RGBA, deflate, filter 0, Adam7
	chunk("IHDR", ihdr)
	chunk("IDAT", raw.Bytes())
	chunk("IEND", nil)
	return out.Bytes()
}
