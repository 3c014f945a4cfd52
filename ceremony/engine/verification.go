package engine

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"time"

	"github.com/devicepki/ceremony/ceremony/keys"
	"github.com/devicepki/ceremony/ceremony/pki"
	"github.com/devicepki/ceremony/ceremony/record"
	"github.com/devicepki/ceremony/ceremony/script"
	"github.com/devicepki/ceremony/ceremony/seal"
	"github.com/devicepki/ceremony/ceremony/transcript"
	"github.com/devicepki/ceremony/hsm"
)

// This file holds what a cloud CA registration (verification certificate)
// needs beyond plain signing: an issue-certificate step that certifies a
// CSR's key if one is given and a throwaway key if not, and a use-key step
// that finds an intermediate CA's key on a second token, with the
// intermediate's certificate brought as a file and checked to chain to the
// root the main token holds.

// prepareCSR checks the CSR of an issue-certificate step before anything
// runs: read and checked in full against the template. A step with both
// csr and throwaway_key (script.Step.CSRInput) certifies a throwaway key
// when the input is none, so the throwaway key and the subject the script
// gives must suit the template whatever the input; a CSR given instead
// must request exactly that subject (for a verification certificate: the
// registration code as common name). A CSR asking for another is refused,
// not overridden: what the requester signed is what is certified.
func (p *Plan) prepareCSR(path string, st *script.Step, i int, prof *pki.Profile) error {
	s := p.script
	file := script.Expand(st.CSR, p.inputs)
	input, either := st.CSRInput()
	if either {
		if prof.Key == "" || !prof.Key.IsECDSA() {
			return s.Errorf(path+".template", "a throwaway key (throwaway_key: true, used when input %s is %s) needs a template with an ECDSA key.algorithm", input, script.NoCSR)
		}
		if err := p.prepareSubject(path, st, i, prof); err != nil {
			return err
		}
		if file == script.NoCSR {
			return nil
		}
	}
	in, err := loadCSR(file, prof)
	if err != nil {
		return s.Errorf(path+".csr", "%v", err)
	}
	if either {
		want := prof.Subject
		if subj := p.subjects[i]; subj != nil {
			want = *subj
		}
		if !pki.SameSubject(in.subject, want) {
			return s.Errorf(path+".csr", "%s: %s; the CSR must request exactly the subject the script gives (%s), and is refused rather than overridden",
				file, subjectDifference(in.subject, want), want)
		}
		delete(p.subjects, i) // the CSR's subject, the same, is used
	}
	p.csrs[i] = in
	return nil
}

// subjectDifference says how the subject a CSR requests differs from the
// one wanted, attribute by attribute (template names).
func subjectDifference(got, want pkix.Name) string {
	one := func(v []string) string {
		if len(v) == 0 {
			return ""
		}
		return v[0]
	}
	for _, a := range []struct{ name, got, want string }{
		{"common_name", got.CommonName, want.CommonName},
		{"organization", one(got.Organization), one(want.Organization)},
		{"organizational_unit", one(got.OrganizationalUnit), one(want.OrganizationalUnit)},
		{"locality", one(got.Locality), one(want.Locality)},
		{"province", one(got.Province), one(want.Province)},
		{"country", one(got.Country), one(want.Country)},
	} {
		if a.got != a.want {
			return fmt.Sprintf("its subject %s %q is not %q", a.name, a.got, a.want)
		}
	}
	return fmt.Sprintf("its subject %s differs from %s", got, want)
}

// prepareUseKey checks, before anything runs, a use-key step whose key's
// certificate must chain to an earlier use-key step's (the root): the
// certificate given as a file is a CA valid now and, where the root's
// certificate is pinned too, issued and signed by it. The same is checked
// again when the step runs, against the root found on the token.
func (p *Plan) prepareUseKey(path string, st *script.Step, i int) error {
	c := p.pinned[i]
	if st.Token == "" || c == nil {
		return nil
	}
	var root *x509.Certificate
	if j := p.script.StepIndex(st.Issuer); j >= 0 {
		root = p.pinned[j]
	}
	if err := checkSubordinateCA(c, script.Expand(st.Certificate, p.inputs), root, p.opts.Now()); err != nil {
		return p.script.Errorf(path+".certificate", "%v", err)
	}
	return nil
}

// checkSubordinateCA checks that c (read from file) is a CA certificate
// that may sign certificates, is valid at now and, if root is not nil,
// was issued by root: root's name as its issuer and root's key's
// signature.
func checkSubordinateCA(c *x509.Certificate, file string, root *x509.Certificate, now time.Time) error {
	switch {
	case !c.BasicConstraintsValid || !c.IsCA:
		return fmt.Errorf("certificate %s (%s) is not a CA certificate", file, c.Subject)
	case c.KeyUsage&x509.KeyUsageCertSign == 0:
		return fmt.Errorf("certificate %s (%s) may not sign certificates (no keyCertSign)", file, c.Subject)
	case now.Before(c.NotBefore) || now.After(c.NotAfter):
		return fmt.Errorf("certificate %s (%s) is not valid now (valid %s to %s)", file, c.Subject,
			c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339))
	case root == nil:
		return nil
	case bytes.Equal(c.Raw, root.Raw):
		return fmt.Errorf("certificate %s is the root %q itself, not a certificate it issued", file, root.Subject)
	case c.CheckSignatureFrom(root) != nil:
		return fmt.Errorf("certificate %s (%s), issued by %q, does not chain to the root %q: the root's key did not sign it", file, c.Subject, c.Issuer, root.Subject)
	case !bytes.Equal(c.RawIssuer, root.RawSubject):
		return fmt.Errorf("certificate %s (%s) carries the root's signature but names %q as its issuer, not the root %q", file, c.Subject, c.Issuer, root.Subject)
	}
	return nil
}

