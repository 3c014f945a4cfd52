// Package qrtransfer carries files off the air gap as QR codes and back:
// export packs files into a bundle (package bundle), cuts it into frames
// (package qrframe) and writes each frame as a PNG (package qrimage) with a
// printable sheet; import reads frames from scanned text lines or images,
// reports progress, and returns the bundle's files only when every frame
// arrived and the whole matches its digest.
package qrtransfer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/devicepki/ceremony/ceremony/bundle"
	"github.com/devicepki/ceremony/ceremony/durable"
	"github.com/devicepki/ceremony/ceremony/outdir"
	"github.com/devicepki/ceremony/ceremony/qrframe"
	"github.com/devicepki/ceremony/ceremony/qrimage"
	"github.com/devicepki/ceremony/ceremony/words"
)

// Defaults: frames a phone camera reads off a laptop screen or a printed
// sheet at arm's length (version 22 codes, 105 modules a side).
const (
	DefaultFrameBytes = 600
	DefaultLevel      = qrimage.Medium
	// ModuleSize is the pixels per module of exported PNGs.
	ModuleSize = 4
	// SheetFile is the printable page beside the frames.
	SheetFile = "sheet.html"
	// MaxFileSize bounds one exported file.
	MaxFileSize = 4 << 20
)

// Options tune an export.
type Options struct {
	// FrameBytes is the most bundle bytes per frame (DefaultFrameBytes
	// if 0); Level the error correction (DefaultLevel if 0).
	FrameBytes int
	Level      qrimage.Level
	// Title heads the printable sheet.
	Title string
	// Created is printed on the sheet.
	Created time.Time
}

func (o Options) withDefaults() Options {
	if o.FrameBytes == 0 {
		o.FrameBytes = DefaultFrameBytes
	}
	if o.Level == 0 {
		o.Level = DefaultLevel
	}
	return o
}

// MaxFrameBytes is the largest frame size whose frames fit one QR code at
// level, for bundles of up to qrframe.MaxFrames frames.
func MaxFrameBytes(level qrimage.Level) int {
	chars := qrimage.Capacity(level, qrimage.MaxVersion)
	n := qrframe.MaxFrameBytes
	for n > 0 && qrframe.TextLen(n, qrframe.MaxFrames) > chars {
		n--
	}
	return n
}

// Export is a bundle cut into frames.
type Export struct {
	Files  []bundle.File
	Packed []byte
	Digest bundle.Digest
	Frames []qrframe.Frame
	Opts   Options
}

// Check checks the frame size and error correction (zero values meaning
// the defaults): each frame must fit one QR code.
func (o Options) Check() error {
	o = o.withDefaults()
	if _, err := qrimage.ParseLevel(o.Level.String()); err != nil {
		return err
	}
	limit := MaxFrameBytes(o.Level)
	if o.FrameBytes < qrframe.MinFrameBytes || o.FrameBytes > limit {
		return fmt.Errorf("frame size %d bytes: choose %d to %d at error correction %s", o.FrameBytes, qrframe.MinFrameBytes, limit, o.Level)
	}
	return nil
}

