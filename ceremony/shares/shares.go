// Package shares is the Shamir share format for keyholders: shares that a
// person can copy by hand, type back, or scan from a QR code, and that can
// never silently yield a wrong secret.
//
// A secret (the HSM activation secret, or the key that wraps the root key
// backup) is split with github.com/hashicorp/vault/shamir into N shares of
// which any M rebuild it. Each keyholder receives one [Share]; the public
// [Manifest], written to the transcript, records the split: its id, purpose,
// M and N, a SHA-256 of every share and a commitment to the secret.
//
// # Layers of checking
//
// vault/shamir itself checks nothing: below the threshold, with a corrupted
// share or with shares of two splits it returns a wrong secret without an
// error. This package therefore checks at four levels, each naming the place
// of the problem:
//
//  1. every group of 5 characters of a share's text carries a check
//     character: any single wrong character and any swap of two adjacent
//     characters is caught at the group where it happened, and a group typed
//     out of order is caught too ([Parse], [FormatError]);
//  2. the whole share carries a 4-byte SHA-256 tag, which catches what the
//     group checks can miss (two or more errors);
//  3. the manifest's SHA-256 of each share catches a share that is well
//     formed but not the one that was issued, and the split id, purpose,
//     M and N catch shares of another split or the wrong quorum ([Manifest.CheckShare]);
//  4. after combining, the secret is compared with the manifest's commitment,
//     so [Combine] never returns a wrong secret.
//
// # Secrets must be random
//
// The manifest is public. Its commitment and share hashes reveal nothing
// about a secret of 16 or more random bytes, but they can be brute-forced
// for a guessable secret such as a short PIN. Split only random keys; derive
// PINs from them if a PIN is needed.
//
// # Text format, version 1
//
// The binary payload of a share is
//
//	version (1) | purpose ('A' or 'B') | split id (6 bytes) | M | N | index |
//	value (vault's share: len(secret)+1 bytes, x coordinate last) |
//	tag: SHA-256("ceremony-share-v1" || all the preceding bytes)[:4]
//
// It is written in Crockford's base32 alphabet "0123456789ABCDEFGHJKMNPQRSTVWXYZ",
// most significant bit first, with zero bits added up to a multiple of 4
// characters. The characters are cut into groups of 4, and every group gets a
// fifth, check character (see below). The text starts with the tag group
// "CS1A" (an activation share) or "CS1B" (a backup share). For a 32-byte
// secret a share has 20 groups. [Share.Text] writes a comment line, the tag
// group on its own line, then 4 groups per line:
//
//	# Ceremony share: backup share 2 of 5 (3 needed), split 7KQ2-M9XD-4P
//	CS1B
//	XXXXX XXXXX XXXXX XXXXX
//	… (5 lines of groups for a 32-byte secret)
//
// [Share.Compact] writes the same characters on one line with dashes,
// "CS1B-XXXXX-XXXXX-…", for QR codes (QR alphanumeric mode).
//
// [Parse] ignores lines whose first non-blank character is '#', spaces, tabs,
// dashes and line breaks; it accepts lower case and reads O as 0 and I and L
// as 1. The secret length is not stored: it follows from the number of groups
// and the whole-share tag (20 groups hold 48, 49 or 50 payload bytes, and only
// one of the three lengths makes the tag match).
//
// # Check characters
//
// The check character of group g (1-based) is computed in GF(32), with the
// field polynomial x^5+x^2+1 and the multiplier a = x (the value 2):
//
//	r := g & 31
//	for each data character value d: r = a*r XOR d
//	check := a*r
//
// so that feeding the 4 data characters and then the check character gives
// 0. The check is the sum a^5*g + a^4*d1 + a^3*d2 + a^2*d3 + a*d4. Changing
// one character by e≠0 changes the sum of the five by w*e ≠ 0, where w is
// a^4, …, a or 1, a non-zero weight. Swapping two adjacent different
// characters x and y at weights w and a*w changes it by w*(a+1)*(x+y) ≠ 0.
// Both are therefore always caught; the tests check this exhaustively. A
// change across two groups changes one character in each, and is caught at
// the first. Because the group number enters the sum, a group typed in the
// place of another is caught too (a share has at most 32 groups, and group
// numbers 1 to 32 start from 32 different values).
package shares

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/devicepki/ceremony/ceremony/secret"
)

