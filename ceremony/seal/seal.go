// Package seal makes and checks transcript seals.
//
// A seal is a detached CMS SignedData (RFC 5652), in DER, over the exact
// bytes of a file (a ceremony transcript). It is signed by the HSM-held audit
// key and carries the audit certificate, usually followed by the root
// certificate. Its signed attributes are contentType (id-data),
// messageDigest and signingTime. Auditors check a seal with stock openssl:
//
//	openssl cms -verify -binary -inform DER -in transcript.sig \
//	    -content transcript.jsonl -CAfile root-ca.crt.pem -purpose any -out /dev/null
//
// CMS encoding, signing and signature verification are package
// github.com/smallstep/pkcs7's. This package picks the algorithms, parses
// strictly (canonical DER, detached, one signer, exactly the three signed
// attributes) and checks the chain to a pinned root.
package seal

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/smallstep/pkcs7"

	"github.com/devicepki/ceremony/ceremony/keys"
)

// profile is the digest and signature algorithm a seal uses for a key.
type profile struct {
	hash      crypto.Hash
	digest    asn1.ObjectIdentifier // signerInfo.digestAlgorithm
	signature asn1.ObjectIdentifier // signerInfo.signatureAlgorithm
}

// profileFor returns the profile for a public key: the signature its
// algorithm makes (keys.Algorithm.SignatureAlgorithm): SHA-256 for P-256
// and RSA, SHA-384 for P-384, SHA-512 for P-521; ECDSA signs with
// ecdsa-with-SHAxxx, RSA with sha256WithRSAEncryption (PKCS #1 v1.5).
func profileFor(pub crypto.PublicKey) (profile, error) {
	alg, err := keys.AlgorithmOf(pub)
	if err != nil {
		return profile{}, err
	}
	h := alg.Hash()
	digest, ok := digestOIDs[h]
	if !ok {
		return profile{}, fmt.Errorf("no seal algorithms for %s keys", alg.Describe())
	}
	if !alg.IsECDSA() {
		return profile{h, digest, pkcs7.OIDEncryptionAlgorithmRSASHA256}, nil
	}
	return profile{h, digest, ecdsaOIDs[h]}, nil
}

// digestOIDs and ecdsaOIDs name in CMS the digests keys.Algorithm.Hash
// picks and the ECDSA signatures over them.
var (
	digestOIDs = map[crypto.Hash]asn1.ObjectIdentifier{
		crypto.SHA256: pkcs7.OIDDigestAlgorithmSHA256,
		crypto.SHA384: pkcs7.OIDDigestAlgorithmSHA384,
		crypto.SHA512: pkcs7.OIDDigestAlgorithmSHA512,
	}
	ecdsaOIDs = map[crypto.Hash]asn1.ObjectIdentifier{
		crypto.SHA256: pkcs7.OIDDigestAlgorithmECDSASHA256,
		crypto.SHA384: pkcs7.OIDDigestAlgorithmECDSASHA384,
		crypto.SHA512: pkcs7.OIDDigestAlgorithmECDSASHA512,
	}
)

// Sign returns a detached CMS SignedData (DER) over content signed by
// signer, whose public key must equal cert's. The digest is SHA-256 for
// P-256 and RSA keys, SHA-384 for P-384 and SHA-512 for P-521; ECDSA keys
// sign with ecdsa-with-SHAxxx. The SignedData carries cert first, then chain
// (e.g. the root). The signed attributes are contentType, messageDigest and
// signingTime (now).
//
// Before returning, Sign parses its own output and verifies it against
// content, so a broken signer, or a certificate not valid now, yields an
// error rather than a seal.
func Sign(content []byte, signer crypto.Signer, cert *x509.Certificate, chain []*x509.Certificate) ([]byte, error) {
	if signer == nil || cert == nil {
		return nil, errors.New("sign a seal: no signing key or no certificate")
	}
	if !keys.SamePublicKey(signer.Public(), cert.PublicKey) {
		return nil, fmt.Errorf("the signing key does not belong to certificate %q", cert.Subject)
	}
	p, err := profileFor(cert.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("certificate %q: %w", cert.Subject, err)
	}
	sd, err := pkcs7.NewSignedData(content)
	if err != nil {
		return nil, fmt.Errorf("sign a seal: %w", err)
	}
	sd.SetDigestAlgorithm(p.digest)
	if err := sd.AddSigner(cert, signer, pkcs7.SignerInfoConfig{}); err != nil {
		return nil, fmt.Errorf("sign a seal with %q: %w", cert.Subject, err)
	}
	for i, c := range chain {
		if c == nil {
			return nil, fmt.Errorf("sign a seal: chain certificate %d is missing", i)
		}
		sd.AddCertificate(c)
	}
	sd.Detach()
	der, err := sd.Finish()
	if err != nil {
		return nil, fmt.Errorf("sign a seal: %w", err)
	}
	s, err := Parse(der)
	if err != nil {
		return nil, fmt.Errorf("the seal just signed does not parse: %w", err)
	}
	if err := s.Verify(content); err != nil {
		return nil, fmt.Errorf("the seal just signed does not verify: %w", err)
	}
	return der, nil
}