// New packs files and cuts the bundle into frames of opts.FrameBytes,
// checking that each frame fits one QR code at opts.Level.
func New(files []bundle.File, opts Options) (*Export, error) {
	if err := opts.Check(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	packed, err := bundle.Pack(files)
	if err != nil {
		return nil, err
	}
	frames, err := qrframe.Split(packed, opts.FrameBytes)
	if err != nil {
		return nil, err
	}
	return &Export{Files: files, Packed: packed, Digest: bundle.Of(packed), Frames: frames, Opts: opts}, nil
}

// Texts returns the frames' texts, in order.
func (e *Export) Texts() []string {
	out := make([]string, len(e.Frames))
	for i, f := range e.Frames {
		out[i] = f.String()
	}
	return out
}

// FrameFile is the PNG file name of frame i (1-based): frame-01.png, or
// with as many digits as the number of frames needs.
func (e *Export) FrameFile(i int) string {
	width := max(2, len(strconv.Itoa(len(e.Frames))))
	return fmt.Sprintf("frame-%0*d.png", width, i)
}

// DigestWords is the bundle digest as words for reading aloud.
func (e *Export) DigestWords() []string { return words.Encode(e.Digest[:]) }

// WriteDir writes every frame as a PNG and the printable sheet into dir,
// which must not exist or be empty; all or nothing.
func (e *Export) WriteDir(dir string) ([]string, error) {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("QR output directory %s is not empty (holds %s); choose a new one", dir, entries[0].Name())
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("QR output directory %s: %w", dir, err)
	}
	sheet := qrimage.Sheet{
		Title:       e.Opts.Title,
		BundleID:    e.Digest.ID(),
		DigestHex:   e.Digest.Hex(),
		DigestWords: e.DigestWords(),
		FrameBytes:  e.Opts.FrameBytes,
		Level:       e.Opts.Level,
	}
	if !e.Opts.Created.IsZero() {
		sheet.Created = e.Opts.Created.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	for _, f := range e.Files {
		sheet.Files = append(sheet.Files, qrimage.SheetFile{Name: f.Name, Size: len(f.Data), SHA256: f.SHA256()})
	}
	var out []durable.NamedFile
	for i, f := range e.Frames {
		png, err := qrimage.PNG(f.String(), e.Opts.Level, ModuleSize)
		if err != nil {
			return nil, fmt.Errorf("frame %d of %d: %w", i+1, len(e.Frames), err)
		}
		name := e.FrameFile(i + 1)
		out = append(out, durable.NamedFile{Name: name, Data: png})
		sheet.Frames = append(sheet.Frames, qrimage.SheetFrame{Number: i + 1, Total: len(e.Frames), Image: name})
	}
	var page bytes.Buffer
	if err := qrimage.WriteSheet(&page, sheet); err != nil {
		return nil, err
	}
	out = append(out, durable.NamedFile{Name: SheetFile, Data: page.Bytes()})
	res, err := durable.WriteAll(dir, out)
	if err != nil {
		return nil, err
	}
	return res.Written, nil
}

// ReadFiles reads the files to export, each under its base name, kept
// under artifacts/ if it lies in a directory named artifacts (FileName).
// Nothing secret leaves (Secret, CheckCeremonyFile): the first file that
// is secret by its content, or a file of a ceremony directory that its
// transcript does not list as public, refuses them all. A ceremony
// directory given stands for its public files (the transcript, its seal,
// its public artifacts, as the export-qr step carries them); the
// artifacts it leaves out are named on log, one line each.
func ReadFiles(paths []string) ([]bundle.File, error) {
	return ReadFilesLog(paths, io.Discard)
}

// ReadFilesLog is ReadFiles, saying on log what a ceremony directory
// leaves out.
func ReadFilesLog(paths []string, log io.Writer) ([]bundle.File, error) {
	var expanded []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil || !st.IsDir() {
			expanded = append(expanded, p)
			continue
		}
		if !isFile(filepath.Join(p, outdir.TranscriptFile)) {
			return nil, fmt.Errorf("%s: a directory, but not a ceremony directory (no %s): name the files to export", p, outdir.TranscriptFile)
		}
		ps, left, err := CeremonyFiles(p)
		if err != nil {
			return nil, err
		}
		for _, l := range left {
			fmt.Fprintf(log, "%s: not a public artifact of its transcript; left out\n", l)
		}
		expanded = append(expanded, ps...)
	}
	var files []bundle.File
	seen := map[string]string{}
	for _, p := range expanded {
		name := FileName(p)
		if err := bundle.CheckName(name); err != nil {
			return nil, fmt.Errorf("%s: %v", p, err)
		}
		if other, ok := seen[name]; ok {
			return nil, fmt.Errorf("%s and %s have the same name %s: a bundle holds one file of each name", other, p, name)
		}
		seen[name] = p
		data, err := durable.ReadRegularFile(p, MaxFileSize)
		if err != nil {
			if errors.Is(err, durable.ErrNotRegular) || errors.Is(err, durable.ErrTooLarge) {
				return nil, fmt.Errorf("%s: %w", p, err)
			}
			return nil, err
		}
		if why := Secret(data); why != "" {
			return nil, &SecretError{Name: p, Why: why}
		}
		if err := CheckCeremonyFile(p, data); err != nil {
			return nil, err
		}
		files = append(files, bundle.File{Name: name, Data: data})
	}
	return files, nil
}

// FileName is the name in a bundle of the file at path: its base name,
// under artifacts/ if it lies in a directory named artifacts, as a
// ceremony's artifacts do. A bundle exported by hand from a ceremony
// directory then has the layout of the one its export-qr step writes
// (transcript.jsonl, transcript.sig, artifacts/NAME), which is how
// 'ceremony import' pairs artifacts with the transcript that recorded
// them; 'ceremony import' names files given on its command line the same
// way. Nothing else of the path is kept: not a directory above, which
// would depend on where the command runs, and never ".." or an absolute
// path.
func FileName(path string) string {
	base := filepath.Base(path)
	if filepath.Base(filepath.Dir(path)) == outdir.ArtifactsDir {
		return outdir.ArtifactsDir + "/" + base
	}
	return base
}