// Purpose says what a split secret is for. Its value is the letter used in
// the share text.
type Purpose byte

const (
	// Activation is the purpose of officers' shares of the HSM activation
	// secret.
	Activation Purpose = 'A'
	// Backup is the purpose of custodians' shares of the root key backup
	// key.
	Backup Purpose = 'B'
)

// String returns "activation" or "backup", the purpose's name in manifests
// and messages.
func (p Purpose) String() string {
	switch p {
	case Activation:
		return "activation"
	case Backup:
		return "backup"
	}
	return fmt.Sprintf("Purpose(%#02x)", byte(p))
}

// valid reports whether p is a known purpose.
func (p Purpose) valid() bool { return p == Activation || p == Backup }

// ParsePurpose returns the purpose named s: "activation" or "backup", or the
// letters "A" or "B" as in the share text, in any letter case.
func ParsePurpose(s string) (Purpose, error) {
	switch strings.ToLower(s) {
	case "activation", "a":
		return Activation, nil
	case "backup", "b":
		return Backup, nil
	}
	return 0, fmt.Errorf("unknown share purpose %q: must be activation or backup", s)
}

// SplitID identifies one split: one secret split once. It is 6 random bytes.
// Every share and the manifest carry it, so that shares of different splits
// are never combined.
type SplitID [6]byte

// NewSplitID reads a new split id from rand. It fails if rand fails or
// returns 6 zero bytes: the zero SplitID is never valid.
func NewSplitID(rand io.Reader) (SplitID, error) {
	var id SplitID
	if _, err := io.ReadFull(rand, id[:]); err != nil {
		return SplitID{}, fmt.Errorf("new split id: %w", err)
	}
	if id.isZero() {
		return SplitID{}, errors.New("new split id: the random source returned zeros")
	}
	return id, nil
}

func (id SplitID) isZero() bool { return id == SplitID{} }

// splitIDChars is the number of base32 characters of a SplitID: 48 bits and
// 2 zero padding bits.
const splitIDChars = 10

// String returns the split id in Crockford's base32 alphabet, as 10
// characters in groups of 4, 4 and 2 separated by dashes, e.g.
// "7KQ2-M9XD-4P". The 48 bits are written most significant bit first and
// followed by 2 zero bits, so the last character is one of 0 4 8 C G M R W.
func (id SplitID) String() string {
	var v uint64
	for _, b := range id {
		v = v<<8 | uint64(b)
	}
	v <<= 2
	var b strings.Builder
	for i := range splitIDChars {
		if i == 4 || i == 8 {
			b.WriteByte('-')
		}
		b.WriteByte(alphabet[v>>(5*(splitIDChars-1-i))&31])
	}
	return b.String()
}

// ParseSplitID parses a split id as [SplitID.String] prints it. Letter case
// and dashes do not matter, O is read as 0 and I and L as 1. The all-zero id
// is rejected.
func ParseSplitID(s string) (SplitID, error) {
	t := strings.TrimSpace(s)
	var v uint64
	n := 0
	for i := 0; i < len(t); i++ {
		c := t[i]
		if c == '-' {
			continue
		}
		d := charValue[c]
		if d < 0 {
			return SplitID{}, fmt.Errorf("split id %q: %q is not a split id character", s, rune(c))
		}
		n++
		if n > splitIDChars {
			break
		}
		v = v<<5 | uint64(d)
	}
	if n != splitIDChars {
		return SplitID{}, fmt.Errorf("split id %q: has %d characters, want %d", s, n, splitIDChars)
	}
	if v&3 != 0 {
		return SplitID{}, fmt.Errorf("split id %q: its last character cannot end a split id (a character is wrong)", s)
	}
	v >>= 2
	var id SplitID
	for i := len(id) - 1; i >= 0; i-- {
		id[i] = byte(v)
		v >>= 8
	}
	if id.isZero() {
		return SplitID{}, fmt.Errorf("split id %q: the all-zero split id is not valid", s)
	}
	return id, nil
}

