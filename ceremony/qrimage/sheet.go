package qrimage

import (
	_ "embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"

	"github.com/devicepki/ceremony/ceremony/words"
)

// Sheet is what the printable page of one exported bundle shows; see
// [WriteSheet].
type Sheet struct {
	// Title heads the page, such as "Root CA certificate and CRL"; empty
	// gives "Exported bundle".
	Title string
	// BundleID identifies the bundle; every frame carries it.
	BundleID string
	// DigestHex is the bundle's SHA-256, 64 hex digits.
	DigestHex string
	// DigestWords is DigestHex as words (package words): one per byte.
	DigestWords []string
	// Files are the files in the bundle.
	Files []SheetFile
	// Frames are all the frames of the bundle, each an image in the same
	// directory as the page.
	Frames []SheetFrame
	// FrameBytes is the most bundle bytes one frame carries.
	FrameBytes int
	// Level is the frames' error-correction level.
	Level Level
	// Created says when the bundle was made, as it should be printed.
	Created string
}

// SheetFile is one file of a bundle.
type SheetFile struct {
	Name   string
	Size   int
	SHA256 string // 64 hex digits
}

// SheetFrame is one frame of a bundle: frame Number of Total, drawn in the
// PNG file Image, a plain file name (such as "frame-03.png") in the same
// directory as the page.
type SheetFrame struct {
	Number, Total int
	Image         string
}

//go:embed sheet.html.tmpl
var sheetSource string

var sheetTemplate = template.Must(template.New("sheet").Parse(sheetSource))

// sheetView is what the template sees: the sheet checked and laid out.
type sheetView struct {
	Sheet
	Title      string
	Files      []SheetFile // with SHA256 in lower case, in groups of 4
	HexLines   []string
	WordLines  []string
	Frames     []SheetFrame // by number
	LevelText  string
	FrameTotal int
}

// WriteSheet writes a printable, self-contained HTML page for one exported
// bundle: its id and digest (in hex and as words), its files, every frame's
// image with its number, and how to read the frames back in and check the
// result. The page has no scripts and loads nothing but the frame images
// next to it; each frame is printed on a page of its own, large enough to
// scan.
//
// WriteSheet checks the sheet first and writes nothing if it is
// inconsistent: the digest must be 64 hex digits and the words must be
// those of the digest, every file's SHA-256 must be 64 hex digits, and the
// frames must be numbered 1 to n, each "of n", with image names that are
// plain file names.
func WriteSheet(w io.Writer, s Sheet) error {
	v, err := s.view()
	if err != nil {
		return err
	}
	if err := sheetTemplate.Execute(w, v); err != nil {
		return fmt.Errorf("write the QR sheet: %w", err)
	}
	return nil
}

func (s Sheet) view() (*sheetView, error) {
	if strings.TrimSpace(s.BundleID) == "" {
		return nil, errors.New("QR sheet: no bundle id")
	}
	if !isHex64(s.DigestHex) {
		return nil, fmt.Errorf("QR sheet: digest %q is not 64 hex digits", s.DigestHex)
	}
	digest := strings.ToLower(s.DigestHex)
	want, _ := words.FromHex(digest)
	if !slices.Equal(s.DigestWords, want) {
		return nil, errors.New("QR sheet: the digest words are not those of the digest")
	}
	for i, f := range s.Files {
		if f.Name == "" {
			return nil, fmt.Errorf("QR sheet: file %d has no name", i+1)
		}
		if !isHex64(f.SHA256) {
			return nil, fmt.Errorf("QR sheet: file %q: SHA-256 %q is not 64 hex digits", f.Name, f.SHA256)
		}
		if f.Size < 0 {
			return nil, fmt.Errorf("QR sheet: file %q: negative size %d", f.Name, f.Size)
		}
	}
	if !s.Level.valid() {
		return nil, fmt.Errorf("QR sheet: invalid error-correction level %d", uint8(s.Level))
	}
	if s.FrameBytes < 1 {
		return nil, fmt.Errorf("QR sheet: %d bytes per frame", s.FrameBytes)
	}
	n := len(s.Frames)
	if n == 0 {
		return nil, errors.New("QR sheet: no frames")
	}
	frames := slices.Clone(s.Frames)
	slices.SortFunc(frames, func(a, b SheetFrame) int { return a.Number - b.Number })
	for i, f := range frames {
		if f.Number != i+1 || f.Total != n {
			return nil, fmt.Errorf("QR sheet: frame %d of %d (image %q) among %d frames: the frames must be numbered 1 to %d of %d, once each", f.Number, f.Total, f.Image, n, n, n)
		}
		if err := checkImageName(f.Image); err != nil {
			return nil, fmt.Errorf("QR sheet: frame %d: %w", f.Number, err)
		}
	}

	v := &sheetView{
		Sheet:      s,
		Title:      s.Title,
		Frames:     frames,
		LevelText:  s.Level.Describe(),
		FrameTotal: n,
		WordLines:  words.Lines(s.DigestWords, 8),
	}
	if v.Title == "" {
		v.Title = "Exported bundle"
	}
	for _, f := range s.Files {
		f.SHA256 = strings.Join(hexGroups(strings.ToLower(f.SHA256)), " ")
		v.Files = append(v.Files, f)
	}
	// 16 groups of 4 hex digits on two lines of 8 groups.
	groups := hexGroups(digest)
	v.HexLines = []string{strings.Join(groups[:8], " "), strings.Join(groups[8:], " ")}
	return v, nil
}

// hexGroups splits h into groups of 4 characters.
func hexGroups(h string) []string {
	var groups []string
	for i := 0; i < len(h); i += 4 {
		groups = append(groups, h[i:min(i+4, len(h))])
	}
	return groups
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// checkImageName accepts a plain file name: not empty, not "." or "..", not
// hidden, and without a path separator, a colon (a URL scheme or drive) or
// a control character.
func checkImageName(name string) error {
	switch {
	case name == "":
		return errors.New("no image file name")
	case strings.HasPrefix(name, "."):
		return fmt.Errorf("image %q: the name starts with a dot", name)
	case strings.ContainsAny(name, `/\:`):
		return fmt.Errorf("image %q: not a plain file name in the sheet's directory", name)
	case strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return fmt.Errorf("image %q: the name has a control character", name)
	}
	return nil
}
