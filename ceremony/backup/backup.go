// Package backup reads and writes key backup files (OUT/artifacts/*.backup):
// a private key wrapped inside the HSM with CKM_AES_KEY_WRAP_PAD (RFC 5649)
// under an AES-256 backup key that exists in clear only as custodians'
// Shamir shares.
//
// The file is PEM, readable with a text viewer, its headers saying what it
// holds and how to check a restore:
//
//	-----BEGIN CEREMONY KEY BACKUP-----
//	Backup-Format: 1
//	Key-Label: root-ca
//	Key-Type: ecdsa-p384
//	Public-Key: <base64 SubjectPublicKeyInfo>
//	Public-Key-SHA256: <hex>
//	Wrap-Mechanism: CKM_AES_KEY_WRAP_PAD
//	Wrapping-Key: AES-256
//	Backup-Key-Split: 7KQ2-M9XD-4P
//	Backup-Key-Shares: 3 of 5
//	Backup-Key-Commitment: <hex>
//	Backup-Key-Share-SHA256: <hex> <hex> <hex> <hex> <hex>
//
//	<base64 ciphertext>
//	-----END CEREMONY KEY BACKUP-----
//
// The share manifest in the header lets a restore check every custodian's
// share and the rebuilt backup key before anything is created on a token;
// the public key lets it check the restored key against the certificate.
// The ciphertext reveals nothing without the backup key.
package backup

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/devicepki/ceremony/ceremony/keys"
	"github.com/devicepki/ceremony/ceremony/shares"
	"github.com/devicepki/ceremony/hsm"
)

// PEMType is the PEM block type of a backup file.
const PEMType = "CEREMONY KEY BACKUP"

// Mechanism and WrappingKey name how the key was wrapped.
const (
	Mechanism   = "CKM_AES_KEY_WRAP_PAD"
	WrappingKey = "AES-256"
)

// maxWrapped bounds the ciphertext: an RSA-4096 PKCS#8 key wraps to under
// 2.5 KiB.
const maxWrapped = 8192

// Backup is a decoded backup file.
type Backup struct {
	Label     string
	Algorithm keys.Algorithm
	PublicKey crypto.PublicKey
	// PublicKeySHA256 is the hex SHA-256 of the SubjectPublicKeyInfo.
	PublicKeySHA256 string
	Manifest        *shares.Manifest
	// Wrapped is the ciphertext.
	Wrapped []byte
}

var headerNames = []string{"Backup-Format", "Key-Label", "Key-Type", "Public-Key", "Public-Key-SHA256",
	"Wrap-Mechanism", "Wrapping-Key", "Backup-Key-Split", "Backup-Key-Shares", "Backup-Key-Commitment",
	"Backup-Key-Share-SHA256"}

// Encode writes b as a backup file.
func Encode(b *Backup) ([]byte, error) {
	spki, err := x509.MarshalPKIXPublicKey(b.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("backup: public key: %w", err)
	}
	fp, err := keys.Fingerprint(b.PublicKey)
	if err != nil {
		return nil, err
	}
	m := b.Manifest
	if err := m.Check(); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	if len(b.Wrapped) == 0 || len(b.Wrapped) > maxWrapped || len(b.Wrapped)%8 != 0 {
		return nil, fmt.Errorf("backup: wrapped key of %d bytes is not an RFC 5649 ciphertext", len(b.Wrapped))
	}
	block := &pem.Block{Type: PEMType, Bytes: b.Wrapped, Headers: map[string]string{
		"Backup-Format":           "1",
		"Key-Label":               b.Label,
		"Key-Type":                string(b.Algorithm),
		"Public-Key":              base64.StdEncoding.EncodeToString(spki),
		"Public-Key-SHA256":       fp,
		"Wrap-Mechanism":          Mechanism,
		"Wrapping-Key":            WrappingKey,
		"Backup-Key-Split":        m.Split,
		"Backup-Key-Shares":       fmt.Sprintf("%d of %d", m.Threshold, m.Count),
		"Backup-Key-Commitment":   m.Commitment,
		"Backup-Key-Share-SHA256": strings.Join(m.ShareHashes, " "),
	}}
	return pem.EncodeToMemory(block), nil
}

var sharesRE = regexp.MustCompile(`^([0-9]{1,3}) of ([0-9]{1,3})$`)

