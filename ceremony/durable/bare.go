package durable

import (
	"errors"
	"io/fs"
	"os"
)

// BareError returns err as text without the path a *fs.PathError or
// *os.LinkError carries, keeping the operation and what went wrong
// ("open: permission denied"). Messages that name the file in their own
// words (or must not name it, or name a temporary one) use it.
func BareError(err error) string {
	if op, cause, ok := pathless(err); ok {
		return op + ": " + cause.Error()
	}
	return err.Error()
}

// Cause returns what went wrong in err without the path or the operation
// a *fs.PathError or *os.LinkError carries ("permission denied"), or err
// itself.
func Cause(err error) error {
	if _, cause, ok := pathless(err); ok {
		return cause
	}
	return err
}

func pathless(err error) (op string, cause error, ok bool) {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Op, pe.Err, true
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Op, le.Err, true
	}
	return "", nil, false
}
