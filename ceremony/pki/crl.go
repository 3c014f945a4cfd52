package pki

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"path/filepath"
	"strings"
	"time"

	"github.com/devicepki/ceremony/ceremony/durable"
	"github.com/devicepki/ceremony/ceremony/keys"
	"github.com/devicepki/ceremony/ceremony/strictyaml"
)

// KindCRL is the profile of a certificate revocation list template.
const KindCRL = "crl"

// crlTemplate is the YAML form of a CRL profile (templates/crl.yaml).
type crlTemplate struct {
	Profile            string   `yaml:"profile"`
	Description        string   `yaml:"description"`
	SignatureAlgorithm string   `yaml:"signature_algorithm"`
	NextUpdate         string   `yaml:"next_update"`
	Lint               lintSpec `yaml:"lint"`
}

// maxNextUpdate bounds how long a CRL from an offline root stays current:
// a CRL ceremony at least once a year.
const maxNextUpdate = 366 * 24 * time.Hour

// CRLProfile is a validated CRL template.
type CRLProfile struct {
	Name, Path, SHA256 string
	Description        string
	SignatureAlgorithm x509.SignatureAlgorithm
	// NextUpdate is how long after thisUpdate the next CRL is due.
	NextUpdate     time.Duration
	LintExclusions []LintExclusion
	doc            *strictyaml.Document
}

// ExcludedLints returns the names of the excluded lints.
func (p *CRLProfile) ExcludedLints() []string {
	out := make([]string, len(p.LintExclusions))
	for i, e := range p.LintExclusions {
		out[i] = e.Lint
	}
	return out
}

// LoadCRL reads, decodes and validates the CRL template at path.
func LoadCRL(path string) (*CRLProfile, error) {
	data, err := durable.ReadFile(durable.Template, path)
	if err != nil {
		return nil, err
	}
	return ParseCRL(path, data)
}

// ParseCRL decodes and validates a CRL template read from path.
func ParseCRL(path string, data []byte) (*CRLProfile, error) {
	var t crlTemplate
	doc, err := strictyaml.Decode(path, data, &t)
	if err != nil {
		return nil, err
	}
	p := &CRLProfile{
		Name: strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)), Path: path,
		SHA256: sha256Hex(data), Description: strings.TrimSpace(t.Description), doc: doc,
	}
	if t.Profile != KindCRL {
		return nil, doc.Errorf("profile", "must be %q for a CRL template (is %q)", KindCRL, t.Profile)
	}
	if p.SignatureAlgorithm, err = parseSignatureAlgorithm(t.SignatureAlgorithm); err != nil {
		return nil, doc.Errorf("signature_algorithm", "%v", err)
	}
	m := durationRE.FindStringSubmatch(t.NextUpdate)
	if m == nil || m[2] == "y" {
		return nil, doc.Errorf("next_update", "%q: give a duration in days or hours such as 90d or 720h", t.NextUpdate)
	}
	var n int
	fmt.Sscanf(m[1], "%d", &n)
	unit := 24 * time.Hour
	if m[2] == "h" {
		unit = time.Hour
	}
	p.NextUpdate = time.Duration(n) * unit
	if n > 100000 || p.NextUpdate > maxNextUpdate {
		return nil, doc.Errorf("next_update", "%s is more than 366 days: relying parties would trust a stale CRL too long", t.NextUpdate)
	}
	lp := &Profile{doc: doc}
	if err := lp.fillLint(t.Lint); err != nil {
		return nil, err
	}
	p.LintExclusions = lp.LintExclusions
	return p, nil
}

// CRLDraft is a CRL ready to be signed: its exact to-be-signed content,
// signed once by a throwaway key of the issuer's type for linting and
// approval. Sign has the HSM sign the same content.
type CRLDraft struct {
	Profile  *CRLProfile
	Template *x509.RevocationList
	// Preview is the throwaway-signed CRL; PreviewDER its encoding.
	Preview    *x509.RevocationList
	PreviewDER []byte
	TBS        []byte
	TBSSHA256  string

	issuer    *x509.Certificate
	issuerKey crypto.PublicKey
}

