// Package outdir manages a ceremony directory, the contract users, auditors
// and ops rely on:
//
//	OUT/transcript.jsonl   the hash-chained event log
//	OUT/artifacts/         certificates, public keys and other outputs
//
// Artifacts are written atomically (package durable) and never overwrite an
// existing file.
package outdir

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	pathpkg "path"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/devicepki/ceremony/ceremony/durable"
)

// File names inside a ceremony directory.
const (
	TranscriptFile = "transcript.jsonl"
	// SealFile is the detached signature over the transcript.
	SealFile = "transcript.sig"
	// PendingSealFile holds the seal line and its signature while the
	// seal is being written: a kill during sealing leaves it, and
	// `ceremony seal DIR` finishes the seal from it.
	PendingSealFile = "transcript.sig.pending"
	// RecordFile is the printable rendering of the transcript.
	RecordFile = "transcript.md"
	// RecordPDFFile is the same record as a paged PDF, to print.
	RecordPDFFile = "transcript.pdf"
	ArtifactsDir  = "artifacts"
	// SharesDir holds a rehearsal's shares (never a real ceremony's).
	SharesDir = "shares"
	// QRDir holds the QR frames and printable sheet of what is carried
	// out: the sealed transcript and the public artifacts.
	QRDir = "qr"
)

// Dir is a ceremony directory.
type Dir struct {
	path    string
	created string   // the topmost directory Create made ("" if none)
	lock    *os.File // held by Lock
}

// Check returns a Dir for path after making sure a ceremony can be written
// there: path does not exist, or is an empty directory (not a symbolic
// link). It creates nothing.
func Check(path string) (*Dir, error) {
	if path == "" {
		return nil, errors.New("output directory: no path given")
	}
	path = filepath.Clean(path)
	st, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &Dir{path: path}, nil
	case err != nil:
		return nil, fmt.Errorf("output directory %s: %w", path, err)
	case st.Mode()&fs.ModeSymlink != 0:
		return nil, fmt.Errorf("output directory %s is a symbolic link; give the directory itself", path)
	case !st.IsDir():
		return nil, fmt.Errorf("output directory %s: exists and is not a directory", path)
	}
	if _, err := os.Stat(filepath.Join(path, TranscriptFile)); err == nil {
		return nil, fmt.Errorf("output directory %s already holds a ceremony transcript; choose a new --out", path)
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, fmt.Errorf("output directory %s: %w", path, err)
	}
	if len(entries) > 0 {
		if durable.IsTemp(entries[0].Name()) {
			return nil, fmt.Errorf("output directory %s holds %s, left by a ceremony stopped before its first event: run 'ceremony close %s --confirm' to tidy it, or choose a new --out", path, entries[0].Name(), path)
		}
		return nil, fmt.Errorf("output directory %s is not empty (holds %s); choose a new --out", path, entries[0].Name())
	}
	return &Dir{path: path}, nil
}

// Open returns the Dir of an existing ceremony directory (one that holds
// a transcript), for closing an interrupted ceremony.
func Open(path string) (*Dir, error) {
	d, err := Existing(path)
	if err != nil {
		return nil, err
	}
	if _, err := os.Lstat(d.TranscriptPath()); err != nil {
		return nil, fmt.Errorf("ceremony directory %s holds no %s: %w", d.path, TranscriptFile, err)
	}
	return d, nil
}

// Existing returns the Dir of an existing directory, which may hold no
// transcript yet (a ceremony killed before its first event).
func Existing(path string) (*Dir, error) {
	path = filepath.Clean(path)
	st, err := os.Lstat(path)
	switch {
	case err != nil:
		return nil, fmt.Errorf("ceremony directory %s: %w", path, err)
	case !st.IsDir():
		return nil, fmt.Errorf("ceremony directory %s is not a directory", path)
	}
	return &Dir{path: path}, nil
}