// Seal is a parsed seal. Only Parse makes one.
type Seal struct {
	Signer       *x509.Certificate   // the certificate of the key that signed
	Certificates []*x509.Certificate // every certificate the seal carries, Signer included, in order
	SigningTime  time.Time           // the signingTime signed attribute
	Digest       string              // "SHA-256", "SHA-384" or "SHA-512"

	p7     *pkcs7.PKCS7
	hash   crypto.Hash
	sealed []byte // the messageDigest signed attribute
	rawSI  []byte // the DER signer info
}

// contentInfo and the types below mirror the outer layers of a CMS
// SignedData (RFC 5652 sections 3 and 5.1). Parse decodes them only to check
// what package pkcs7 neither checks nor exposes: pkcs7.Parse converts BER to
// DER, ignores trailing bytes and decoding errors inside the SignedData, and
// hides the versions, the encapsulated content and the digest algorithm list.
type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     signedData `asn1:"explicit,tag:0"`
}

type signedData struct {
	Version          int
	DigestAlgorithms []pkix.AlgorithmIdentifier `asn1:"set"`
	EncapContentInfo encapsulatedContentInfo
	Certificates     asn1.RawValue   `asn1:"optional,tag:0"`
	CRLs             asn1.RawValue   `asn1:"optional,tag:1"`
	SignerInfos      []asn1.RawValue `asn1:"set"`
}

type encapsulatedContentInfo struct {
	EContentType asn1.ObjectIdentifier
	EContent     asn1.RawValue `asn1:"optional,explicit,tag:0"`
}

