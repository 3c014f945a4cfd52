package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// These tests sign with a software key: the HSM path is covered by the
// engine and command-line tests, which use SoftHSM2.

func TestNewSerial(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		n, err := NewSerial(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if n.Sign() <= 0 || n.BitLen() > 127 || n.BitLen() < 64 {
			t.Fatalf("serial %x has %d bits", n, n.BitLen())
		}
		if seen[n.String()] {
			t.Fatal("repeated serial")
		}
		seen[n.String()] = true
	}
	if _, err := NewSerial(bytes.NewReader(make([]byte, 16))); err == nil {
		t.Fatal("all-zero RNG accepted")
	}
	if _, err := NewSerial(io.LimitReader(rand.Reader, 3)); err == nil {
		t.Fatal("short read accepted")
	}
}

func selfSigned(t *testing.T, yaml string) (*Issued, crypto.Signer) {
	t.Helper()
	p, err := Parse("t.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	v, err := p.Validity.Resolve(start)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := NewSerial(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	iss, err := SelfSign(p, v, serial, key)
	if err != nil {
		t.Fatal(err)
	}
	return iss, key
}

// openssl prints the certificate as text; it is the independent reader.
func opensslText(t *testing.T, iss *Issued) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.pem")
	if err := os.WriteFile(path, iss.PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("openssl", "x509", "-in", path, "-noout", "-text").CombinedOutput()
	if err != nil {
		t.Fatalf("openssl x509: %v\n%s", err, out)
	}
	vout, err := exec.Command("openssl", "verify", "-CAfile", path, path).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl verify: %v\n%s", err, vout)
	}
	return string(out)
}

func TestSelfSignRoot(t *testing.T) {
	iss, key := selfSigned(t, baseRoot)
	c := iss.Cert
	if c.Subject.CommonName != "Example Root" || !c.IsCA || c.MaxPathLen != 1 || c.SignatureAlgorithm != x509.ECDSAWithSHA384 {
		t.Fatalf("certificate %+v", c)
	}
	if !c.NotBefore.Equal(start) || !c.NotAfter.Equal(start.AddDate(20, 0, 0)) {
		t.Fatalf("validity %v – %v", c.NotBefore, c.NotAfter)
	}
	if len(c.SubjectKeyId) == 0 {
		t.Fatal("no subject key identifier")
	}
	if len(iss.SHA256()) != 64 {
		t.Fatal("bad fingerprint")
	}
	text := opensslText(t, iss)
	for _, want := range []string{
		"Signature Algorithm: ecdsa-with-SHA384",
		"Public-Key: (384 bit)",
		"X509v3 Basic Constraints: critical\n                CA:TRUE, pathlen:1",
		"X509v3 Key Usage: critical\n                Certificate Sign, CRL Sign",
		"Issuer: C = DE, O = Example Devices GmbH, CN = Example Root",
		"Subject: C = DE, O = Example Devices GmbH, CN = Example Root",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("openssl output lacks %q", want)
		}
	}
	if strings.Contains(text, "Extended Key Usage") {
		t.Error("root has an extended key usage")
	}
	pemKey, err := PublicKeyPEM(key.Public())
	if err != nil || !bytes.HasPrefix(pemKey, []byte("-----BEGIN PUBLIC KEY-----")) {
		t.Fatalf("PublicKeyPEM: %s %v", pemKey, err)
	}
}

func TestPathLenZeroIsEncoded(t *testing.T) {
	iss, _ := selfSigned(t, strings.Replace(baseRoot, "max_path_len: 1", "max_path_len: 0", 1))
	if iss.Cert.MaxPathLen != 0 || !iss.Cert.MaxPathLenZero {
		t.Fatalf("MaxPathLen %d zero %t", iss.Cert.MaxPathLen, iss.Cert.MaxPathLenZero)
	}
	if !strings.Contains(opensslText(t, iss), "CA:TRUE, pathlen:0") {
		t.Fatal("openssl does not see pathlen:0")
	}
	iss, _ = selfSigned(t, strings.Replace(baseRoot, "  max_path_len: 1\n", "", 1))
	if text := opensslText(t, iss); !strings.Contains(text, "CA:TRUE\n") || strings.Contains(text, "pathlen") {
		t.Fatal("omitted max_path_len should mean no path length")
	}
}

