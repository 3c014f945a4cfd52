package qrtransfer_test

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devicepki/ceremony/ceremony/bundle"
	"github.com/devicepki/ceremony/ceremony/qrframe"
	"github.com/devicepki/ceremony/ceremony/qrimage"
	"github.com/devicepki/ceremony/ceremony/qrtransfer"
	"github.com/devicepki/ceremony/internal/ceremonytest"
)

func randomFiles(seed uint64, sizes ...int) []bundle.File {
	r := rand.New(rand.NewPCG(seed, 2))
	var files []bundle.File
	for i, n := range sizes {
		b := make([]byte, n)
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		files = append(files, bundle.File{Name: "f" + string(rune('a'+i)) + ".bin", Data: b})
	}
	return files
}

// TestLargestFramesFit: at every level, frames of MaxFrameBytes encode,
// one more byte is refused, and the PNG of the largest frame decodes.
func TestLargestFramesFit(t *testing.T) {
	for _, level := range []qrimage.Level{qrimage.Low, qrimage.Medium, qrimage.Quartile, qrimage.High} {
		n := qrtransfer.MaxFrameBytes(level)
		if n < 500 {
			t.Fatalf("level %s: only %d bytes per frame", level, n)
		}
		if err := (qrtransfer.Options{FrameBytes: n + 1, Level: level}).Check(); err == nil && n < qrframe.MaxFrameBytes {
			t.Fatalf("level %s: %d bytes accepted", level, n+1)
		}
		// The longest frame there can be: n bytes, numbered 9999 of 9999.
		payload := randomFiles(uint64(level), n+1)[0].Data
		f := qrframe.Frame{Digest: bundle.Of(payload), Index: qrframe.MaxFrames, Total: qrframe.MaxFrames, Payload: payload[:n]}
		if len(f.String()) != qrframe.TextLen(n, qrframe.MaxFrames) {
			t.Fatalf("TextLen %d, frame %d", qrframe.TextLen(n, qrframe.MaxFrames), len(f.String()))
		}
		png, err := qrimage.PNG(f.String(), level, qrtransfer.ModuleSize)
		if err != nil {
			t.Fatalf("level %s: %v", level, err)
		}
		if n < qrframe.MaxFrameBytes {
			f.Payload = payload[:n+1]
			if _, err := qrimage.Encode(f.String(), level); err == nil {
				t.Fatalf("level %s: a frame of %d bytes fits: MaxFrameBytes is too small", level, n+1)
			}
			f.Payload = payload[:n]
		}
		path := filepath.Join(t.TempDir(), "f.png")
		os.WriteFile(path, png, 0o644)
		text, err := qrimage.DecodeFile(path)
		if err != nil || text != f.String() {
			t.Fatalf("level %s: decode %v", level, err)
		}
	}
}

func TestWriteDirAndImportImages(t *testing.T) {
	files := randomFiles(1, 3000, 10, 0)
	exp, err := qrtransfer.New(files, qrtransfer.Options{FrameBytes: 400})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "qr")
	written, err := exp.WriteDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(written) != len(exp.Frames)+1 || written[len(written)-1] != qrtransfer.SheetFile {
		t.Fatalf("written %v", written)
	}
	var log bytes.Buffer
	im := qrtransfer.NewImporter("", &log)
	// In reverse order, one twice, and a file that is no image.
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("hello"), 0o644)
	im.Image(filepath.Join(dir, "notes.txt"))
	for i := len(exp.Frames); i >= 1; i-- {
		im.Image(filepath.Join(dir, exp.FrameFile(i)))
	}
	im.Image(filepath.Join(dir, exp.FrameFile(1)))
	got, set, err := im.Result()
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if set.Digest != exp.Digest || len(got) != 3 || !bytes.Equal(got[0].Data, files[0].Data) || got[2].Name != "fc.bin" {
		t.Fatal("files differ")
	}
	if im.Problems != 1 || !strings.Contains(log.String(), "notes.txt") || !strings.Contains(log.String(), "a frame already read") {
		t.Fatalf("problems %d, log:\n%s", im.Problems, log.String())
	}
	// The directory is taken now.
	if _, err := exp.WriteDir(dir); err == nil {
		t.Fatal("wrote into a non-empty directory")
	}
}

func TestFrameFileNames(t *testing.T) {
	exp, err := qrtransfer.New(randomFiles(2, 120*16), qrtransfer.Options{FrameBytes: 16})
	if err != nil {
		t.Fatal(err)
	}
	if len(exp.Frames) < 100 || exp.FrameFile(1) != "frame-001.png" || exp.FrameFile(len(exp.Frames)) != "frame-"+itoa3(len(exp.Frames))+".png" {
		t.Fatalf("%d frames: %s … %s", len(exp.Frames), exp.FrameFile(1), exp.FrameFile(len(exp.Frames)))
	}
	small, _ := qrtransfer.New(randomFiles(3, 10), qrtransfer.Options{})
	if small.FrameFile(1) != "frame-01.png" || small.Opts.FrameBytes != qrtransfer.DefaultFrameBytes || small.Opts.Level != qrtransfer.DefaultLevel {
		t.Fatalf("defaults: %s %+v", small.FrameFile(1), small.Opts)
	}
}

