package pki

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
)

// ErrCRLOtherIssuer: a CRL names another issuer than the certificate it is
// checked against.
var ErrCRLOtherIssuer = errors.New("the CRL names another issuer")

// SameName reports whether two names are the same, byte for byte or as
// text (a name encoded with other string types reads the same to people).
func SameName(a pkix.Name, rawA []byte, b pkix.Name, rawB []byte) bool {
	return bytes.Equal(rawA, rawB) || a.String() == b.String()
}

// CheckCRLIssuer checks that crl was issued by issuer: it names issuer
// (SameName; else ErrCRLOtherIssuer) and issuer's key signed it, issuer
// being allowed to sign CRLs (else x509.CheckSignatureFrom's error, an
// x509.ConstraintViolationError if it may not).
func CheckCRLIssuer(crl *x509.RevocationList, issuer *x509.Certificate) error {
	if !SameName(issuer.Subject, issuer.RawSubject, crl.Issuer, crl.RawIssuer) {
		return ErrCRLOtherIssuer
	}
	return crl.CheckSignatureFrom(issuer)
}

// RevokedBy finds the entry of crl, which signer signed (CheckCRLIssuer),
// that revokes cert, whose issuer is issuer: the CRL is in cert's issuer's
// name, signed by issuer's key, and lists cert's serial.
func RevokedBy(crl *x509.RevocationList, signer, cert, issuer *x509.Certificate) (x509.RevocationListEntry, bool) {
	if !SameName(cert.Issuer, cert.RawIssuer, crl.Issuer, crl.RawIssuer) || !bytes.Equal(issuer.RawSubjectPublicKeyInfo, signer.RawSubjectPublicKeyInfo) {
		return x509.RevocationListEntry{}, false
	}
	for _, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(cert.SerialNumber) == 0 {
			return e, true
		}
	}
	return x509.RevocationListEntry{}, false
}
