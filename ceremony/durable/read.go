package durable

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// Kind is a kind of file the program reads, with the most bytes it reads
// of one. Every file the program reads goes through ReadFile with its
// kind: regular files only, at most Max bytes, read once.
type Kind struct {
	// Name says what the file is in messages: "script", "transcript".
	Name string
	// Max is the largest file of this kind read, in bytes.
	Max int64
}

// The kinds of file read, and their limits. The limits are far above any
// real file (a root ceremony's transcript, script texts included, is
// about 200 KB) and bound what a wrong or hostile file can make the
// program allocate. docs/reference.md lists them.
var (
	Script     = Kind{"script", 1 << 20}
	Template   = Kind{"template", 1 << 20}
	Answers    = Kind{"answers file", 1 << 20}
	Transcript = Kind{"transcript", 8 << 20}
	Seal       = Kind{"seal", 1 << 20}
	Artifact   = Kind{"artifact", 64 << 20}
	Record     = Kind{"printable record", 8 << 20}
	MediaCopy  = Kind{"media copy", 64 << 10}
	CRL        = Kind{"CRL", 4 << 20}
)

// ReadFile reads a file of kind k at path: a regular file (a FIFO,
// device, socket or directory, or a symbolic link to one, is refused by
// what it is, without waiting on it) of at most k.Max bytes. Errors are
// a *ReadError, one line, "KIND PATH: what is wrong", and wrap
// fs.ErrNotExist, ErrNotRegular or ErrTooLarge.
func ReadFile(k Kind, path string) ([]byte, error) {
	data, err := ReadRegularFile(path, k.Max)
	switch {
	case errors.Is(err, ErrTooLarge):
		return nil, &ReadError{k, path, fmt.Errorf("larger than %d bytes, the limit for %s %s: %w", k.Max, article(k.Name), k.Name, ErrTooLarge)}
	case err != nil:
		return nil, &ReadError{k, path, Cause(err)}
	}
	return data, nil
}

// ReadError is a file ReadFile could not read, or refused.
type ReadError struct {
	Kind Kind
	Path string
	Err  error // what is wrong, without the path
}

func (e *ReadError) Error() string { return e.Kind.Name + " " + e.Path + ": " + e.Err.Error() }
func (e *ReadError) Unwrap() error { return e.Err }

// article is "an" before a vowel, else "a".
func article(noun string) string {
	if noun != "" && strings.ContainsRune("aeiouAEIOU", rune(noun[0])) {
		return "an"
	}
	return "a"
}

// What names the type of the non-regular file at path.
func What(path string) string {
	st, err := os.Stat(path)
	if err != nil {
		return "not a regular file"
	}
	return modeName(st.Mode())
}

// modeName names the type of a file that is not a regular file.
func modeName(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO (named pipe)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "a special file"
}
