// Package fuzzcheck holds the check every parser's fuzz target makes of
// an error: it must reach a person as one line of printable text. It is
// for tests only.
package fuzzcheck

import (
	"strings"
	"testing"
	"unicode"
)

// OneLine fails t unless err is nil or one line of printable text: no
// newline, no other control character (an input's bytes echoed raw).
func OneLine(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if i := strings.IndexFunc(err.Error(), unicode.IsControl); i >= 0 {
		t.Fatalf("error holds a control character at %d: %q", i, err)
	}
}