// NewCRLDraft builds CRL number from issuer (whose key's public half, as
// the HSM holds it, is issuerKey), current from thisUpdate to thisUpdate
// plus the profile's next_update, listing entries. The issuer must be a CA
// that signs CRLs and be valid for the whole period; every entry's serial
// number appears once.
func NewCRLDraft(p *CRLProfile, issuer *x509.Certificate, issuerKey crypto.PublicKey, number *big.Int, thisUpdate time.Time, entries []x509.RevocationListEntry) (*CRLDraft, error) {
	thisUpdate = thisUpdate.UTC().Truncate(time.Second)
	next := thisUpdate.Add(p.NextUpdate)
	alg, err := keys.AlgorithmOf(issuerKey)
	if err != nil {
		return nil, fmt.Errorf("issuer %q: %w", issuer.Subject, err)
	}
	switch {
	case !keys.SamePublicKey(issuer.PublicKey, issuerKey):
		return nil, fmt.Errorf("issuer certificate %q does not belong to the signing key", issuer.Subject)
	case !issuer.IsCA || issuer.KeyUsage&x509.KeyUsageCRLSign == 0:
		return nil, fmt.Errorf("issuer %q may not sign CRLs (it must be a CA with cRLSign)", issuer.Subject)
	case len(issuer.SubjectKeyId) == 0:
		return nil, fmt.Errorf("issuer %q has no subject key identifier for the CRL's authority key identifier", issuer.Subject)
	case thisUpdate.Before(issuer.NotBefore):
		return nil, fmt.Errorf("CRL thisUpdate %s is before issuer %q is valid (%s)", thisUpdate.Format(time.RFC3339), issuer.Subject.CommonName, issuer.NotBefore.UTC().Format(time.RFC3339))
	case next.After(issuer.NotAfter):
		return nil, fmt.Errorf("CRL nextUpdate %s is after issuer %q expires (%s): shorten next_update in template %s", next.Format(time.RFC3339), issuer.Subject.CommonName, issuer.NotAfter.UTC().Format(time.RFC3339), p.Name)
	case number == nil || number.Sign() <= 0 || number.BitLen() > 159:
		return nil, errors.New("CRL number must be positive and at most 20 octets")
	}
	if err := checkSignatureSuits(alg, p.SignatureAlgorithm, fmt.Sprintf("the issuer's %s key", alg)); err != nil {
		return nil, fmt.Errorf("template %s: signature_algorithm: %w", p.Name, err)
	}
	seen := map[string]bool{}
	for _, e := range entries {
		k := e.SerialNumber.String()
		if seen[k] {
			return nil, fmt.Errorf("serial %s listed twice", hex.EncodeToString(e.SerialNumber.Bytes()))
		}
		seen[k] = true
	}
	tmpl := &x509.RevocationList{
		SignatureAlgorithm:        p.SignatureAlgorithm,
		RevokedCertificateEntries: entries,
		Number:                    new(big.Int).Set(number),
		ThisUpdate:                thisUpdate,
		NextUpdate:                next,
	}
	d := &CRLDraft{Profile: p, Template: tmpl, issuer: issuer, issuerKey: issuerKey}
	throwaway, err := newThrowaway(issuerKey)
	if err != nil {
		return nil, err
	}
	c := *issuer
	c.PublicKey = throwaway.Public()
	if d.PreviewDER, err = x509.CreateRevocationList(rand.Reader, tmpl, &c, throwaway); err != nil {
		return nil, fmt.Errorf("build CRL: %w", err)
	}
	if d.Preview, err = x509.ParseRevocationList(d.PreviewDER); err != nil {
		return nil, fmt.Errorf("parse the CRL just built: %w", err)
	}
	d.TBS = d.Preview.RawTBSRevocationList
	d.TBSSHA256 = sha256Hex(d.TBS)
	return d, nil
}

// ReadCRLFile reads a file holding exactly one PEM "X509 CRL" (a regular
// file of at most 1 MiB). Errors name what it is for and the file.
func ReadCRLFile(what, path string) (*x509.RevocationList, error) {
	data, err := readRegular(what, path, durable.CRL.Max)
	if err != nil {
		return nil, err
	}
	return parseCRLPEM(what, path, data)
}

// parseCRLPEM parses data, read from path, as ReadCRLFile does.
func parseCRLPEM(what, path string, data []byte) (*x509.RevocationList, error) {
	der, err := decodePEM(what, path, "X509 CRL", "the CRL", data)
	if err != nil {
		return nil, err
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %v", what, path, err)
	}
	if crl.Number == nil {
		return nil, fmt.Errorf("%s %s: the CRL has no CRL number", what, path)
	}
	return crl, nil
}

// IssuedCRL is a signed and checked CRL.
type IssuedCRL struct {
	CRL *x509.RevocationList
	DER []byte
}

// PEM returns the CRL in PEM form ("X509 CRL", as openssl writes it).
func (c *IssuedCRL) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: c.DER})
}

// SHA256 returns the hex SHA-256 of the DER CRL.
func (c *IssuedCRL) SHA256() string {
	return sha256Hex(c.DER)
}

// Sign has signer (the issuer's HSM key) sign the draft, and checks that
// the signature verifies with the issuer certificate and that the
// to-be-signed bytes are those linted and approved.
func (d *CRLDraft) Sign(signer crypto.Signer) (*IssuedCRL, error) {
	if !keys.SamePublicKey(signer.Public(), d.issuerKey) {
		return nil, errors.New("the signing key is not the issuer key the CRL was built for")
	}
	der, err := x509.CreateRevocationList(rand.Reader, d.Template, d.issuer, signer)
	if err != nil {
		return nil, fmt.Errorf("sign CRL: %w", err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("parse the CRL just signed: %w", err)
	}
	if !bytes.Equal(crl.RawTBSRevocationList, d.TBS) {
		return nil, errors.New("the signed CRL's to-be-signed bytes differ from those linted and approved")
	}
	if err := crl.CheckSignatureFrom(d.issuer); err != nil {
		return nil, fmt.Errorf("CRL signature does not verify with issuer %q: %w", d.issuer.Subject, err)
	}
	if crl.Number.Cmp(d.Template.Number) != 0 || len(crl.RevokedCertificateEntries) != len(d.Template.RevokedCertificateEntries) {
		return nil, errors.New("signed CRL differs from its template")
	}
	return &IssuedCRL{CRL: crl, DER: der}, nil
}
