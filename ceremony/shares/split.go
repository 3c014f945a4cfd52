package shares

import (
	cryptorand "crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/hashicorp/vault/shamir"

	"github.com/devicepki/ceremony/ceremony/secret"
)

// Split splits sec (1 to 64 bytes; 32 typically) into n shares of which m
// rebuild it, for purpose p, and returns the shares, numbered 1 to n, and
// the split's manifest. rand supplies the split id (crypto/rand if nil);
// vault/shamir draws the polynomial coefficients from crypto/rand itself.
//
// Before returning, Split checks that the first m and the last m shares
// rebuild sec. sec must be random: see the package documentation.
func Split(rand io.Reader, sec *secret.Secret, p Purpose, m, n int) ([]*Share, *Manifest, error) {
	if !p.valid() {
		return nil, nil, fmt.Errorf("split: unknown purpose %#02x", byte(p))
	}
	if err := checkQuorum(m, n); err != nil {
		return nil, nil, fmt.Errorf("split: %w", err)
	}
	if l := sec.Len(); l < minSecret || l > maxSecret {
		return nil, nil, fmt.Errorf("split: a %d-byte secret: must be %d to %d bytes", l, minSecret, maxSecret)
	}
	if rand == nil {
		rand = cryptorand.Reader
	}
	id, err := NewSplitID(rand)
	if err != nil {
		return nil, nil, fmt.Errorf("split: %w", err)
	}
	parts, err := shamir.Split(sec.Bytes(), n, m)
	defer func() {
		for _, b := range parts {
			clear(b)
		}
	}()
	if err != nil {
		return nil, nil, fmt.Errorf("split: %w", err)
	}
	if len(parts) != n {
		return nil, nil, fmt.Errorf("split: vault/shamir made %d shares, not %d", len(parts), n)
	}
	shares := make([]*Share, n)
	man := &Manifest{
		Version:     manifestVersion,
		Split:       id.String(),
		Purpose:     p.String(),
		Threshold:   m,
		Count:       n,
		SecretLen:   sec.Len(),
		Commitment:  commitment(id, p, sec.Bytes()),
		ShareHashes: make([]string, n),
	}
	for i, b := range parts {
		if len(b) != sec.Len()+1 {
			return nil, nil, fmt.Errorf("split: vault/shamir made a %d-byte share of a %d-byte secret", len(b), sec.Len())
		}
		shares[i] = &Share{Split: id, Purpose: p, Threshold: m, Count: n, Index: i + 1, Value: secret.New(b)}
		man.ShareHashes[i] = shares[i].Hash()
	}
	wipe := func() {
		for _, s := range shares {
			s.Wipe()
		}
	}
	for _, set := range [][]*Share{shares[:m], shares[n-m:]} {
		if err := Check(set, man); err != nil {
			wipe()
			return nil, nil, fmt.Errorf("split: the new shares do not rebuild the secret: %w", err)
		}
	}
	return shares, man, nil
}

// Combine rebuilds the secret from shares, at least M shares of the split
// that man (required) describes, and checks it against man's commitment.
// It never returns a wrong secret. All the given shares are used, and all
// must pass; the first problem is reported, naming the share by its number
// and, when more than one was given, its place in the list ("share 3 (the
// 2nd share given) belongs to split …"). The checks, in order:
//
//   - man is well formed;
//   - every share has man's purpose, split id, M and N, a share number from
//     1 to N and a value of the right length;
//   - no share number is given twice;
//   - every share's SHA-256 is the one man records for its number;
//   - at least M shares are given;
//   - the rebuilt secret matches man's commitment.
//
// The caller wipes the returned secret.
func Combine(shares []*Share, man *Manifest) (*secret.Secret, error) {
	if man == nil {
		return nil, errors.New("combine: no manifest: shares are only combined against the manifest of their split")
	}
	if err := man.Check(); err != nil {
		return nil, fmt.Errorf("combine: %w", err)
	}
	given := func(i int) string {
		if len(shares) < 2 {
			return ""
		}
		return fmt.Sprintf(" (the %s share given)", ordinal(i+1))
	}
	for i, s := range shares {
		if err := man.checkHeader(s, given(i)); err != nil {
			return nil, fmt.Errorf("combine: %w", err)
		}
	}
	first := make(map[int]int, len(shares)) // share number -> position
	for i, s := range shares {
		j, ok := first[s.Index]
		if !ok {
			first[s.Index] = i
			continue
		}
		if subtle.ConstantTimeCompare(s.Value.Bytes(), shares[j].Value.Bytes()) == 1 {
			return nil, fmt.Errorf("combine: share %d was given twice (the %s and %s shares given)",
				s.Index, ordinal(j+1), ordinal(i+1))
		}
		return nil, fmt.Errorf("combine: two different shares claim to be share %d (the %s and %s shares given): "+
			"at most one of them is genuine", s.Index, ordinal(j+1), ordinal(i+1))
	}
	for i, s := range shares {
		if err := man.checkHash(s, given(i)); err != nil {
			return nil, fmt.Errorf("combine: %w", err)
		}
	}
	if len(shares) < man.Threshold {
		plural := "s"
		if len(shares) == 1 {
			plural = ""
		}
		return nil, fmt.Errorf("combine: %d share%s given; %d of %d are needed",
			len(shares), plural, man.Threshold, man.Count)
	}

	parts := make([][]byte, len(shares))
	nums := make([]string, len(shares))
	for i, s := range shares {
		parts[i] = s.Value.Bytes() // vault/shamir does not modify its input
		nums[i] = fmt.Sprint(s.Index)
	}
	b, err := shamir.Combine(parts)
	defer clear(b)
	if err != nil {
		return nil, fmt.Errorf("combine: shares %s: %w", strings.Join(nums, ", "), err)
	}
	id, _ := man.SplitID()
	p, _ := ParsePurpose(man.Purpose)
	want, _ := hex.DecodeString(man.Commitment)
	got, _ := hex.DecodeString(commitment(id, p, b))
	if len(b) != man.SecretLen || subtle.ConstantTimeCompare(got, want) != 1 {
		return nil, fmt.Errorf("combine: shares %s rebuild a secret that does not match the manifest's commitment: "+
			"a share or the manifest is wrong; the secret was not used", strings.Join(nums, ", "))
	}
	return secret.New(b), nil
}

// Check makes the same checks as [Combine], rebuilding the secret and
// wiping it at once. It is for checking shares without using them.
func Check(shares []*Share, man *Manifest) error {
	sec, err := Combine(shares, man)
	sec.Wipe()
	return err
}
