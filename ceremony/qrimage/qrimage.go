// Package qrimage turns one line of text into a QR code and back: a PNG to
// print or show, a half-block rendering for a terminal, a decoder for PNG
// and JPEG images (clean renders, screenshots and photographs), and the
// printable HTML sheet that goes with an exported bundle.
//
// The text is always made of the 45 characters of the QR alphanumeric set
// ([Alphanumeric]: 0-9, A-Z, space and $ % * + - . / :). Such text is
// encoded in alphanumeric mode, which packs 2 characters into 11 bits and
// which every scanner passes through unchanged: no character set is
// guessed, nothing is converted, and a keyboard-wedge scanner types exactly
// the characters that were encoded. Text with any other character is
// refused rather than encoded in byte mode.
//
// This package knows nothing of what the text means. Splitting a bundle into
// frames, numbering them and checking them on the way back in is done
// elsewhere; here a frame is just a string.
//
// Encoding uses github.com/skip2/go-qrcode and decoding
// github.com/makiuchi-d/gozxing. A *qrcode.QRCode redoes its work on every
// call that draws it and is not safe for concurrent use; the functions here
// draw each code once.
package qrimage

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"strings"
	"unicode/utf8"

	qrcode "github.com/skip2/go-qrcode"
)

// Alphanumeric is the QR alphanumeric character set, in the order of the
// values QR codes give them (0 to 44). Text made only of these characters is
// encoded in alphanumeric mode.
const Alphanumeric = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

// QuietZone is the width, in modules, of the light margin that every
// rendering here puts around the symbol: the 4 modules the QR standard
// asks for.
const QuietZone = 4

// MaxVersion is the largest QR code version (177×177 modules).
const MaxVersion = 40

// Level is a QR error-correction level. Higher levels survive more damage
// (smudges, folds, glare) but hold less text. The zero Level is not valid.
type Level uint8

// The four QR error-correction levels, with the share of codewords that can
// be restored.
const (
	Low      Level = iota + 1 // L: about 7%
	Medium                    // M: about 15%
	Quartile                  // Q: about 25%
	High                      // H: about 30%
)

// ParseLevel parses an error-correction level: L, M, Q or H, or low,
// medium, quartile or high, in any case.
func ParseLevel(s string) (Level, error) {
	switch strings.ToLower(s) {
	case "l", "low":
		return Low, nil
	case "m", "medium":
		return Medium, nil
	case "q", "quartile":
		return Quartile, nil
	case "h", "high":
		return High, nil
	}
	return 0, fmt.Errorf("unknown QR error-correction level %q: use L, M, Q or H (low, medium, quartile, high)", s)
}

// String returns the level's letter, L, M, Q or H, which [ParseLevel]
// accepts; an invalid level prints as Level(n).
func (l Level) String() string {
	switch l {
	case Low:
		return "L"
	case Medium:
		return "M"
	case Quartile:
		return "Q"
	case High:
		return "H"
	}
	return fmt.Sprintf("Level(%d)", uint8(l))
}

// Describe returns the level's name and how much damage it survives, such
// as "M (medium: about 15% of the code can be damaged)".
func (l Level) Describe() string {
	switch l {
	case Low:
		return "L (low: about 7% of the code can be damaged)"
	case Medium:
		return "M (medium: about 15% of the code can be damaged)"
	case Quartile:
		return "Q (quartile: about 25% of the code can be damaged)"
	case High:
		return "H (high: about 30% of the code can be damaged)"
	}
	return l.String()
}

// MarshalText returns the level's letter, so that a Level can be a flag
// (flag.TextVar) or a field of a configuration file.
func (l Level) MarshalText() ([]byte, error) {
	if !l.valid() {
		return nil, fmt.Errorf("invalid QR error-correction level %d", uint8(l))
	}
	return []byte(l.String()), nil
}

