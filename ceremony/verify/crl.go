package verify

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/devicepki/ceremony/ceremony/durable"
	"github.com/devicepki/ceremony/ceremony/pki"
	"github.com/devicepki/ceremony/ceremony/record"
	"github.com/devicepki/ceremony/ceremony/seal"
	"github.com/devicepki/ceremony/ceremony/transcript"
)

// CRL is a certificate revocation list an auditor gives, and its file.
type CRL struct {
	File string
	List *x509.RevocationList
}

// ReadCRL reads a file holding one PEM "X509 CRL" block, as the issue-crl
// ceremony writes it (artifacts/root-ca.crl.pem).
func ReadCRL(path string) (CRL, error) {
	l, err := pki.ReadCRLFile("CRL", path)
	if err != nil {
		return CRL{}, err
	}
	return CRL{File: path, List: l}, nil
}

// CRLError is a CRL that is not the pinned root's: the auditor gave the
// wrong file, which says nothing about the transcript.
type CRLError struct {
	File, Msg string
}

func (e *CRLError) Error() string { return e.File + ": " + e.Msg }

// CRLChecked is what one CRL says of the certificates a transcript relies
// on, when it revokes none of them in a way that refuses it.
type CRLChecked struct {
	CRL CRL
	// Checked is how many certificates were looked up in it.
	Checked int
	// Later lists the revocations it holds of those certificates that do
	// not refuse the transcript: dated after the seal, for a reason that
	// does not reach back (superseded, cessation-of-operation...).
	Later []string
	// Note, if set, says the CRL is not current now (Currency): it
	// still answers for what it revokes, but a newer CRL may revoke more.
	Note string
}

// now is the time CRLs' currency is judged at (tests set it).
var now = time.Now

// Currency says whether l is current at now: "" if its thisUpdate is not
// after now and its nextUpdate is given and not before now; else one
// clause saying why not, with the dates. It is the rule 'ceremony import'
// refuses CRLs by; here it only informs.
func Currency(l *x509.RevocationList, now time.Time) string {
	at := now.UTC().Format(time.RFC3339)
	switch {
	case now.Before(l.ThisUpdate):
		return fmt.Sprintf("not yet valid now (this update %s, now %s): check this machine's clock", l.ThisUpdate.UTC().Format(time.RFC3339), at)
	case l.NextUpdate.IsZero():
		return "of unknown currency: it gives no next update"
	case now.After(l.NextUpdate):
		return fmt.Sprintf("stale now (next update %s, now %s): a newer CRL should exist", l.NextUpdate.UTC().Format(time.RFC3339), at)
	}
	return ""
}

// judgedAt is the time the transcript's claims are judged at: the seal
// event's, or an unsealed transcript's last event's; and how to say it.
func (res *Result) judgedAt() (time.Time, string, error) {
	evs := res.Chain.Events
	last := evs[len(evs)-1]
	at, err := time.Parse(time.RFC3339Nano, last.Time)
	if err != nil {
		return time.Time{}, "", &Failure{Event: last.Seq, Msg: fmt.Sprintf("time %q: %v", last.Time, err)}
	}
	when := fmt.Sprintf("the seal (event %d, %s)", last.Seq, at.UTC().Format(time.RFC3339))
	if !last.Is(transcript.TypeTranscriptSealed) {
		when = fmt.Sprintf("the last event (%d, %s)", last.Seq, at.UTC().Format(time.RFC3339))
	}
	return at, when, nil
}

// ArtifactCRL is a CRL the transcript records as an artifact (issue-crl's
// artifacts/root-ca.crl.pem).
type ArtifactCRL struct {
	Path string // relative to the ceremony directory
	List *x509.RevocationList
	// Note is "" if the CRL is current now, else why not (Currency). A
	// CRL going stale after the ceremony is expected, not a failure.
	Note string
}

