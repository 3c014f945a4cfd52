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

// WriteFileExclusive writes data to path atomically: readers see either no
// file or the whole file, a crash never leaves a partial file under path,
// and an existing file is never replaced.
func WriteFileExclusive(path string, data []byte, perm fs.FileMode) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%s: already exists; refusing to overwrite it", path)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // after a successful link this removes the extra name only
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("%s: write: %w", path, err)
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("%s: sync: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	// link(2) fails if path exists, unlike rename(2).
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s: already exists; refusing to overwrite it", path)
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := SyncDir(dir); err != nil {
		return fmt.Errorf("%s: sync directory: %w", path, err)
	}
	return nil
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
	st, err := f.Stat()
	switch {
	case err != nil:
		return nil, err
	case !st.Mode().IsRegular():
		return nil, ErrNotRegular
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
