package pki

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"

	"github.com/devicepki/ceremony/ceremony/keys"
)

// serialLen is the number of random bytes in a serial number: 127 bits of
// entropy once the top bit is cleared to keep the number positive.
const serialLen = 16

// NewSerial returns a positive certificate serial number of 127 random bits
// read from rng, which should be the HSM's random number generator.
func NewSerial(rng io.Reader) (*big.Int, error) {
	b := make([]byte, serialLen)
	if _, err := io.ReadFull(rng, b); err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	b[0] &= 0x7f
	n := new(big.Int).SetBytes(b)
	if n.BitLen() < 64 {
		// Fewer than 64 significant bits means the RNG is broken (chance 2^-63).
		return nil, errors.New("serial number: random number generator returned too many zero bits")
	}
	return n, nil
}

// Certificate returns the x509 template for a certificate of this profile
// with the given validity and serial number. The public key is not part of
// it: x509.CreateCertificate takes it separately.
func (p *Profile) Certificate(v Validity, serial *big.Int) *x509.Certificate {
	c := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               p.Subject,
		NotBefore:             v.NotBefore,
		NotAfter:              v.NotAfter,
		SignatureAlgorithm:    p.SignatureAlgorithm,
		BasicConstraintsValid: true,
		IsCA:                  p.IsCA,
		MaxPathLen:            p.MaxPathLen,
		MaxPathLenZero:        p.MaxPathLenZero,
		KeyUsage:              p.KeyUsage,
		ExtKeyUsage:           slices.Clone(p.ExtKeyUsage),
		CRLDistributionPoints: slices.Clone(p.CRLDistributionPoints),
		IssuingCertificateURL: slices.Clone(p.IssuingCertificateURL),
		OCSPServer:            slices.Clone(p.OCSPServer),
		Policies:              slices.Clone(p.Policies),
	}
	for _, oid := range p.UnknownEKU {
		c.UnknownExtKeyUsage = append(c.UnknownExtKeyUsage, slices.Clone(oid))
	}
	if nc := p.NameConstraints; nc != nil {
		c.PermittedDNSDomainsCritical = nc.Critical
		c.PermittedDNSDomains, c.ExcludedDNSDomains = nc.PermittedDNS, nc.ExcludedDNS
		c.PermittedIPRanges, c.ExcludedIPRanges = nc.PermittedIP, nc.ExcludedIP
		c.PermittedEmailAddresses, c.ExcludedEmailAddresses = nc.PermittedEmail, nc.ExcludedEmail
		c.PermittedURIDomains, c.ExcludedURIDomains = nc.PermittedURI, nc.ExcludedURI
	}
	return c
}

// Issued is a certificate that has been signed and checked.
type Issued struct {
	Cert *x509.Certificate
	DER  []byte
}

// SHA256 returns the hex SHA-256 of the DER certificate, as
// `openssl x509 -noout -fingerprint -sha256` prints it (without colons).
func (i *Issued) SHA256() string {
	sum := sha256.Sum256(i.DER)
	return hex.EncodeToString(sum[:])
}

// PEM returns the certificate in PEM form.
func (i *Issued) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: i.DER})
}

// SelfSign issues a self-signed certificate of profile p for the key pair
// behind signer (an HSM key), then checks it: the signature verifies with the
// public key the HSM holds, and every field is what the profile asked for.
// Nothing is returned unless every check passes.
func SelfSign(p *Profile, v Validity, serial *big.Int, signer crypto.Signer) (*Issued, error) {
	if !p.SelfSigned() {
		return nil, fmt.Errorf("template %s: a %s profile is not self-signed", p.Name, p.Kind)
	}
	pub := signer.Public()
	alg, err := keys.AlgorithmOf(pub)
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", p.Name, err)
	}
	if alg != p.Key {
		return nil, fmt.Errorf("template %s wants a %s key, the key is %s", p.Name, p.Key.Describe(), alg.Describe())
	}
	tmpl := p.Certificate(v, serial)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, signer)
	if err != nil {
		return nil, fmt.Errorf("sign certificate %q: %w", p.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse the certificate just signed: %w", err)
	}
	if err := checkIssued(tmpl, cert, pub, pub); err != nil {
		return nil, fmt.Errorf("certificate %q failed its check after signing: %w", p.Subject.CommonName, err)
	}
	if !bytes.Equal(cert.RawSubject, cert.RawIssuer) {
		return nil, fmt.Errorf("certificate %q: issuer differs from subject in a self-signed certificate", p.Subject.CommonName)
	}
	return &Issued{Cert: cert, DER: der}, nil
}

