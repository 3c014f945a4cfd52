package qrtransfer_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devicepki/ceremony/ceremony/bundle"
	"github.com/devicepki/ceremony/ceremony/qrimage"
	"github.com/devicepki/ceremony/ceremony/qrtransfer"
)

// demoBundle reads what the demo's root key generation ceremony carries
// out (make demo writes it): the sealed transcript and the public
// artifacts.
func demoBundle(b *testing.B) []bundle.File {
	b.Helper()
	dir := filepath.Join("..", "..", "transcripts", "demo")
	names := []string{"transcript.jsonl", "transcript.sig", "artifacts/root-ca.crt.pem", "artifacts/root-ca.pub.pem", "artifacts/transcript-signing.crt.pem"}
	var files []bundle.File
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(n)))
		if err != nil {
			b.Fatalf("the benchmark measures the demo's bundle: run 'make demo' first (%v)", err)
		}
		files = append(files, bundle.File{Name: n, Data: data})
	}
	return files
}

var settings = []struct {
	name       string
	frameBytes int
	level      qrimage.Level
}{
	{"default-600-M", qrtransfer.DefaultFrameBytes, qrtransfer.DefaultLevel},
	{"dense-1200-L", 1200, qrimage.Low},
	{"sparse-200-Q", 200, qrimage.Quartile},
}

// BenchmarkDemoBundle reports, for the demo's root ceremony bundle at
// three frame settings, the frames needed and the time to export (pack,
// cut, render every PNG) and to import (from scanned text, and from the
// PNGs with this tool's decoder).
func BenchmarkDemoBundle(b *testing.B) {
	files := demoBundle(b)
	raw := 0
	for _, f := range files {
		raw += len(f.Data)
	}
	for _, s := range settings {
		opts := qrtransfer.Options{FrameBytes: s.frameBytes, Level: s.level}
		exp, err := qrtransfer.New(files, opts)
		if err != nil {
			b.Fatal(err)
		}
		report := func(b *testing.B) {
			b.ReportMetric(float64(len(exp.Frames)), "frames")
			b.ReportMetric(float64(len(exp.Packed)), "bundle-bytes")
			b.ReportMetric(float64(raw), "file-bytes")
		}
		b.Run("export/"+s.name, func(b *testing.B) {
			for b.Loop() {
				dir := b.TempDir()
				e, err := qrtransfer.New(files, opts)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := e.WriteDir(filepath.Join(dir, "qr")); err != nil {
					b.Fatal(err)
				}
			}
			report(b)
		})
		texts := exp.Texts()
		b.Run("import-text/"+s.name, func(b *testing.B) {
			input := strings.Join(texts, "\n") + "\n"
			for b.Loop() {
				im := qrtransfer.NewImporter("", io.Discard)
				if err := im.Lines(strings.NewReader(input), "", false); err != nil {
					b.Fatal(err)
				}
				if _, _, err := im.Result(); err != nil {
					b.Fatal(err)
				}
			}
			report(b)
		})
		dir := b.TempDir()
		if _, err := exp.WriteDir(filepath.Join(dir, "qr")); err != nil {
			b.Fatal(err)
		}
		b.Run("import-images/"+s.name, func(b *testing.B) {
			for b.Loop() {
				im := qrtransfer.NewImporter("", io.Discard)
				for i := range exp.Frames {
					im.Image(filepath.Join(dir, "qr", exp.FrameFile(i+1)))
				}
				if _, _, err := im.Result(); err != nil {
					b.Fatal(fmt.Errorf("%v (%d problems)", err, im.Problems))
				}
			}
			report(b)
		})
	}
}