// Parse parses a seal strictly: canonical DER with nothing after it (not BER,
// not PEM), a SignedData whose content is detached, exactly one signer whose
// certificate the seal carries, the digest and signature algorithms of the
// signer's key type, the signed attributes contentType (id-data),
// messageDigest and signingTime and no others, and no unsigned attributes.
// Parse checks no signature: see Verify and VerifyChain.
func Parse(der []byte) (*Seal, error) {
	if len(der) == 0 {
		return nil, errors.New("the seal is empty")
	}
	if bytes.HasPrefix(bytes.TrimLeft(der, " \t\r\n"), []byte("-----BEGIN")) {
		return nil, errors.New("PEM given, expected DER")
	}
	sd, err := parseEnvelope(der)
	if err != nil {
		return nil, err
	}

	p7, err := pkcs7.Parse(der)
	if err != nil {
		return nil, unreadable(err)
	}
	// p7 must hold exactly the bytes checked above.
	var certs []byte
	for _, c := range p7.Certificates {
		certs = append(certs, c.Raw...)
	}
	if !bytes.Equal(certs, sd.Certificates.Bytes) || len(p7.Signers) != 1 {
		return nil, errors.New("the seal's certificates or signer info do not parse")
	}
	si := p7.Signers[0]
	if again, err := asn1.Marshal(si); err != nil || !bytes.Equal(again, sd.SignerInfos[0].FullBytes) {
		return nil, errors.New("the seal's signer info is not canonical DER")
	}
	if si.Version != 1 {
		return nil, fmt.Errorf("signer info version %d, expected 1", si.Version)
	}
	signer := p7.GetOnlySigner()
	if signer == nil {
		return nil, errors.New("the seal does not carry the certificate of its signer")
	}
	for _, c := range p7.Certificates {
		if c != signer && c.SerialNumber.Cmp(signer.SerialNumber) == 0 && bytes.Equal(c.RawIssuer, signer.RawIssuer) {
			return nil, errors.New("the seal carries two certificates with its signer's issuer and serial number")
		}
	}
	p, err := profileFor(signer.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("the seal's signer %q: %w", signer.Subject, err)
	}
	switch {
	case !isAlgorithm(si.DigestAlgorithm, p.digest):
		return nil, fmt.Errorf("the seal's digest algorithm is %s, expected %s (%s) for its signer's key", si.DigestAlgorithm.Algorithm, p.digest, p.hash)
	case !isAlgorithm(sd.DigestAlgorithms[0], p.digest):
		return nil, fmt.Errorf("the seal lists digest algorithm %s, but its signer uses %s (%s)", sd.DigestAlgorithms[0].Algorithm, p.digest, p.hash)
	case !isAlgorithm(si.DigestEncryptionAlgorithm, p.signature):
		return nil, fmt.Errorf("the seal's signature algorithm is %s, expected %s for its signer's key", si.DigestEncryptionAlgorithm.Algorithm, p.signature)
	case len(si.UnauthenticatedAttributes) > 0:
		return nil, errors.New("the seal has unsigned attributes; a seal has none")
	}

	var (
		contentType asn1.ObjectIdentifier
		sealed      []byte
		signingTime time.Time
		seen        = map[string]bool{}
		previous    []byte
	)
	for _, a := range si.AuthenticatedAttributes {
		enc, err := asn1.Marshal(a)
		if err != nil || bytes.Compare(previous, enc) >= 0 {
			return nil, errors.New("the seal's signed attributes are not in DER order")
		}
		previous = enc
		var value any
		switch {
		case a.Type.Equal(pkcs7.OIDAttributeContentType):
			value = &contentType
		case a.Type.Equal(pkcs7.OIDAttributeMessageDigest):
			value = &sealed
		case a.Type.Equal(pkcs7.OIDAttributeSigningTime):
			value = &signingTime
		default:
			return nil, fmt.Errorf("the seal has an unexpected signed attribute %s", a.Type)
		}
		if seen[a.Type.String()] {
			return nil, fmt.Errorf("the seal has signed attribute %s twice", a.Type)
		}
		seen[a.Type.String()] = true
		if rest, err := asn1.Unmarshal(a.Value.Bytes, value); err != nil || len(rest) > 0 {
			return nil, fmt.Errorf("the seal's signed attribute %s is not exactly one valid value", a.Type)
		}
	}
	switch {
	case !contentType.Equal(pkcs7.OIDData):
		return nil, errors.New("the seal's contentType attribute is missing or not id-data")
	case len(sealed) != p.hash.Size():
		return nil, fmt.Errorf("the seal's messageDigest attribute is missing or not a %s digest", p.hash)
	case signingTime.IsZero():
		return nil, errors.New("the seal has no signingTime attribute")
	}
	return &Seal{
		Signer:       signer,
		Certificates: p7.Certificates,
		SigningTime:  signingTime,
		Digest:       p.hash.String(),
		p7:           p7,
		hash:         p.hash,
		sealed:       sealed,
		rawSI:        sd.SignerInfos[0].FullBytes,
	}, nil
}

// parseEnvelope decodes the outer layers of a seal and checks them.
func parseEnvelope(der []byte) (signedData, error) {
	var ci contentInfo
	rest, err := asn1.Unmarshal(der, &ci)
	if err != nil {
		return signedData{}, unreadable(err)
	}
	if len(rest) > 0 {
		return signedData{}, fmt.Errorf("%d bytes of trailing data after the seal", len(rest))
	}
	sd := ci.Content
	switch {
	case !ci.ContentType.Equal(pkcs7.OIDSignedData):
		return signedData{}, fmt.Errorf("content type %s is not CMS SignedData", ci.ContentType)
	case sd.Version != 1:
		return signedData{}, fmt.Errorf("SignedData version %d, expected 1", sd.Version)
	case !sd.EncapContentInfo.EContentType.Equal(pkcs7.OIDData):
		return signedData{}, fmt.Errorf("sealed content type %s, expected id-data", sd.EncapContentInfo.EContentType)
	case len(sd.EncapContentInfo.EContent.FullBytes) > 0:
		return signedData{}, errors.New("the seal embeds its content; a seal must be detached")
	case len(sd.CRLs.FullBytes) > 0:
		return signedData{}, errors.New("the seal carries CRLs; a seal carries none")
	case len(sd.SignerInfos) != 1:
		return signedData{}, fmt.Errorf("the seal has %d signers, expected exactly one", len(sd.SignerInfos))
	case len(sd.DigestAlgorithms) != 1:
		return signedData{}, fmt.Errorf("the seal lists %d digest algorithms, expected one", len(sd.DigestAlgorithms))
	}
	if again, err := asn1.Marshal(ci); err != nil || !bytes.Equal(again, der) {
		return signedData{}, errors.New("not a CMS signature this tool can read: its encoding is not canonical DER (it is damaged, or not a seal)")
	}
	return sd, nil
}