// CheckNoLinks refuses a directory whose transcript, seal, artifacts/ or
// shares/ is a symbolic link: what a command changes in a ceremony
// directory (close withdraws artifacts and appends to the transcript)
// stays inside it.
func (d *Dir) CheckNoLinks() error {
	for _, name := range []string{TranscriptFile, SealFile, ArtifactsDir, SharesDir} {
		p := filepath.Join(d.path, name)
		if st, err := os.Lstat(p); err == nil && st.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("%s is a symbolic link, not part of the ceremony directory", p)
		}
	}
	return nil
}

// ArtifactPath checks that p, a path recorded in a transcript, names a
// file directly in artifacts/ (nothing outside the ceremony directory),
// and returns it in the local form.
func ArtifactPath(p string) (string, error) {
	name, ok := strings.CutPrefix(p, ArtifactsDir+"/")
	if !ok || !artifactName.MatchString(name) || name == "." || name == ".." {
		return "", fmt.Errorf("%q is not a file in %s/", p, ArtifactsDir)
	}
	return filepath.Join(ArtifactsDir, name), nil
}

// Path returns the directory's path.
func (d *Dir) Path() string { return d.path }

// TranscriptPath returns the path of the transcript file.
func (d *Dir) TranscriptPath() string { return filepath.Join(d.path, TranscriptFile) }

// WriteFile writes one of the ceremony directory's own files (SealFile,
// RecordFile, RecordPDFFile, a transcript's cut-off line set aside) atomically; it never
// overwrites.
func (d *Dir) WriteFile(name string, data []byte) error {
	if name != SealFile && name != RecordFile && name != RecordPDFFile && name != PendingSealFile && !tornName.MatchString(name) {
		return fmt.Errorf("outdir: %s is not a ceremony file", name)
	}
	return durable.WriteFileExclusive(filepath.Join(d.path, name), data, 0o644)
}

// Create creates the directory (and its parents) if it does not exist yet.
func (d *Dir) Create() error {
	top := ""
	for p := filepath.Clean(d.path); ; p = filepath.Dir(p) {
		if _, err := os.Lstat(p); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("output directory: %w", err)
		}
		top = p
		if filepath.Dir(p) == p {
			break
		}
	}
	if top == "" {
		return nil
	}
	if err := os.MkdirAll(d.path, 0o755); err != nil {
		return fmt.Errorf("output directory: %w", err)
	}
	d.created = top
	return durable.SyncDir(filepath.Dir(top))
}

// Discard removes what this run put in the directory: the transcript, the
// artifacts directory, and the directory itself and any parents if Create
// made them. The engine calls it only when a run failed before changing
// anything.
func (d *Dir) Discard() error {
	var errs []error
	for _, p := range []string{d.TranscriptPath(), filepath.Join(d.path, ArtifactsDir)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if d.created != "" {
		for p := filepath.Clean(d.path); ; p = filepath.Dir(p) {
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
				break
			}
			if p == d.created {
				break
			}
		}
	}
	return errors.Join(errs...)
}

// WriteShareFile writes a rehearsal share to shares/name, readable by the
// owner only, atomically and without overwriting. It returns the path.
func (d *Dir) WriteShareFile(name string, data []byte) (string, error) {
	if !artifactName.MatchString(name) {
		return "", fmt.Errorf("share file name %q: use lower-case letters, digits, '.', '_' and '-'", name)
	}
	dir := filepath.Join(d.path, SharesDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("share file %s: %w", name, err)
	}
	path := filepath.Join(dir, name)
	if err := durable.WriteFileExclusive(path, data, 0o600); err != nil {
		return "", err
	}
	return path, nil
}

