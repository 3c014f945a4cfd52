// Package backup reads and writes key backup files (OUT/artifacts/*.backup):
// a private key wrapped inside the HSM with RFC 5649 (or, on a module
// without it, AES-CBC with padding) under an AES-256 backup key that exists
// in clear only as custodians' Shamir shares.
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
//	Wrap-Mechanism: CKM_AES_KEY_WRAP_PAD (0x210A), RFC 5649
//	Wrapping-Key: AES-256
//	Backup-Key-Split: 7KQ2-M9XD-4P
//	Backup-Key-Shares: 3 of 5
//	Backup-Key-Commitment: <hex>
//	Backup-Key-Share-SHA256: <hex> <hex> <hex> <hex> <hex>
//
//	<base64 ciphertext>
//	-----END CEREMONY KEY BACKUP-----
//
// A backup made with CKM_AES_CBC_PAD says so in Wrap-Mechanism and has two
// more headers: Wrap-IV (the IV in hex) and Ciphertext-SHA256 (the hex
// SHA-256 of the ciphertext). CBC has no integrity check, so a file whose
// ciphertext does not hash to its header is refused when it is read.
//
// The share manifest in the header lets a restore check every custodian's
// share and the rebuilt backup key before anything is created on a token;
// the public key lets it check the restored key against the certificate.
// The ciphertext reveals nothing without the backup key.
package backup

import (
	"bytes"
	"crypto"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/miekg/pkcs11"

	"github.com/devicepki/ceremony/ceremony/keys"
	"github.com/devicepki/ceremony/ceremony/shares"
	"github.com/devicepki/ceremony/hsm"
)

// PEMType is the PEM block type of a backup file.
const PEMType = "CEREMONY KEY BACKUP"

// WrappingKey names the key the backup is wrapped under.
const WrappingKey = "AES-256"

// LegacyMechanism is how files written before the backup methods name
// RFC 5649 under CKM_AES_KEY_WRAP_PAD in Wrap-Mechanism. They are read
// still; nothing writes it.
const LegacyMechanism = "CKM_AES_KEY_WRAP_PAD"

// MechanismHeader is what Wrap-Mechanism says of m: its name, its number
// and, for RFC 5649, the RFC ("CKM_AES_KEY_WRAP_PAD (0x210A), RFC 5649").
func MechanismHeader(m hsm.WrapMechanism) string {
	if m.Method() == hsm.MethodRFC5649 {
		return m.String() + ", RFC 5649"
	}
	return m.String()
}

// wrapMechanisms are the Wrap-Mechanism values Decode accepts, and the
// mechanism each names.
var wrapMechanisms = map[string]uint{
	LegacyMechanism: pkcs11.CKM_AES_KEY_WRAP_PAD,
	MechanismHeader(hsm.WrapMechanism{Type: pkcs11.CKM_AES_KEY_WRAP_PAD}): pkcs11.CKM_AES_KEY_WRAP_PAD,
	MechanismHeader(hsm.WrapMechanism{Type: hsm.CKM_AES_KEY_WRAP_KWP}):    hsm.CKM_AES_KEY_WRAP_KWP,
	MechanismHeader(hsm.WrapMechanism{Type: pkcs11.CKM_AES_CBC_PAD}):      pkcs11.CKM_AES_CBC_PAD,
}

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
	// Mechanism is the mechanism the key was wrapped with, with its IV
	// for CKM_AES_CBC_PAD. A restore of an RFC 5649 backup uses whichever
	// mechanism is RFC 5649 on its own module.
	Mechanism hsm.WrapMechanism
	// Wrapped is the ciphertext.
	Wrapped []byte
	// Holders names who was handed each share of the backup key, in
	// share order (header Backup-Key-Holders); backups written before
	// holders were kept have none.
	Holders []shares.Holder
	// mac and macInput are, for a decoded file, its Backup-MAC (hex) and
	// the bytes it covers; mac is "" for a file written without one.
	mac      string
	macInput []byte
}

// HolderOf returns who was handed share n of the backup key, or "" if
// the backup does not say.
func (b *Backup) HolderOf(n int) string { return shares.HolderOf(b.Holders, n) }

// Method is the backup method of b's mechanism.
func (b *Backup) Method() hsm.Method { return b.Mechanism.Method() }

// CiphertextSHA256 returns the hex SHA-256 of the ciphertext, as the
// Ciphertext-SHA256 header of a CBC_PAD backup has it.
func (b *Backup) CiphertextSHA256() string {
	sum := sha256.Sum256(b.Wrapped)
	return hex.EncodeToString(sum[:])
}

var headerNames = []string{"Backup-Format", "Key-Label", "Key-Type", "Public-Key", "Public-Key-SHA256",
	"Wrap-Mechanism", "Wrapping-Key", "Backup-Key-Split", "Backup-Key-Shares", "Backup-Key-Commitment",
	"Backup-Key-Share-SHA256"}

// cbcHeaderNames are the further headers of a CBC_PAD backup.
var cbcHeaderNames = []string{"Wrap-IV", "Ciphertext-SHA256"}

