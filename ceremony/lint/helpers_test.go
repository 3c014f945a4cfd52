package lint

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"
)

// The certificates below are what the ceremony issues, built with Go's
// crypto/x509 (as the pki package does) and fixed dates, so that which
// lints are in effect does not depend on the day the tests run.
var (
	notBefore = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	company   = pkix.Name{Country: []string{"DE"}, Organization: []string{"Example Devices GmbH"}}
)

func named(cn string) pkix.Name {
	n := company
	n.CommonName = cn
	return n
}

func serial(n int64) *big.Int {
	// 16 bytes like pki.NewSerial, positive, distinct per certificate.
	s := new(big.Int).Lsh(big.NewInt(0x5a17), 112)
	return s.Add(s, big.NewInt(n))
}

func newKey(t testing.TB, curve elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// issuer is a CA certificate with its key.
type issuer struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// ski computes a subject key identifier like the pki package does (RFC
// 5280 4.2.1.2 method 1), which gives one to every certificate it issues.
func ski(t testing.TB, pub crypto.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	var spki struct {
		Algorithm asn1.RawValue
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum(spki.PublicKey.Bytes)
	return sum[:]
}

// create signs tmpl for pub by iss (self-signed if iss.cert is nil). A
// template without a subject key identifier gets one, as in the pki
// package; an empty non-nil SubjectKeyId asks for none (Go still adds
// one to CA certificates).
func create(t testing.TB, tmpl *x509.Certificate, pub crypto.PublicKey, iss *issuer) []byte {
	t.Helper()
	if tmpl.SubjectKeyId == nil {
		tmpl.SubjectKeyId = ski(t, pub)
	}
	parent, signer := tmpl, iss.key
	if iss.cert != nil {
		parent = iss.cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func rootTemplate() *x509.Certificate {
	return &x509.Certificate{
		SerialNumber:          serial(1),
		Subject:               named("Example Devices Root CA R1"),
		NotBefore:             notBefore,
		NotAfter:              notBefore.AddDate(20, 0, 0),
		SignatureAlgorithm:    x509.ECDSAWithSHA384,
		BasicConstraintsValid: true,
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
}

// newRoot returns a self-signed P-384 root (the root-ca template).
func newRoot(t testing.TB) (*issuer, []byte) {
	t.Helper()
	key := newKey(t, elliptic.P384())
	der := create(t, rootTemplate(), key.Public(), &issuer{key: key})
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &issuer{cert: cert, key: key}, der
}

// intermediateTemplate is a factory intermediate CA: pathlen 0, no EKU.
func intermediateTemplate() *x509.Certificate {
	return &x509.Certificate{
		SerialNumber:          serial(2),
		Subject:               named("Example Devices Factory CA 1"),
		NotBefore:             notBefore,
		NotAfter:              notBefore.AddDate(10, 0, 0),
		SignatureAlgorithm:    x509.ECDSAWithSHA384,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
}

// codeSigningTemplate is the firmware-signing certificate.
func codeSigningTemplate() *x509.Certificate {
	return &x509.Certificate{
		SerialNumber:          serial(3),
		Subject:               named("Example Devices Firmware Signing 1"),
		NotBefore:             notBefore,
		NotAfter:              notBefore.AddDate(5, 0, 0),
		SignatureAlgorithm:    x509.ECDSAWithSHA384,
		BasicConstraintsValid: true,
		IsCA:                  false,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
}

// registrationCode is an AWS IoT CA registration code (64 hex digits).
const registrationCode = "4c1bd96a3e06e0b5d4f5b1f0a7c7e2a0b5e5f3a1c2d4e6f8091a2b3c4d5e6f70"

// verificationTemplate is an AWS IoT CA verification certificate: the CA
// being registered signs a certificate whose CN is the registration code.
func verificationTemplate() *x509.Certificate {
	return &x509.Certificate{
		SerialNumber:          serial(4),
		Subject:               pkix.Name{CommonName: registrationCode},
		NotBefore:             notBefore,
		NotAfter:              notBefore.AddDate(0, 0, 7),
		SignatureAlgorithm:    x509.ECDSAWithSHA384,
		BasicConstraintsValid: true,
		IsCA:                  false,
		KeyUsage:              x509.KeyUsageDigitalSignature,
	}
}

// transcriptSigningTemplate follows templates/transcript-signing.yaml.
func transcriptSigningTemplate() *x509.Certificate {
	n := named("Example Devices Ceremony Transcript Signing 1")
	n.OrganizationalUnit = []string{"Key Ceremonies"}
	return &x509.Certificate{
		SerialNumber:          serial(5),
		Subject:               n,
		NotBefore:             notBefore,
		NotAfter:              notBefore.AddDate(20, 0, 0),
		SignatureAlgorithm:    x509.ECDSAWithSHA384,
		BasicConstraintsValid: true,
		IsCA:                  false,
		KeyUsage:              x509.KeyUsageDigitalSignature,
	}
}

// crlTemplate is a root CRL revoking one intermediate for key compromise.
func crlTemplate() *x509.RevocationList {
	thisUpdate := notBefore.AddDate(1, 0, 0)
	return &x509.RevocationList{
		SignatureAlgorithm: x509.ECDSAWithSHA384,
		Number:             big.NewInt(1),
		ThisUpdate:         thisUpdate,
		NextUpdate:         thisUpdate.AddDate(0, 6, 0),
		RevokedCertificateEntries: []x509.RevocationListEntry{{
			SerialNumber:   serial(2),
			RevocationTime: thisUpdate.Add(-time.Hour),
			ReasonCode:     1, // keyCompromise
		}},
	}
}

func createCRL(t testing.TB, tmpl *x509.RevocationList, iss *issuer) []byte {
	t.Helper()
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, iss.cert, iss.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// names lists the lint names of findings.
func names(fs []Finding) []string {
	out := []string{}
	for _, f := range fs {
		out = append(out, f.Lint)
	}
	return out
}

// tbsCRL and crl are the ASN.1 of RFC 5280 5.1, to build a CRL that Go's
// x509.CreateRevocationList refuses to make.
type tbsCRL struct {
	Version    int `asn1:"optional,default:0"`
	Signature  pkix.AlgorithmIdentifier
	Issuer     asn1.RawValue
	ThisUpdate time.Time
	NextUpdate time.Time        `asn1:"optional"`
	Revoked    asn1.RawValue    `asn1:"optional"`
	Extensions []pkix.Extension `asn1:"tag:0,optional,explicit"`
}

type crl struct {
	TBS       asn1.RawValue
	Algorithm pkix.AlgorithmIdentifier
	Signature asn1.BitString
}

// withoutExtension re-signs a CRL made by createCRL (with at least one
// revoked entry) after removing the CRL extension oid.
func withoutExtension(t testing.TB, der []byte, oid asn1.ObjectIdentifier, iss *issuer) []byte {
	t.Helper()
	var outer crl
	if rest, err := asn1.Unmarshal(der, &outer); err != nil || len(rest) > 0 {
		t.Fatalf("crl: %v (%d trailing bytes)", err, len(rest))
	}
	var tbs tbsCRL
	if rest, err := asn1.Unmarshal(outer.TBS.FullBytes, &tbs); err != nil || len(rest) > 0 {
		t.Fatalf("tbs crl: %v (%d trailing bytes)", err, len(rest))
	}
	var kept []pkix.Extension
	for _, e := range tbs.Extensions {
		if !e.Id.Equal(oid) {
			kept = append(kept, e)
		}
	}
	if len(kept) == len(tbs.Extensions) {
		t.Fatalf("crl has no extension %v", oid)
	}
	tbs.Extensions = kept
	tbsDER, err := asn1.Marshal(tbs)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha512.Sum384(tbsDER)
	sig, err := iss.key.Sign(rand.Reader, digest[:], crypto.SHA384)
	if err != nil {
		t.Fatal(err)
	}
	outer.TBS = asn1.RawValue{FullBytes: tbsDER}
	outer.Signature = asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}
	out, err := asn1.Marshal(outer)
	if err != nil {
		t.Fatal(err)
	}
	// Go must still read it, and it must really lack the extension.
	rl, err := x509.ParseRevocationList(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := rl.CheckSignatureFrom(iss.cert); err != nil {
		t.Fatal(err)
	}
	for _, e := range rl.Extensions {
		if e.Id.Equal(oid) {
			t.Fatalf("extension %v still present", oid)
		}
	}
	return out
}