// TempFiles lists, relative to the directory and with forward slashes,
// the temporary files a write cut short by a crash left in it, in
// artifacts/, shares/ or qr/ (durable.IsTemp), and the temporary
// directory of a QR export cut short: none is a complete file under its
// final name.
func (d *Dir) TempFiles() ([]string, error) {
	var found []string
	if entries, err := os.ReadDir(d.path); err == nil {
		for _, e := range entries {
			if e.IsDir() && strings.HasPrefix(e.Name(), "."+QRDir+".tmp-") && durable.IsTemp(e.Name()) {
				found = append(found, e.Name())
			}
		}
	}
	for _, sub := range []string{"", ArtifactsDir, SharesDir, QRDir} {
		// Only the directory's own subdirectories: one that is a symbolic
		// link (to anywhere) is not looked into.
		if st, err := os.Lstat(filepath.Join(d.path, sub)); sub != "" && (err != nil || !st.IsDir()) {
			continue
		}
		entries, err := os.ReadDir(filepath.Join(d.path, sub))
		if err != nil {
			return nil, fmt.Errorf("ceremony directory %s: %w", d.path, err)
		}
		for _, e := range entries {
			if e.Type().IsRegular() && durable.IsTemp(e.Name()) {
				found = append(found, pathpkg.Join(sub, e.Name()))
			}
		}
	}
	return found, nil
}

// RemoveTempFiles removes the temporary files TempFiles listed (a file
// gone already is fine) and syncs their directories.
func (d *Dir) RemoveTempFiles(names []string) error {
	dirs := map[string]bool{}
	for _, n := range names {
		if !durable.IsTemp(pathpkg.Base(n)) {
			return fmt.Errorf("outdir: %s is not a temporary file", n)
		}
		// Never through a symbolic link: the parent must be the
		// directory itself or one of its real subdirectories.
		if parent := pathpkg.Dir(n); parent != "." {
			if st, err := os.Lstat(filepath.Join(d.path, parent)); err != nil || !st.IsDir() || strings.Contains(parent, "/") {
				return fmt.Errorf("outdir: %s is not in the ceremony directory's own %s/", n, parent)
			}
		}
		p := filepath.Join(d.path, filepath.FromSlash(n))
		// Removed inside the directory as an os.Root: no symbolic link
		// can lead the removal out of it.
		root, err := os.OpenRoot(d.path)
		if err != nil {
			return err
		}
		remove := root.Remove
		if strings.HasPrefix(n, "."+QRDir+".tmp-") {
			remove = root.RemoveAll // a QR export's temporary directory
		}
		err = remove(filepath.FromSlash(n))
		root.Close()
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		dirs[filepath.Dir(p)] = true
	}
	for dir := range dirs {
		if err := durable.SyncDir(dir); err != nil {
			return err
		}
	}
	return nil
}

// Artifact describes a file written into the ceremony directory.
type Artifact struct {
	// Path is relative to the ceremony directory, with forward slashes.
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Size   int    `json:"size"`
}

// tornName is the name of a transcript's cut-off last line, set aside by
// close.
var tornName = regexp.MustCompile(`^transcript\.jsonl\.torn-[0-9a-f]{12}$`)

var artifactName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,99}$`)

// RemoveArtifact removes an artifact this run wrote (a withdrawn output).
func (d *Dir) RemoveArtifact(a Artifact) error {
	if err := os.Remove(filepath.Join(d.path, filepath.FromSlash(a.Path))); err != nil {
		return err
	}
	return durable.SyncDir(filepath.Join(d.path, ArtifactsDir))
}

// WriteArtifact writes data to artifacts/name atomically. It fails, leaving
// the existing file untouched, if artifacts/name exists.
func (d *Dir) WriteArtifact(name string, data []byte) (Artifact, error) {
	if !artifactName.MatchString(name) {
		return Artifact{}, fmt.Errorf("artifact name %q: use lower-case letters, digits, '.', '_' and '-'", name)
	}
	dir := filepath.Join(d.path, ArtifactsDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Artifact{}, fmt.Errorf("artifact %s: %w", name, err)
	}
	if err := durable.WriteFileExclusive(filepath.Join(dir, name), data, 0o644); err != nil {
		return Artifact{}, err
	}
	sum := sha256.Sum256(data)
	return Artifact{Path: ArtifactsDir + "/" + name, SHA256: hex.EncodeToString(sum[:]), Size: len(data)}, nil
}
