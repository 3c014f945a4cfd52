package engine_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devicepki/ceremony/ceremony/engine"
)

// changeAtExport is a face that changes a file of the ceremony directory
// when the export-qr step starts, after the seal.
type changeAtExport struct {
	*scriptedFace
	change func()
}

func (f *changeAtExport) Report(r engine.Report) {
	if r.Kind == engine.StepStarted && r.Step.Kind == "export-qr" {
		f.change()
	}
	f.scriptedFace.Report(r)
}

// Nothing that changed after the seal is carried out: not the transcript,
// not an artifact. The ceremony stays completed and sealed (nothing is
// rolled back), and qr/ is not written.
func TestExportRefusesFilesChangedAfterTheSeal(t *testing.T) {
	for name, c := range map[string]struct {
		file, old, new, want string
	}{
		"transcript": {"transcript.jsonl", "Test lab", "Evil lab", "transcript.jsonl changed since it was sealed"},
		"artifact":   {"artifacts/root-ca.crt.pem", "-----BEGIN", "-----BEGIN ", "artifacts/root-ca.crt.pem changed since the ceremony wrote it"},
	} {
		t.Run(name, func(t *testing.T) {
			r := newRig(t)
			face := &changeAtExport{scriptedFace: &scriptedFace{pins: []string{r.tok.PIN}}}
			face.change = func() {
				p := filepath.Join(r.out, filepath.FromSlash(c.file))
				b, err := os.ReadFile(p)
				if err != nil || !strings.Contains(string(b), c.old) {
					t.Fatalf("%s: %v", c.file, err)
				}
				os.Chmod(p, 0o644)
				if err := os.WriteFile(p, []byte(strings.Replace(string(b), c.old, c.new, 1)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := r.run(t, face)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "completed and its transcript is sealed") {
				t.Fatalf("run: %v", err)
			}
			if _, err := os.Lstat(filepath.Join(r.out, "qr")); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("qr/ written: %v", err)
			}
		})
	}
}
