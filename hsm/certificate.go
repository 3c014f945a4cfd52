package hsm

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"

	"github.com/miekg/pkcs11"

	"github.com/devicepki/ceremony/ceremony/keys"
)

// ErrCertificateNotFound is returned when a token holds no certificate
// object for a key pair.
var ErrCertificateNotFound = errors.New("certificate not found")

// StoreCertificate stores cert on the token as an X.509 certificate object
// beside its key pair k: same label, same CKA_ID, public, unmodifiable. A
// later ceremony finds a key's certificate there (the transcript-signing
// key's, the root's). It refuses a certificate whose public key is not k's,
// and a key pair that already has a certificate object.
func (t *Token) StoreCertificate(k *KeyPair, cert *x509.Certificate) error {
	if !keys.SamePublicKey(cert.PublicKey, k.Public()) {
		return fmt.Errorf("token %q: certificate %q does not certify key pair %q", t.info.Label, cert.Subject, k.Label)
	}
	serial, err := asn1.Marshal(cert.SerialNumber)
	if err != nil {
		return fmt.Errorf("token %q: certificate serial: %w", t.info.Label, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.requireLogin(); err != nil {
		return err
	}
	have, err := t.findObjects(keyTemplate(pkcs11.CKO_CERTIFICATE, k))
	if err != nil {
		return fmt.Errorf("token %q: search certificates of %q: %w", t.info.Label, k.Label, err)
	}
	if len(have) > 0 {
		return fmt.Errorf("token %q already holds a certificate for key pair %q: %w", t.info.Label, k.Label, ErrLabelInUse)
	}
	_, err = t.raw.CreateObject(t.session, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_CERTIFICATE),
		pkcs11.NewAttribute(pkcs11.CKA_CERTIFICATE_TYPE, pkcs11.CKC_X_509),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
		pkcs11.NewAttribute(pkcs11.CKA_MODIFIABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, k.Label),
		pkcs11.NewAttribute(pkcs11.CKA_ID, k.ID),
		pkcs11.NewAttribute(pkcs11.CKA_SUBJECT, cert.RawSubject),
		pkcs11.NewAttribute(pkcs11.CKA_ISSUER, cert.RawIssuer),
		pkcs11.NewAttribute(pkcs11.CKA_SERIAL_NUMBER, serial),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE, cert.Raw),
	})
	if err != nil {
		return fmt.Errorf("token %q: store certificate for %q: %w", t.info.Label, k.Label, err)
	}
	return nil
}

// FindCertificate returns the certificate stored beside key pair k. It is an
// error if there is none or more than one, or if it does not certify k.
func (t *Token) FindCertificate(k *KeyPair) (*x509.Certificate, error) {
	certs, err := t.certificates(keyTemplate(pkcs11.CKO_CERTIFICATE, k))
	if err != nil {
		return nil, err
	}
	switch len(certs) {
	case 0:
		return nil, fmt.Errorf("token %q has no certificate for key pair %q: %w", t.info.Label, k.Label, ErrCertificateNotFound)
	case 1:
	default:
		return nil, fmt.Errorf("token %q holds %d certificates for key pair %q; expected one", t.info.Label, len(certs), k.Label)
	}
	if !keys.SamePublicKey(certs[0].PublicKey, k.Public()) {
		return nil, fmt.Errorf("token %q: the certificate labelled %q does not certify the key pair of that label", t.info.Label, k.Label)
	}
	return certs[0], nil
}

// Certificates returns every X.509 certificate object on the token.
func (t *Token) Certificates() ([]*x509.Certificate, error) {
	return t.certificates([]*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_CERTIFICATE),
		pkcs11.NewAttribute(pkcs11.CKA_CERTIFICATE_TYPE, pkcs11.CKC_X_509),
	})
}

func (t *Token) certificates(template []*pkcs11.Attribute) ([]*x509.Certificate, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.usable(); err != nil {
		return nil, err
	}
	hs, err := t.findObjects(template)
	if err != nil {
		return nil, fmt.Errorf("token %q: search certificates: %w", t.info.Label, err)
	}
	var certs []*x509.Certificate
	for _, h := range hs {
		got, err := t.raw.GetAttributeValue(t.session, h, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil), pkcs11.NewAttribute(pkcs11.CKA_LABEL, nil)})
		if err != nil {
			return nil, fmt.Errorf("token %q: read certificate: %w", t.info.Label, err)
		}
		c, err := x509.ParseCertificate(got[0].Value)
		if err != nil {
			return nil, fmt.Errorf("token %q: certificate object %q does not parse: %w", t.info.Label, got[1].Value, err)
		}
		certs = append(certs, c)
	}
	return certs, nil
}
