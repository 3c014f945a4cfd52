package engine

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/devicepki/ceremony/ceremony/keys"
	"github.com/devicepki/ceremony/ceremony/pki"
	"github.com/devicepki/ceremony/ceremony/record"
	"github.com/devicepki/ceremony/ceremony/script"
	"github.com/devicepki/ceremony/ceremony/seal"
	"github.com/devicepki/ceremony/ceremony/transcript"
	"github.com/devicepki/ceremony/hsm"
)

// KindUseKey finds a key pair made at an earlier ceremony on the token,
// with the certificate stored beside it (the root, to sign); or, with
// token, on a second token, with its certificate given as a file and
// checked to chain to the root (an intermediate CA's key).
const KindUseKey = "use-key"

var useKeyKind = script.Kind{
	Name:    KindUseKey,
	Summary: "finds a key made at an earlier ceremony with the certificate stored beside it (the root); with token, a key on a second token whose certificate file must chain to the root",
	New:     func() script.Spec { return &useKeyStep{} },
}

type useKeyStep struct {
	asksNothing
	// Label is the HSM label of the key; may use ${input}.
	Label string `yaml:"label"`
	// Certificate is a certificate file the key's certificate must be
	// (main token), or is (a second token); may use ${input}.
	Certificate string `yaml:"certificate"`
	// Token names one of the HSM config's other_tokens; empty means the
	// ceremony's main token.
	Token string `yaml:"token"`
	// Issuer, with token, is the earlier use-key step on the main token
	// (the root) whose certificate issued this key's certificate.
	Issuer string `yaml:"issuer"`
}

func (k *useKeyStep) Validate(c *script.Check) error {
	if c.At(script.FactToken) < 0 {
		return c.Errorf("", "use-key needs the HSM: put an hsm-login step before it")
	}
	if k.Label == "" {
		return c.Errorf("label", "required: the HSM label of the key to use")
	}
	if k.Token != "" {
		if c.At(script.FactOtherToken(k.Token)) < 0 {
			return needsOtherToken(c, k.Token)
		}
		if strings.TrimSpace(k.Certificate) == "" {
			return c.Errorf("certificate", "required with token: the certificate of the key on token %q, as a file (a token made by ceremony csr holds none); the key found must match it", k.Token)
		}
		if k.Issuer == "" {
			return c.Errorf("issuer", "required with token: the id of the earlier use-key step that finds the root on the ceremony's main token, to which the certificate must chain")
		}
	}
	switch {
	case k.Issuer == "":
		return nil
	case k.Token == "":
		return c.Errorf("issuer", "goes with token: a key on the ceremony's main token is found with the certificate stored beside it")
	}
	iss, err := c.Earlier("issuer", k.Issuer, KindUseKey)
	if err != nil {
		return err
	}
	if t := iss.Spec.(*useKeyStep).Token; t != "" {
		return c.Errorf("issuer", "step %q finds a key on token %q: the issuer is found on the ceremony's main token (the root)", k.Issuer, t)
	}
	return nil
}

func (k *useKeyStep) prepare(p *Plan, i int) error {
	if err := p.otherToken(i, k.Token); err != nil {
		return err
	}
	label := p.expand(k.Label)
	if err := hsm.ValidateLabel(label); err != nil {
		return p.script.Errorf(stepPath(i, "label"), "%v", err)
	}
	p.labels[i] = label
	if k.Certificate != "" {
		c, err := pki.ReadCertificateFile("certificate", p.expand(k.Certificate))
		if err != nil {
			return p.script.Errorf(stepPath(i, "certificate"), "%v", err)
		}
		p.pinned[i] = c
	}
	return p.prepareUseKey(stepPath(i, ""), k, i)
}

func (k *useKeyStep) run(_ context.Context, r *run, info StepInfo) (string, error) {
	return r.useKey(info, k, info.Index)
}