// checkArtifactCRL looks at an artifact present, already read and checked
// against its recorded SHA-256: if it is a CRL, it fails one whose
// thisUpdate is after the time the transcript is judged at (judgedAt), as
// a CRL the ceremony issued was valid when it was sealed, and records it in
// res.CRLs. Whether it is current now is noted, never failed: an old
// sealed transcript stays verified when its CRL goes stale.
func (res *Result) checkArtifactCRL(a record.Artifact, data []byte) error {
	if int64(len(data)) > durable.CRL.Max && (bytes.Contains(data, []byte("-----BEGIN X509 CRL")) || looksLikeDERCRL(data)) {
		return &Failure{File: a.Path, Msg: fmt.Sprintf("a CRL of %d bytes, larger than %d bytes, the limit for a CRL", len(data), durable.CRL.Max)}
	}
	var l *x509.RevocationList
	var err error
	if b := firstCRLBlock(data); b != nil {
		if l, err = x509.ParseRevocationList(b.Bytes); err != nil {
			return &Failure{File: a.Path, Msg: fmt.Sprintf("an X509 CRL block that does not parse: %v", err)}
		}
	} else if b, _ := pem.Decode(data); b == nil && len(data) > 0 && data[0] == 0x30 {
		// DER: a CRL, or a certificate or key, say.
		if l, err = x509.ParseRevocationList(data); err != nil {
			return nil
		}
	} else {
		return nil
	}
	at, when, err := res.judgedAt()
	if err != nil {
		return err
	}
	if l.ThisUpdate.After(at) {
		return &Failure{File: a.Path, Msg: fmt.Sprintf("CRL %s has this update %s, after %s: it was not valid when the transcript was sealed, so the ceremony did not issue it as recorded", l.Number, l.ThisUpdate.UTC().Format(time.RFC3339), when)}
	}
	res.CRLs = append(res.CRLs, ArtifactCRL{Path: a.Path, List: l, Note: Currency(l, now())})
	return nil
}

// firstCRLBlock returns the first PEM block of type X509 CRL in data,
// after any others (a certificate, say), as openssl crl reads a file; or
// nil.
func firstCRLBlock(data []byte) *pem.Block {
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil || b.Type == "X509 CRL" {
			return b
		}
	}
}

// looksLikeDERCRL reports whether data opens as a DER CRL would, without
// parsing its entries: a SEQUENCE whose first element, the to-be-signed
// list, holds an optional INTEGER version, then an algorithm (SEQUENCE),
// the issuer (SEQUENCE) and thisUpdate (UTCTime or GeneralizedTime). A
// certificate's to-be-signed part has its serial (INTEGER) and validity
// (SEQUENCE) there instead.
func looksLikeDERCRL(data []byte) bool {
	var outer, tbs asn1.RawValue
	if _, err := asn1.Unmarshal(data, &outer); err != nil || outer.Tag != asn1.TagSequence {
		return false
	}
	if _, err := asn1.Unmarshal(outer.Bytes, &tbs); err != nil || tbs.Tag != asn1.TagSequence {
		return false
	}
	var elems []asn1.RawValue
	for rest := tbs.Bytes; len(rest) > 0 && len(elems) < 4; {
		var v asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &v); err != nil {
			return false
		}
		elems = append(elems, v)
	}
	is := func(v asn1.RawValue, tags ...int) bool {
		return v.Class == asn1.ClassUniversal && slices.Contains(tags, v.Tag)
	}
	if len(elems) > 0 && is(elems[0], asn1.TagInteger) {
		elems = elems[1:] // the version
	}
	return len(elems) >= 3 && is(elems[0], asn1.TagSequence) && is(elems[1], asn1.TagSequence) &&
		is(elems[2], asn1.TagUTCTime, asn1.TagGeneralizedTime)
}

// The time rule. A revocation for key compromise (or a CA's or an
// attribute authority's compromise) or for no stated reason (unspecified,
// or no reason code) refuses the transcript whatever its date: the key may
// have been in other hands before anyone noticed, and a forger who holds it
// can seal an edited transcript dated as they like. Any other reason
// (superseded, cessation-of-operation, affiliation-changed,
// privilege-withdrawn, certificate-hold) says the certificate was retired,
// not that its key leaked: it refuses only a transcript sealed at or after
// the revocation date (revocation date <= the seal event's time).
func reachesBack(reason int) bool {
	switch reason {
	case 0, 1, 2, 10: // unspecified, keyCompromise, cACompromise, aACompromise
		return true
	}
	return false
}

// relied is a certificate a transcript relies on: the seal's signer, or a
// certificate it records that the root issued.
type relied struct {
	cert *x509.Certificate
	what string
}

