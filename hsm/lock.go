package hsm

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// ErrTokenBusy is returned by LockToken when another process on this
// machine holds the token's lock.
var ErrTokenBusy = errors.New("in use by another ceremony on this machine")

// storeEnv are the environment variables with which modules choose their
// token store: two stores are two sets of tokens, even under one module
// path and one label.
var storeEnv = []string{"SOFTHSM2_CONF", "TPM2_PKCS11_STORE"}

// LockToken takes an exclusive lock (flock on a file in the system's
// temporary directory, named after the module, its store and the token
// selector) for the token cfg names, so that two ceremonies never work on
// one token at once: not two initialisations of one blank slot, not two
// read-modify-writes of one issuance register, not a close of a running
// ceremony's keys. It fails at once, wrapping ErrTokenBusy, if another
// process holds it; the returned function releases it (a crash releases
// it too).
func LockToken(cfg Config) (func(), error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s", filepath.Clean(cfg.Module), cfg.Token.Label, cfg.Token.Serial)
	for _, e := range storeEnv {
		fmt.Fprintf(h, "\x00%s=%s", e, os.Getenv(e))
	}
	name := filepath.Join(os.TempDir(), "ceremony-token-"+hex.EncodeToString(h.Sum(nil))[:24]+".lock")
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		return nil, fmt.Errorf("token %s: lock: %w", cfg.Token, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("token %s of %s is %w (lock %s); nothing was changed", cfg.Token, cfg.Module, ErrTokenBusy, name)
		}
		return nil, fmt.Errorf("token %s: lock: %w", cfg.Token, err)
	}
	return func() { f.Close() }, nil
}
