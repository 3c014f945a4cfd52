// Package activation turns an HSM activation secret into the token's PINs.
//
// At token initialisation the ceremony draws a random 32-byte activation
// secret, derives the security officer's PIN and the user PIN from it with
// HKDF-SHA256 under distinct labels, initialises the token with them, and
// splits the secret among the officers. Nobody ever sees a PIN: at a later
// ceremony a quorum of officers enters their shares, the secret is rebuilt
// and checked against its commitment, and the PINs are derived again.
//
// The token carries a public Record (a PKCS#11 data object) that says how
// its PINs were derived and holds the split's share manifest, so a later
// ceremony checks every share and the rebuilt secret before it offers a PIN
// to the token (a wrong PIN costs a retry of the token's counter).
package activation

import (
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/devicepki/ceremony/ceremony/secret"
	"github.com/devicepki/ceremony/ceremony/shares"
)

// SecretLen is the length of an activation secret in bytes.
const SecretLen = 32

// Derivation names the PIN derivation this package implements.
const Derivation = "hkdf-sha256/v1"

// HKDF info labels: distinct, so the two PINs are independent.
const (
	soLabel   = "ceremony token SO PIN v1"
	userLabel = "ceremony token user PIN v1"
)

// PIN lengths, in hex characters: PreferredPINLen (128 bits) where the
// token allows it, never fewer than MinPINLen (64 bits; a token's retry
// counter guards a PIN, not its length alone).
const (
	PreferredPINLen = 32
	MinPINLen       = 16
	maxPINLen       = 64
)

// RecordLabel is the label of the token data object holding the Record.
const RecordLabel = "ceremony-activation"

// Record is what a token says, publicly, about its activation.
type Record struct {
	Version    int    `json:"version"`
	Derivation string `json:"pin_derivation"`
	PINLength  int    `json:"pin_length"`
	// Token is the token's label at initialisation.
	Token    string           `json:"token"`
	Manifest *shares.Manifest `json:"manifest"`
}

// PINLength chooses the PIN length for a token that accepts PINs of min to
// max characters.
func PINLength(min, max int) (int, error) {
	n := PreferredPINLen
	if n < min {
		n = min
	}
	if max > 0 && n > max {
		n = max
	}
	if n > maxPINLen {
		n = maxPINLen
	}
	if n < MinPINLen || n < min {
		return 0, fmt.Errorf("the token accepts PINs of %d to %d characters; a derived PIN needs at least %d", min, max, MinPINLen)
	}
	return n, nil
}

// PINs derives the security officer's PIN and the user PIN, each length
// lower-case hex characters, from the activation secret of split id.
func PINs(sec *secret.Secret, split shares.SplitID, length int) (so, user *secret.Secret, err error) {
	if sec.Len() != SecretLen {
		return nil, nil, fmt.Errorf("activation secret: %d bytes, want %d", sec.Len(), SecretLen)
	}
	if length < MinPINLen || length > maxPINLen {
		return nil, nil, fmt.Errorf("PIN length %d outside %d..%d", length, MinPINLen, maxPINLen)
	}
	derive := func(label string) (*secret.Secret, error) {
		k, err := hkdf.Key(sha256.New, sec.Bytes(), split[:], label, maxPINLen/2)
		if err != nil {
			return nil, err
		}
		defer clear(k)
		h := make([]byte, hex.EncodedLen(len(k)))
		defer clear(h)
		hex.Encode(h, k)
		return secret.New(h[:length]), nil
	}
	if so, err = derive(soLabel); err != nil {
		return nil, nil, err
	}
	if user, err = derive(userLabel); err != nil {
		so.Wipe()
		return nil, nil, err
	}
	return so, user, nil
}

// Marshal encodes a record for the token.
func (r *Record) Marshal() ([]byte, error) { return json.Marshal(r) }

// ParseRecord decodes and checks a record read from a token.
func ParseRecord(data []byte) (*Record, error) {
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("activation record on the token: %w", err)
	}
	switch {
	case r.Version != 1:
		return nil, fmt.Errorf("activation record on the token: version %d, this tool reads 1", r.Version)
	case r.Derivation != Derivation:
		return nil, fmt.Errorf("activation record on the token: PIN derivation %q, this tool knows %q", r.Derivation, Derivation)
	case r.PINLength < MinPINLen || r.PINLength > maxPINLen:
		return nil, fmt.Errorf("activation record on the token: PIN length %d outside %d..%d", r.PINLength, MinPINLen, maxPINLen)
	case r.Manifest == nil:
		return nil, errors.New("activation record on the token: no share manifest")
	}
	if err := r.Manifest.Check(); err != nil {
		return nil, fmt.Errorf("activation record on the token: %w", err)
	}
	if r.Manifest.Purpose != shares.Activation.String() {
		return nil, fmt.Errorf("activation record on the token: the manifest is for %s shares", r.Manifest.Purpose)
	}
	return &r, nil
}
