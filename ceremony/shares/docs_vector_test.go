package shares_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/devicepki/ceremony/ceremony/shares"
	"github.com/devicepki/ceremony/internal/docvector"
)

// TestDocsShareVector checks the share text test vector in docs/formats.md:
// it parses to the share the page describes, renders back to the same text
// and compact form, and the typo the page shows is refused with the message
// the page gives.
func TestDocsShareVector(t *testing.T) {
	text := docvector.Vector(t, "share-text")
	s, err := shares.Parse([]byte(text))
	if err != nil {
		t.Fatalf("the page's share does not parse: %v", err)
	}
	if got, want := s.Describe(), "backup share 2 of 5 (3 needed), split 04HM-ASW9-NC"; got != want {
		t.Errorf("share is %q, the page says %q", got, want)
	}
	if s.Purpose != shares.Backup || s.Threshold != 3 || s.Count != 5 || s.Index != 2 {
		t.Errorf("share header %c %d of %d, number %d", s.Purpose, s.Threshold, s.Count, s.Index)
	}
	if want := (shares.SplitID{0x01, 0x23, 0x45, 0x67, 0x89, 0xab}); s.Split != want {
		t.Errorf("split id % x, the page says % x", s.Split[:], want[:])
	}
	want := make([]byte, 33)
	for i := range 32 {
		want[i] = byte(7 * i)
	}
	want[32] = 0x2a
	if !bytes.Equal(s.Value.Bytes(), want) {
		t.Errorf("share value differs from the one the page describes")
	}
	if got := string(s.Text().Bytes()); got != text {
		t.Errorf("Text() =\n%s\nthe page shows\n%s", got, text)
	}
	if got, want := string(s.Compact().Bytes()), strings.TrimSpace(docvector.Vector(t, "share-compact")); got != want {
		t.Errorf("Compact() = %s\nthe page shows %s", got, want)
	}

	_, err = shares.Parse([]byte(docvector.Vector(t, "share-typo")))
	var fe *shares.FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("the page's mistyped share: err %v, want a FormatError", err)
	}
	if got, want := err.Error(), strings.TrimSpace(docvector.Vector(t, "share-typo-error")); got != want {
		t.Errorf("mistyped share refused with\n%s\nthe page says\n%s", got, want)
	}
}
