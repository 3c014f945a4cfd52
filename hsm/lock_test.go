package hsm_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/devicepki/ceremony/hsm"
)

// One ceremony per token: a second lock of the same token (module, store
// and selector) is refused at once; another store or label is another
// token; the lock is released for the next.
func TestLockToken(t *testing.T) {
	a := filepath.Join(t.TempDir(), "a.conf")
	t.Setenv("SOFTHSM2_CONF", a)
	cfg := hsm.Config{Module: "/usr/lib/softhsm/libsofthsm2.so", Token: hsm.TokenSelector{Label: "root"}}
	unlock, err := hsm.LockToken(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hsm.LockToken(cfg); !errors.Is(err, hsm.ErrTokenBusy) {
		t.Fatalf("second lock: %v", err)
	}
	other := cfg
	other.Token.Label = "other"
	u, err := hsm.LockToken(other)
	if err != nil {
		t.Fatalf("another label: %v", err)
	}
	u()
	t.Setenv("SOFTHSM2_CONF", filepath.Join(t.TempDir(), "b.conf"))
	u, err = hsm.LockToken(cfg)
	if err != nil {
		t.Fatalf("the same label in another store: %v", err)
	}
	u()
	t.Setenv("SOFTHSM2_CONF", a)
	unlock()
	u, err = hsm.LockToken(cfg)
	if err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	u()
}
