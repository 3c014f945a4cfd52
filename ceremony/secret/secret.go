// Package secret holds PINs and other secret bytes in a type that refuses to
// be printed, logged or serialised, and that can be wiped when no longer needed.
//
// It is not a defence against an attacker who can read process memory: Go may
// copy bytes during garbage collection, and PKCS#11 modules take PINs by value.
// What it guarantees is that a secret never reaches a transcript, a log line or
// an error message by accident.
package secret

import (
	"errors"
	"fmt"
)

// Redacted is what a Secret prints as.
const Redacted = "[redacted]"

// ErrSerialise is returned when code tries to marshal a Secret.
var ErrSerialise = errors.New("secret: refusing to serialise a secret")

// Secret is a byte string that must never be shown. The zero value and a nil
// *Secret are empty secrets.
type Secret struct {
	b []byte
}

// New copies b into a new Secret. The caller should wipe its own copy.
func New(b []byte) *Secret {
	c := make([]byte, len(b))
	copy(c, b)
	return &Secret{b: c}
}

// FromString makes a Secret from s. Strings cannot be wiped; prefer New.
func FromString(s string) *Secret { return &Secret{b: []byte(s)} }

// Bytes returns the secret bytes themselves (not a copy). They become zero
// when Wipe is called.
func (s *Secret) Bytes() []byte {
	if s == nil {
		return nil
	}
	return s.b
}

// Len returns the length of the secret in bytes.
func (s *Secret) Len() int {
	if s == nil {
		return 0
	}
	return len(s.b)
}

// Wipe overwrites the secret bytes with zeros and empties the Secret.
func (s *Secret) Wipe() {
	if s == nil {
		return
	}
	clear(s.b)
	s.b = nil
}

// String implements fmt.Stringer and never reveals the secret.
func (s *Secret) String() string { return Redacted }

// GoString implements fmt.GoStringer and never reveals the secret.
func (s *Secret) GoString() string { return Redacted }

// Format implements fmt.Formatter so that every verb, %x and %v included,
// prints Redacted.
func (s *Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(Redacted)) }

// MarshalJSON refuses: a secret must never be serialised.
func (s *Secret) MarshalJSON() ([]byte, error) { return nil, ErrSerialise }

// MarshalText refuses: a secret must never be serialised.
func (s *Secret) MarshalText() ([]byte, error) { return nil, ErrSerialise }

// MarshalYAML refuses: a secret must never be serialised.
func (s *Secret) MarshalYAML() (any, error) { return nil, ErrSerialise }