func TestSelfSignRefusesWrongKey(t *testing.T) {
	p, err := Parse("t.yaml", []byte(baseRoot))
	if err != nil {
		t.Fatal(err)
	}
	v, _ := p.Validity.Resolve(start)
	serial, _ := NewSerial(rand.Reader)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if _, err := SelfSign(p, v, serial, p256); err == nil || !strings.Contains(err.Error(), "wants a ECDSA P-384 key") {
		t.Fatalf("err = %v", err)
	}
	// A signer whose Sign uses a different key from its Public is caught by
	// the check after signing.
	a, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	b, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if _, err := SelfSign(p, v, serial, liar{pub: a.Public(), sign: b}); err == nil {
		t.Fatal("certificate signed by another key accepted")
	}
}

type liar struct {
	pub  crypto.PublicKey
	sign crypto.Signer
}

func (l liar) Public() crypto.PublicKey { return l.pub }
func (l liar) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	return l.sign.Sign(r, d, o)
}

// checkIssued notices every field in which a certificate differs from the
// template it should have been made from.
func TestCheckIssuedComparesEveryField(t *testing.T) {
	p, err := Parse("t.yaml", []byte(baseRoot))
	if err != nil {
		t.Fatal(err)
	}
	v, _ := p.Validity.Resolve(start)
	serial, _ := NewSerial(rand.Reader)
	key, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	iss, err := SelfSign(p, v, serial, key)
	if err != nil {
		t.Fatal(err)
	}
	_, nw, _ := net.ParseCIDR("10.0.0.0/8")
	for name, mutate := range map[string]func(c *x509.Certificate){
		"serial number":           func(c *x509.Certificate) { c.SerialNumber = big.NewInt(7) },
		"subject":                 func(c *x509.Certificate) { c.Subject.CommonName = "Other" },
		"not after":               func(c *x509.Certificate) { c.NotAfter = c.NotAfter.Add(time.Second) },
		"key usage":               func(c *x509.Certificate) { c.KeyUsage |= x509.KeyUsageDigitalSignature },
		"path length":             func(c *x509.Certificate) { c.MaxPathLen = 0; c.MaxPathLenZero = true },
		"extended key usage":      func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth} },
		"other extended key":      func(c *x509.Certificate) { c.UnknownExtKeyUsage = []asn1.ObjectIdentifier{{1, 2, 3}} },
		"CRL distribution points": func(c *x509.Certificate) { c.CRLDistributionPoints = []string{"http://crl.example.com/r.crl"} },
		"CA issuers URLs":         func(c *x509.Certificate) { c.IssuingCertificateURL = []string{"http://example.com/r.crt"} },
		"OCSP URLs":               func(c *x509.Certificate) { c.OCSPServer = []string{"http://ocsp.example.com"} },
		"name constraints":        func(c *x509.Certificate) { c.PermittedIPRanges = []*net.IPNet{nw} },
	} {
		tmpl := p.Certificate(v, serial)
		mutate(tmpl)
		err := checkIssued(tmpl, iss.Cert, key.Public(), key.Public())
		if err == nil {
			t.Errorf("%s: difference not noticed", name)
		} else if !strings.Contains(err.Error(), strings.Fields(name)[0]) {
			t.Errorf("%s: error %q does not name the field", name, err)
		}
	}
	if err := checkIssued(p.Certificate(v, serial), iss.Cert, key.Public(), key.Public()); err != nil {
		t.Fatalf("unchanged template: %v", err)
	}
}

const baseAudit = `profile: transcript-signing
key: {algorithm: ecdsa-p256}
signature_algorithm: ecdsa-with-SHA384
subject: {country: DE, organization: Example Devices GmbH, common_name: Example Ceremony Audit 1}
validity: {not_before: ceremony-start, duration: 10y}
basic_constraints: {ca: false}
key_usage: [digitalSignature]
extended_key_usage: [documentSigning]
`

