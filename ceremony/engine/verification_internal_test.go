package engine

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"strings"
	"testing"
	"time"
)

// testCert makes a certificate for a fresh P-256 key, signed by parent's
// key (self-signed when parent is nil).
func testCert(t *testing.T, tmpl *x509.Certificate, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

// An intermediate certificate brought as a file is used only if it is a
// CA that may sign certificates, valid now, and issued and signed by the
// root.
func TestCheckSubordinateCA(t *testing.T) {
	now := time.Now()
	ca := func(cn string, isCA bool, ku x509.KeyUsage, from, to time.Time) *x509.Certificate {
		return &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
			NotBefore: from, NotAfter: to, BasicConstraintsValid: true, IsCA: isCA, KeyUsage: ku}
	}
	signs := x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	year := now.AddDate(1, 0, 0)
	root, rootKey := testCert(t, ca("Root", true, signs, now.Add(-time.Hour), now.AddDate(5, 0, 0)), nil, nil)
	other, otherKey := testCert(t, ca("Root", true, signs, now.Add(-time.Hour), now.AddDate(5, 0, 0)), nil, nil)
	good, _ := testCert(t, ca("Factory CA", true, signs, now.Add(-time.Hour), year), root, rootKey)
	leaf, _ := testCert(t, ca("Leaf", false, x509.KeyUsageDigitalSignature, now.Add(-time.Hour), year), root, rootKey)
	noSign, _ := testCert(t, ca("CRL signer", true, x509.KeyUsageCRLSign, now.Add(-time.Hour), year), root, rootKey)
	expired, _ := testCert(t, ca("Old CA", true, signs, now.AddDate(-2, 0, 0), now.AddDate(-1, 0, 0)), root, rootKey)
	forged, _ := testCert(t, ca("Forged CA", true, signs, now.Add(-time.Hour), year), other, otherKey)

	if err := checkSubordinateCA(good, "good.pem", root, now); err != nil {
		t.Fatalf("good intermediate: %v", err)
	}
	if err := checkSubordinateCA(good, "good.pem", nil, now); err != nil {
		t.Fatalf("good intermediate, root unknown yet: %v", err)
	}
	for _, tc := range []struct {
		name string
		c    *x509.Certificate
		want string
	}{
		{"leaf", leaf, "certificate x.pem (CN=Leaf) is not a CA certificate"},
		{"no keyCertSign", noSign, "may not sign certificates (no keyCertSign)"},
		{"expired", expired, "(CN=Old CA) is not valid now"},
		{"root itself", root, `certificate x.pem is the root "CN=Root" itself`},
		{"forged", forged, `certificate x.pem (CN=Forged CA), issued by "CN=Root", does not chain to the root "CN=Root": the root's key did not sign it`},
	} {
		err := checkSubordinateCA(tc.c, "x.pem", root, now)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error = %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestSubjectDifference(t *testing.T) {
	want := pkix.Name{CommonName: "0A0B", Organization: []string{"Example Devices GmbH"}}
	for _, tc := range []struct {
		got  pkix.Name
		text string
	}{
		{pkix.Name{CommonName: "0C0D", Organization: []string{"Example Devices GmbH"}}, `its subject common_name "0C0D" is not "0A0B"`},
		{pkix.Name{CommonName: "0A0B"}, `its subject organization "" is not "Example Devices GmbH"`},
	} {
		if got := subjectDifference(tc.got, want); got != tc.text {
			t.Errorf("subjectDifference(%v) = %q, want %q", tc.got, got, tc.text)
		}
	}
}
