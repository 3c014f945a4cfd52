package pki

import (
	"bytes"
	"crypto"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"time"

	"github.com/devicepki/ceremony/ceremony/durable"
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
func (i *Issued) SHA256() string { return sha256Hex(i.DER) }

// PEM returns the certificate in PEM form.
func (i *Issued) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: i.DER})
}

// SelfSign issues a self-signed certificate of profile p for the key pair
// behind signer (an HSM key), then checks it: the signature verifies with the
// public key the HSM holds, and every field is what the profile asked for.
// Nothing is returned unless every check passes. It is NewDraft and
// Draft.Sign without a pause between them for approval.
func SelfSign(p *Profile, v Validity, serial *big.Int, signer crypto.Signer) (*Issued, error) {
	d, err := NewDraft(p, v, serial, nil, signer.Public(), nil, signer.Public())
	if err != nil {
		return nil, err
	}
	return d.Sign(signer)
}

// Issue issues a certificate of profile p for subjectPub, signed by the
// issuer CA certificate's key (issuerKey, an HSM key), then checks it: the
// certificate chains to issuer, its signature verifies with the issuer key's
// public key as the HSM holds it, and every field is what the profile asked
// for. The validity must lie inside the issuer's.
func Issue(p *Profile, v Validity, serial *big.Int, subjectPub crypto.PublicKey, issuer *x509.Certificate, issuerKey crypto.Signer) (*Issued, error) {
	d, err := NewDraft(p, v, serial, nil, subjectPub, issuer, issuerKey.Public())
	if err != nil {
		return nil, err
	}
	return d.Sign(issuerKey)
}

// CheckIssuer checks that issuer may issue a certificate of profile p with
// validity v: it is a CA that signs certificates, its path length leaves
// room for a CA below it, and v lies inside its validity.
func CheckIssuer(p *Profile, v Validity, issuer *x509.Certificate) error {
	alg, err := keys.AlgorithmOf(issuer.PublicKey)
	if err != nil {
		return fmt.Errorf("issuer %q: %w", issuer.Subject, err)
	}
	return checkIssuer(p, v, issuer, alg)
}

// CheckIssuerProfile is CheckIssuer before the issuer exists: the issuer
// will be a certificate of profile issuer with validity iv, for a key of
// that profile. Scripts are checked with it before anything is signed.
func CheckIssuerProfile(p *Profile, v Validity, issuer *Profile, iv Validity) error {
	return checkIssuer(p, v, issuer.Certificate(iv, big.NewInt(1)), issuer.Key)
}

func checkIssuer(p *Profile, v Validity, issuer *x509.Certificate, alg keys.Algorithm) error {
	switch {
	case !issuer.BasicConstraintsValid || !issuer.IsCA:
		return fmt.Errorf("issuer %q is not a CA certificate", issuer.Subject)
	case issuer.KeyUsage&x509.KeyUsageCertSign == 0:
		return fmt.Errorf("issuer %q may not sign certificates (no keyCertSign)", issuer.Subject)
	case p.IsCA && pathLen(issuer) == 0:
		return fmt.Errorf("issuer %q has path length 0: it cannot issue the CA certificate of template %s", issuer.Subject, p.Name)
	case v.NotBefore.Before(issuer.NotBefore) || v.NotAfter.After(issuer.NotAfter):
		return fmt.Errorf("template %s: validity %s to %s is not inside issuer %q's %s to %s", p.Name,
			v.NotBefore.UTC().Format(time.RFC3339), v.NotAfter.UTC().Format(time.RFC3339), issuer.Subject.CommonName,
			issuer.NotBefore.UTC().Format(time.RFC3339), issuer.NotAfter.UTC().Format(time.RFC3339))
	}
	if err := checkSignatureSuits(alg, p.SignatureAlgorithmFor(alg), fmt.Sprintf("the issuer's %s key", alg)); err != nil {
		return fmt.Errorf("template %s: signature_algorithm: %w", p.Name, err)
	}
	return nil
}

// checkIssued verifies cert's signature with issuerPub (read from the HSM)
// and compares its fields with the template it was made from.
func checkIssued(tmpl, cert *x509.Certificate, subjectPub, issuerPub crypto.PublicKey) error {
	key := &x509.Certificate{PublicKey: issuerPub}
	if err := key.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
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

// subjectKeyID computes the subject key identifier of RFC 5280 4.2.1.2
// method (1): the SHA-1 of the subjectPublicKey bit string. Go adds one by
// itself only to CA certificates; every certificate we issue carries one.
func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encode public key: %w", err)
	}
	var spki struct {
		Algorithm asn1.RawValue
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, fmt.Errorf("decode public key: %w", err)
	}
	sum := sha1.Sum(spki.PublicKey.Bytes)
	return sum[:], nil
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

// maxCertificateFile bounds a certificate file read by ReadCertificateFile.
const maxCertificateFile = 1 << 16

// ReadCertificateFile reads a file holding exactly one PEM certificate and
// nothing else: a regular file (a FIFO is refused, not waited on) of at
// most 64 KiB. Errors name what the certificate is for and the file.
func ReadCertificateFile(what, path string) (*x509.Certificate, error) {
	data, err := readRegular(what, path, maxCertificateFile)
	if err != nil {
		return nil, err
	}
	return parseCertificatePEM(what, path, data)
}

// parseCertificatePEM parses data, read from path, as ReadCertificateFile
// does.
func parseCertificatePEM(what, path string, data []byte) (*x509.Certificate, error) {
	der, err := decodePEM(what, path, "CERTIFICATE", "the certificate", data)
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %v", what, path, err)
	}
	return c, nil
}

// readRegular reads a regular file (a FIFO is refused, not waited on) of
// at most max bytes. Errors name what the file is for.
func readRegular(what, path string, max int64) ([]byte, error) {
	data, err := durable.ReadRegularFile(path, max)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, path, durable.Cause(err))
	}
	return data, nil
}

// decodePEM returns the bytes of the one PEM block of type typ that data,
// read from path, holds with nothing else (white space aside). Errors name
// what the file is for.
func decodePEM(what, path, typ, alone string, data []byte) ([]byte, error) {
	block, rest := pem.Decode(data)
	switch {
	case block == nil || block.Type != typ:
		return nil, fmt.Errorf("%s %s: no PEM %s block", what, path, typ)
	case len(bytes.TrimSpace(rest)) > 0:
		return nil, fmt.Errorf("%s %s: more than one PEM block; give %s alone", what, path, alone)
	}
	return block.Bytes, nil
}

// sha256Hex returns the hex SHA-256 of b.
func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