// holdersHeader names who holds each share of the backup key, as JSON:
// [{"share":1,"name":"...","role":"custodian"},...]. It is optional, so
// that backups written before it still restore; a restore asks for a
// reason when someone other than a share's holder enters it.
const holdersHeader = "Backup-Key-Holders"

// checkCiphertext checks the ciphertext's length for the method.
func checkCiphertext(m hsm.Method, wrapped []byte) error {
	block := 8
	what := "an RFC 5649 ciphertext"
	if m == hsm.MethodAESCBCPad {
		block, what = 16, "an AES-CBC ciphertext"
	}
	if len(wrapped) < 2*block || len(wrapped) > maxWrapped || len(wrapped)%block != 0 {
		return fmt.Errorf("wrapped key of %d bytes is not %s", len(wrapped), what)
	}
	return nil
}

// macHeader holds an HMAC-SHA256, under a key derived from the backup
// key, of every other header and the ciphertext: with the backup key
// rebuilt from the custodians' shares, the host checks that nothing in
// the file was altered or damaged before a token is touched, without
// unwrapping the key it holds.
const macHeader = "Backup-MAC"

// macLabel separates the MAC key derived from the backup key from any
// other use of it.
const macLabel = "ceremony backup file MAC v1"

// Encode writes b as a backup file without a Backup-MAC header (as files
// written before it existed were).
func Encode(b *Backup) ([]byte, error) { return encode(b, nil) }

// EncodeSealed writes b as a backup file with a Backup-MAC header under
// backupKey, the key the ciphertext is wrapped with.
func EncodeSealed(b *Backup, backupKey []byte) ([]byte, error) {
	if len(backupKey) == 0 {
		return nil, errors.New("backup: no backup key for the MAC")
	}
	return encode(b, backupKey)
}

