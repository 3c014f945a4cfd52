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
	"math"

	"github.com/devicepki/ceremony/ceremony/secret"
	"github.com/devicepki/ceremony/ceremony/shares"
)

// SecretLen is the length of an activation secret in bytes.
const SecretLen = 32

// Derivations this package implements: HKDF-SHA256 of the secret, salted
// with the split id, under a label per PIN, written as lower-case hex
// (Derivation) or as letters and digits (DerivationAlnum, for tokens whose
// PINs are too short for hex to carry enough entropy).
const (
	Derivation      = "hkdf-sha256/v1"
	DerivationAlnum = "hkdf-sha256-alnum/v1"
)

// HKDF info labels: distinct, so the two PINs are independent.
const (
	soLabel   = "ceremony token SO PIN v1"
	userLabel = "ceremony token user PIN v1"
)

// alnum is the alphabet of DerivationAlnum: 62 characters every token
// that takes text PINs accepts.
const alnum = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

// PIN lengths, in characters: PreferredPINLen hex characters (128 bits)
// where the token allows it; never more than maxPINLen.
const (
	PreferredPINLen = 32
	maxPINLen       = 64
	// minAlnumLen is the shortest PIN a record may name (a token's
	// retry counter guards a PIN, not its length alone).
	minAlnumLen = 4
)

// DefaultMinPINBits is the entropy a derived PIN must carry unless the
// script states another floor (init-token's min_pin_bits): 64 bits, 16
// hex characters. FloorPINBits is the lowest floor a script may state.
const (
	DefaultMinPINBits = 64
	FloorPINBits      = 40
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
	// Holders names who was handed each share, in share order (share 1
	// first); records written before holders were kept have none.
	Holders []Holder `json:"holders,omitempty"`
}

// Holder is who was handed one share of the activation secret.
type Holder = shares.Holder

// HolderOf returns who was handed share n, or "" if the record does not
// say.
func (r *Record) HolderOf(n int) string { return shares.HolderOf(r.Holders, n) }

// Format returns how the record's PINs are derived.
func (r *Record) Format() PINFormat {
	return PINFormat{Derivation: r.Derivation, Length: r.PINLength}
}

// PINFormat is how a token's PINs are written: the derivation (and so
// the alphabet) and the length in characters.
type PINFormat struct {
	Derivation string
	Length     int
}

// Bits is the entropy of a PIN of this format, rounded down.
func (f PINFormat) Bits() int {
	return int(float64(f.Length) * math.Log2(float64(alphabetSize(f.Derivation))))
}

// Alphabet names the PIN's characters.
func (f PINFormat) Alphabet() string {
	if f.Derivation == DerivationAlnum {
		return "letters and digits"
	}
	return "hex digits"
}

func alphabetSize(derivation string) int {
	if derivation == DerivationAlnum {
		return len(alnum)
	}
	return 16
}

// ChoosePIN chooses the PIN format for a token that accepts PINs of lo
// to hi characters (hi 0: no stated limit), carrying at least minBits
// of entropy: hex where the token takes long enough PINs, else letters
// and digits, as long as the token allows. It is an error, naming the
// limits, if no format reaches minBits.
func ChoosePIN(lo, hi, minBits int) (PINFormat, error) {
	if minBits < FloorPINBits {
		return PINFormat{}, fmt.Errorf("a PIN floor of %d bits is below the %d bits this tool accepts", minBits, FloorPINBits)
	}
	upper := maxPINLen
	if hi > 0 && hi < upper {
		upper = hi
	}
	hexLen := min(max(PreferredPINLen, lo), upper)
	if hexLen >= lo && (PINFormat{Derivation: Derivation, Length: hexLen}).Bits() >= minBits {
		return PINFormat{Derivation: Derivation, Length: hexLen}, nil
	}
	f := PINFormat{Derivation: DerivationAlnum, Length: upper}
	if upper >= minAlnumLen && upper >= lo && f.Bits() >= minBits {
		return f, nil
	}
	return PINFormat{}, fmt.Errorf("the token accepts PINs of %d to %d characters: at most %d bits from %s, below the %d bits asked (min_pin_bits)",
		lo, hi, max(0, f.Bits()), f.Alphabet(), minBits)
}

// PINs derives the security officer's PIN and the user PIN of format f
// from the activation secret of split id.
func PINs(sec *secret.Secret, split shares.SplitID, f PINFormat) (so, user *secret.Secret, err error) {
	if sec.Len() != SecretLen {
		return nil, nil, fmt.Errorf("activation secret: %d bytes, want %d", sec.Len(), SecretLen)
	}
	if err := f.check(); err != nil {
		return nil, nil, err
	}
	derive := func(label string) (*secret.Secret, error) {
		if f.Derivation == Derivation {
			k, err := hkdf.Key(sha256.New, sec.Bytes(), split[:], label, maxPINLen/2)
			if err != nil {
				return nil, err
			}
			defer clear(k)
			h := make([]byte, hex.EncodedLen(len(k)))
			defer clear(h)
			hex.Encode(h, k)
			return secret.New(h[:f.Length]), nil
		}
		// Letters and digits: bytes below 248 (4 x 62) taken modulo 62,
		// the rest skipped, so every character is equally likely.
		k, err := hkdf.Key(sha256.New, sec.Bytes(), split[:], label+" alnum", 4*maxPINLen)
		if err != nil {
			return nil, err
		}
		defer clear(k)
		out := make([]byte, 0, f.Length)
		defer clear(out)
		for _, b := range k {
			if len(out) == f.Length {
				break
			}
			if b < 248 {
				out = append(out, alnum[int(b)%len(alnum)])
			}
		}
		if len(out) < f.Length {
			return nil, errors.New("activation secret: too few usable bytes for a PIN")
		}
		return secret.New(out), nil
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

// check checks a format named by a record or chosen for a token.
func (f PINFormat) check() error {
	lo := PreferredPINLen / 2
	switch f.Derivation {
	case Derivation:
	case DerivationAlnum:
		lo = minAlnumLen
	default:
		return fmt.Errorf("PIN derivation %q, this tool knows %q and %q", f.Derivation, Derivation, DerivationAlnum)
	}
	if f.Length < lo || f.Length > maxPINLen {
		return fmt.Errorf("PIN length %d outside %d..%d", f.Length, lo, maxPINLen)
	}
	return nil
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
	case r.Manifest == nil:
		return nil, errors.New("activation record on the token: no share manifest")
	}
	if err := r.Format().check(); err != nil {
		return nil, fmt.Errorf("activation record on the token: %w", err)
	}
	if err := r.Manifest.Check(); err != nil {
		return nil, fmt.Errorf("activation record on the token: %w", err)
	}
	if r.Manifest.Purpose != shares.Activation.String() {
		return nil, fmt.Errorf("activation record on the token: the manifest is for %s shares", r.Manifest.Purpose)
	}
	return &r, nil
}
