package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"

	"github.com/devicepki/ceremony/ceremony/keys"
)

// Draft is a certificate ready to be signed: its exact to-be-signed content
// (TBS), already signed once by a throwaway key of the issuer's type so that
// it can be linted and shown to the quorum before the HSM signs anything.
// Sign then has the HSM sign the very same TBS.
type Draft struct {
	Profile *Profile
	// Template is what Go's x509 encodes; the TBS comes from it.
	Template *x509.Certificate
	// Preview is the certificate signed by the throwaway key: exactly the
	// content the HSM will sign, but not a valid signature by the issuer.
	// PreviewDER is its encoding, which the linter reads.
	Preview    *x509.Certificate
	PreviewDER []byte
	// LintDER is what the linter reads: PreviewDER, except for a
	// self-signed certificate, which a throwaway signature would not
	// leave self-signed: then the throwaway key is the subject key too,
	// and everything else is the same. The certificate the HSM signs is
	// linted again.
	LintDER []byte
	// TBS is the DER to-be-signed certificate; TBSSHA256 its hex SHA-256,
	// which the approvers see and the transcript records.
	TBS       []byte
	TBSSHA256 string

	subjectKey crypto.PublicKey
	issuerKey  crypto.PublicKey
	issuer     *x509.Certificate // nil when self-signed
}

// NewDraft builds the certificate of profile p with validity v and serial
// number for subjectKey, to be issued by issuer (nil for a self-signed
// certificate) whose key's public half, as the HSM holds it, is issuerKey.
// subject replaces the template's subject when not nil (a subject built by
// SubjectFromCSR or SubjectFromValues). Every check that does not need the
// real signature runs here: the key is one the profile allows, the issuer
// may issue it, and the issuer certificate belongs to the issuer key.
func NewDraft(p *Profile, v Validity, serial *big.Int, subject *pkix.Name, subjectKey crypto.PublicKey, issuer *x509.Certificate, issuerKey crypto.PublicKey) (*Draft, error) {
	switch {
	case issuer == nil && !p.SelfSigned():
		return nil, fmt.Errorf("template %s: a %s profile is not self-signed", p.Name, p.Kind)
	case issuer != nil && p.SelfSigned():
		return nil, fmt.Errorf("template %s: a %s profile is self-signed, not issued by a CA", p.Name, p.Kind)
	case issuer == nil && !keys.SamePublicKey(subjectKey, issuerKey):
		return nil, fmt.Errorf("template %s: a self-signed certificate is signed by its own key", p.Name)
	}
	alg, err := keys.AlgorithmOf(subjectKey)
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", p.Name, err)
	}
	if !p.AllowsKey(alg) {
		if p.Key != "" {
			return nil, fmt.Errorf("template %s wants a %s key, the key is %s", p.Name, p.Key.Describe(), alg.Describe())
		}
		return nil, fmt.Errorf("template %s allows %s keys, the key is %s", p.Name, p.DescribeAllowedKeys(), alg.Describe())
	}
	if issuer != nil {
		if err := CheckIssuer(p, v, issuer); err != nil {
			return nil, err
		}
		if !keys.SamePublicKey(issuer.PublicKey, issuerKey) {
			return nil, fmt.Errorf("issuer certificate %q does not belong to the signing key", issuer.Subject)
		}
	}
	tmpl := p.Certificate(v, serial)
	if p.SignatureFromIssuer {
		ialg, err := keys.AlgorithmOf(issuerKey)
		if err != nil {
			return nil, fmt.Errorf("template %s: issuer key: %w", p.Name, err)
		}
		tmpl.SignatureAlgorithm = IssuerDefaultSignature(ialg)
	}
	if subject != nil {
		tmpl.Subject = *subject
	}
	if tmpl.SubjectKeyId, err = subjectKeyID(subjectKey); err != nil {
		return nil, err
	}
	d := &Draft{Profile: p, Template: tmpl, subjectKey: subjectKey, issuerKey: issuerKey, issuer: issuer}

	throwaway, err := newThrowaway(issuerKey)
	if err != nil {
		return nil, err
	}
	// The parent gives the issuer name and authority key identifier; its
	// public key must be the signer's for Go to sign, so the throwaway
	// signs under a copy of the issuer certificate holding its key.
	parent := tmpl
	if issuer != nil {
		c := *issuer
		c.PublicKey = throwaway.Public()
		parent = &c
	}
	if d.PreviewDER, err = x509.CreateCertificate(rand.Reader, tmpl, parent, subjectKey, throwaway); err != nil {
		return nil, fmt.Errorf("build certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	if d.Preview, err = x509.ParseCertificate(d.PreviewDER); err != nil {
		return nil, fmt.Errorf("parse the certificate just built: %w", err)
	}
	if err := checkIssued(tmpl, d.Preview, subjectKey, throwaway.Public()); err != nil {
		return nil, fmt.Errorf("certificate %q failed its check before signing: %w", tmpl.Subject.CommonName, err)
	}
	d.LintDER = d.PreviewDER
	if issuer == nil {
		self := *tmpl
		if self.SubjectKeyId, err = subjectKeyID(throwaway.Public()); err != nil {
			return nil, err
		}
		if d.LintDER, err = x509.CreateCertificate(rand.Reader, &self, &self, throwaway.Public(), throwaway); err != nil {
			return nil, fmt.Errorf("build certificate %q for linting: %w", tmpl.Subject.CommonName, err)
		}
	}
	d.TBS = d.Preview.RawTBSCertificate
	d.TBSSHA256 = sha256Hex(d.TBS)
	return d, nil
}

