package durable

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestBareErrorAndCause(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "secret-name")
	_, openErr := os.Open(missing)
	linkErr := os.Rename(missing, filepath.Join(dir, "other"))
	plain := errors.New("disk full")
	cases := []struct {
		err         error
		bare, cause string
	}{
		{openErr, "open: no such file or directory", "no such file or directory"},
		{fmt.Errorf("wrapped: %w", openErr), "open: no such file or directory", "no such file or directory"},
		{linkErr, "rename: no such file or directory", "no such file or directory"},
		{plain, "disk full", "disk full"},
	}
	for _, c := range cases {
		if got := BareError(c.err); got != c.bare {
			t.Errorf("BareError(%v) = %q, want %q", c.err, got, c.bare)
		}
		if got := Cause(c.err).Error(); got != c.cause {
			t.Errorf("Cause(%v) = %q, want %q", c.err, got, c.cause)
		}
	}
	if !errors.Is(Cause(openErr), os.ErrNotExist) {
		t.Errorf("Cause(%v) is not fs.ErrNotExist", openErr)
	}
}
