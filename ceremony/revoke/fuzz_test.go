package revoke

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/devicepki/ceremony/internal/fuzzcheck"

	"github.com/devicepki/ceremony/ceremony/pki"
)

// FuzzParseRevocations: a revocations file (beside a test certificate
// file it may name) never panics the parser; an error is one printable
// line; an accepted file lists distinct, non-zero serials of at most 20
// bytes with known reasons.
func FuzzParseRevocations(f *testing.F) {
	dir := f.TempDir()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(0x5f3a9c0e), Subject: pkix.Name{CommonName: "Fuzz Test Factory"}, NotBefore: at, NotAfter: at.AddDate(1, 0, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		f.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "factory.crt.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		f.Fatal(err)
	}
	f.Add([]byte("version: 1\nrevoke:\n  - certificate: factory.crt.pem\n    reason: key-compromise\n  - serial: 5f:3a:9c:0e:61\n    reason: superseded\n"))
	f.Add([]byte("version: 1\nrevoke: []\n"))
	f.Add([]byte("version: 1\nrevoke:\n  - serial: 5f3a9c0e\n    reason: cessation-of-operation\n  - certificate: factory.crt.pem\n    reason: superseded\n"))
	path := filepath.Join(dir, "revocations.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		reqs, err := parse(path, data)
		if err != nil {
			fuzzcheck.OneLine(t, err)
			return
		}
		seen := map[string]bool{}
		for _, r := range reqs {
			if r.Serial == nil || r.Serial.Sign() <= 0 || len(r.Serial.Bytes()) > 20 || seen[r.Serial.String()] {
				t.Fatalf("accepted serial %v", r.Serial)
			}
			seen[r.Serial.String()] = true
			if code, ok := pki.Reasons[r.Reason]; !ok || code != r.ReasonCode {
				t.Fatalf("accepted reason %q (%d)", r.Reason, r.ReasonCode)
			}
		}
	})
}
