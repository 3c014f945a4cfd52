package shares

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/devicepki/ceremony/ceremony/secret"
)

// randomSecret returns n random bytes as a Secret.
func randomSecret(t testing.TB, n int) *secret.Secret {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return secret.New(b)
}

// split splits a random secret of secLen bytes, failing the test on error.
func split(t testing.TB, p Purpose, m, n, secLen int) ([]*Share, *Manifest, *secret.Secret) {
	t.Helper()
	sec := randomSecret(t, secLen)
	ss, man, err := Split(rand.Reader, sec, p, m, n)
	if err != nil {
		t.Fatalf("Split(%d of %d, %d bytes): %v", m, n, secLen, err)
	}
	return ss, man, sec
}

// fixedShare returns a share with fixed contents (not from a real split),
// so that its text is the same in every run: backup share 2 of 5, 3 needed,
// split 0x0123456789ab, value 0x00 0x07 0x0e … (32 bytes) and x = 0x2a.
func fixedShare() *Share {
	v := make([]byte, 33)
	for i := range 32 {
		v[i] = byte(7 * i)
	}
	v[32] = 0x2a
	return &Share{
		Split:     SplitID{0x01, 0x23, 0x45, 0x67, 0x89, 0xab},
		Purpose:   Backup,
		Threshold: 3,
		Count:     5,
		Index:     2,
		Value:     secret.New(v),
	}
}

// str returns the bytes of a Secret as a string, for tests only.
func str(s *secret.Secret) string { return string(s.Bytes()) }

// compactGroups returns the data groups (5 characters each) of s's compact
// form, without the tag group.
func compactGroups(s *Share) []string {
	return strings.Split(str(s.Compact()), "-")[1:]
}

// assertNoSecret fails if the error message contains any part of the given
// shares that is secret: the value in hex, the compact and text forms, or
// any of the groups of 5 characters.
func assertNoSecret(t testing.TB, err error, ss ...*Share) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error()
	up := strings.ToUpper(msg)
	for _, s := range ss {
		if s == nil || s.Value.Len() == 0 {
			continue
		}
		h := hex.EncodeToString(s.Value.Bytes())
		if strings.Contains(strings.ToLower(msg), h[:min(16, len(h))]) {
			t.Errorf("error %q contains the value of share %d in hex", msg, s.Index)
		}
		// Two neighbouring groups, however separated: one group alone
		// (five characters) turns up by chance in long hex strings.
		gs := compactGroups(s)
		for i := 0; i+1 < len(gs); i++ {
			for _, sep := range []string{"", " ", "-"} {
				if pair := gs[i] + sep + gs[i+1]; strings.Contains(up, pair) {
					t.Errorf("error %q contains groups %d and %d of share %d", msg, i+1, i+2, s.Index)
				}
			}
		}
	}
}

// formatError returns err as a *FormatError, failing the test if it is not.
func formatError(t testing.TB, err error) *FormatError {
	t.Helper()
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T) is not a *FormatError", err, err)
	}
	return fe
}

// wantErr fails unless err is non-nil and contains every one of subs.
func wantErr(t testing.TB, err error, subs ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", subs)
	}
	for _, s := range subs {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not contain %q", err, s)
		}
	}
}