// newThrowaway generates a software key of the same type as pub, used
// once to sign a preview and then dropped.
func newThrowaway(pub crypto.PublicKey) (crypto.Signer, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return ecdsa.GenerateKey(k.Curve, rand.Reader)
	case *rsa.PublicKey:
		return rsa.GenerateKey(rand.Reader, k.N.BitLen())
	}
	return nil, fmt.Errorf("throwaway key: unsupported issuer key type %T", pub)
}

// ErrTBSChanged means the HSM signed something other than what was linted
// and approved.
var ErrTBSChanged = errors.New("the signed to-be-signed certificate differs from the one linted and approved")

// Sign has signer (the issuer's HSM key) sign the draft, then checks the
// result: the signature verifies with the issuer key's public key as the
// HSM holds it, the to-be-signed bytes are byte for byte those of the
// preview, every field is what the profile asked for, and a certificate
// with an issuer chains to it. Nothing is returned unless all pass.
func (d *Draft) Sign(signer crypto.Signer) (*Issued, error) {
	if !keys.SamePublicKey(signer.Public(), d.issuerKey) {
		return nil, errors.New("the signing key is not the issuer key the draft was built for")
	}
	parent := d.Template
	if d.issuer != nil {
		parent = d.issuer
	}
	cn := d.Template.Subject.CommonName
	der, err := x509.CreateCertificate(rand.Reader, d.Template, parent, d.subjectKey, signer)
	if err != nil {
		return nil, fmt.Errorf("sign certificate %q: %w", cn, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse the certificate just signed: %w", err)
	}
	if !bytes.Equal(cert.RawTBSCertificate, d.TBS) {
		return nil, fmt.Errorf("certificate %q: %w", cn, ErrTBSChanged)
	}
	if err := checkIssued(d.Template, cert, d.subjectKey, signer.Public()); err != nil {
		return nil, fmt.Errorf("certificate %q failed its check after signing: %w", cn, err)
	}
	if d.issuer == nil {
		if !bytes.Equal(cert.RawSubject, cert.RawIssuer) {
			return nil, fmt.Errorf("certificate %q: issuer differs from subject in a self-signed certificate", cn)
		}
	} else {
		if err := cert.CheckSignatureFrom(d.issuer); err != nil {
			return nil, fmt.Errorf("certificate %q does not chain to %q: %w", cn, d.issuer.Subject, err)
		}
		if !bytes.Equal(cert.RawIssuer, d.issuer.RawSubject) || !bytes.Equal(cert.AuthorityKeyId, d.issuer.SubjectKeyId) {
			return nil, fmt.Errorf("certificate %q: issuer name or authority key identifier differs from %q", cn, d.issuer.Subject)
		}
	}
	return &Issued{Cert: cert, DER: der}, nil
}