// Decode reads a backup file strictly: one PEM block of the right type,
// nothing around it, every header present and well-formed, and a public
// key whose fingerprint matches its header.
func Decode(data []byte) (*Backup, error) {
	block, rest := pem.Decode(data)
	switch {
	case block == nil:
		return nil, fmt.Errorf("not a backup file: no %q PEM block", PEMType)
	case block.Type != PEMType:
		return nil, fmt.Errorf("not a backup file: PEM block %q, want %q", block.Type, PEMType)
	case len(bytes.TrimSpace(rest)) != 0 || len(bytes.TrimSpace(data[:bytes.Index(data, []byte("-----BEGIN"))])) != 0:
		return nil, fmt.Errorf("backup file: text before or after the PEM block")
	}
	h := block.Headers
	for _, name := range headerNames {
		if strings.TrimSpace(h[name]) == "" {
			return nil, fmt.Errorf("backup file: header %s missing", name)
		}
	}
	if len(h) != len(headerNames) {
		for name := range h {
			if !contains(headerNames, name) {
				return nil, fmt.Errorf("backup file: unknown header %s", name)
			}
		}
	}
	switch {
	case h["Backup-Format"] != "1":
		return nil, fmt.Errorf("backup file: Backup-Format %q; this tool reads format 1", h["Backup-Format"])
	case h["Wrap-Mechanism"] != Mechanism:
		return nil, fmt.Errorf("backup file: Wrap-Mechanism %q; this tool restores %s", h["Wrap-Mechanism"], Mechanism)
	case h["Wrapping-Key"] != WrappingKey:
		return nil, fmt.Errorf("backup file: Wrapping-Key %q; this tool restores under %s", h["Wrapping-Key"], WrappingKey)
	}
	b := &Backup{Label: h["Key-Label"], Wrapped: block.Bytes}
	if err := hsm.ValidateLabel(b.Label); err != nil {
		return nil, fmt.Errorf("backup file: Key-Label: %w", err)
	}
	if len(b.Wrapped) == 0 || len(b.Wrapped) > maxWrapped || len(b.Wrapped)%8 != 0 {
		return nil, fmt.Errorf("backup file: wrapped key of %d bytes is not an RFC 5649 ciphertext", len(b.Wrapped))
	}
	alg, err := keys.ParseAlgorithm(h["Key-Type"])
	if err != nil {
		return nil, fmt.Errorf("backup file: Key-Type: %w", err)
	}
	b.Algorithm = alg
	spki, err := base64.StdEncoding.Strict().DecodeString(h["Public-Key"])
	if err != nil {
		return nil, fmt.Errorf("backup file: Public-Key: not base64")
	}
	if b.PublicKey, err = x509.ParsePKIXPublicKey(spki); err != nil {
		return nil, fmt.Errorf("backup file: Public-Key: %w", err)
	}
	if got, err := keys.AlgorithmOf(b.PublicKey); err != nil || got != alg {
		return nil, fmt.Errorf("backup file: Public-Key is not a %s key", alg)
	}
	if b.PublicKeySHA256, err = keys.Fingerprint(b.PublicKey); err != nil {
		return nil, err
	}
	if want := strings.ToLower(h["Public-Key-SHA256"]); want != b.PublicKeySHA256 {
		return nil, fmt.Errorf("backup file: Public-Key-SHA256 %s does not match the Public-Key (%s)", want, b.PublicKeySHA256)
	}
	sm := sharesRE.FindStringSubmatch(h["Backup-Key-Shares"])
	if sm == nil {
		return nil, fmt.Errorf("backup file: Backup-Key-Shares %q: want \"M of N\"", h["Backup-Key-Shares"])
	}
	m, _ := strconv.Atoi(sm[1])
	n, _ := strconv.Atoi(sm[2])
	b.Manifest = &shares.Manifest{
		Version: 1, Split: h["Backup-Key-Split"], Purpose: shares.Backup.String(), Threshold: m, Count: n,
		SecretLen: 32, Commitment: h["Backup-Key-Commitment"], ShareHashes: strings.Fields(h["Backup-Key-Share-SHA256"]),
	}
	if err := b.Manifest.Check(); err != nil {
		return nil, fmt.Errorf("backup file: backup key manifest: %w", err)
	}
	for _, x := range append([]string{b.Manifest.Commitment}, b.Manifest.ShareHashes...) {
		if _, err := hex.DecodeString(x); err != nil || len(x) != 64 {
			return nil, fmt.Errorf("backup file: %q is not a SHA-256 in hex", x)
		}
	}
	return b, nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
