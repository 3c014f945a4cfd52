package backup_test

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/devicepki/ceremony/ceremony/backup"
	"github.com/devicepki/ceremony/hsm"
	"github.com/devicepki/ceremony/internal/docvector"
)

// TestDocsBackupVector checks the backup file test vector in
// docs/formats.md: it decodes strictly, every header the page's table
// describes holds what the decoded backup says, and encoding the decoded
// backup gives the page's bytes again.
func TestDocsBackupVector(t *testing.T) {
	text := docvector.Vector(t, "backup")
	b, err := backup.Decode([]byte(text))
	if err != nil {
		t.Fatalf("the page's backup file does not decode: %v", err)
	}
	block, _ := pem.Decode([]byte(text))
	h := block.Headers
	if block.Type != backup.PEMType || h["Backup-Format"] != "1" || h["Wrap-Mechanism"] != backup.MechanismHeader(b.Mechanism) || b.Method() != hsm.MethodRFC5649 || h["Wrapping-Key"] != backup.WrappingKey {
		t.Errorf("PEM type %q, headers %v", block.Type, h)
	}
	if b.Label != h["Key-Label"] || string(b.Algorithm) != h["Key-Type"] || b.Label != "root-ca" || b.Algorithm != "ecdsa-p384" {
		t.Errorf("label %q, algorithm %q; headers %q, %q", b.Label, b.Algorithm, h["Key-Label"], h["Key-Type"])
	}
	spki, err := x509.MarshalPKIXPublicKey(b.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(spki)
	if got := hex.EncodeToString(sum[:]); got != h["Public-Key-SHA256"] || got != b.PublicKeySHA256 {
		t.Errorf("the public key's DER hashes to %s; Public-Key-SHA256 says %s", got, h["Public-Key-SHA256"])
	}
	m := b.Manifest
	if m.Split != h["Backup-Key-Split"] || m.Threshold != 3 || m.Count != 5 || h["Backup-Key-Shares"] != "3 of 5" ||
		m.Commitment != h["Backup-Key-Commitment"] || strings.Join(m.ShareHashes, " ") != h["Backup-Key-Share-SHA256"] {
		t.Errorf("manifest %+v does not match the headers %v", m, h)
	}
	if !bytes.Equal(b.Wrapped, block.Bytes) || len(b.Wrapped)%8 != 0 {
		t.Errorf("ciphertext of %d bytes", len(b.Wrapped))
	}
	again, err := backup.Encode(b)
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != text {
		t.Errorf("encoded again:\n%s\nthe page shows\n%s", again, text)
	}
}
