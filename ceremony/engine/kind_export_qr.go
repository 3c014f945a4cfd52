package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/devicepki/ceremony/ceremony/bundle"
	"github.com/devicepki/ceremony/ceremony/durable"
	"github.com/devicepki/ceremony/ceremony/outdir"
	"github.com/devicepki/ceremony/ceremony/qrimage"
	"github.com/devicepki/ceremony/ceremony/qrtransfer"
	"github.com/devicepki/ceremony/ceremony/record"
	"github.com/devicepki/ceremony/ceremony/script"
	"github.com/devicepki/ceremony/ceremony/seal"
)

var exportQRKind = script.Kind{
	Name:      script.KindExportQR,
	Summary:   "after the seal, the only kind that may follow it: writes the sealed transcript and the public artifacts as QR frames and a printable sheet to OUT/qr/; records nothing",
	New:       func() script.Spec { return &exportQRStep{} },
	AfterSeal: true,
}

type exportQRStep struct {
	asksNothing
	noPrepare
	// FrameBytes is the most bundle bytes per QR frame; 0 means the
	// default.
	FrameBytes int `yaml:"frame_bytes"`
	// ECC is the QR error-correction level, L, M, Q or H; empty means
	// the default.
	ECC string `yaml:"ecc"`
}

func (k *exportQRStep) Validate(c *script.Check) error {
	if c.At(script.FactSeal) < 0 {
		return c.Errorf("kind", "%s exports the sealed transcript: put it after the seal step", script.KindExportQR)
	}
	if err := c.Once(script.KindExportQR); err != nil {
		return err
	}
	if _, err := k.options(); err != nil {
		return c.Errorf(err.field, "%v", err.err)
	}
	return nil
}

// options returns the step's frame size and error correction, checked.
func (k *exportQRStep) options() (qrtransfer.Options, *fieldError) {
	opts := qrtransfer.Options{FrameBytes: k.FrameBytes}
	if k.ECC != "" {
		l, err := qrimage.ParseLevel(k.ECC)
		if err != nil {
			return opts, &fieldError{"ecc", err}
		}
		opts.Level = l
	}
	if err := opts.Check(); err != nil {
		return opts, &fieldError{"frame_bytes", err}
	}
	return opts, nil
}

// fieldError is a problem with one field of a step.
type fieldError struct {
	field string
	err   error
}

func (k *exportQRStep) run(_ context.Context, r *run, info StepInfo) (string, error) {
	return r.exportQR(info, k)
}

// exportQR runs after the seal: it writes the sealed transcript, its seal
// and every artifact but key backups as QR frames and a printable sheet to
// OUT/qr/. Nothing is recorded (the transcript is sealed); the receiving
// side checks the bundle against the seal with 'ceremony import'.
func (r *run) exportQR(info StepInfo, st *exportQRStep) (string, error) {
	files, err := r.publicFiles()
	if err != nil {
		return "", err
	}
	opts, ferr := st.options()
	if ferr != nil {
		return "", ferr.err
	}
	opts.Title, opts.Created = r.script.Title, r.opts.Now()
	exp, err := qrtransfer.New(files, opts)
	if err != nil {
		return "", err
	}
	var frames []string
	if _, err := r.timed(info, fmt.Sprintf("Writing %d files as %d QR frames to %s/", len(files), len(exp.Frames), outdir.QRDir), func() error {
		// Written whole or not at all: into a temporary directory first,
		// renamed into place when complete. A kill leaves the temporary
		// directory, which close tidies, never a partial qr/.
		tmp, err := os.MkdirTemp(r.out.Path(), "."+outdir.QRDir+".tmp-*")
		if err != nil {
			return err
		}
		if frames, err = exp.WriteDir(tmp); err == nil {
			err = os.Rename(tmp, filepath.Join(r.out.Path(), outdir.QRDir))
		}
		if err != nil {
			_ = os.RemoveAll(tmp)
			return err
		}
		return durable.SyncDir(r.out.Path())
	}); err != nil {
		return "", err
	}
	r.qr = &QRExport{Dir: filepath.Join(r.out.Path(), outdir.QRDir), Bundle: exp.Digest.ID(), Frames: exp.Texts(),
		SHA256: exp.Digest.Hex(), Words: exp.DigestWords(), Level: opts.Level}
	r.face.Report(Report{Kind: Notice, Step: info, Text: fmt.Sprintf("QR bundle %s: %d frames; bundle SHA-256 %s", exp.Digest.ID(), len(exp.Frames), record.GroupHex(exp.Digest.Hex()))})
	r.face.Report(Report{Kind: Notice, Step: info, Text: "Bundle SHA-256 as words: " + strings.Join(exp.DigestWords(), " ")})
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = f.Name
	}
	return fmt.Sprintf("%s/: %d QR frames and %s carrying %s (bundle %s)", outdir.QRDir, len(frames)-1, qrtransfer.SheetFile, strings.Join(names, ", "), exp.Digest.ID()), nil
}

// QRExport describes the QR frames an export-qr step wrote, for a face to
// show them.
type QRExport struct {
	Dir    string // OUT/qr
	Bundle string // bundle id
	Frames []string
	SHA256 string // bundle digest, hex
	Words  []string
	Level  qrimage.Level // error correction (0: the default, M)
}

// publicFiles reads what leaves the room: the transcript, its seal, and
// every artifact but those that stay in the room (outdir.StaysInRoom: key
// backups and the activation record), as the ceremony directory holds
// them.
func (r *run) publicFiles() ([]bundle.File, error) {
	names := []string{outdir.TranscriptFile, outdir.SealFile}
	recorded := map[string]string{}
	for _, a := range r.artifacts {
		if !r.inRoom[a.Path] {
			names = append(names, a.Path)
			recorded[a.Path] = a.SHA256
		}
	}
	files := make([]bundle.File, 0, len(names))
	for _, n := range names {
		data, err := durable.ReadFile(durable.Artifact, filepath.Join(r.out.Path(), filepath.FromSlash(n)))
		if err != nil {
			return nil, fmt.Errorf("read %s for the QR export: %w", n, err)
		}
		f := bundle.File{Name: n, Data: data}
		if want, ok := recorded[n]; ok && f.SHA256() != want {
			return nil, fmt.Errorf("%s changed since the ceremony wrote it (SHA-256 %s, recorded %s): not exported", n, f.SHA256(), want)
		}
		files = append(files, f)
	}
	// The transcript must be what the seal signed: nothing may change it
	// between the seal and the export.
	sl, err := seal.Parse(files[1].Data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: not exported", outdir.SealFile, err)
	}
	if err := sl.Verify(files[0].Data); err != nil {
		return nil, fmt.Errorf("%s changed since it was sealed (%v): not exported", outdir.TranscriptFile, err)
	}
	return files, nil
}
