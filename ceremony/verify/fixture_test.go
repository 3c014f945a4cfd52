package verify_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devicepki/ceremony/ceremony/transcript"
	"github.com/devicepki/ceremony/internal/ceremonytest"
)

// testPKI is the shared fixture's PKI (ceremonytest.PKI) under the names
// these tests use: a software root CA (P-384) and an audit certificate
// (P-256) it issued.
type testPKI struct {
	root     *x509.Certificate
	rootKey  *ecdsa.PrivateKey
	audit    *x509.Certificate
	auditKey *ecdsa.PrivateKey
}

func (p *testPKI) shared() *ceremonytest.PKI {
	return &ceremonytest.PKI{Root: p.root, RootKey: p.rootKey, Audit: p.audit, AuditKey: p.auditKey}
}

func newKey(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey { return ceremonytest.NewKey(t, c) }

func newCert(t testing.TB, tmpl, parent *x509.Certificate, pub any, key *ecdsa.PrivateKey) *x509.Certificate {
	return ceremonytest.NewCert(t, tmpl, parent, pub, key)
}

// newPKI makes a root CA named cn and an audit certificate issued by it.
func newPKI(t testing.TB, cn string) *testPKI {
	t.Helper()
	p := ceremonytest.NewPKI(t, cn)
	return &testPKI{root: p.Root, rootKey: p.RootKey, audit: p.Audit, auditKey: p.AuditKey}
}

// rootPEM writes the root certificate to a PEM file outside any ceremony
// directory and returns its path.
func (p *testPKI) rootPEM(t testing.TB) string { return p.shared().RootPEM(t) }

// ceremony is a small sealed ceremony directory (ceremonytest.NewCeremony
// with one artifact):
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

func sha256Hex(b []byte) string { return ceremonytest.SHA256Hex(b) }

// newCeremony writes a sealed ceremony directory sealed by p's audit key,
// whose one artifact (event 5) is the root's public key.
func newCeremony(t testing.TB, p *testPKI) *ceremony {
	t.Helper()
	pubDER, err := x509.MarshalPKIXPublicKey(p.root.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	artifact := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	c := ceremonytest.NewCeremony(t, p.shared(), ceremonytest.Artifact{Path: artifactPath, Data: artifact})
	return &ceremony{pki: p, dir: c.Dir, transcript: c.Transcript, sig: c.Sig, artifact: artifact, rootPEM: c.RootPEM}
}

func sealData(events int, head string, audit, root *x509.Certificate) map[string]any {
	return ceremonytest.SealData(events, head, audit, root)
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