// isAlgorithm reports whether id is oid without parameters.
func isAlgorithm(id pkix.AlgorithmIdentifier, oid asn1.ObjectIdentifier) bool {
	return id.Algorithm.Equal(oid) && len(id.Parameters.FullBytes) == 0
}

// ErrContentChanged is returned, wrapped, by Verify when the content does
// not hash to the digest the seal signed.
var ErrContentChanged = errors.New("the content differs from what was sealed")

// ErrBadSignature is returned, wrapped, by Verify when the seal's
// signature does not verify: the seal (or the signed digest in it) was
// changed after signing.
var ErrBadSignature = errors.New("the seal's signature does not match: the content or its seal was changed after sealing")

// unreadable says that the bytes are not a seal this package can decode,
// with the decoder's reason, shortened, as the cause.
func unreadable(err error) error {
	return fmt.Errorf("not a CMS signature this tool can read: it is damaged, or not a seal (%s)", cause(err))
}

// cause shortens a decoder's error to one short printable line, to follow
// a sentence in parentheses.
func cause(err error) string {
	cause := err.Error()
	for _, noise := range []string{"syntax error: ", "structure error: "} {
		cause = strings.Replace(cause, noise, "", 1)
	}
	if r := []rune(cause); len(r) > 120 {
		cause = string(r[:120]) + "…"
	}
	cause = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return '?'
		}
		return r
	}, cause)
	return cause
}

// Verify checks that the seal signs exactly content: content hashes to the
// messageDigest attribute (else an error wrapping ErrContentChanged), the
// signature over the signed attributes verifies with the key of the signer
// certificate, and the signing time is inside that certificate's validity.
// It trusts no certificate: see VerifyChain.
func (s *Seal) Verify(content []byte) error {
	if s == nil || s.p7 == nil {
		return errors.New("not a parsed seal")
	}
	if err := s.checkAttributeSignature(); err != nil {
		return fmt.Errorf("%w: it does not verify with the key of its signer %q", ErrBadSignature, s.Signer.Subject)
	}
	h := s.hash.New()
	h.Write(content)
	if sum := h.Sum(nil); !bytes.Equal(sum, s.sealed) {
		return fmt.Errorf("%w: its %s is %x, the seal signed %x", ErrContentChanged, s.Digest, sum, s.sealed)
	}
	if err := s.checkSigningTime(); err != nil {
		return err
	}
	p7 := *s.p7
	p7.Content = content
	if err := p7.Verify(); err != nil {
		return fmt.Errorf("%w: it does not verify with the key of its signer %q", ErrBadSignature, s.Signer.Subject)
	}
	return nil
}

func (s *Seal) checkSigningTime() error {
	c := s.Signer
	if s.SigningTime.Before(c.NotBefore) || s.SigningTime.After(c.NotAfter) {
		return fmt.Errorf("the seal was signed at %s, outside the validity of its certificate %q (%s to %s)",
			s.SigningTime.UTC().Format(time.RFC3339), c.Subject,
			c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339))
	}
	return nil
}

// VerifyChain checks that the signer certificate chains to root at the
// seal's signing time, trusting only root (the other certificates the seal
// carries may serve as intermediates); that the signer certificate is fit to
// seal: not a CA, and its key usage includes digitalSignature; and that every
// certificate the seal carries is on that chain, so nothing in a seal goes
// unchecked. It does not check the signature: see Verify.
func (s *Seal) VerifyChain(root *x509.Certificate) error {
	if s == nil || s.p7 == nil {
		return errors.New("not a parsed seal")
	}
	if root == nil {
		return errors.New("no pinned root certificate to verify the seal against")
	}
	c := s.Signer
	if c.IsCA {
		return fmt.Errorf("the seal was signed by %q, a CA certificate; a seal is signed by an end-entity audit certificate", c.Subject)
	}
	if c.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return fmt.Errorf("the seal was signed by %q, whose key usage does not include digitalSignature", c.Subject)
	}
	if err := s.checkSigningTime(); err != nil {
		return err
	}
	roots := x509.NewCertPool()
	roots.AddCert(root)
	intermediates := x509.NewCertPool()
	for _, carried := range s.Certificates {
		if carried != c {
			intermediates.AddCert(carried)
		}
	}
	chains, err := c.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: intermediates,
		CurrentTime:   s.SigningTime,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if errors.As(err, new(x509.UnknownAuthorityError)) {
		return fmt.Errorf("the seal does not chain to the pinned root: it was signed by %q issued by %q; the pinned root is %q (SHA-256 %s)",
			c.Subject, c.Issuer, root.Subject, Fingerprint(root))
	}
	if err != nil {
		return fmt.Errorf("the seal's certificate %q does not verify against the pinned root %q at the signing time %s: the certificates the seal carries are damaged, or not valid for it (%s)",
			c.Subject, root.Subject, s.SigningTime.UTC().Format(time.RFC3339), cause(err))
	}
	for _, carried := range s.Certificates {
		if !onChain(chains, carried) {
			return fmt.Errorf("the seal carries a certificate that is not on its chain to the pinned root: %q (SHA-256 %s)",
				carried.Subject, Fingerprint(carried))
		}
	}
	return nil
}

