// Package bundle packs the files that leave a ceremony into one byte
// string and unpacks them again: a ustar archive with fixed metadata,
// compressed with raw DEFLATE (RFC 1951). The same files always give the
// same bundle, so its SHA-256 names it.
//
// Unpack trusts nothing it is given: names must be plain relative paths,
// entries regular files, sizes within limits, and nothing may follow the
// archive or the compressed stream.
package bundle

import (
	"archive/tar"
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
)

// Limits on what Unpack accepts (and Pack produces).
const (
	MaxFiles = 256
	// MaxSize bounds the uncompressed archive: ceremony artifacts and
	// transcripts are kilobytes.
	MaxSize = 16 << 20
	// MaxNameLen fits a ustar name field.
	MaxNameLen = 100
)

// File is one file in a bundle.
type File struct {
	// Name is a slash-separated relative path, such as
	// "artifacts/root-ca.crt.pem".
	Name string
	Data []byte
}

// SHA256 is the file's SHA-256 in lower-case hex.
func (f File) SHA256() string {
	sum := sha256.Sum256(f.Data)
	return hex.EncodeToString(sum[:])
}

// Digest is the SHA-256 of a packed bundle, as sent.
type Digest [sha256.Size]byte

// Of returns the digest of a packed bundle.
func Of(packed []byte) Digest { return sha256.Sum256(packed) }

// Hex is the digest in lower-case hex.
func (d Digest) Hex() string { return hex.EncodeToString(d[:]) }

// Base32 is the digest in unpadded upper-case base32 (52 characters).
func (d Digest) Base32() string { return b32.EncodeToString(d[:]) }

// ID is the bundle id people read and compare: the first 8 characters of
// the digest in base32 (40 bits).
func (d Digest) ID() string { return d.Base32()[:IDLen] }

// IDLen is the length of a bundle id.
const IDLen = 8

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// ParseDigest reads a digest in the form Base32 returns.
func ParseDigest(s string) (Digest, error) {
	var d Digest
	if len(s) != 52 {
		return d, fmt.Errorf("a bundle digest is 52 base32 characters, not %d", len(s))
	}
	b, err := b32.DecodeString(s)
	if err != nil || len(b) != len(d) || b32.EncodeToString(b) != s {
		return d, errors.New("the bundle digest is not valid base32")
	}
	copy(d[:], b)
	return d, nil
}

var component = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// CheckName checks that name is a plain relative path: components of
// letters, digits, '.', '_' and '-', not starting with a dot, no more than
// three deep, at most MaxNameLen bytes.
func CheckName(name string) error {
	if name == "" {
		return errors.New("a bundle file needs a name")
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("file name %.40q… is longer than %d bytes", name, MaxNameLen)
	}
	parts := strings.Split(name, "/")
	if len(parts) > 3 {
		return fmt.Errorf("file name %q is more than three levels deep", name)
	}
	for _, p := range parts {
		if !component.MatchString(p) {
			return fmt.Errorf("file name %q: each part must start with a letter or digit and hold only letters, digits, '.', '_' and '-' (no absolute paths, no '..')", name)
		}
	}
	return nil
}

// epoch is every entry's modification time: bundles carry content, not
// the times files happened to be copied.
var epoch = time.Unix(0, 0).UTC()

// Pack returns the bundle holding files, in the order given.
func Pack(files []File) ([]byte, error) {
	if len(files) == 0 {
		return nil, errors.New("a bundle needs at least one file")
	}
	if len(files) > MaxFiles {
		return nil, fmt.Errorf("%d files: a bundle holds at most %d", len(files), MaxFiles)
	}
	seen := map[string]bool{}
	var archive bytes.Buffer
	tw := tar.NewWriter(&archive)
	for _, f := range files {
		if err := CheckName(f.Name); err != nil {
			return nil, err
		}
		if seen[f.Name] {
			return nil, fmt.Errorf("file name %q appears twice", f.Name)
		}
		seen[f.Name] = true
		hdr := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     f.Name,
			Size:     int64(len(f.Data)),
			Mode:     0o644,
			ModTime:  epoch,
			Format:   tar.FormatUSTAR,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		if _, err := tw.Write(f.Data); err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if archive.Len() > MaxSize {
		return nil, fmt.Errorf("the files come to %d bytes: a bundle holds at most %d", archive.Len(), MaxSize)
	}
	var out bytes.Buffer
	zw, err := flate.NewWriter(&out, flate.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(archive.Bytes()); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// cause is a decoder's error as a short parenthesised cause: "it ends
// early" for a cut-off stream, else the decoder's text.
func cause(err error) string {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "it ends early"
	}
	return err.Error()
}

// Unpack returns the files of a packed bundle. It does not check a digest:
// callers compare Of(packed) with the digest they expect first.
func Unpack(packed []byte) ([]File, error) {
	src := bytes.NewReader(packed)
	zr := flate.NewReader(src)
	archive, err := io.ReadAll(io.LimitReader(zr, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("the bundle's compressed data is damaged: the frames do not come from one intact export (%s)", cause(err))
	}
	if len(archive) > MaxSize {
		return nil, fmt.Errorf("the bundle decompresses to more than %d bytes", MaxSize)
	}
	if src.Len() != 0 {
		return nil, fmt.Errorf("%d bytes follow the compressed bundle", src.Len())
	}
	ar := bytes.NewReader(archive)
	tr := tar.NewReader(ar)
	var files []File
	seen := map[string]bool{}
	total := 0
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("the bundle's archive is damaged: the frames do not come from one intact export (%s)", cause(err))
		}
		if len(files) == MaxFiles {
			return nil, fmt.Errorf("the bundle holds more than %d files", MaxFiles)
		}
		if err := CheckName(hdr.Name); err != nil {
			return nil, fmt.Errorf("the bundle holds a file with a bad name: %v", err)
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil, fmt.Errorf("the bundle's %q is not a regular file (type %q)", hdr.Name, hdr.Typeflag)
		}
		// Pack writes plain ustar headers only. PAX or GNU records could
		// make a small entry expand (a sparse file of any size), so
		// anything else is refused.
		if hdr.Format != tar.FormatUSTAR || len(hdr.PAXRecords) > 0 {
			return nil, fmt.Errorf("the bundle's %q has a %v header: only plain ustar entries are accepted", hdr.Name, hdr.Format)
		}
		if hdr.Size < 0 || hdr.Size > int64(len(archive)) {
			return nil, fmt.Errorf("the bundle's %q claims %d bytes, more than the whole bundle", hdr.Name, hdr.Size)
		}
		if seen[hdr.Name] {
			return nil, fmt.Errorf("the bundle holds %q twice", hdr.Name)
		}
		seen[hdr.Name] = true
		data, err := io.ReadAll(io.LimitReader(tr, hdr.Size+1))
		if err != nil {
			return nil, fmt.Errorf("the bundle's %q is damaged: the frames do not come from one intact export (%s)", hdr.Name, cause(err))
		}
		if total += len(data); int64(len(data)) != hdr.Size || total > len(archive) {
			return nil, fmt.Errorf("the bundle's %q holds %d bytes, not the %d its header says", hdr.Name, len(data), hdr.Size)
		}
		files = append(files, File{Name: hdr.Name, Data: data})
	}
	if len(files) == 0 {
		return nil, errors.New("the bundle holds no files")
	}
	// Only the end-of-archive zero blocks may follow the last file.
	rest, _ := io.ReadAll(ar)
	if len(bytes.Trim(rest, "\x00")) != 0 {
		return nil, errors.New("data follows the end of the bundle's archive")
	}
	return files, nil
}
