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
	"strings"
	"testing"
	"time"
)

func writeCert(t *testing.T, path string, serial int64) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "x"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	writeCert(t, filepath.Join(dir, "b.crt.pem"), 0x1234)
	path := filepath.Join(dir, "rev.yaml")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("version: 1\nrevoke:\n  - certificate: b.crt.pem\n    reason: key-compromise\n  - serial: '0a:bc'\n    reason: superseded\n")
	reqs, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 2 || reqs[0].SerialHex() != "1234" || reqs[0].ReasonCode != 1 || reqs[0].Certificate == nil ||
		reqs[1].SerialHex() != "0abc" || reqs[1].ReasonCode != 4 || reqs[1].Certificate != nil {
		t.Fatalf("%+v", reqs)
	}
	write("version: 1\nrevoke: []\n")
	if reqs, err := Load(path); err != nil || len(reqs) != 0 {
		t.Fatalf("a renewal (no new revocation): %v %v", reqs, err)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"version: 2\nrevoke: []\n", "version: must be 1"},
		{"version: 1\nrevoke:\n  - serial: '12'\n    certificate: b.crt.pem\n    reason: superseded\n", "give certificate"},
		{"version: 1\nrevoke:\n  - reason: superseded\n", "give certificate"},
		{"version: 1\nrevoke:\n  - serial: xyz\n    reason: superseded\n", "is not a serial number in hex"},
		{"version: 1\nrevoke:\n  - serial: '00'\n    reason: superseded\n", "serial number 0"},
		{"version: 1\nrevoke:\n  - serial: '12'\n    reason: certificate-hold\n", `"certificate-hold": one of`},
		{"version: 1\nrevoke:\n  - certificate: missing.pem\n    reason: superseded\n", "missing.pem"},
		{"version: 1\nrevoke:\n  - certificate: b.crt.pem\n    reason: superseded\n  - serial: '1234'\n    reason: superseded\n", "serial 1234 is already listed at revoke[0]"},
		{"version: 1\nrevoke:\n  - serial: '12'\n    reason: superseded\n    note: x\n", "unknown field"},
	} {
		write(tc.yaml)
		if _, err := Load(path); err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: error = %v, want one line with %q", tc.yaml, err, tc.want)
		}
	}
}