// useKey finds a key pair made at an earlier ceremony, with the
// certificate stored beside it on the token. The key must still be
// private, sensitive and non-extractable; the certificate must belong to
// it, be valid now and, if the script pins a certificate file, be that
// very certificate. A key on a second token (token) is found by
// useKeyOnToken.
func (r *run) useKey(info StepInfo, st *useKeyStep, i int) (string, error) {
	if st.Token != "" {
		return r.useKeyOnToken(info, st, i)
	}
	label := r.labels[i]
	kp, err := r.tok.FindKeyPair(label)
	if err != nil {
		return "", err
	}
	cert, err := r.tok.FindCertificate(kp)
	if err != nil {
		return "", err
	}
	attrs, err := r.tok.KeyAttributes(kp)
	if err != nil {
		return "", err
	}
	now := r.opts.Now()
	switch {
	case !attrs.Private || !attrs.Sensitive || attrs.Extractable || !attrs.Sign:
		return "", fmt.Errorf("key %q: the HSM reports %+v; a signing key must be private, sensitive and non-extractable", label, attrs)
	case !keys.SamePublicKey(cert.PublicKey, kp.Public()):
		return "", fmt.Errorf("the certificate stored beside key %q holds a different public key", label)
	case now.Before(cert.NotBefore) || now.After(cert.NotAfter):
		return "", fmt.Errorf("certificate %q of key %q is not valid now (valid %s to %s)", cert.Subject, label,
			cert.NotBefore.UTC().Format(time.RFC3339), cert.NotAfter.UTC().Format(time.RFC3339))
	}
	if rv, err := r.revocation(cert); err != nil {
		return "", err
	} else if rv != nil {
		return "", fmt.Errorf("certificate %q of key %q was revoked (CRL number %d, %s): it must not sign again", cert.Subject, label, rv.CRLNumber, rv.Reason)
	}
	if want := r.pinned[i]; want != nil && !bytes.Equal(want.Raw, cert.Raw) {
		return "", fmt.Errorf("the certificate stored beside key %q (SHA-256 %s) is not the certificate the script pins (%s, SHA-256 %s)",
			label, seal.Fingerprint(cert), script.Expand(st.Certificate, r.inputs), seal.Fingerprint(want))
	}
	// The audit key that will seal this ceremony is checked now, before
	// anything is signed, unless this ceremony makes it.
	if label := r.sealLabel(); !r.generatesLabel(label) {
		if _, _, _, err := r.auditKey(label); err != nil {
			return "", fmt.Errorf("the transcript could not be sealed at the end, so nothing is signed: %w", err)
		}
	}
	r.keys[info.ID] = kp
	r.certs[info.ID] = &pki.Issued{Cert: cert, DER: cert.Raw}
	fp, _ := keys.Fingerprint(kp.Public())
	text := fmt.Sprintf("Found key %q on token %q with its certificate %q (SHA-256 %s), valid until %s",
		label, r.tok.Info().Label, cert.Subject.String(), seal.Fingerprint(cert), cert.NotAfter.UTC().Format(time.DateOnly))
	r.face.Report(Report{Kind: Notice, Step: info, Text: "Certificate SHA-256: " + record.GroupHex(seal.Fingerprint(cert))})
	pinned := r.pinned[i] != nil
	return text, r.record(transcript.Entry{Step: info.ID, Text: text, Data: transcript.KeySelected{
		Label: label, ID: kp.IDHex(), Token: r.tok.Info().Label, Attributes: transcript.V(attrs), PublicKeySHA256: fp,
		Certificate: transcript.CertificateRef{Subject: cert.Subject.String(), Serial: serialHex(cert.SerialNumber.Bytes()),
			SHA256: seal.Fingerprint(cert), NotAfter: cert.NotAfter.UTC().Format(time.RFC3339)},
		Pinned: &pinned,
	}})
}

// generatesLabel reports whether the script generates (or restores) a key
// with this label.
func (r *run) generatesLabel(label string) bool {
	for i, st := range r.script.Steps {
		switch k := st.Spec.(type) {
		case *generateKeyStep:
			if k.Token == "" && r.labels[i] == label {
				return true
			}
		case *restoreKeyStep:
			if r.labels[i] == label {
				return true
			}
		}
	}
	return false
}

// prepareUseKey checks, before anything runs, a use-key step whose key's
// certificate must chain to an earlier use-key step's (the root): the
// certificate given as a file is a CA valid now and, where the root's
// certificate is pinned too, issued and signed by it. The same is checked
// again when the step runs, against the root found on the token.
func (p *Plan) prepareUseKey(path string, st *useKeyStep, i int) error {
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
func (r *run) useKeyOnToken(info StepInfo, st *useKeyStep, i int) (string, error) {
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
	r.keys[info.ID] = kp
	r.keyToken[kp] = tok
	r.certs[info.ID] = &pki.Issued{Cert: cert, DER: cert.Raw}
	text := fmt.Sprintf("Found key %q on token %q, the key of certificate %s %q (SHA-256 %s), valid until %s, issued by the root %q and not revoked",
		label, tok.Info().Label, file, cert.Subject.String(), seal.Fingerprint(cert), cert.NotAfter.UTC().Format(time.DateOnly), root.Subject.String())
	r.face.Report(Report{Kind: Notice, Step: info, Text: "Certificate SHA-256: " + record.GroupHex(seal.Fingerprint(cert))})
	storedOnToken := stored != nil
	return text, r.record(transcript.Entry{Step: info.ID, Text: text, Data: transcript.KeySelected{
		Label: label, ID: kp.IDHex(), Token: tok.Info().Label, TokenName: st.Token, Attributes: transcript.V(attrs), PublicKeySHA256: keyFP,
		Certificate: transcript.CertificateRef{Subject: cert.Subject.String(), Serial: serialHex(cert.SerialNumber.Bytes()),
			SHA256: seal.Fingerprint(cert), NotAfter: cert.NotAfter.UTC().Format(time.RFC3339), File: file,
			Issuer: root.Subject.String(), IssuerSH: seal.Fingerprint(root)},
		CertificateStoredOnToken: &storedOnToken,
		Checks: []string{"key private, sensitive, non-extractable, for signing", "key is the certificate's",
			"certificate is a CA valid now", "issued and signed by the root found by " + st.Issuer,
			"neither the certificate nor its key revoked on the register"},
	}})
}
