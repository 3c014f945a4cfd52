package opsimport_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/devicepki/ceremony/ceremony/opsimport"
	"github.com/devicepki/ceremony/ceremony/pki"
	"github.com/devicepki/ceremony/internal/ceremonytest"
)

// now is the time the tests judge validity at.
var now = time.Now()

// testPKI is a root (with its audit certificate, from ceremonytest) and
// what the tests issue below it.
type testPKI struct {
	*ceremonytest.PKI
	t testing.TB
}

func newPKI(t testing.TB) *testPKI {
	t.Helper()
	return &testPKI{PKI: ceremonytest.NewPKI(t, "Example Devices Root CA R1"), t: t}
}

func subject(cn string) pkix.Name {
	return pkix.Name{Country: []string{"DE"}, Organization: []string{"Example Devices GmbH"}, CommonName: cn}
}

// intermediate issues a factory CA (path length 0, clientAuth) from
// issuer.
func intermediate(t testing.TB, cn string, issuer *x509.Certificate, issuerKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key := ceremonytest.NewKey(t, elliptic.P256())
	return ceremonytest.NewCert(t, &x509.Certificate{
		Subject:               subject(cn),
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(5 * 365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, issuer, key.Public(), issuerKey), key
}

// endEntity issues a certificate for a new P-256 key from issuer; edit
// adjusts the template.
func endEntity(t testing.TB, cn string, issuer *x509.Certificate, issuerKey *ecdsa.PrivateKey, edit func(*x509.Certificate)) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key := ceremonytest.NewKey(t, elliptic.P256())
	tmpl := &x509.Certificate{
		Subject:               subject(cn),
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if edit != nil {
		edit(tmpl)
	}
	return ceremonytest.NewCert(t, tmpl, issuer, key.Public(), issuerKey), key
}

// crl has key sign a CRL as issuer, revoking certs for key compromise.
func crl(t testing.TB, number int64, issuer *x509.Certificate, key *ecdsa.PrivateKey, nextUpdate time.Time, certs ...*x509.Certificate) []byte {
	t.Helper()
	var entries []x509.RevocationListEntry
	for _, c := range certs {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: c.SerialNumber, RevocationTime: now.Add(-time.Minute).UTC().Truncate(time.Second), ReasonCode: 1})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    big.NewInt(number),
		ThisUpdate:                now.Add(-time.Minute),
		NextUpdate:                nextUpdate,
		RevokedCertificateEntries: entries,
	}, issuer, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
}

// file is one input to stage: its output name and content.
type file struct {
	name string
	data []byte
}

// stage writes files into a new staging directory, as a bundle arrives
// unpacked, and returns them as inputs named "bundle TEST: NAME".
func stage(t testing.TB, files ...file) []opsimport.Input {
	t.Helper()
	dir := t.TempDir()
	var ins []opsimport.Input
	for _, f := range files {
		path := filepath.Join(dir, filepath.FromSlash(f.name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, f.data, 0o644); err != nil {
			t.Fatal(err)
		}
		ins = append(ins, opsimport.Input{Name: f.name, Path: path, Origin: "bundle TEST: " + f.name})
	}
	return ins
}

// wantRefusal checks that err is a one-line *opsimport.Refusal naming
// origin, containing every one of msgs.
func wantRefusal(t testing.TB, err error, origin string, msgs ...string) {
	t.Helper()
	var r *opsimport.Refusal
	if !errors.As(err, &r) {
		t.Fatalf("want a *opsimport.Refusal, got %T: %v", err, err)
	}
	if r.Origin != origin {
		t.Fatalf("refusal %q names %q, want %q", err, r.Origin, origin)
	}
	for _, m := range msgs {
		if !strings.Contains(err.Error(), m) {
			t.Fatalf("refusal %q does not say %q", err, m)
		}
	}
	if strings.ContainsAny(err.Error(), "\n\r") {
		t.Fatalf("refusal %q is not one line", err)
	}
}

// item returns the report's item for the input named name.
func item(t testing.TB, r *opsimport.Report, name string) *opsimport.Item {
	t.Helper()
	for _, it := range r.Items {
		if it.Input.Name == name {
			return it
		}
	}
	t.Fatalf("no item %s in the report", name)
	return nil
}

// field returns the values of the fields labelled label.
func field(fs []pki.Field, label string) []string {
	var out []string
	for _, f := range fs {
		if f.Label == label {
			out = append(out, f.Value)
		}
	}
	return out
}

// anyContains reports whether any of ss contains sub.
func anyContains(ss []string, sub string) bool {
	for _, s := range ss {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
