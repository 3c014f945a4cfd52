package durable

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// NamedFile is one file for WriteAll.
type NamedFile struct {
	// Name is a slash-separated path relative to the directory.
	Name string
	Data []byte
}

// WriteAllResult says what WriteAll did with each file.
type WriteAllResult struct {
	// Written are the files created.
	Written []string
	// Unchanged are the files that were already there with the same
	// content, left as they were.
	Unchanged []string
}

// WriteAll writes files under dir, all or nothing: every destination is
// checked before anything is written (a file already there with the same
// content is left alone; one with different content refuses the whole
// write), each file is written as WriteFileExclusive does, and if a write
// fails the files and directories this call created are removed again.
// Names may not leave dir, and nothing under dir is replaced. dir is
// created if it does not exist.
func WriteAll(dir string, files []NamedFile) (*WriteAllResult, error) {
	seen := map[string]bool{}
	for _, f := range files {
		if !localName(f.Name) {
			return nil, fmt.Errorf("%s: not a plain relative file name", f.Name)
		}
		if seen[f.Name] {
			return nil, fmt.Errorf("%s: given twice", f.Name)
		}
		seen[f.Name] = true
	}
	dir = filepath.Clean(dir)
	var madeDirs []string // dir and the parents it needed, innermost first
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		for p := dir; ; p = filepath.Dir(p) {
			if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) || filepath.Dir(p) == p {
				break
			}
			madeDirs = append(madeDirs, p)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("output directory %s: %w", dir, err)
		}
	} else if st, err := os.Lstat(dir); err != nil {
		return nil, fmt.Errorf("output directory %s: %w", dir, err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("output directory %s: not a directory", dir)
	}
	w := &allWriter{dir: dir, madeDirs: madeDirs}
	root, err := os.OpenRoot(dir)
	if err != nil {
		w.undo()
		return nil, fmt.Errorf("output directory %s: %w", dir, err)
	}
	defer root.Close()
	w.root = root
	res := &WriteAllResult{}
	var todo []NamedFile
	for _, f := range files {
		same, err := w.check(f)
		if err != nil {
			w.undo()
			return nil, err
		}
		if same {
			res.Unchanged = append(res.Unchanged, f.Name)
		} else {
			todo = append(todo, f)
		}
	}
	for _, f := range todo {
		if err := w.write(f); err != nil {
			w.undo()
			return nil, err
		}
		res.Written = append(res.Written, f.Name)
	}
	return res, nil
}

// localName reports whether name is a clean, relative, slash-separated
// path that stays inside its directory.
func localName(name string) bool {
	return name != "" && !strings.Contains(name, `\`) && path.Clean(name) == name &&
		filepath.IsLocal(filepath.FromSlash(name)) && !strings.HasPrefix(path.Base(name), ".")
}

type allWriter struct {
	dir      string
	root     *os.Root
	madeDirs []string
	// made are the files and directories created, in order.
	made []string
}

// check reports whether f is already there with the same content, and
// fails if something else is in its way.
func (w *allWriter) check(f NamedFile) (bool, error) {
	where := filepath.Join(w.dir, filepath.FromSlash(f.Name))
	// Every directory on the way must be a real directory (or absent).
	for p := path.Dir(f.Name); p != "."; p = path.Dir(p) {
		st, err := w.root.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case err != nil:
			return false, fmt.Errorf("%s: %v", where, BareError(err))
		case st.Mode()&fs.ModeSymlink != 0:
			return false, fmt.Errorf("%s: %s is a symbolic link: files are written only inside the output directory; nothing was written", where, filepath.Join(w.dir, p))
		case !st.IsDir():
			return false, fmt.Errorf("%s: %s exists and is not a directory; nothing was written", where, filepath.Join(w.dir, p))
		}
	}
	st, err := w.root.Lstat(f.Name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("%s: %v", where, BareError(err))
	case st.Mode()&fs.ModeSymlink != 0:
		return false, fmt.Errorf("%s: exists as a symbolic link: files are written only inside the output directory; nothing was written", where)
	case !st.Mode().IsRegular():
		return false, fmt.Errorf("%s: already exists and is not a regular file; nothing was written", where)
	}
	old, err := w.root.ReadFile(f.Name)
	if err != nil {
		return false, fmt.Errorf("%s: %v", where, BareError(err))
	}
	if !bytes.Equal(old, f.Data) {
		return false, fmt.Errorf("%s: already exists with different content; nothing was written (choose another --out)", where)
	}
	return true, nil
}

func (w *allWriter) write(f NamedFile) error {
	where := filepath.Join(w.dir, filepath.FromSlash(f.Name))
	parent := path.Dir(f.Name)
	if err := w.mkdirs(parent); err != nil {
		return fmt.Errorf("%s: %v", where, BareError(err))
	}
	// A random name: a temporary file a crash left behind is no obstacle.
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return fmt.Errorf("%s: %v", where, err)
	}
	tmp := path.Join(parent, "."+path.Base(f.Name)+".tmp-"+hex.EncodeToString(rnd[:]))
	t, err := w.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("%s: %v", where, BareError(err))
	}
	defer w.root.Remove(tmp)
	_, err = t.Write(f.Data)
	if err == nil {
		err = t.Sync()
	}
	if cerr := t.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: write: %v", where, BareError(err))
	}
	if err := w.root.Link(tmp, f.Name); err != nil {
		return fmt.Errorf("%s: %v", where, BareError(err))
	}
	w.made = append(w.made, f.Name)
	return w.syncDir(parent)
}

// mkdirs creates the directories of p that do not exist, remembering them.
func (w *allWriter) mkdirs(p string) error {
	if p == "." {
		return nil
	}
	if _, err := w.root.Lstat(p); err == nil {
		return nil
	}
	if err := w.mkdirs(path.Dir(p)); err != nil {
		return err
	}
	if err := w.root.Mkdir(p, 0o755); err != nil {
		return err
	}
	w.made = append(w.made, p)
	return w.syncDir(path.Dir(p))
}

func (w *allWriter) syncDir(p string) error {
	d, err := w.root.Open(p)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// undo removes what this call created, newest first.
func (w *allWriter) undo() {
	for i := len(w.made) - 1; i >= 0; i-- {
		w.root.Remove(w.made[i])
	}
	for _, d := range w.madeDirs {
		os.Remove(d)
	}
}