func TestIssueTranscriptSigning(t *testing.T) {
	root, rootKey := selfSigned(t, baseRoot)
	p, err := Parse("audit.yaml", []byte(baseAudit))
	if err != nil {
		t.Fatal(err)
	}
	v, err := p.Validity.Resolve(start)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	iss, err := Issue(p, v, big.NewInt(99), key.Public(), root.Cert, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	c := iss.Cert
	if c.IsCA || c.KeyUsage != x509.KeyUsageDigitalSignature || len(c.ExtKeyUsage) != 0 || !bytes.Equal(c.AuthorityKeyId, root.Cert.SubjectKeyId) {
		t.Fatalf("certificate %+v", c)
	}
	// openssl, the independent reader, chains it to the root.
	dir := t.TempDir()
	rootPath, leafPath := filepath.Join(dir, "root.pem"), filepath.Join(dir, "leaf.pem")
	_ = os.WriteFile(rootPath, root.PEM(), 0o600)
	_ = os.WriteFile(leafPath, iss.PEM(), 0o600)
	out, err := exec.Command("openssl", "verify", "-CAfile", rootPath, leafPath).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl verify: %v\n%s", err, out)
	}
	text, err := exec.Command("openssl", "x509", "-in", leafPath, "-noout", "-text").CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CA:FALSE", "X509v3 Key Usage: critical\n                Digital Signature\n"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("openssl output lacks %q:\n%s", want, text)
		}
	}
	if !regexp.MustCompile(`Extended Key Usage: *\n *(1\.3\.6\.1\.5\.5\.7\.3\.36|Document Signing)\n`).Match(text) {
		t.Errorf("audit certificate's extended key usage is not documentSigning alone:\n%s", text)
	}

	// Refusals: wrong issuer key, validity beyond the issuer's, a leaf as
	// issuer, a self-signed profile, a key of the wrong type.
	other, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if _, err := Issue(p, v, big.NewInt(1), key.Public(), root.Cert, other); err == nil || !strings.Contains(err.Error(), "does not belong to the signing key") {
		t.Errorf("foreign issuer key: %v", err)
	}
	long := v
	long.NotAfter = root.Cert.NotAfter.Add(time.Second)
	if _, err := Issue(p, long, big.NewInt(1), key.Public(), root.Cert, rootKey); err == nil || !strings.Contains(err.Error(), "is not inside issuer") {
		t.Errorf("validity beyond the root's: %v", err)
	}
	if _, err := Issue(p, v, big.NewInt(1), key.Public(), c, key); err == nil || !strings.Contains(err.Error(), "is not a CA") {
		t.Errorf("leaf as issuer: %v", err)
	}
	p256, _ := Parse("audit.yaml", []byte(strings.Replace(baseAudit, "ecdsa-with-SHA384", "ecdsa-with-SHA256", 1)))
	if _, err := Issue(p256, v, big.NewInt(1), key.Public(), root.Cert, rootKey); err == nil || !strings.Contains(err.Error(), "ecdsa-with-SHA256 does not suit the issuer's ecdsa-p384 key") {
		t.Errorf("signature algorithm unfit for the issuer's key: %v", err)
	}
	rootProf, _ := Parse("root.yaml", []byte(baseRoot))
	if _, err := Issue(rootProf, v, big.NewInt(1), key.Public(), root.Cert, rootKey); err == nil || !strings.Contains(err.Error(), "is self-signed") {
		t.Errorf("root profile issued by a CA: %v", err)
	}
	if _, err := Issue(p, v, big.NewInt(1), other.Public(), root.Cert, rootKey); err == nil || !strings.Contains(err.Error(), "wants a") {
		t.Errorf("wrong key type: %v", err)
	}
}

func TestTranscriptSigningTemplateRules(t *testing.T) {
	for _, tc := range []struct{ old, new, want string }{
		{"ca: false", "ca: true", "basic_constraints.ca: must be false"},
		{"key_usage: [digitalSignature]", "key_usage: [digitalSignature, keyEncipherment]", "keyEncipherment not allowed"},
		{"extended_key_usage: [documentSigning]", "extended_key_usage: [codeSigning]", "extended_key_usage: a transcript-signing profile has exactly [documentSigning]"},
		{"extended_key_usage: [documentSigning]\n", "", "extended_key_usage: a transcript-signing profile has exactly [documentSigning]"},
		{"key_usage: [digitalSignature]", "key_usage: [contentCommitment]", "must include digitalSignature"},
	} {
		_, err := Parse("audit.yaml", []byte(strings.Replace(baseAudit, tc.old, tc.new, 1)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s -> %s: error %v, want %q", tc.old, tc.new, err, tc.want)
		}
	}
}
