// Package durable writes files so that they survive a crash or power loss
// in a known state: created exclusively, written completely or not at all,
// and with their directory entries fsync'ed.
package durable

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
)

// SyncDir fsyncs a directory, making the creation or removal of its entries
// durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// CreateExclusive creates a new file for appending; it fails if path exists.
// The new directory entry is fsync'ed before it returns.
func CreateExclusive(path string, perm fs.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, perm)
	if err != nil {
		return nil, err
	}
	if err := SyncDir(filepath.Dir(path)); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// tempName matches the temporary names this package (and the ceremony's
// QR export) write under before a file or directory is put in place:
// ".NAME.tmp-" and digits or hex digits.
var tempName = regexp.MustCompile(`^\.[A-Za-z0-9._-]+\.tmp-[0-9a-f]+$`)

// IsTemp reports whether name (a base name) is a temporary name that
// WriteFileExclusive, WriteAll or ReplaceFile writes under. A crash can
// leave one behind; it is never a complete file under its final name,
// and can be removed.
func IsTemp(name string) bool { return tempName.MatchString(name) }

// WriteFileExclusive writes data to path atomically: readers see either no
// file or the whole file, a crash never leaves a partial file under path,
// and an existing file is never replaced. Until it is linked into place
// the data is under a temporary name in the same directory (IsTemp), which
// a crash can leave behind.
func WriteFileExclusive(path string, data []byte, perm fs.FileMode) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%s: already exists; refusing to overwrite it", path)
	}
	tmpName, err := writeTemp(path, data, perm)
	if err != nil {
		return err
	}
	defer os.Remove(tmpName) // after a successful link this removes the extra name only
	// link(2) fails if path exists, unlike rename(2).
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s: already exists; refusing to overwrite it", path)
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := SyncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("%s: sync directory: %w", path, err)
	}
	return nil
}

// writeTemp writes data, synced, with mode perm, to a new temporary file
// beside path (named as IsTemp matches) and returns its name; on an
// error nothing is left.
func writeTemp(path string, data []byte, perm fs.FileMode) (string, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	if _, err = tmp.Write(data); err != nil {
		err = fmt.Errorf("%s: write: %w", path, err)
	} else if err = tmp.Chmod(perm); err != nil {
		err = fmt.Errorf("%s: %w", path, err)
	} else if err = tmp.Sync(); err != nil {
		err = fmt.Errorf("%s: sync: %w", path, err)
	}
	if cerr := tmp.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("%s: %w", path, cerr)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", err
	}
	return tmp.Name(), nil
}

// ErrNotRegular is returned by ReadRegularFile for a directory, device,
// FIFO or socket.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is returned by ReadRegularFile for a file above its limit.
var ErrTooLarge = errors.New("file too large")

// ReadRegularFile reads a regular file of at most max bytes. It opens the
// file without blocking, so a FIFO named where a file belongs is refused
// rather than waited on for ever, and checks what it opened (not what the
// name pointed to a moment before). Errors wrap the *fs.PathError, or
// ErrNotRegular or ErrTooLarge.
func ReadRegularFile(path string, max int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadOpenFile(f, max)
}

// ReadOpenFile reads f, already open, as ReadRegularFile reads a file: a
// regular file of at most max bytes, read from where f stands.
func ReadOpenFile(f *os.File, max int64) ([]byte, error) {
	st, err := f.Stat()
	switch {
	case err != nil:
		return nil, err
	case !st.Mode().IsRegular():
		return nil, fmt.Errorf("%w: it is %s", ErrNotRegular, modeName(st.Mode()))
	case st.Size() > max:
		return nil, fmt.Errorf("%w (more than %d bytes)", ErrTooLarge, max)
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		clear(data)
		return nil, fmt.Errorf("%w (more than %d bytes)", ErrTooLarge, max)
	}
	return data, nil
}

// ReplaceFile writes data to path atomically, replacing a file there: a
// reader, or a crash, sees the old file or the new one whole. It is for
// files derived from others (a printable record), never for a record
// itself.
func ReplaceFile(path string, data []byte, perm fs.FileMode) error {
	tmpName, err := writeTemp(path, data, perm)
	if err != nil {
		return err
	}
	defer os.Remove(tmpName) // a no-op after the rename
	if err := os.Rename(tmpName, path); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := SyncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("%s: sync directory: %w", path, err)
	}
	return nil
}
