package secret

import (
	"errors"
	"fmt"
	"os"

	"github.com/devicepki/ceremony/ceremony/durable"
)

// Source says where a secret is read from: a file or an environment
// variable. Exactly one of File and Env is set.
type Source struct {
	// File is the path of a file holding the secret. One trailing newline
	// (LF or CRLF) is not part of the secret.
	File string
	// Env is the name of an environment variable holding the secret.
	Env string
}

// ReadOptions bound what [Read] accepts and phrase its errors.
type ReadOptions struct {
	// MaxFileSize bounds the size of File in bytes.
	MaxFileSize int64
	// Named is the word that points at the name given, as in "the file
	// named here": "here" for a line of a file the user wrote, "there"
	// for a flag. Errors never repeat the name itself.
	Named string
	// FileNoun is what errors call the file: "file" when empty.
	FileNoun string
}

// Sentinel errors of [Read], for errors.Is. The message of a [ReadError]
// says the same in words.
var (
	// ErrEnvName: Env is not the name of an environment variable.
	ErrEnvName = errors.New("not an environment variable name")
	// ErrUnset: the environment variable is not set.
	ErrUnset = errors.New("environment variable not set")
	// ErrEmpty: the variable or the file (without its newline) is empty.
	ErrEmpty = errors.New("empty secret")
	// ErrNotRegular: File is not a regular file.
	ErrNotRegular = durable.ErrNotRegular
	// ErrTooLarge: File is larger than MaxFileSize.
	ErrTooLarge = durable.ErrTooLarge
	// ErrUnreadable: File cannot be opened or read.
	ErrUnreadable = errors.New("cannot read the file")
)

// ReadError is why [Read] refused a source. Its message names neither the
// file nor the variable: someone may have typed the secret itself where
// the name belongs.
type ReadError struct {
	// Field is "env" or "file": which of the source's fields is wrong.
	Field string
	// Err is one of the sentinel errors above.
	Err error
	msg string
}

// Error says what is wrong, naming neither the file nor the variable.
func (e *ReadError) Error() string { return e.msg }

// Unwrap returns the sentinel error.
func (e *ReadError) Unwrap() error { return e.Err }

// Read returns the secret src names. An environment variable must have a
// valid name (letters, digits and _, not starting with a digit), be set and
// not be empty. A file must be a regular file of at most opt.MaxFileSize
// bytes and hold more than a trailing newline. Every error is a
// *[ReadError].
func Read(src Source, opt ReadOptions) (*Secret, error) {
	named := "named " + opt.Named
	if src.Env != "" {
		fail := func(kind error, format string, a ...any) error {
			return &ReadError{Field: "env", Err: kind, msg: fmt.Sprintf(format, a...)}
		}
		if !IsEnvName(src.Env) {
			return nil, fail(ErrEnvName, "takes the name of an environment variable holding the secret (letters, digits and _, not starting with a digit), not the secret")
		}
		v, ok := os.LookupEnv(src.Env)
		switch {
		case !ok:
			return nil, fail(ErrUnset, "the environment variable %s is not set", named)
		case v == "":
			return nil, fail(ErrEmpty, "the environment variable %s is empty", named)
		}
		return FromString(v), nil
	}
	noun := opt.FileNoun
	if noun == "" {
		noun = "file"
	}
	fail := func(kind error, format string, a ...any) error {
		return &ReadError{Field: "file", Err: kind, msg: fmt.Sprintf(format, a...)}
	}
	buf, err := durable.ReadRegularFile(src.File, opt.MaxFileSize)
	defer clear(buf)
	switch {
	case errors.Is(err, durable.ErrNotRegular):
		return nil, fail(ErrNotRegular, "the %s %s is not a regular file", noun, named)
	case errors.Is(err, durable.ErrTooLarge):
		return nil, fail(ErrTooLarge, "the %s %s is larger than %d bytes", noun, named, opt.MaxFileSize)
	case err != nil:
		return nil, fail(ErrUnreadable, "cannot read the %s %s: %v", noun, named, durable.Cause(err))
	}
	b := buf
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if m := len(b); m > 0 && b[m-1] == '\r' {
			b = b[:m-1]
		}
	}
	if len(b) == 0 {
		return nil, fail(ErrEmpty, "the %s %s is empty", noun, named)
	}
	return New(b), nil
}

// IsEnvName reports whether name is a portable environment variable name:
// letters, digits and _, not starting with a digit.
func IsEnvName(name string) bool {
	if name == "" || ('0' <= name[0] && name[0] <= '9') {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}