// macOf returns the hex HMAC-SHA256 of data under the key derived from
// backupKey.
func macOf(backupKey, data []byte) (string, error) {
	k, err := hkdf.Key(sha256.New, backupKey, nil, macLabel, 32)
	if err != nil {
		return "", err
	}
	h := hmac.New(sha256.New, k)
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// macInputOf is what Backup-MAC covers: every other header, sorted, as
// "name: value" lines, a blank line, and the ciphertext.
func macInputOf(headers map[string]string, body []byte) []byte {
	var b bytes.Buffer
	for _, name := range slices.Sorted(maps.Keys(headers)) {
		if name != macHeader {
			fmt.Fprintf(&b, "%s: %s\n", name, headers[name])
		}
	}
	b.WriteString("\n")
	b.Write(body)
	return b.Bytes()
}

// HasMAC reports whether the decoded file carries a Backup-MAC.
func (b *Backup) HasMAC() bool { return b.mac != "" }

// ErrMACMismatch says a backup file's MAC does not match the backup key
// rebuilt for it.
var ErrMACMismatch = errors.New("its Backup-MAC does not match the rebuilt backup key: the file was altered or damaged since it was written (its ciphertext or a header); restore from an intact copy")

// CheckMAC checks the decoded file's Backup-MAC with the rebuilt backup
// key. A file without one is not checked (HasMAC says so).
func (b *Backup) CheckMAC(backupKey []byte) error {
	if !b.HasMAC() {
		return nil
	}
	got, err := macOf(backupKey, b.macInput)
	if err != nil {
		return err
	}
	if !hmac.Equal([]byte(got), []byte(b.mac)) {
		return ErrMACMismatch
	}
	return nil
}

func encode(b *Backup, backupKey []byte) ([]byte, error) {
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
	mech := MechanismHeader(b.Mechanism)
	if _, ok := wrapMechanisms[mech]; !ok {
		return nil, fmt.Errorf("backup: %s is not a backup wrapping mechanism", b.Mechanism)
	}
	if err := checkCiphertext(b.Method(), b.Wrapped); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	block := &pem.Block{Type: PEMType, Bytes: b.Wrapped, Headers: map[string]string{
		"Backup-Format":           "1",
		"Key-Label":               b.Label,
		"Key-Type":                string(b.Algorithm),
		"Public-Key":              base64.StdEncoding.EncodeToString(spki),
		"Public-Key-SHA256":       fp,
		"Wrap-Mechanism":          mech,
		"Wrapping-Key":            WrappingKey,
		"Backup-Key-Split":        m.Split,
		"Backup-Key-Shares":       fmt.Sprintf("%d of %d", m.Threshold, m.Count),
		"Backup-Key-Commitment":   m.Commitment,
		"Backup-Key-Share-SHA256": strings.Join(m.ShareHashes, " "),
	}}
	if len(b.Holders) > 0 {
		if err := shares.CheckHolders(b.Holders, m); err != nil {
			return nil, fmt.Errorf("backup: %w", err)
		}
		hs, err := json.Marshal(b.Holders)
		if err != nil {
			return nil, fmt.Errorf("backup: %w", err)
		}
		block.Headers[holdersHeader] = string(hs)
	}
	switch b.Method() {
	case hsm.MethodAESCBCPad:
		if len(b.Mechanism.IV) != 16 {
			return nil, fmt.Errorf("backup: %s needs a 16-byte IV, not %d bytes", b.Mechanism, len(b.Mechanism.IV))
		}
		block.Headers["Wrap-IV"] = hex.EncodeToString(b.Mechanism.IV)
		block.Headers["Ciphertext-SHA256"] = b.CiphertextSHA256()
	default:
		if b.Mechanism.IV != nil {
			return nil, fmt.Errorf("backup: %s takes no IV", b.Mechanism)
		}
	}
	if backupKey != nil {
		mac, err := macOf(backupKey, macInputOf(block.Headers, block.Bytes))
		if err != nil {
			return nil, fmt.Errorf("backup: %w", err)
		}
		block.Headers[macHeader] = mac
	}
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
	typ, ok := wrapMechanisms[h["Wrap-Mechanism"]]
	switch {
	case strings.TrimSpace(h["Wrap-Mechanism"]) == "":
		return nil, fmt.Errorf("backup file: header Wrap-Mechanism missing")
	case !ok:
		return nil, fmt.Errorf("backup file: Wrap-Mechanism %q; this tool reads one of %s", h["Wrap-Mechanism"], knownMechanisms())
	}
	b := &Backup{Label: h["Key-Label"], Wrapped: block.Bytes, Mechanism: hsm.WrapMechanism{Type: typ}}
	names := headerNames
	if b.Method() == hsm.MethodAESCBCPad {
		names = append(slices.Clip(headerNames), cbcHeaderNames...)
	}
	for _, name := range names {
		if strings.TrimSpace(h[name]) == "" {
			return nil, fmt.Errorf("backup file: header %s missing", name)
		}
	}
	for _, optional := range []string{holdersHeader, macHeader} {
		if _, ok := h[optional]; ok {
			names = append(slices.Clip(names), optional)
		}
	}
	if len(h) != len(names) {
		for name := range h {
			if !slices.Contains(names, name) {
				return nil, fmt.Errorf("backup file: unknown header %s", printable(name))
			}
		}
	}
	switch {
	case h["Backup-Format"] != "1":
		return nil, fmt.Errorf("backup file: Backup-Format %q; this tool reads format 1", h["Backup-Format"])
	case h["Wrapping-Key"] != WrappingKey:
		return nil, fmt.Errorf("backup file: Wrapping-Key %q; this tool restores under %s", h["Wrapping-Key"], WrappingKey)
	}
	if err := hsm.ValidateLabel(b.Label); err != nil {
		return nil, fmt.Errorf("backup file: Key-Label: %w", err)
	}
	if err := checkCiphertext(b.Method(), b.Wrapped); err != nil {
		return nil, fmt.Errorf("backup file: %w", err)
	}
	if b.Method() == hsm.MethodAESCBCPad {
		iv, err := hex.DecodeString(h["Wrap-IV"])
		if err != nil || len(iv) != 16 {
			return nil, fmt.Errorf("backup file: Wrap-IV %q is not 16 bytes in hex", h["Wrap-IV"])
		}
		b.Mechanism.IV = iv
		want := strings.ToLower(h["Ciphertext-SHA256"])
		if _, err := hex.DecodeString(want); err != nil || len(want) != 64 {
			return nil, fmt.Errorf("backup file: Ciphertext-SHA256 %q is not a SHA-256 in hex", h["Ciphertext-SHA256"])
		}
		if got := b.CiphertextSHA256(); got != want {
			return nil, fmt.Errorf("backup file: the ciphertext hashes to SHA-256 %s, not %s as Ciphertext-SHA256 says: it was altered or damaged", got, want)
		}
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
		return nil, fmt.Errorf("backup file: Public-Key-SHA256 %s does not match the Public-Key (%s)", printable(want), b.PublicKeySHA256)
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
	if mac, ok := h[macHeader]; ok {
		if _, err := hex.DecodeString(mac); err != nil || len(mac) != 64 {
			return nil, fmt.Errorf("backup file: %s %q is not an HMAC-SHA256 in hex", macHeader, mac)
		}
		b.mac, b.macInput = strings.ToLower(mac), macInputOf(h, block.Bytes)
	}
	if hs, ok := h[holdersHeader]; ok {
		dec := json.NewDecoder(strings.NewReader(hs))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&b.Holders); err != nil || dec.More() {
			return nil, fmt.Errorf("backup file: %s is not a JSON list of {share, name, role}", holdersHeader)
		}
		if err := shares.CheckHolders(b.Holders, b.Manifest); err != nil {
			return nil, fmt.Errorf("backup file: %s: %w", holdersHeader, err)
		}
	}
	return b, nil
}

// knownMechanisms lists the Wrap-Mechanism values this tool writes.
func knownMechanisms() string {
	var out []string
	for name := range wrapMechanisms {
		if name != LegacyMechanism {
			out = append(out, strconv.Quote(name))
		}
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

// printable quotes a header name read from a file for an error message.
func printable(s string) string {
	if strconv.CanBackquote(s) && !strings.ContainsAny(s, " `") {
		return s
	}
	return strconv.Quote(s)
}
