package shares

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// manifestVersion is the version of the manifest format.
const manifestVersion = 1

// commitmentDomain starts the data hashed into a Manifest's commitment.
const commitmentDomain = "ceremony-split-commitment-v1"

// Manifest describes one split. It is public: it goes into the transcript
// as JSON, and [Combine] needs it to check shares and the rebuilt secret.
type Manifest struct {
	// Version is the manifest format version, 1.
	Version int `json:"version"`
	// Split is the split id, as SplitID.String prints it.
	Split string `json:"split_id"`
	// Purpose is "activation" or "backup".
	Purpose string `json:"purpose"`
	// Threshold is M, the number of shares needed.
	Threshold int `json:"threshold"`
	// Count is N, the number of shares made.
	Count int `json:"shares"`
	// SecretLen is the length of the secret in bytes.
	SecretLen int `json:"secret_length"`
	// Commitment is the hex SHA-256 of "ceremony-split-commitment-v1",
	// the 6-byte split id, the purpose letter and the secret.
	Commitment string `json:"commitment"`
	// ShareHashes holds Share.Hash of shares 1 to N, in that order.
	ShareHashes []string `json:"share_sha256"`
}

// commitment returns the commitment to sec for the split id and purpose p.
func commitment(id SplitID, p Purpose, sec []byte) string {
	h := sha256.New()
	h.Write([]byte(commitmentDomain))
	h.Write(id[:])
	h.Write([]byte{byte(p)})
	h.Write(sec)
	return hex.EncodeToString(h.Sum(nil))
}

// checkHex checks that s is a lower-case hex SHA-256.
func checkHex(s string) error {
	if len(s) != 2*sha256.Size {
		return fmt.Errorf("has %d characters, want %d", len(s), 2*sha256.Size)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return fmt.Errorf("character %d is not a lower-case hex digit", i+1)
		}
	}
	return nil
}

// Check checks that m is well formed: its version, split id, purpose,
// 2 <= M <= N <= 255, a secret length of 1 to 64 bytes, and a hex SHA-256
// commitment and N distinct hex SHA-256 share hashes.
func (m *Manifest) Check() error {
	if m == nil {
		return errors.New("manifest: missing")
	}
	if m.Version != manifestVersion {
		return fmt.Errorf("manifest: version %d is not supported, want %d", m.Version, manifestVersion)
	}
	if _, err := ParseSplitID(m.Split); err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	if m.Purpose != Activation.String() && m.Purpose != Backup.String() {
		return fmt.Errorf("manifest: purpose %q: must be activation or backup", m.Purpose)
	}
	if err := checkQuorum(m.Threshold, m.Count); err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	if m.SecretLen < minSecret || m.SecretLen > maxSecret {
		return fmt.Errorf("manifest: secret length %d: must be %d to %d bytes", m.SecretLen, minSecret, maxSecret)
	}
	if err := checkHex(m.Commitment); err != nil {
		return fmt.Errorf("manifest: commitment %w", err)
	}
	if len(m.ShareHashes) != m.Count {
		return fmt.Errorf("manifest: %d share hashes for %d shares", len(m.ShareHashes), m.Count)
	}
	seen := make(map[string]int, len(m.ShareHashes))
	for i, h := range m.ShareHashes {
		if err := checkHex(h); err != nil {
			return fmt.Errorf("manifest: hash of share %d %w", i+1, err)
		}
		if j, ok := seen[h]; ok {
			return fmt.Errorf("manifest: shares %d and %d have the same hash", j, i+1)
		}
		seen[h] = i + 1
	}
	return nil
}

// SplitID returns the manifest's split id.
func (m *Manifest) SplitID() (SplitID, error) {
	id, err := ParseSplitID(m.Split)
	if err != nil {
		return SplitID{}, fmt.Errorf("manifest: %w", err)
	}
	return id, nil
}

// CheckShare checks that s is one of the shares of the split that m
// describes: the same purpose, split id, M and N, a share number from 1 to
// N, a value of the right length, and the SHA-256 recorded for that share
// number. Errors name the share ("share 4 …"). m must be well formed
// ([Manifest.Check]).
func (m *Manifest) CheckShare(s *Share) error {
	if err := m.Check(); err != nil {
		return err
	}
	if err := m.checkHeader(s, ""); err != nil {
		return err
	}
	return m.checkHash(s, "")
}

// checkHeader checks everything but the hash of s. given is "" or says
// where s is in the list of shares, e.g. " (the 2nd share given)".
func (m *Manifest) checkHeader(s *Share, given string) error {
	if s == nil {
		return fmt.Errorf("a share%s is missing", given)
	}
	name := fmt.Sprintf("share %d%s", s.Index, given)
	if s.Purpose.String() != m.Purpose {
		what := "a share of an unknown purpose"
		if s.Purpose.valid() {
			what = "an " + s.Purpose.String() + " share"
			if s.Purpose == Backup {
				what = "a backup share"
			}
		}
		return fmt.Errorf("%s is %s; %s shares are needed", name, what, m.Purpose)
	}
	if s.Split.String() != m.Split {
		return fmt.Errorf("%s belongs to split %s, not %s", name, s.Split, m.Split)
	}
	if s.Threshold != m.Threshold || s.Count != m.Count {
		return fmt.Errorf("%s says %d of %d are needed, but the manifest says %d of %d",
			name, s.Threshold, s.Count, m.Threshold, m.Count)
	}
	if s.Index < 1 || s.Index > m.Count {
		return fmt.Errorf("%s: this split has shares 1 to %d only", name, m.Count)
	}
	if s.Value.Len() != m.SecretLen+1 {
		return fmt.Errorf("%s has a %d-byte value; shares of this split have %d bytes",
			name, s.Value.Len(), m.SecretLen+1)
	}
	return nil
}

// checkHash checks the hash of s, whose header checkHeader accepted.
func (m *Manifest) checkHash(s *Share, given string) error {
	if s.Hash() != m.ShareHashes[s.Index-1] {
		return fmt.Errorf("share %d%s is not the share %d that was issued: its SHA-256 differs from the manifest's "+
			"(it was altered, or copied with errors the checksums could not catch)", s.Index, given, s.Index)
	}
	return nil
}

// Holder is who was handed one share of a split.
type Holder struct {
	Share int    `json:"share"`
	Name  string `json:"name"`
	Role  string `json:"role"`
}

// HolderOf returns the name of who was handed share n, or "" if hs does
// not say.
func HolderOf(hs []Holder, n int) string {
	for _, h := range hs {
		if h.Share == n {
			return h.Name
		}
	}
	return ""
}

// MaxHolderName bounds a holder's name as a file records it.
const MaxHolderName = 200

// CheckHolders checks a list of holders read from a file against the
// split m describes: one per share, in share order, each named.
func CheckHolders(hs []Holder, m *Manifest) error {
	if len(hs) != m.Count {
		return fmt.Errorf("%d holders for %d shares", len(hs), m.Count)
	}
	for i, h := range hs {
		switch {
		case h.Share != i+1:
			return fmt.Errorf("holder %d is for share %d: list one holder per share, in share order", i+1, h.Share)
		case strings.TrimSpace(h.Name) == "" || len(h.Name) > MaxHolderName || strings.IndexFunc(h.Name, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
			return fmt.Errorf("holder of share %d: a name of 1 to %d printable characters", h.Share, MaxHolderName)
		case strings.TrimSpace(h.Role) == "" || len(h.Role) > 63 || strings.IndexFunc(h.Role, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
			return fmt.Errorf("holder of share %d: a role of 1 to 63 printable characters", h.Share)
		}
	}
	return nil
}
