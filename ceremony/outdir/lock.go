package outdir

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// ErrBusy is returned by Lock when another process holds the ceremony
// directory: a ceremony running in it, or one being closed.
var ErrBusy = errors.New("in use by another process")

// Lock takes an exclusive lock (flock) on the ceremony directory, held
// until Unlock or the process ends (a crash releases it). A run holds it
// from the directory's creation to its end, close while it closes: no two
// processes ever write one ceremony directory. It fails at once, wrapping
// ErrBusy, if another process holds it.
func (d *Dir) Lock() error {
	if d.lock != nil {
		return nil
	}
	f, err := os.Open(d.path)
	if err != nil {
		return fmt.Errorf("ceremony directory %s: lock: %w", d.path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return fmt.Errorf("ceremony directory %s is %w (a ceremony running in it, or being closed); nothing was changed", d.path, ErrBusy)
		}
		return fmt.Errorf("ceremony directory %s: lock: %w", d.path, err)
	}
	d.lock = f
	return nil
}

// Unlock releases the lock Lock took.
func (d *Dir) Unlock() error {
	if d.lock == nil {
		return nil
	}
	err := d.lock.Close()
	d.lock = nil
	return err
}

// Busy reports whether another process holds the lock of the ceremony
// directory at path: a ceremony running there, not an interrupted one.
func Busy(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		return errors.Is(err, syscall.EWOULDBLOCK)
	}
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false
}