// useKeyOnToken finds the key of a use-key step on a second token (an
// intermediate CA's, whose token holds no certificate): the key must be
// private, sensitive, non-extractable and sign; its public key the one of
// the certificate given as a file (and a certificate stored beside it, if
// any, that very certificate); the certificate a CA valid now, issued and
// signed by the root found by the step's issuer, and neither it nor its
// key revoked on the main token's register.
func (r *run) useKeyOnToken(info StepInfo, st *script.Step, i int) (string, error) {
	tok := r.others[st.Token]
	label, file, cert := r.labels[i], script.Expand(st.Certificate, r.inputs), r.pinned[i]
	if tok == nil || cert == nil {
		return "", fmt.Errorf("token %q is not open, or no certificate is given: the script was not checked", st.Token)
	}
	kp, err := tok.FindKeyPair(label)
	if err != nil {
		return "", err
	}
	attrs, err := tok.KeyAttributes(kp)
	if err != nil {
		return "", err
	}
	keyFP, err := keys.Fingerprint(kp.Public())
	if err != nil {
		return "", err
	}
	certFP, err := keys.Fingerprint(cert.PublicKey)
	if err != nil {
		return "", err
	}
	switch {
	case !attrs.Private || !attrs.Sensitive || attrs.Extractable || !attrs.Sign:
		return "", fmt.Errorf("key %q on token %q: the HSM reports %+v; a signing key must be private, sensitive and non-extractable", label, tok.Info().Label, attrs)
	case !keys.SamePublicKey(cert.PublicKey, kp.Public()):
		return "", fmt.Errorf("key %q on token %q (public key SHA-256 %s) is not the key of certificate %s (%s, public key SHA-256 %s)",
			label, tok.Info().Label, keyFP, file, cert.Subject, certFP)
	}
	stored, err := tok.FindCertificate(kp)
	switch {
	case errors.Is(err, hsm.ErrCertificateNotFound):
		stored = nil
	case err != nil:
		return "", err
	case !bytes.Equal(stored.Raw, cert.Raw):
		return "", fmt.Errorf("token %q stores another certificate beside key %q (SHA-256 %s) than %s (SHA-256 %s)",
			tok.Info().Label, label, seal.Fingerprint(stored), file, seal.Fingerprint(cert))
	}
	root := r.certs[st.Issuer].Cert
	if err := checkSubordinateCA(cert, file, root, r.opts.Now()); err != nil {
		return "", err
	}
	if rv, err := r.revocation(cert); err != nil {
		return "", err
	} else if rv != nil {
		return "", fmt.Errorf("certificate %s (%s) was revoked (CRL number %d, %s): its key must not sign again", file, cert.Subject, rv.CRLNumber, rv.Reason)
	}
	reg, err := r.loadRegister()
	if err != nil {
		return "", err
	}
	if use := reg.Key(keyFP); len(use.Revoked) > 0 {
		rv := use.Revoked[0]
		return "", fmt.Errorf("key %q on token %q was certified in %q, serial %s, revoked (CRL number %d, %s): a revoked key must not sign again",
			label, tok.Info().Label, rv.Subject, rv.Serial, rv.CRLNumber, rv.Reason)
	}
	r.keys[st.ID] = kp
	r.keyToken[kp] = tok
	r.certs[st.ID] = &pki.Issued{Cert: cert, DER: cert.Raw}
	text := fmt.Sprintf("Found key %q on token %q, the key of certificate %s %q (SHA-256 %s), valid until %s, issued by the root %q and not revoked",
		label, tok.Info().Label, file, cert.Subject.String(), seal.Fingerprint(cert), cert.NotAfter.UTC().Format(time.DateOnly), root.Subject.String())
	r.face.Report(Report{Kind: Notice, Step: info, Text: "Certificate SHA-256: " + record.GroupHex(seal.Fingerprint(cert))})
	return text, r.record(transcript.Entry{Type: "key-selected", Step: info.ID, Text: text, Data: map[string]any{
		"label": label, "id": kp.IDHex(), "token": tok.Info().Label, "token_name": st.Token, "attributes": attrs, "public_key_sha256": keyFP,
		"certificate": map[string]string{"subject": cert.Subject.String(), "serial": serialHex(cert.SerialNumber.Bytes()),
			"sha256": seal.Fingerprint(cert), "not_after": cert.NotAfter.UTC().Format(time.RFC3339), "file": file,
			"issuer": root.Subject.String(), "issuer_sha256": seal.Fingerprint(root)},
		"certificate_stored_on_token": stored != nil,
		"checks": []string{"key private, sensitive, non-extractable, for signing", "key is the certificate's",
			"certificate is a CA valid now", "issued and signed by the root found by " + st.Issuer,
			"neither the certificate nor its key revoked on the register"},
	}})
}

// keyChoice says, for the transcript, which key an issue-certificate step
// with both csr and throwaway_key certifies; "" for any other step.
func (r *run) keyChoice(st *script.Step, i int) string {
	input, either := st.CSRInput()
	switch {
	case !either:
		return ""
	case r.csrs[i] != nil:
		return fmt.Sprintf("the key of the CSR given as input %s (%s)", input, r.csrs[i].req.Path)
	}
	return fmt.Sprintf("a throwaway key (input %s is %s: no CSR given)", input, script.NoCSR)
}