// UnmarshalText parses a level as [ParseLevel] does.
func (l *Level) UnmarshalText(b []byte) error {
	v, err := ParseLevel(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}

func (l Level) valid() bool { return l >= Low && l <= High }

// recovery maps l to go-qrcode's level. Beware go-qrcode's names: its
// "High" is Q and its "Highest" is H.
func (l Level) recovery() (qrcode.RecoveryLevel, error) {
	switch l {
	case Low:
		return qrcode.Low, nil
	case Medium:
		return qrcode.Medium, nil
	case Quartile:
		return qrcode.High, nil
	case High:
		return qrcode.Highest, nil
	}
	return 0, fmt.Errorf("invalid QR error-correction level %d", uint8(l))
}

// CheckText reports whether text can be put in a QR code by [Encode] at
// any level: it must be non-empty and made only of [Alphanumeric]
// characters. The error names the first character that is not, counting
// from 1.
func CheckText(text string) error {
	if text == "" {
		return errors.New("QR text is empty")
	}
	return checkAlphanumeric(text, "QR text")
}

// checkAlphanumeric returns an error naming the first character of s that
// is not in the alphanumeric set; what says what s is.
func checkAlphanumeric(s, what string) error {
	n := 0
	for i := 0; i < len(s); {
		n++
		if c := s[i]; c < utf8.RuneSelf && strings.IndexByte(Alphanumeric, c) >= 0 {
			i++
			continue
		}
		r, _ := utf8.DecodeRuneInString(s[i:])
		return fmt.Errorf("%s: character %d (%q, %U) is not in the QR alphanumeric set (0-9, A-Z, space and $ %% * + - . / :)", what, n, r, r)
	}
	return nil
}

// Encode returns the QR code of text at the given error-correction level,
// in the smallest version (size) that holds it. It refuses text that is
// empty, that has a character outside [Alphanumeric], or that is longer
// than [Capacity] (level, [MaxVersion]).
//
// go-qrcode may put a long run of digits in a numeric-mode segment of its
// own, which is shorter; the rest is in alphanumeric mode. Either way the
// symbol is never larger than a pure alphanumeric encoding needs.
func Encode(text string, level Level) (*qrcode.QRCode, error) {
	rl, err := level.recovery()
	if err != nil {
		return nil, err
	}
	if err := CheckText(text); err != nil {
		return nil, err
	}
	if max := Capacity(level, MaxVersion); len(text) > max {
		return nil, fmt.Errorf("QR text is %d characters long; at most %d fit in one QR code at level %s", len(text), max, level)
	}
	q, err := qrcode.New(text, rl)
	if err != nil {
		return nil, fmt.Errorf("QR encode %d characters at level %s: %w", len(text), level, err)
	}
	return q, nil
}

// modules draws q once and returns its modules, true for dark, with a
// quiet zone of [QuietZone] light modules on each side: 4v+17+2·QuietZone
// rows of as many modules for version v.
func modules(q *qrcode.QRCode) ([][]bool, error) {
	bm := q.Bitmap() // go-qrcode adds a 4-module quiet zone unless DisableBorder is set
	n := symbolSize(q.VersionNumber) + 2*QuietZone
	if q.DisableBorder || len(bm) != n {
		return nil, fmt.Errorf("QR version %d drawn as %d rows, expected %d", q.VersionNumber, len(bm), n)
	}
	for _, row := range bm {
		if len(row) != n {
			return nil, fmt.Errorf("QR version %d drawn with a row of %d modules, expected %d", q.VersionNumber, len(row), n)
		}
	}
	return bm, nil
}

// symbolSize is the width of a version v symbol in modules, without the
// quiet zone.
func symbolSize(v int) int { return 17 + 4*v }

// MaxDimension is the largest width or height, in pixels, of an image that
// [DecodeFile] reads and that [PNG] writes.
const MaxDimension = 10000

// PNG returns a PNG image of the QR code of text (see [Encode]): black
// modules on white, moduleSize pixels per module, with a quiet zone of
// [QuietZone] modules. The image is 1 bit per pixel and the same text,
// level and size always give the same bytes.
//
// moduleSize must be at least 1 and small enough for the image to be at
// most [MaxDimension] pixels wide. Screens and scanners are happy with 4 to
// 8 pixels per module.
func PNG(text string, level Level, moduleSize int) ([]byte, error) {
	if moduleSize < 1 {
		return nil, fmt.Errorf("QR module size %d: must be at least 1 pixel", moduleSize)
	}
	q, err := Encode(text, level)
	if err != nil {
		return nil, err
	}
	side := (symbolSize(q.VersionNumber) + 2*QuietZone)
	if side > MaxDimension/moduleSize {
		return nil, fmt.Errorf("QR module size %d: a version %d code would be wider than %d pixels", moduleSize, q.VersionNumber, MaxDimension)
	}
	bm, err := modules(q)
	if err != nil {
		return nil, err
	}
	img := image.NewPaletted(image.Rect(0, 0, side*moduleSize, side*moduleSize),
		color.Palette{color.Gray{Y: 0xff}, color.Gray{Y: 0}})
	for y, row := range bm {
		for x, dark := range row {
			if !dark {
				continue // index 0 is white
			}
			for py := y * moduleSize; py < (y+1)*moduleSize; py++ {
				line := img.Pix[py*img.Stride:]
				for px := x * moduleSize; px < (x+1)*moduleSize; px++ {
					line[px] = 1
				}
			}
		}
	}
	var b bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&b, img); err != nil {
		return nil, fmt.Errorf("QR PNG: %w", err)
	}
	return b.Bytes(), nil
}