// checkIssued verifies cert's signature with issuerPub (read from the HSM)
// and compares its fields with the template it was made from.
func checkIssued(tmpl, cert *x509.Certificate, subjectPub, issuerPub crypto.PublicKey) error {
	issuer := *cert
	issuer.PublicKey = issuerPub
	if err := cert.CheckSignatureFrom(&issuer); err != nil {
		return fmt.Errorf("signature does not verify with the HSM's public key: %w", err)
	}
	if !keys.SamePublicKey(cert.PublicKey, subjectPub) {
		return errors.New("certificate holds a different public key from the HSM's")
	}
	type field struct {
		name      string
		got, want any
	}
	for _, f := range []field{
		{"serial number", cert.SerialNumber.String(), tmpl.SerialNumber.String()},
		{"subject", cert.Subject.String(), tmpl.Subject.String()},
		{"not before", cert.NotBefore.UTC(), tmpl.NotBefore.UTC()},
		{"not after", cert.NotAfter.UTC(), tmpl.NotAfter.UTC()},
		{"signature algorithm", cert.SignatureAlgorithm, tmpl.SignatureAlgorithm},
		{"CA flag", cert.IsCA, tmpl.IsCA},
		{"key usage", cert.KeyUsage, tmpl.KeyUsage},
		{"extended key usage", fmt.Sprint(cert.ExtKeyUsage), fmt.Sprint(tmpl.ExtKeyUsage)},
		{"path length", pathLen(cert), pathLen(tmpl)},
		{"policies", fmt.Sprint(cert.Policies), fmt.Sprint(tmpl.Policies)},
		{"other extended key usages", fmt.Sprint(cert.UnknownExtKeyUsage), fmt.Sprint(tmpl.UnknownExtKeyUsage)},
		{"CRL distribution points", fmt.Sprint(cert.CRLDistributionPoints), fmt.Sprint(tmpl.CRLDistributionPoints)},
		{"CA issuers URLs", fmt.Sprint(cert.IssuingCertificateURL), fmt.Sprint(tmpl.IssuingCertificateURL)},
		{"OCSP URLs", fmt.Sprint(cert.OCSPServer), fmt.Sprint(tmpl.OCSPServer)},
		{"name constraints", constraintsOf(cert), constraintsOf(tmpl)},
		{"has a subject key identifier", len(cert.SubjectKeyId) > 0, true},
	} {
		if f.got != f.want {
			return fmt.Errorf("%s is %v, the template says %v", f.name, f.got, f.want)
		}
	}
	return nil
}

// constraintsOf summarises a certificate's name constraints for comparison.
func constraintsOf(c *x509.Certificate) string {
	return fmt.Sprint(c.PermittedDNSDomainsCritical, c.PermittedDNSDomains, c.ExcludedDNSDomains,
		c.PermittedIPRanges, c.ExcludedIPRanges, c.PermittedEmailAddresses, c.ExcludedEmailAddresses,
		c.PermittedURIDomains, c.ExcludedURIDomains)
}

// pathLen returns a certificate's path length constraint, -1 for none.
func pathLen(c *x509.Certificate) int {
	if !c.BasicConstraintsValid || !c.IsCA || (c.MaxPathLen == 0 && !c.MaxPathLenZero) || c.MaxPathLen < 0 {
		return -1
	}
	return c.MaxPathLen
}

// PublicKeyPEM encodes pub as a PEM "PUBLIC KEY" (SubjectPublicKeyInfo), the
// form `openssl pkey -pubin` reads.
func PublicKeyPEM(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encode public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}
