// Package ceremonytest builds small software PKIs and sealed ceremony
// directories for tests: a root CA and the audit certificate it issued,
// certificates below them, and a transcript written by the real transcript
// writer and sealed by the real seal code. Keys are software ECDSA keys; no
// HSM is involved.
//
// It is for tests only (every function takes a testing.TB and fails the
// test on error); it is not a way to make real ceremony output.
package ceremonytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/devicepki/ceremony/ceremony/seal"
	"github.com/devicepki/ceremony/ceremony/transcript"
)

// PKI is a software root CA (P-384) and an audit certificate (P-256) it
// issued, made like the engine's root-ca and transcript-signing templates:
// the root CA:true with keyCertSign and cRLSign; the audit certificate
// CA:false, key usage digitalSignature only, no EKU.
type PKI struct {
	Root     *x509.Certificate
	RootKey  *ecdsa.PrivateKey
	Audit    *x509.Certificate
	AuditKey *ecdsa.PrivateKey
}

// NewKey generates an ECDSA key on curve c.
func NewKey(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// NewCert gives tmpl a random serial number and has key sign it as parent
// (tmpl itself for a self-signed certificate).
func NewCert(t testing.TB, tmpl, parent *x509.Certificate, pub any, key *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = serial
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// RootTemplate is the template of a root CA named cn, valid from a day ago
// for 20 years.
func RootTemplate(cn string) *x509.Certificate {
	now := time.Now()
	return &x509.Certificate{
		Subject:               pkix.Name{Country: []string{"DE"}, Organization: []string{"Example Devices GmbH"}, CommonName: cn},
		NotBefore:             now.Add(-24 * time.Hour),
		NotAfter:              now.Add(20 * 365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLen:            1,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
}

// NewPKI makes a root CA named cn and an audit certificate issued by it.
func NewPKI(t testing.TB, cn string) *PKI {
	t.Helper()
	now := time.Now()
	rootKey := NewKey(t, elliptic.P384())
	rootTmpl := RootTemplate(cn)
	root := NewCert(t, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	auditKey := NewKey(t, elliptic.P256())
	auditTmpl := &x509.Certificate{
		Subject:               pkix.Name{Country: []string{"DE"}, Organization: []string{"Example Devices GmbH"}, CommonName: "Transcript Audit"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(2 * 365 * 24 * time.Hour),
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
	}
	audit := NewCert(t, auditTmpl, root, auditKey.Public(), rootKey)
	return &PKI{Root: root, RootKey: rootKey, Audit: audit, AuditKey: auditKey}
}

// PEM encodes certificates as PEM CERTIFICATE blocks, in order.
func PEM(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

// RootPEM writes the root certificate to a PEM file outside any ceremony
// directory and returns its path.
func (p *PKI) RootPEM(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "root.pem")
	if err := os.WriteFile(path, PEM(p.Root), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// Artifact is a file a test ceremony writes and records.
type Artifact struct {
	Path string // relative to the ceremony directory: "artifacts/NAME"
	Data []byte
}

// Ceremony is a small sealed ceremony directory:
//
//	Dir/transcript.jsonl   6 + len(Artifacts) events, the last one transcript-sealed
//	Dir/transcript.sig     the seal, by the audit key
//	Dir/artifacts/...      the artifacts, each recorded by an artifact-written event
//
// The events are ceremony-started, attendance, confirmed, key-generated
// (the root key), one artifact-written per artifact (from event 5), an
// exception and the seal.
type Ceremony struct {
	PKI        *PKI
	Dir        string
	Transcript []byte
	Sig        []byte
	Artifacts  []Artifact
	// RootPEM is the path of a file holding the root certificate, outside Dir.
	RootPEM string
}

// Path returns the path of the transcript.
func (c *Ceremony) Path() string { return filepath.Join(c.Dir, "transcript.jsonl") }

// Clock returns event times 1.5 s apart, from 2026-11-21 09:00 CET.
func Clock() func() time.Time {
	t := time.Date(2026, 11, 21, 9, 0, 0, 0, time.FixedZone("CET", 3600))
	return func() time.Time {
		t = t.Add(1500 * time.Millisecond)
		return t
	}
}

// SHA256Hex returns the hex SHA-256 of b.
func SHA256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// The participants of a test ceremony.
var (
	Alice = transcript.Actor{Role: "admin", Name: "Alice"}
	Wendy = transcript.Actor{Role: "witness", Name: "Wendy"}
)

// NewCeremony writes a ceremony directory in a new temporary directory,
// with artifacts, sealed by p's audit key.
func NewCeremony(t testing.TB, p *PKI, artifacts ...Artifact) *Ceremony {
	t.Helper()
	c := &Ceremony{PKI: p, Dir: t.TempDir(), Artifacts: artifacts}
	pubDER, err := x509.MarshalPKIXPublicKey(p.Root.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range artifacts {
		file := filepath.Join(c.Dir, filepath.FromSlash(a.Path))
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, a.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	w, err := transcript.Create(c.Path(), Clock())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	step := func(id, kind, title string) map[string]string {
		return map[string]string{"id": id, "kind": kind, "title": title}
	}
	entries := []transcript.Entry{
		{Type: "ceremony-started", Text: "Start", Data: map[string]any{
			"title":  "Root key",
			"inputs": map[string]string{"place": "Room 4"},
			"script": map[string]string{"name": "rkg", "path": "rkg.yaml", "sha256": SHA256Hex([]byte("script"))},
			"steps":  []map[string]string{step("a", "attendance", "Attend"), step("k", "generate-key", "Key"), step("s", "seal", "Seal")},
		}},
		{Type: "attendance", Step: "a", Actors: []transcript.Actor{Alice, Wendy}, Text: "Present"},
		{Type: "confirmed", Step: "a", Actors: []transcript.Actor{Wendy}, Text: "OK", Data: map[string]string{"said": "OK"}},
		{Type: "key-generated", Step: "k", Text: "Key", Data: map[string]any{
			"public_key_sha256": SHA256Hex(pubDER), "attributes": map[string]bool{"sign": true},
		}},
	}
	for _, a := range artifacts {
		entries = append(entries, transcript.Entry{Type: "artifact-written", Step: "k", Text: "Wrote", Data: map[string]any{
			"path": a.Path, "sha256": SHA256Hex(a.Data), "size": len(a.Data),
		}})
	}
	entries = append(entries, transcript.Entry{Type: "exception", Step: "k", Actors: []transcript.Actor{Wendy}, Text: "Oops", Data: map[string]string{
		"expected": "A", "happened": "B", "action": "C",
	}})
	for _, e := range entries {
		if _, err := w.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	_, err = w.Seal(SealEntry(w.Len(), w.Head(), p.Audit, p.Root), func(content []byte) error {
		c.Sig, err = seal.Sign(content, p.AuditKey, p.Audit, []*x509.Certificate{p.Root})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.Dir, "transcript.sig"), c.Sig, 0o644); err != nil {
		t.Fatal(err)
	}
	if c.Transcript, err = os.ReadFile(c.Path()); err != nil {
		t.Fatal(err)
	}
	c.RootPEM = p.RootPEM(t)
	return c
}

// SealEntry is the last event, as the engine's seal step writes it.
func SealEntry(events int, head string, audit, root *x509.Certificate) transcript.Entry {
	return transcript.Entry{Type: "transcript-sealed", Step: "s", Text: "Sealed", Data: SealData(events, head, audit, root)}
}

// SealData is the data of a seal event after events events whose chain
// hash is head.
func SealData(events int, head string, audit, root *x509.Certificate) map[string]any {
	return map[string]any{
		"events_before_seal": events,
		"chain_hash":         head,
		"audit_certificate":  map[string]string{"sha256": seal.Fingerprint(audit)},
		"root_certificate":   map[string]string{"sha256": seal.Fingerprint(root)},
	}
}