func onChain(chains [][]*x509.Certificate, cert *x509.Certificate) bool {
	for _, chain := range chains {
		for _, c := range chain {
			if c.Equal(cert) {
				return true
			}
		}
	}
	return false
}

// CertificateBySHA256 returns the carried certificate whose DER hashes to
// the SHA-256 fingerprint (hex, any case, colons and spaces ignored), or nil
// if there is none or the fingerprint is malformed. It serves
// --root-fingerprint: the auditor names the root, the seal supplies it.
func (s *Seal) CertificateBySHA256(fingerprint string) *x509.Certificate {
	fp, err := NormalizeFingerprint(fingerprint)
	if err != nil {
		return nil
	}
	for _, c := range s.Certificates {
		if Fingerprint(c) == fp {
			return c
		}
	}
	return nil
}

// Fingerprint returns the SHA-256 of a certificate's DER as lower-case hex,
// the value of `openssl x509 -noout -fingerprint -sha256` without colons.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return hex.EncodeToString(sum[:])
}

// NormalizeFingerprint returns a SHA-256 fingerprint as 64 lower-case hex
// digits. It accepts upper or lower case and ignores colons and spaces, so
// openssl's "AB:CD:..." form is accepted.
func NormalizeFingerprint(s string) (string, error) {
	// openssl x509 -noout -fingerprint -sha256 prints
	// "sha256 Fingerprint=AB:CD:...": the whole line is taken.
	if i := strings.Index(strings.ToLower(s), "fingerprint="); i >= 0 {
		if alg := strings.TrimSpace(s[:i]); !strings.EqualFold(alg, "sha256") && !strings.EqualFold(alg, "sha2-256") {
			return "", fmt.Errorf("a %q fingerprint; give the SHA-256 one (openssl x509 -noout -fingerprint -sha256)", alg)
		}
		s = s[i+len("fingerprint="):]
	}
	digits := make([]byte, 0, 64)
	for _, r := range s {
		switch {
		case r == ':' || r == ' ':
		case '0' <= r && r <= '9', 'a' <= r && r <= 'f':
			digits = append(digits, byte(r))
		case 'A' <= r && r <= 'F':
			digits = append(digits, byte(r-'A'+'a'))
		default:
			return "", fmt.Errorf("SHA-256 fingerprint contains %q, which is not a hex digit", r)
		}
	}
	if len(digits) != 64 {
		return "", fmt.Errorf("SHA-256 fingerprint has %d hex digits, expected 64", len(digits))
	}
	return string(digits), nil
}

// checkAttributeSignature checks the signature over the signed attributes
// alone (RFC 5652 5.4: their DER with the tag of a SET), so that a damaged
// seal is told apart from changed content.
func (s *Seal) checkAttributeSignature() error {
	var si struct {
		Version            int
		SID                asn1.RawValue
		DigestAlgorithm    pkix.AlgorithmIdentifier
		SignedAttrs        asn1.RawValue `asn1:"optional,tag:0"`
		SignatureAlgorithm pkix.AlgorithmIdentifier
		Signature          []byte
	}
	if _, err := asn1.Unmarshal(s.rawSI, &si); err != nil {
		return err
	}
	attrs := bytes.Clone(si.SignedAttrs.FullBytes)
	if len(attrs) == 0 {
		return errors.New("no signed attributes")
	}
	attrs[0] = 0x31
	alg, err := keys.AlgorithmOf(s.Signer.PublicKey)
	if err != nil {
		return err
	}
	return s.Signer.CheckSignature(alg.SignatureAlgorithm(), attrs, si.Signature)
}
