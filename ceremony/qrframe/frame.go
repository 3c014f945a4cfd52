// Package qrframe cuts a bundle (package bundle) into frames that fit one
// QR code each, and reassembles frames scanned in any order.
//
// A frame is one line of text made only of QR alphanumeric characters, so
// that it is encoded in the QR alphanumeric mode and passes unchanged
// through phones, scanners and keyboard wedges; and only of upper-case
// letters, digits, '.' and '-', which a keyboard-wedge scanner types
// without Shift on US and German layouts (but letters):
//
//	CQR1.ID.I-N.DIGEST.PAYLOAD.CHECK
//
//	CQR1     the format tag and version
//	ID       the bundle id: the first 8 characters of DIGEST
//	I-N      this frame's number and the number of frames, in decimal
//	DIGEST   the SHA-256 of the whole bundle, base32 (52 characters)
//	PAYLOAD  this frame's slice of the bundle, base32 without padding
//	CHECK    CRC-32C of everything before it (including the last '.'),
//	         8 upper-case hex digits
//
// The bundle is cut into N slices of equal length (the last may be
// shorter), so the digest and N fix every slice's place: frames of two
// different cuts of one bundle are never spliced together. CHECK catches
// a misread or altered character in the frame that carries it; the
// digest, checked over the reassembled bundle, catches everything else.
package qrframe

import (
	"encoding/base32"
	"errors"
	"fmt"
	"hash/crc32"
	"regexp"
	"strconv"
	"strings"

	"github.com/devicepki/ceremony/ceremony/bundle"
)

// Tag starts every frame.
const Tag = "CQR1"

// Separators: between fields, and between a frame's number and the total.
const (
	sep    = '.'
	numSep = '-'
)

// Limits.
const (
	// MaxFrames bounds the frames of one bundle.
	MaxFrames = 9999
	// MinFrameBytes and MaxFrameBytes bound a frame's slice of the bundle:
	// 1660 bytes of payload and the header still fit a version-40 QR code
	// at error-correction level L.
	MinFrameBytes = 16
	MaxFrameBytes = 1660
)

// Frame is one frame of a bundle.
type Frame struct {
	Digest bundle.Digest
	Index  int // 1-based
	Total  int
	// Payload is the frame's slice of the bundle.
	Payload []byte
}

// ID is the frame's bundle id.
func (f Frame) ID() string { return f.Digest.ID() }

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// String is the frame's text, the content of its QR code.
func (f Frame) String() string {
	var b strings.Builder
	b.WriteString(Tag)
	b.WriteByte(sep)
	b.WriteString(f.Digest.ID())
	b.WriteByte(sep)
	b.WriteString(strconv.Itoa(f.Index))
	b.WriteByte(numSep)
	b.WriteString(strconv.Itoa(f.Total))
	b.WriteByte(sep)
	b.WriteString(f.Digest.Base32())
	b.WriteByte(sep)
	b.WriteString(b32.EncodeToString(f.Payload))
	b.WriteByte(sep)
	fmt.Fprintf(&b, "%08X", crc32.Checksum([]byte(b.String()), castagnoli))
	return b.String()
}

// Overhead is the length of a frame's text besides its payload, for a
// bundle of total frames.
func Overhead(total int) int {
	n := len(strconv.Itoa(total))
	return len(Tag) + 1 + bundle.IDLen + 1 + 2*n + 1 + 1 + 52 + 1 + 1 + 8
}

// TextLen is the length of the text of a frame carrying n payload bytes
// in a bundle of total frames.
func TextLen(n, total int) int { return Overhead(total) + b32.EncodedLen(n) }

// Split cuts a packed bundle into frames of at most frameBytes bytes of
// payload each, all of equal length but the last.
func Split(packed []byte, frameBytes int) ([]Frame, error) {
	if frameBytes < MinFrameBytes || frameBytes > MaxFrameBytes {
		return nil, fmt.Errorf("frame size %d bytes: choose between %d and %d", frameBytes, MinFrameBytes, MaxFrameBytes)
	}
	if len(packed) == 0 {
		return nil, errors.New("an empty bundle has no frames")
	}
	total := (len(packed) + frameBytes - 1) / frameBytes
	if total > MaxFrames {
		return nil, fmt.Errorf("the bundle needs %d frames of %d bytes: at most %d frames; choose larger frames", total, frameBytes, MaxFrames)
	}
	digest := bundle.Of(packed)
	size := sliceLen(len(packed), total)
	frames := make([]Frame, total)
	for i := range frames {
		lo := i * size
		hi := min(lo+size, len(packed))
		frames[i] = Frame{Digest: digest, Index: i + 1, Total: total, Payload: packed[lo:hi]}
	}
	return frames, nil
}

