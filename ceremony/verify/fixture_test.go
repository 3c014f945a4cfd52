package verify_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/devicepki/ceremony/ceremony/seal"
	"github.com/devicepki/ceremony/ceremony/transcript"
)

// testPKI is a software root CA (P-384) and an audit certificate (P-256)
// it issued, made like the engine's root-ca and transcript-signing
// templates: the root CA:true with keyCertSign and cRLSign; the audit
// certificate CA:false, key usage digitalSignature only, no EKU.
type testPKI struct {
	root     *x509.Certificate
	rootKey  *ecdsa.PrivateKey
	audit    *x509.Certificate
	auditKey *ecdsa.PrivateKey
}

func newKey(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newCert(t testing.TB, tmpl, parent *x509.Certificate, pub any, key *ecdsa.PrivateKey) *x509.Certificate {
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

// newPKI makes a root CA named cn and an audit certificate issued by it.
func newPKI(t testing.TB, cn string) *testPKI {
	t.Helper()
	now := time.Now()
	rootKey := newKey(t, elliptic.P384())
	rootTmpl := &x509.Certificate{
		Subject:               pkix.Name{Country: []string{"DE"}, Organization: []string{"Example Devices GmbH"}, CommonName: cn},
		NotBefore:             now.Add(-24 * time.Hour),
		NotAfter:              now.Add(20 * 365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLen:            1,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	root := newCert(t, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	auditKey := newKey(t, elliptic.P256())
	auditTmpl := &x509.Certificate{
		Subject:               pkix.Name{Country: []string{"DE"}, Organization: []string{"Example Devices GmbH"}, CommonName: "Transcript Audit"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(2 * 365 * 24 * time.Hour),
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
	}
	audit := newCert(t, auditTmpl, root, auditKey.Public(), rootKey)
	return &testPKI{root: root, rootKey: rootKey, audit: audit, auditKey: auditKey}
}

// rootPEM writes the root certificate to a PEM file outside any ceremony
// directory and returns its path.
func (p *testPKI) rootPEM(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "root.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.root.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// ceremony is a small sealed ceremony directory:
//
//	dir/transcript.jsonl   7 events, the last one transcript-sealed
//	dir/transcript.sig     the seal, by the audit key
//	dir/artifacts/root-ca.pub.pem
type ceremony struct {
	pki        *testPKI
	dir        string
	transcript []byte
	sig        []byte
	artifact   []byte
	rootPEM    string
}

const artifactPath = "artifacts/root-ca.pub.pem"

func (c *ceremony) path() string { return filepath.Join(c.dir, "transcript.jsonl") }

// clock returns event times 1.5 s apart.
func clock() func() time.Time {
	t := time.Date(2026, 11, 21, 9, 0, 0, 0, time.FixedZone("CET", 3600))
	return func() time.Time {
		t = t.Add(1500 * time.Millisecond)
		return t
	}
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

var (
	alice = transcript.Actor{Role: "admin", Name: "Alice"}
	wendy = transcript.Actor{Role: "witness", Name: "Wendy"}
)

// newCeremony writes a sealed ceremony directory sealed by p's audit key.
func newCeremony(t testing.TB, p *testPKI) *ceremony {
	t.Helper()
	c := &ceremony{pki: p, dir: t.TempDir()}
	pubDER, err := x509.MarshalPKIXPublicKey(p.root.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	c.artifact = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	if err := os.Mkdir(filepath.Join(c.dir, "artifacts"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.dir, filepath.FromSlash(artifactPath)), c.artifact, 0o644); err != nil {
		t.Fatal(err)
	}

	w, err := transcript.Create(c.path(), clock())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	step := func(id, kind, title string) map[string]string {
		return map[string]string{"id": id, "kind": kind, "title": title}
	}
	for _, e := range []transcript.Entry{
		{Type: "ceremony-started", Text: "Start", Data: map[string]any{
			"title":  "Root key",
			"inputs": map[string]string{"place": "Room 4"},
			"script": map[string]string{"name": "rkg", "path": "rkg.yaml", "sha256": sha256Hex([]byte("script"))},
			"steps":  []map[string]string{step("a", "attendance", "Attend"), step("k", "generate-key", "Key"), step("s", "seal", "Seal")},
		}},
		{Type: "attendance", Step: "a", Actors: []transcript.Actor{alice, wendy}, Text: "Present"},
		{Type: "confirmed", Step: "a", Actors: []transcript.Actor{wendy}, Text: "OK", Data: map[string]string{"said": "OK"}},
		{Type: "key-generated", Step: "k", Text: "Key", Data: map[string]any{
			"public_key_sha256": sha256Hex(pubDER), "attributes": map[string]bool{"sign": true},
		}},
		{Type: "artifact-written", Step: "k", Text: "Wrote", Data: map[string]any{
			"path": artifactPath, "sha256": sha256Hex(c.artifact), "size": len(c.artifact),
		}},
		{Type: "exception", Step: "k", Actors: []transcript.Actor{wendy}, Text: "Oops", Data: map[string]string{
			"expected": "A", "happened": "B", "action": "C",
		}},
	} {
		if _, err := w.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	_, err = w.Seal(sealEntry(w.Len(), w.Head(), p.audit, p.root), func(content []byte) error {
		c.sig, err = seal.Sign(content, p.auditKey, p.audit, []*x509.Certificate{p.root})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.dir, "transcript.sig"), c.sig, 0o644); err != nil {
		t.Fatal(err)
	}
	if c.transcript, err = os.ReadFile(c.path()); err != nil {
		t.Fatal(err)
	}
	c.rootPEM = p.rootPEM(t)
	return c
}

// sealEntry is the last event, as the engine's seal step writes it.
func sealEntry(events int, head string, audit, root *x509.Certificate) transcript.Entry {
	return transcript.Entry{Type: "transcript-sealed", Step: "s", Text: "Sealed", Data: sealData(events, head, audit, root)}
}

func sealData(events int, head string, audit, root *x509.Certificate) map[string]any {
	return map[string]any{
		"events_before_seal": events,
		"chain_hash":         head,
		"audit_certificate":  map[string]string{"sha256": seal.Fingerprint(audit)},
		"root_certificate":   map[string]string{"sha256": seal.Fingerprint(root)},
	}
}

// copyOf copies the ceremony directory, lets edit change the copy, and
// returns the copy's transcript path.
func (c *ceremony) copyOf(t testing.TB, edit func(dir string)) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ceremony")
	if err := os.CopyFS(dir, os.DirFS(c.dir)); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(dir)
	}
	return filepath.Join(dir, "transcript.jsonl")
}

// lines returns the transcript's lines without their newlines.
func lines(data []byte) [][]byte {
	return bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
}

// joinLines makes a transcript from lines.
func joinLines(ls [][]byte) []byte {
	var b bytes.Buffer
	for _, l := range ls {
		b.Write(l)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// canonical encodes an event as a transcript line: fields in the order of
// transcript.Event, compact, without HTML escaping.
func canonical(t testing.TB, ev transcript.Event) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ev); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// rechain numbers evs from 1 and recomputes every prev from the raw bytes
// of the line before; a transcript-sealed event also gets the new chain
// hash, its count and the fingerprint of audit. It returns the lines.
func rechain(t testing.TB, evs []transcript.Event, audit, root *x509.Certificate) [][]byte {
	t.Helper()
	prev := strings.Repeat("0", 64)
	var out [][]byte
	for i, ev := range evs {
		ev.Seq, ev.Prev = i+1, prev
		if ev.Type == "transcript-sealed" {
			d, err := json.Marshal(sealData(i, prev, audit, root))
			if err != nil {
				t.Fatal(err)
			}
			ev.Data = d
		}
		line := canonical(t, ev)
		out = append(out, line)
		prev = sha256Hex(line)
	}
	return out
}

// opensslVerify runs the auditors' stock command on a ceremony directory.
func opensslVerify(dir, rootPEM string) ([]byte, error) {
	return exec.Command("openssl", "cms", "-verify", "-binary", "-inform", "DER",
		"-in", filepath.Join(dir, "transcript.sig"), "-content", filepath.Join(dir, "transcript.jsonl"),
		"-CAfile", rootPEM, "-purpose", "any", "-out", os.DevNull).CombinedOutput()
}

func needOpenSSL(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatalf("openssl is needed to check seals the way auditors do: %v", err)
	}
}