func itoa3(n int) string {
	s := "00" + string(rune('0'+n/100)) + string(rune('0'+n/10%10)) + string(rune('0'+n%10))
	return s[len(s)-3:]
}

func TestReadFiles(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.pem"), []byte("a"), 0o644)
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "sub", "a.pem"), []byte("b"), 0o644)
	os.WriteFile(filepath.Join(dir, ".hidden"), []byte("h"), 0o644)
	for _, c := range []string{"c1", "c2"} {
		os.MkdirAll(filepath.Join(dir, c, "artifacts"), 0o755)
		os.WriteFile(filepath.Join(dir, c, "artifacts", "x.pem"), []byte(c), 0o644)
	}
	if _, err := qrtransfer.ReadFiles([]string{filepath.Join(dir, "c1", "artifacts", "x.pem"), filepath.Join(dir, "c2", "artifacts", "x.pem")}); err == nil ||
		!strings.Contains(err.Error(), "have the same name artifacts/x.pem") {
		t.Fatalf("two artifacts/x.pem: %v", err)
	}
	if files, err := qrtransfer.ReadFiles([]string{filepath.Join(dir, "a.pem")}); err != nil || files[0].Name != "a.pem" {
		t.Fatalf("%v %v", files, err)
	}
	for name, paths := range map[string][]string{
		"same base name": {filepath.Join(dir, "a.pem"), filepath.Join(dir, "sub", "a.pem")},
		"directory":      {filepath.Join(dir, "sub")},
		"missing":        {filepath.Join(dir, "nope")},
		"hidden":         {filepath.Join(dir, ".hidden")},
	} {
		if _, err := qrtransfer.ReadFiles(paths); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// A ceremony directory's files, exported by hand, keep its layout: the
// transcript and seal at the top, artifacts under artifacts/ (which is how
// the import pairs them with the transcript), wherever the command runs
// and however the path is spelled; nothing else of the path is kept.
func TestReadFilesKeepsArtifacts(t *testing.T) {
	dir := t.TempDir()
	cer := filepath.Join(dir, "transcripts", "demo-firmware")
	// A real transcript: it decides which files are public.
	c := ceremonytest.NewCeremony(t, ceremonytest.NewPKI(t, "Test Root"),
		ceremonytest.Artifact{Path: "artifacts/firmware-signing.pub.pem", Data: []byte("artifacts/firmware-signing.pub.pem")},
		ceremonytest.Artifact{Path: "artifacts/firmware-signing.crt.pem", Data: []byte("artifacts/firmware-signing.crt.pem")})
	if err := os.CopyFS(cer, os.DirFS(c.Dir)); err != nil {
		t.Fatal(err)
	}
	t.Chdir(cer)
	for _, tc := range []struct {
		paths []string
		want  []string
	}{
		{[]string{"transcript.jsonl", "transcript.sig", "artifacts/firmware-signing.pub.pem", "./artifacts/firmware-signing.crt.pem"},
			[]string{"transcript.jsonl", "transcript.sig", "artifacts/firmware-signing.pub.pem", "artifacts/firmware-signing.crt.pem"}},
		{[]string{filepath.Join(cer, "transcript.jsonl"), filepath.Join(cer, "artifacts", "firmware-signing.pub.pem")},
			[]string{"transcript.jsonl", "artifacts/firmware-signing.pub.pem"}},
		{[]string{"../demo-firmware/artifacts/firmware-signing.pub.pem", "artifacts/../transcript.sig"},
			[]string{"artifacts/firmware-signing.pub.pem", "transcript.sig"}},
	} {
		files, err := qrtransfer.ReadFiles(tc.paths)
		if err != nil {
			t.Fatalf("%q: %v", tc.paths, err)
		}
		var got []string
		for _, f := range files {
			got = append(got, f.Name)
			if want, _ := os.ReadFile(filepath.FromSlash(f.Name)); !bytes.Equal(f.Data, want) {
				t.Errorf("%s holds %q", f.Name, f.Data)
			}
		}
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%q: names %q, want %q", tc.paths, got, tc.want)
		}
		// The names survive packing and unpacking.
		packed, err := bundle.Pack(files)
		if err != nil {
			t.Fatal(err)
		}
		back, err := bundle.Unpack(packed)
		if err != nil || len(back) != len(files) || back[len(back)-1].Name != tc.want[len(tc.want)-1] {
			t.Fatalf("unpacked %v: %v", back, err)
		}
	}
}

// Lines that are not frames are reported one by one, up to MaxProblems;
// then reading stops with one error, however much more input there is
// (random data on standard input printed a line for each of millions).
func TestLinesStopAfterManyProblems(t *testing.T) {
	var log strings.Builder
	im := qrtransfer.NewImporter("", &log)
	garbage := strings.Repeat("not a frame\n", 1_000_000)
	err := im.Lines(strings.NewReader(garbage), "", false)
	if err == nil || !strings.Contains(err.Error(), "line 100: stopped after 100 lines that are not QR frames") {
		t.Fatalf("err = %v", err)
	}
	if n := strings.Count(log.String(), "\n"); n != qrtransfer.MaxProblems {
		t.Fatalf("%d progress lines, want %d", n, qrtransfer.MaxProblems)
	}
}
