package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/devicepki/ceremony/ceremony/keys"
)

// softCA makes a software CA certificate for key, valid for a year: the
// issuer of a verification certificate (a root or an intermediate).
func softCA(t *testing.T, key crypto.Signer) *x509.Certificate {
	t.Helper()
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "Test CA", Organization: []string{"Example Devices GmbH"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0),
		BasicConstraintsValid: true, IsCA: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The verification template signs with what the issuer's key calls for:
// a P-256 intermediate with SHA-256, the P-384 root with SHA-384, and so
// on; the draft the quorum approves and the signed certificate agree.
func TestIssuerDefaultSignature(t *testing.T) {
	p := shippedProfile(t, "verification")
	if !p.SignatureFromIssuer || p.SignatureAlgorithm != x509.UnknownSignatureAlgorithm {
		t.Fatalf("verification template: SignatureFromIssuer %t, SignatureAlgorithm %v", p.SignatureFromIssuer, p.SignatureAlgorithm)
	}
	ec := func(c elliptic.Curve) func() (crypto.Signer, error) {
		return func() (crypto.Signer, error) { return ecdsa.GenerateKey(c, rand.Reader) }
	}
	for _, tc := range []struct {
		issuer keys.Algorithm
		gen    func() (crypto.Signer, error)
		want   x509.SignatureAlgorithm
	}{
		{keys.ECDSAP256, ec(elliptic.P256()), x509.ECDSAWithSHA256},
		{keys.ECDSAP384, ec(elliptic.P384()), x509.ECDSAWithSHA384},
		{keys.ECDSAP521, ec(elliptic.P521()), x509.ECDSAWithSHA512},
		{keys.RSA3072, func() (crypto.Signer, error) { return rsa.GenerateKey(rand.Reader, 3072) }, x509.SHA256WithRSA},
	} {
		t.Run(string(tc.issuer), func(t *testing.T) {
			if got := p.SignatureAlgorithmFor(tc.issuer); got != tc.want {
				t.Fatalf("SignatureAlgorithmFor(%s) = %v, want %v", tc.issuer, got, tc.want)
			}
			key, err := tc.gen()
			if err != nil {
				t.Fatal(err)
			}
			ca := softCA(t, key)
			subjectKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			v, err := p.Validity.Resolve(time.Now().Truncate(time.Second))
			if err != nil {
				t.Fatal(err)
			}
			subj, err := p.SubjectFromValues(map[string]string{"common_name": strings.Repeat("0A", 32)})
			if err != nil {
				t.Fatal(err)
			}
			d, err := NewDraft(p, v, big.NewInt(99), &subj, subjectKey.Public(), ca, key.Public())
			if err != nil {
				t.Fatal(err)
			}
			if d.Preview.SignatureAlgorithm != tc.want {
				t.Errorf("preview signed with %v, want %v", d.Preview.SignatureAlgorithm, tc.want)
			}
			iss, err := d.Sign(key)
			if err != nil {
				t.Fatal(err)
			}
			if iss.Cert.SignatureAlgorithm != tc.want {
				t.Errorf("certificate signed with %v, want %v", iss.Cert.SignatureAlgorithm, tc.want)
			}
			if err := iss.Cert.CheckSignatureFrom(ca); err != nil {
				t.Error(err)
			}
		})
	}
}

// A fixed signature algorithm still has to suit the issuer's key (the
// error the issuer-default template avoids); issuer-default is refused in
// a self-signed template, and named among the choices of an issued one.
func TestIssuerDefaultTemplateRules(t *testing.T) {
	read := func(name string) string {
		data, err := os.ReadFile(filepath.Join("..", "..", "templates", name+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	fixed, err := Parse("verification.yaml", []byte(strings.Replace(read("verification"),
		"signature_algorithm: issuer-default", "signature_algorithm: ecdsa-with-SHA384", 1)))
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	v, _ := fixed.Validity.Resolve(time.Now().Truncate(time.Second))
	err = CheckIssuer(fixed, v, softCA(t, key))
	if err == nil || !strings.Contains(err.Error(), "ecdsa-with-SHA384 does not suit the issuer's ecdsa-p256 key") {
		t.Errorf("fixed SHA-384 under a P-256 issuer: %v", err)
	}
	def := shippedProfile(t, "verification")
	if err := CheckIssuer(def, v, softCA(t, key)); err != nil {
		t.Errorf("issuer-default under a P-256 issuer: %v", err)
	}

	for _, tc := range []struct{ template, old, new, want string }{
		{"root-ca", "signature_algorithm: ecdsa-with-SHA384", "signature_algorithm: issuer-default",
			"signature_algorithm: issuer-default: a self-signed root-ca is signed by its own key: give the algorithm (for ecdsa-p384: ecdsa-with-SHA384)"},
		{"verification", "signature_algorithm: issuer-default", "signature_algorithm: issuer",
			`unknown signature algorithm "issuer"`},
		{"verification", "signature_algorithm: issuer-default", "signature_algorithm: issuer",
			"or issuer-default (the one the issuer's key type calls for)"},
	} {
		_, err := Parse(tc.template+".yaml", []byte(strings.Replace(read(tc.template), tc.old, tc.new, 1)))
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %q: error = %v, want one line with %q", tc.template, tc.new, err, tc.want)
		}
	}
}
