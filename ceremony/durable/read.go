package durable

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
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
	CRL        = Kind{"CRL", 16 << 20}
)

// ReadFile reads a file of kind k at path: a regular file (a FIFO,
// device, socket or directory, or a symbolic link to one, is refused by
// what it is, without waiting on it) of at most k.Max bytes. Errors are
// one line, "KIND PATH: what is wrong", and wrap fs.ErrNotExist,
// ErrNotRegular or ErrTooLarge.
func ReadFile(k Kind, path string) ([]byte, error) {
	data, err := ReadRegularFile(path, k.Max)
	switch {
	case errors.Is(err, ErrNotRegular):
		return nil, fmt.Errorf("%s %s: %w: it is %s", k.Name, path, ErrNotRegular, What(path))
	case errors.Is(err, ErrTooLarge):
		return nil, fmt.Errorf("%s %s: larger than %d bytes, the limit for a %s: %w", k.Name, path, k.Max, k.Name, ErrTooLarge)
	case err != nil:
		return nil, fmt.Errorf("%s %s: %w", k.Name, path, Cause(err))
	}
	return data, nil
}

// What names the type of the non-regular file at path.
func What(path string) string {
	st, err := os.Stat(path)
	if err != nil {
		return "not a regular file"
	}
	switch m := st.Mode(); {
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
	return "not a regular file"
}