// sliceLen is the payload length of every frame but the last, for a
// bundle of n bytes in total frames.
func sliceLen(n, total int) int { return (n + total - 1) / total }

// ParseError is a line that is not a good frame. Index and Total are the
// frame numbers the line claims, when it got that far (0 otherwise), and
// ID the bundle id it claims: a hint for the person rescanning, not
// trusted.
type ParseError struct {
	ID           string
	Index, Total int
	Msg          string
}

func (e *ParseError) Error() string {
	if e.Index > 0 {
		return fmt.Sprintf("frame %d of %d of bundle %s: %s", e.Index, e.Total, e.ID, e.Msg)
	}
	return e.Msg
}

// ErrNotFrame is returned by Parse for a line that does not start with
// the tag at all.
var ErrNotFrame = errors.New("not a ceremony QR frame (it does not start with " + Tag + string(sep) + ")")

// zbarPrefix is what zbarimg prints before each code without --raw.
const zbarPrefix = "QR-Code:"

// Parse reads one frame from a line of text: as a QR code holds it, as
// zbarimg prints it (with or without its "QR-Code:" prefix), or as a
// keyboard-wedge scanner types it (in lower case when Caps Lock is on,
// with a carriage return).
func Parse(line string) (Frame, error) {
	s := strings.TrimSpace(line)
	s = strings.TrimPrefix(s, zbarPrefix)
	s = strings.ToUpper(s)
	if !strings.HasPrefix(s, Tag+string(sep)) {
		return Frame{}, ErrNotFrame
	}
	fields := strings.Split(s, string(sep))
	if len(fields) != 6 {
		return Frame{}, &ParseError{Msg: fmt.Sprintf("a frame has 6 fields separated by '%c', this line has %d", sep, len(fields))}
	}
	id, numbers, digest, payload, check := fields[1], fields[2], fields[3], fields[4], fields[5]
	perr := &ParseError{ID: "(unreadable)"}
	if idRE.MatchString(id) {
		perr.ID = id // only base32: safe to print
	}
	if i, n, ok := parseNumbers(numbers); ok {
		perr.Index, perr.Total = i, n
	} else {
		perr.Msg = fmt.Sprintf("bad frame number %+.12q: want I-N with 1 ≤ I ≤ N ≤ %d", numbers, MaxFrames)
		return Frame{}, perr
	}
	if !idRE.MatchString(id) {
		perr.Msg = fmt.Sprintf("the bundle id is not %d characters of A-Z and 2-7", bundle.IDLen)
		return Frame{}, perr
	}
	body := s[:len(s)-len(check)]
	if len(check) != 8 {
		perr.Msg = "the frame check is not 8 hex digits (the end of the frame is missing)"
		return Frame{}, perr
	}
	want, err := strconv.ParseUint(check, 16, 32)
	if err != nil {
		perr.Msg = "the frame check is not 8 hex digits"
		return Frame{}, perr
	}
	if got := crc32.Checksum([]byte(body), castagnoli); uint32(want) != got {
		perr.Msg = "the frame check fails: a character was misread or altered; scan this frame again"
		return Frame{}, perr
	}
	// The check passed: what follows are errors of the exporter (or a
	// forger), not of the scan.
	d, err := bundle.ParseDigest(digest)
	if err != nil {
		perr.Msg = err.Error()
		return Frame{}, perr
	}
	if d.ID() != id {
		perr.Msg = fmt.Sprintf("the bundle id %s does not match the digest (%s…)", id, d.ID())
		return Frame{}, perr
	}
	data, err := b32.DecodeString(payload)
	if err != nil || b32.EncodeToString(data) != payload {
		perr.Msg = "the payload is not valid base32"
		return Frame{}, perr
	}
	if len(data) == 0 || len(data) > MaxFrameBytes {
		perr.Msg = fmt.Sprintf("a payload of %d bytes (1 to %d)", len(data), MaxFrameBytes)
		return Frame{}, perr
	}
	return Frame{Digest: d, Index: perr.Index, Total: perr.Total, Payload: data}, nil
}

var idRE = regexp.MustCompile(`^[A-Z2-7]{8}$`)

// parseNumbers reads "I-N": canonical decimal numbers, 1 ≤ I ≤ N ≤ MaxFrames.
func parseNumbers(s string) (i, n int, ok bool) {
	a, b, found := strings.Cut(s, string(numSep))
	if !found {
		return 0, 0, false
	}
	i, ok1 := decimal(a)
	n, ok2 := decimal(b)
	if !ok1 || !ok2 || i < 1 || i > n || n > MaxFrames {
		return 0, 0, false
	}
	return i, n, true
}

func decimal(s string) (int, bool) {
	if s == "" || len(s) > 4 || (s[0] == '0') {
		return 0, false
	}
	v := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}
