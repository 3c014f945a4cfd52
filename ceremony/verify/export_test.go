package verify

import (
	"testing"
	"time"
)

// SetNow makes the package judge CRLs' currency at at, until t ends.
func SetNow(t testing.TB, at time.Time) {
	old := now
	now = func() time.Time { return at }
	t.Cleanup(func() { now = old })
}

// LooksLikeDERCRL is looksLikeDERCRL, for tests.
var LooksLikeDERCRL = looksLikeDERCRL