// Share is one keyholder's share of a split secret. Only Value is secret.
type Share struct {
	// Split is the id of the split the share belongs to.
	Split SplitID
	// Purpose is what the split secret is for.
	Purpose Purpose
	// Threshold is M, the number of shares needed to rebuild the secret.
	Threshold int
	// Count is N, the number of shares made.
	Count int
	// Index is the keyholder number, 1 to N. It is not vault's x
	// coordinate, which is the last byte of Value.
	Index int
	// Value is vault's share bytes: len(secret)+1 bytes, the x coordinate
	// last.
	Value *secret.Secret
}

// Describe says which share s is, without anything secret, e.g.
// "backup share 2 of 5 (3 needed), split 7KQ2-M9XD-4P".
func (s *Share) Describe() string {
	return fmt.Sprintf("%s share %d of %d (%d needed), split %s",
		s.Purpose, s.Index, s.Count, s.Threshold, s.Split)
}

// Hash returns the hex SHA-256 of the share's compact form ([Share.Compact]),
// which identifies the share in the [Manifest]. An auditor holding the share
// can recompute it with stock tools: printf %s CS1B-… | sha256sum.
func (s *Share) Hash() string {
	c := s.Compact()
	defer c.Wipe()
	sum := sha256.Sum256(c.Bytes())
	return hex.EncodeToString(sum[:])
}

// Wipe wipes the share's secret value. The public fields are kept, so that
// s.Describe still works.
func (s *Share) Wipe() {
	if s != nil {
		s.Value.Wipe()
	}
}

// Limits.
const (
	minSecret = 1  // bytes
	maxSecret = 64 // bytes
	maxShares = 255
)

// validate checks that s can be written as a share text.
func (s *Share) validate() error {
	if !s.Purpose.valid() {
		return fmt.Errorf("share %d has an unknown purpose %#02x", s.Index, byte(s.Purpose))
	}
	if err := checkQuorum(s.Threshold, s.Count); err != nil {
		return fmt.Errorf("share %d: %w", s.Index, err)
	}
	if s.Index < 1 || s.Index > s.Count {
		return fmt.Errorf("share %d: the share number must be 1 to %d", s.Index, s.Count)
	}
	if l := s.Value.Len() - 1; l < minSecret || l > maxSecret {
		return fmt.Errorf("share %d: a %d-byte value is not a share of a %d- to %d-byte secret",
			s.Index, s.Value.Len(), minSecret, maxSecret)
	}
	if s.Split.isZero() {
		return fmt.Errorf("share %d: the split id is zero", s.Index)
	}
	return nil
}

// checkQuorum checks 2 <= m <= n <= 255.
func checkQuorum(m, n int) error {
	switch {
	case m < 2:
		return fmt.Errorf("%d of %d needed: at least 2 shares must be needed", m, n)
	case n > maxShares:
		return fmt.Errorf("%d shares: at most %d are possible", n, maxShares)
	case m > n:
		return fmt.Errorf("%d of %d needed: more shares needed than exist", m, n)
	}
	return nil
}

// ordinal returns "1st", "2nd", "3rd", "4th", …, "11th", "21st", ….
func ordinal(n int) string {
	suffix := "th"
	switch n % 10 {
	case 1:
		suffix = "st"
	case 2:
		suffix = "nd"
	case 3:
		suffix = "rd"
	}
	if n%100 >= 11 && n%100 <= 13 {
		suffix = "th"
	}
	return fmt.Sprintf("%d%s", n, suffix)
}
