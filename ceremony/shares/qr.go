package shares

import (
	"fmt"

	qrcode "github.com/skip2/go-qrcode"
)

// qrPixelsPerModule is the size of one QR module in the PNG, in pixels.
const qrPixelsPerModule = 8

// qr returns the QR code of s's compact form.
//
// go-qrcode takes a string, which cannot be wiped; nor can its internal
// buffers. The compact form uses only upper-case letters, digits and '-',
// so go-qrcode encodes it in alphanumeric mode.
func (s *Share) qr() (*qrcode.QRCode, error) {
	if err := s.validate(); err != nil {
		return nil, fmt.Errorf("qr: %w", err)
	}
	c := s.Compact()
	defer c.Wipe()
	q, err := qrcode.New(string(c.Bytes()), qrcode.Medium)
	if err != nil {
		return nil, fmt.Errorf("qr: share %d: %w", s.Index, err)
	}
	return q, nil
}

// QRPNG returns a PNG image of a QR code (error correction level M) of the
// share's compact form ([Share.Compact]), 8 pixels per module, with the
// standard 4-module quiet zone.
func (s *Share) QRPNG() ([]byte, error) {
	q, err := s.qr()
	if err != nil {
		return nil, err
	}
	png, err := q.PNG(-qrPixelsPerModule)
	if err != nil {
		return nil, fmt.Errorf("qr: share %d: %w", s.Index, err)
	}
	return png, nil
}

// QRTerminal returns the QR code of the share's compact form drawn with
// Unicode half blocks, two module rows per line, quiet zone included. The
// blocks draw the light modules and spaces the dark ones, so it is meant for
// a terminal with light text on a dark background. Show it only on the
// share's dedicated screen.
func (s *Share) QRTerminal() (string, error) {
	q, err := s.qr()
	if err != nil {
		return "", err
	}
	return q.ToSmallString(false), nil
}
