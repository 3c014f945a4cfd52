package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"strings"
	"testing"
)

func TestParseAlgorithm(t *testing.T) {
	for _, ok := range []string{"ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "rsa-3072", "rsa-4096"} {
		if _, err := ParseAlgorithm(ok); err != nil {
			t.Errorf("ParseAlgorithm(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "rsa-2048", "ecdsa-p224", "ed25519", "RSA-3072", "rsa-1024"} {
		_, err := ParseAlgorithm(bad)
		if err == nil {
			t.Errorf("ParseAlgorithm(%q) succeeded", bad)
			continue
		}
		if !strings.Contains(err.Error(), "ecdsa-p384") {
			t.Errorf("error %q does not list the supported algorithms", err)
		}
	}
}

func TestAlgorithmOf(t *testing.T) {
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if a, err := AlgorithmOf(p384.Public()); err != nil || a != ECDSAP384 {
		t.Fatalf("AlgorithmOf(P-384) = %q, %v", a, err)
	}
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if _, err := AlgorithmOf(p224.Public()); err == nil {
		t.Fatal("P-224 accepted")
	}
	r2048, _ := rsa.GenerateKey(rand.Reader, 2048)
	if _, err := AlgorithmOf(r2048.Public()); err == nil || !strings.Contains(err.Error(), "2048") {
		t.Fatalf("RSA-2048: err = %v", err)
	}
}

func TestFingerprintAndSamePublicKey(t *testing.T) {
	a, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	b, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	fa, err := Fingerprint(a.Public())
	if err != nil || len(fa) != 64 {
		t.Fatalf("Fingerprint = %q, %v", fa, err)
	}
	fb, _ := Fingerprint(b.Public())
	if fa == fb {
		t.Fatal("different keys share a fingerprint")
	}
	if !SamePublicKey(a.Public(), &a.PublicKey) || SamePublicKey(a.Public(), b.Public()) {
		t.Fatal("SamePublicKey is wrong")
	}
}

func TestDescribe(t *testing.T) {
	if ECDSAP384.Describe() != "ECDSA P-384" || RSA4096.Describe() != "RSA 4096" {
		t.Fatalf("Describe: %q %q", ECDSAP384.Describe(), RSA4096.Describe())
	}
}

func TestSignatureAlgorithm(t *testing.T) {
	want := map[Algorithm]struct {
		sig  x509.SignatureAlgorithm
		hash crypto.Hash
		name string
	}{
		ECDSAP256: {x509.ECDSAWithSHA256, crypto.SHA256, "ECDSA with SHA-256"},
		ECDSAP384: {x509.ECDSAWithSHA384, crypto.SHA384, "ECDSA with SHA-384"},
		ECDSAP521: {x509.ECDSAWithSHA512, crypto.SHA512, "ECDSA with SHA-512"},
		RSA3072:   {x509.SHA256WithRSA, crypto.SHA256, "RSA PKCS #1 v1.5 with SHA-256"},
		RSA4096:   {x509.SHA256WithRSA, crypto.SHA256, "RSA PKCS #1 v1.5 with SHA-256"},
	}
	for _, a := range Algorithms() {
		w, ok := want[a]
		if !ok {
			t.Errorf("%s: no expected signature in this test", a)
			continue
		}
		if a.SignatureAlgorithm() != w.sig || a.Hash() != w.hash || a.SignatureName() != w.name {
			t.Errorf("%s: %s, %s, %q; want %s, %s, %q", a, a.SignatureAlgorithm(), a.Hash(), a.SignatureName(), w.sig, w.hash, w.name)
		}
	}
	var unknown Algorithm = "rsa-2048"
	if unknown.SignatureAlgorithm() != x509.UnknownSignatureAlgorithm || unknown.Hash() != 0 || unknown.SignatureName() != "" {
		t.Errorf("%s: %s, %s, %q; want nothing", unknown, unknown.SignatureAlgorithm(), unknown.Hash(), unknown.SignatureName())
	}

	// Go agrees: a CSR signed that way by a key of each curve verifies.
	for _, a := range []Algorithm{ECDSAP256, ECDSAP384, ECDSAP521} {
		k, err := ecdsa.GenerateKey(a.Curve(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{SignatureAlgorithm: a.SignatureAlgorithm()}, k)
		if err != nil {
			t.Fatalf("%s: %v", a, err)
		}
		csr, err := x509.ParseCertificateRequest(der)
		if err != nil || csr.SignatureAlgorithm != a.SignatureAlgorithm() || csr.CheckSignature() != nil {
			t.Errorf("%s: CSR signed with %s does not verify: %v", a, a.SignatureAlgorithm(), err)
		}
	}
}