// CheckCRLs checks the transcript res verified against the CRLs the
// auditor gives: each must have been issued by root (else a *CRLError).
// The certificates looked up are the seal's signer (the audit certificate)
// and every certificate the root issued whose fingerprint the transcript
// records beside an artifact. One that a CRL revokes fails the check, a
// *Failure naming the CRL, the serial, the reason and the revocation
// date, by the time rule of reachesBack, judged at the seal event's time
// (an unsealed transcript's last event's). A CRL that is not current now
// (Currency) is still checked, and says so in its Note: it answers for
// what it revokes, not for what was revoked after it.
func (res *Result) CheckCRLs(root *x509.Certificate, crls []CRL) ([]CRLChecked, error) {
	if root == nil {
		return nil, errors.New("no root to check the CRLs against")
	}
	for _, c := range crls {
		if err := pki.CheckCRLIssuer(c.List, root); err != nil {
			var msg string
			switch {
			case errors.Is(err, pki.ErrCRLOtherIssuer):
				msg = fmt.Sprintf("CRL %s was issued by %q, not by the pinned root %q", c.List.Number, c.List.Issuer, root.Subject)
			case errors.As(err, new(x509.ConstraintViolationError)):
				msg = fmt.Sprintf("CRL %s names the pinned root, which may not sign CRLs (no cRLSign)", c.List.Number)
			default:
				msg = fmt.Sprintf("CRL %s names the pinned root %q as its issuer, but the pinned root's key did not sign it: another key with the same name did", c.List.Number, root.Subject)
			}
			return nil, &CRLError{File: c.File, Msg: msg}
		}
	}
	at, when, err := res.judgedAt()
	if err != nil {
		return nil, err
	}
	certs, err := res.reliedOn(root)
	if err != nil {
		return nil, err
	}
	var out []CRLChecked
	for _, c := range crls {
		done := CRLChecked{CRL: c, Checked: len(certs), Note: Currency(c.List, now())}
		for _, r := range certs {
			e, ok := pki.RevokedBy(c.List, root, r.cert, root)
			if !ok {
				continue
			}
			serial := hex.EncodeToString(r.cert.SerialNumber.Bytes())
			reason, date := pki.ReasonName(e.ReasonCode), e.RevocationTime.UTC().Format(time.RFC3339)
			switch {
			case reachesBack(e.ReasonCode):
				return nil, &Failure{File: c.File, Msg: fmt.Sprintf("CRL %s revokes %s (serial %s), reason %s, on %s: a revocation for this reason refuses the seal whatever its date", c.List.Number, r.what, serial, reason, date)}
			case !e.RevocationTime.After(at):
				return nil, &Failure{File: c.File, Msg: fmt.Sprintf("CRL %s revokes %s (serial %s), reason %s, on %s: at or before %s", c.List.Number, r.what, serial, reason, date, when)}
			}
			done.Later = append(done.Later, fmt.Sprintf("it revokes %s (serial %s), reason %s, on %s, after %s: a revocation for this reason does not reach back", r.what, serial, reason, date, when))
		}
		out = append(out, done)
	}
	return out, nil
}

// reliedOn lists the seal's signer and the certificates the root issued
// that the transcript records beside an artifact (its certificate_sha256),
// read from the artifact files, which check compared with the transcript.
func (res *Result) reliedOn(root *x509.Certificate) ([]relied, error) {
	var out []relied
	seen := map[string]bool{seal.Fingerprint(root): true}
	if res.Seal != nil {
		s := res.Seal.Signer
		seen[seal.Fingerprint(s)] = true
		out = append(out, relied{s, fmt.Sprintf("the audit certificate %q that sealed the transcript", s.Subject)})
	}
	for _, a := range res.Artifacts {
		if a.CertificateSHA256 == "" || seen[a.CertificateSHA256] {
			continue
		}
		data, err := durable.ReadRegularFile(filepath.Join(res.dir, filepath.FromSlash(a.Path)), durable.Artifact.Max)
		if err != nil {
			return nil, &Failure{File: a.Path, Msg: readFailure(durable.Artifact, filepath.Join(res.dir, filepath.FromSlash(a.Path)), err)}
		}
		for b, rest := pem.Decode(data); b != nil; b, rest = pem.Decode(rest) {
			if b.Type != "CERTIFICATE" {
				continue
			}
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil || seal.Fingerprint(c) != a.CertificateSHA256 || seen[a.CertificateSHA256] {
				continue
			}
			seen[a.CertificateSHA256] = true
			if c.CheckSignatureFrom(root) == nil {
				out = append(out, relied{c, fmt.Sprintf("the certificate %q of %s", c.Subject, a.Path)})
			}
		}
	}
	return out, nil
}
