package engine

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/devicepki/ceremony/ceremony/csr"
	"github.com/devicepki/ceremony/ceremony/keys"
	"github.com/devicepki/ceremony/ceremony/lint"
	"github.com/devicepki/ceremony/ceremony/pki"
	"github.com/devicepki/ceremony/ceremony/record"
	"github.com/devicepki/ceremony/ceremony/register"
	"github.com/devicepki/ceremony/ceremony/script"
	"github.com/devicepki/ceremony/ceremony/seal"
	"github.com/devicepki/ceremony/ceremony/transcript"
	"github.com/devicepki/ceremony/ceremony/words"
	"github.com/devicepki/ceremony/hsm"
)

// csrInput is a CSR read and checked by Prepare: its key passed the key
// policy and its subject is one the template permits.
type csrInput struct {
	req     *csr.Request
	alg     keys.Algorithm
	subject pkix.Name
	// ignored lists the extensions the CSR requested, which the
	// certificate does not take from it.
	ignored []string
}

// loadCSR reads the CSR of an issue-certificate step and checks it against
// the step's template. The returned field names the script field at fault.
func loadCSR(path string, prof *pki.Profile) (*csrInput, error) {
	req, err := csr.ReadFile(path)
	if err != nil {
		return nil, err
	}
	alg, err := req.CheckKey(prof.AllowedKeys)
	if err != nil {
		return nil, err
	}
	subj, err := prof.SubjectFromCSR(req.CSR.RawSubject)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	in := &csrInput{req: req, alg: alg, subject: subj}
	for _, e := range req.CSR.Extensions {
		in.ignored = append(in.ignored, extensionName(e.Id.String()))
	}
	if len(in.ignored) > 0 && prof.RefuseCSRExtensions {
		return nil, fmt.Errorf("%s: requests extensions (%s); template %s refuses CSRs that request extensions (csr_extensions: refuse): make the CSR without them",
			path, strings.Join(in.ignored, ", "), prof.Name)
	}
	return in, nil
}

// extensionNames names the extensions a CSR commonly requests.
var extensionNames = map[string]string{
	"2.5.29.19": "basicConstraints", "2.5.29.15": "keyUsage", "2.5.29.37": "extKeyUsage",
	"2.5.29.17": "subjectAltName", "2.5.29.14": "subjectKeyIdentifier", "2.5.29.30": "nameConstraints",
	"2.5.29.32": "certificatePolicies", "2.5.29.31": "cRLDistributionPoints", "1.3.6.1.5.5.7.1.1": "authorityInfoAccess",
}

func extensionName(oid string) string {
	if n, ok := extensionNames[oid]; ok {
		return n + " (" + oid + ")"
	}
	return oid
}

// useKey finds a key pair made at an earlier ceremony, with the
// certificate stored beside it on the token. The key must still be
// private, sensitive and non-extractable; the certificate must belong to
// it, be valid now and, if the script pins a certificate file, be that
// very certificate. A key on a second token (token) is found by
// useKeyOnToken.
func (r *run) useKey(info StepInfo, st *script.Step, i int) (string, error) {
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
	r.keys[st.ID] = kp
	r.certs[st.ID] = &pki.Issued{Cert: cert, DER: cert.Raw}
	fp, _ := keys.Fingerprint(kp.Public())
	text := fmt.Sprintf("Found key %q on token %q with its certificate %q (SHA-256 %s), valid until %s",
		label, r.tok.Info().Label, cert.Subject.String(), seal.Fingerprint(cert), cert.NotAfter.UTC().Format(time.DateOnly))
	r.face.Report(Report{Kind: Notice, Step: info, Text: "Certificate SHA-256: " + record.GroupHex(seal.Fingerprint(cert))})
	return text, r.record(transcript.Entry{Type: "key-selected", Step: info.ID, Text: text, Data: map[string]any{
		"label": label, "id": kp.IDHex(), "token": r.tok.Info().Label, "attributes": attrs, "public_key_sha256": fp,
		"certificate": map[string]string{"subject": cert.Subject.String(), "serial": serialHex(cert.SerialNumber.Bytes()),
			"sha256": seal.Fingerprint(cert), "not_after": cert.NotAfter.UTC().Format(time.RFC3339)},
		"pinned": r.pinned[i] != nil,
	}})
}

// generatesLabel reports whether the script generates (or restores) a key
// with this label.
func (r *run) generatesLabel(label string) bool {
	for i, st := range r.script.Steps {
		if (st.Kind == script.KindGenerateKey || st.Kind == script.KindRestoreKey) && st.Token == "" && r.labels[i] == label {
			return true
		}
	}
	return false
}

// subjectKey returns the public key an issue-certificate step certifies,
// and a description for the transcript (which, for a step that takes a
// CSR if one is given and a throwaway key if not, says which it took).
func (r *run) subjectKey(info StepInfo, st *script.Step, i int, prof *pki.Profile) (crypto.PublicKey, map[string]any, error) {
	if st.Key != "" {
		kp, err := r.refind(r.keys[st.Key])
		if err != nil {
			return nil, nil, err
		}
		return kp.Public(), map[string]any{"source": "generated", "label": kp.Label, "id": kp.IDHex(), "token": r.tokenOf(st.Key)}, nil
	}
	var (
		pub     crypto.PublicKey
		keyInfo map[string]any
	)
	if in := r.csrs[i]; in != nil {
		pub, keyInfo = in.req.CSR.PublicKey, map[string]any{"source": "csr", "path": in.req.Path, "sha256": in.req.SHA256,
			"requested_subject": in.req.CSR.Subject.String(), "ignored_extensions": nonNil(in.ignored)}
	} else {
		// A throwaway key: generated in software, its private half
		// dropped at once. Only the issuer's signature matters (proof of
		// possession of the CA key for a cloud service).
		k, err := ecdsa.GenerateKey(prof.Key.Curve(), rand.Reader)
		if err != nil {
			return nil, nil, fmt.Errorf("throwaway key: %w", err)
		}
		pub, keyInfo = k.Public(), map[string]any{"source": "throwaway", "algorithm": prof.Key}
	}
	if choice := r.keyChoice(st, i); choice != "" {
		keyInfo["chosen"] = choice
		r.face.Report(Report{Kind: Notice, Step: info, Text: "Certifying " + choice})
	}
	if keyInfo["source"] == "throwaway" {
		r.face.Report(Report{Kind: Notice, Step: info, Text: "Throwaway key generated in memory; its private half is discarded"})
	}
	return pub, keyInfo, nil
}

// knownKey is a public key a CSR must not bring, and whose it is.
type knownKey struct {
	pub  crypto.PublicKey
	what string
}

// otherKeys lists the public keys a CSR must not bring: every key on the
// token with a certificate, and every key this run generated.
func (r *run) otherKeys() ([]knownKey, error) {
	certs, err := r.tok.Certificates()
	if err != nil {
		return nil, err
	}
	var out []knownKey
	for _, c := range certs {
		out = append(out, knownKey{c.PublicKey, fmt.Sprintf("the key of certificate %q on this HSM", c.Subject.String())})
	}
	for id, kp := range r.keys {
		out = append(out, knownKey{kp.Public(), fmt.Sprintf("key %q of step %s", kp.Label, id)})
	}
	return out, nil
}

// checkKeyHistory refuses a key the register shows revoked, or certified
// before for another subject or purpose: a stolen key is never certified
// again, and one key never holds two roles (a factory CA's key as the
// firmware-signing key), so revoking one certificate revokes the key.
func (r *run) checkKeyHistory(path string, pub crypto.PublicKey, subject pkix.Name, prof *pki.Profile) error {
	fp, err := keys.Fingerprint(pub)
	if err != nil {
		return err
	}
	reg, err := r.loadRegister()
	if err != nil {
		return err
	}
	use := reg.Key(fp)
	if len(use.Revoked) > 0 {
		rv := use.Revoked[0]
		return fmt.Errorf("%s: its key was certified before in %q, serial %s, revoked (CRL number %d, %s): a revoked key is never certified again",
			path, rv.Subject, rv.Serial, rv.CRLNumber, rv.Reason)
	}
	for _, c := range use.Issued {
		if c.Subject != subject.String() || c.Profile != string(prof.Kind) {
			return fmt.Errorf("%s: its key is already certified as %q (serial %s, %s profile): one key, one certificate subject and purpose",
				path, c.Subject, c.Serial, c.Profile)
		}
	}
	return nil
}

// issueCertificate issues the certificate of an issue-certificate step:
// the exact to-be-signed certificate is built and signed by a throwaway
// key, linted, and shown decoded to every approver; only then does the
// HSM sign it, and the result is checked (signature with the issuer's
// public key, the same TBS, lint again) before anything is kept.
func (r *run) issueCertificate(ctx context.Context, info StepInfo, st *script.Step, i int) (string, error) {
	prof := r.templates[st.Template]
	subjectPub, keyInfo, err := r.subjectKey(info, st, i, prof)
	if err != nil {
		return "", err
	}
	var (
		signer     *hsm.KeyPair
		issuerCert *x509.Certificate
		v          = r.validities[i]
	)
	if st.Issuer == script.IssuerSelf {
		if signer, err = r.refind(r.keys[st.Key]); err != nil {
			return "", err
		}
	} else {
		issuerStep := &r.script.Steps[r.script.StepIndex(st.Issuer)]
		issuerKey := issuerStep.Key
		if issuerStep.Kind != script.KindIssueCertificate {
			issuerKey = issuerStep.ID // a restored or found key, with its certificate
		}
		if signer, err = r.refind(r.keys[issuerKey]); err != nil {
			return "", err
		}
		issuerCert = r.certs[st.Issuer].Cert
		v = prof.Validity.ClampToIssuer(v, issuerCert.NotAfter)
	}
	var subject *pkix.Name
	if in, ok := r.csrs[i]; ok {
		subject = &in.subject
		others, err := r.otherKeys()
		if err != nil {
			return "", err
		}
		for _, k := range others {
			if keys.SamePublicKey(k.pub, subjectPub) {
				return "", fmt.Errorf("%s: its key is %s: a CSR must bring a new key", in.req.Path, k.what)
			}
		}
		if issuerCert != nil && pki.SameSubject(in.subject, issuerCert.Subject) {
			return "", fmt.Errorf("%s: its subject is the issuer's own (%s)", in.req.Path, issuerCert.Subject)
		}
		if err := r.checkKeyHistory(in.req.Path, subjectPub, in.subject, prof); err != nil {
			return "", err
		}
	} else if s, ok := r.subjects[i]; ok {
		subject = s
	}
	serial, err := pki.NewSerial(tokenRand{r.tok})
	if err != nil {
		return "", err
	}
	draft, err := pki.NewDraft(prof, v, serial, subject, subjectPub, issuerCert, signer.Public())
	if err != nil {
		return "", err
	}
	if err := r.lintAndRecord(info, "certificate", draft.TBSSHA256, prof.LintExclusions, func() (*lint.Report, error) {
		return lint.Certificate(draft.LintDER, prof.ExcludedLints())
	}); err != nil {
		return "", err
	}
	c := draft.Preview
	fields := pki.DescribeCertificate(c)
	if in, ok := r.csrs[i]; ok {
		// What the witness compares with the requester's printout, and
		// what the CSR asked for that the certificate does not take.
		fields = append([]pki.Field{{Label: "CSR file", Value: in.req.Path}, {Label: "CSR SHA-256 (DER request)", Value: in.req.SHA256},
			{Label: "CSR subject", Value: in.req.CSR.Subject.String()}}, fields...)
		if len(in.ignored) > 0 {
			fields = append(fields, pki.Field{Label: "CSR extensions ignored", Value: strings.Join(in.ignored, ", ")})
		}
	}
	if choice := r.keyChoice(st, i); choice != "" {
		fields = append([]pki.Field{{Label: "Certified key", Value: choice}}, fields...)
	}
	approvers, err := r.approve(ctx, info, st, "certificate", fields, draft.TBSSHA256, map[string]any{
		"subject": c.Subject.String(), "serial": serialHex(c.SerialNumber.Bytes()),
	})
	if err != nil {
		return "", err
	}

	var iss *pki.Issued
	what := fmt.Sprintf("Signing certificate %q with key %q in the HSM", c.Subject.CommonName, signer.Label)
	d, err := r.timed(info, what, func() (err error) {
		iss, err = draft.Sign(signer)
		return err
	})
	if err != nil {
		return "", err
	}
	r.changed = true
	rep, err := lint.Certificate(iss.DER, prof.ExcludedLints())
	if err != nil {
		return "", err
	}
	if err := rep.Err(); err != nil {
		return "", fmt.Errorf("the signed certificate fails lint although its preview passed: %w", err)
	}
	c = iss.Cert
	r.certs[st.ID] = iss
	stored := false
	if st.Key != "" {
		// The certificate is kept on the token beside its key, where
		// later ceremonies (or the build system) find it.
		kp, err := r.refind(r.keys[st.Key])
		if err != nil {
			return "", err
		}
		tok := r.tok
		if t, ok := r.keyToken[r.keys[st.Key]]; ok {
			tok = t
		}
		if err := tok.StoreCertificate(kp, iss.Cert); err != nil {
			return "", err
		}
		stored = true
	}
	if err := r.registerIssued(iss, issuerCert, string(prof.Kind)); err != nil {
		return "", err
	}
	fp, _ := keys.Fingerprint(iss.Cert.PublicKey)
	kind := "self-signed certificate"
	if issuerCert != nil {
		kind = fmt.Sprintf("certificate (issued by %q)", c.Issuer.String())
	}
	text := fmt.Sprintf("Issued %s %q, serial %s, valid %s to %s (SHA-256 %s, TBS SHA-256 %s), approved by %s",
		kind, c.Subject.String(), serialHex(c.SerialNumber.Bytes()), c.NotBefore.Format(time.DateOnly), c.NotAfter.Format(time.DateOnly),
		iss.SHA256(), draft.TBSSHA256, names(approvers))
	if choice := r.keyChoice(st, i); choice != "" {
		text += ", for " + choice
	}
	r.face.Report(Report{Kind: Notice, Step: info, Text: "Certificate SHA-256: " + record.GroupHex(iss.SHA256())})
	checks := []string{"linted before signing", "approved by every " + st.ApprovedBy, "signature verified with the HSM's public key",
		"TBS identical to the one linted and approved", "fields match the template", "linted again after signing"}
	if issuerCert != nil {
		checks = append(checks, "chains to the issuer certificate", "validity inside the issuer's")
	}
	return text, r.record(transcript.Entry{Type: "certificate-issued", Step: info.ID, Actors: actors(approvers...), Text: text, Data: map[string]any{
		"template": prof.Name, "template_sha256": prof.SHA256, "profile": prof.Kind,
		"subject": c.Subject.String(), "issuer": c.Issuer.String(), "serial": serialHex(c.SerialNumber.Bytes()),
		"not_before": c.NotBefore.UTC().Format(time.RFC3339), "not_after": c.NotAfter.UTC().Format(time.RFC3339),
		"signature_algorithm": c.SignatureAlgorithm.String(), "key": keyInfo,
		"signed_by_key": signer.Label, "public_key_sha256": fp, "sha256": iss.SHA256(), "tbs_sha256": draft.TBSSHA256,
		"approved_by": names(approvers), "duration_ms": d.Milliseconds(), "stored_on_token": stored, "checks": checks,
	}})
}

// lintAndRecord lints a preview and records the outcome, with every lint
// the template excludes and why. Any finding stops the ceremony.
func (r *run) lintAndRecord(info StepInfo, what, tbs string, exclusions []pki.LintExclusion, run func() (*lint.Report, error)) error {
	var rep *lint.Report
	if _, err := r.timed(info, fmt.Sprintf("Linting the %s with zlint", what), func() (err error) {
		rep, err = run()
		return err
	}); err != nil {
		return err
	}
	lerr := rep.Err()
	typ, text := "lint-passed", fmt.Sprintf("zlint %s: the %s (TBS SHA-256 %s) passed %d applicable lints", rep.Version, what, tbs, rep.Ran)
	if lerr != nil {
		typ, text = "lint-failed", fmt.Sprintf("zlint %s: the %s (TBS SHA-256 %s) fails: %v", rep.Version, what, tbs, lerr)
	}
	if len(exclusions) > 0 {
		var ex []string
		for _, e := range exclusions {
			ex = append(ex, e.Lint)
		}
		text += "; excluded by the template: " + strings.Join(ex, ", ")
	}
	if err := r.record(transcript.Entry{Type: typ, Step: info.ID, Text: text, Data: map[string]any{
		"tbs_sha256": tbs, "zlint": rep.Version, "ran": rep.Ran, "passed": rep.Passed,
		"findings": nonNil(rep.Findings), "notices": nonNil(rep.Notices), "excluded": nonNil(exclusions),
	}}); err != nil {
		return err
	}
	if lerr != nil {
		return fmt.Errorf("%w; nothing was signed", lerr)
	}
	return nil
}

// approve shows the decoded content to every present member of the step's
// approved_by role in turn and records their approval. A refusal stops
// the ceremony.
func (r *run) approve(ctx context.Context, info StepInfo, st *script.Step, what string, fields []pki.Field, tbs string, extra map[string]any) ([]Participant, error) {
	ws, err := words.FromHex(tbs)
	if err != nil {
		return nil, err
	}
	var who []Participant
	for _, p := range r.inRole(st.ApprovedBy) {
		err := r.face.Approve(ctx, ApprovalRequest{Step: info, Participant: p, What: what, Fields: fields, TBSSHA256: tbs, Words: strings.Join(ws, " ")})
		if errors.Is(err, ErrAborted) {
			_ = r.record(transcript.Entry{Type: "signing-refused", Step: info.ID, Actors: actors(p),
				Text: fmt.Sprintf("%s refused to approve the %s (TBS SHA-256 %s); nothing was signed", p.Name, what, tbs),
				Data: map[string]any{"tbs_sha256": tbs}})
		}
		if err != nil {
			return nil, err
		}
		who = append(who, p)
	}
	if len(who) == 0 {
		return nil, fmt.Errorf("nobody present as %s to approve the %s", st.ApprovedBy, what)
	}
	data := map[string]any{"what": what, "tbs_sha256": tbs, "approved_by": names(who), "shown": fields}
	for k, v := range extra {
		data[k] = v
	}
	text := fmt.Sprintf("The %s with TBS SHA-256 %s was shown decoded and approved by %s", what, tbs, names(who))
	return who, r.record(transcript.Entry{Type: "signing-approved", Step: info.ID, Actors: actors(who...), Text: text, Data: data})
}

// loadRegister reads the token's issuance register (empty if the token
// has none yet).
func (r *run) loadRegister() (*register.Register, error) {
	data, err := r.tok.ReadPrivateData(register.Label)
	if errors.Is(err, hsm.ErrDataNotFound) {
		return register.New(), nil
	}
	if err != nil {
		return nil, err
	}
	return register.Parse(data)
}

// saveRegister writes the register back to the token, keeping the first
// time what it held before this run, for a rollback.
func (r *run) saveRegister(reg *register.Register) error {
	data, err := reg.Marshal()
	if err != nil {
		return err
	}
	if !r.registerSaved {
		before, err := r.tok.ReadPrivateData(register.Label)
		switch {
		case errors.Is(err, hsm.ErrDataNotFound):
		case err != nil:
			return err
		default:
			r.registerBefore = before
		}
		r.registerSaved = true
	}
	return r.tok.ReplacePrivateData(register.Label, data)
}

// restoreRegister puts the register back as it was before this run: a
// run that generated its issuers' keys and destroys them on failure leaves
// no trace of what they issued. (A run that signed with an earlier key
// keeps its entries: the CRL numbers it reserved stay used.)
func (r *run) restoreRegister() error {
	if !r.registerSaved {
		return nil
	}
	if r.registerBefore == nil {
		return r.tok.DestroyPrivateData(register.Label)
	}
	return r.tok.ReplacePrivateData(register.Label, r.registerBefore)
}

func orNone(s string) string {
	if s == "" {
		return "none (a renewal)"
	}
	return s
}

// revocation returns the register's revocation of c, or nil: a
// certificate revoked by an earlier CRL ceremony must not be used again.
func (r *run) revocation(c *x509.Certificate) (*register.Revocation, error) {
	if bytes.Equal(c.RawIssuer, c.RawSubject) {
		return nil, nil
	}
	reg, err := r.loadRegister()
	if err != nil {
		return nil, err
	}
	serial := serialHex(c.SerialNumber.Bytes())
	for _, is := range reg.Issuers {
		if rv := is.FindRevoked(serial); rv != nil && is.Subject == c.Issuer.String() {
			return rv, nil
		}
	}
	return nil, nil
}

// registerIssued adds a certificate the token's key issued to the register.
func (r *run) registerIssued(iss *pki.Issued, issuer *x509.Certificate, profile string) error {
	if issuer == nil {
		issuer = iss.Cert
	}
	reg, err := r.loadRegister()
	if err != nil {
		return err
	}
	is := reg.Issuer(seal.Fingerprint(issuer), issuer.Subject.String())
	fp, err := keys.Fingerprint(iss.Cert.PublicKey)
	if err != nil {
		return err
	}
	is.Issued = append(is.Issued, register.Certificate{
		PublicKeySHA256: fp, Profile: profile,
		Serial: serialHex(iss.Cert.SerialNumber.Bytes()), Subject: iss.Cert.Subject.String(), SHA256: iss.SHA256(),
		NotAfter: iss.Cert.NotAfter.UTC().Format(time.RFC3339), IssuedAt: r.opts.Now().UTC().Format(time.RFC3339),
		Ceremony: r.script.Name + " " + r.start.Format(time.RFC3339),
	})
	return r.saveRegister(reg)
}

// issueCRL issues the CRL of an issue-crl step: every earlier revocation
// of this issuer on the token's register plus the new ones, under the
// next CRL number. Each new revocation is checked: a certificate file must
// carry the issuer's signature, a bare serial number must be on the
// register as issued by it. The CRL is linted and approved before the HSM
// signs it.
func (r *run) issueCRL(ctx context.Context, info StepInfo, st *script.Step, i int) (string, error) {
	prof := r.crlTemplates[st.Template]
	issuerStep := &r.script.Steps[r.script.StepIndex(st.Issuer)]
	issuerKey := issuerStep.Key
	if issuerStep.Kind != script.KindIssueCertificate {
		issuerKey = issuerStep.ID
	}
	signer, err := r.refind(r.keys[issuerKey])
	if err != nil {
		return "", err
	}
	issuer := r.certs[st.Issuer].Cert
	reg, err := r.loadRegister()
	if err != nil {
		return "", err
	}
	ifp := seal.Fingerprint(issuer)
	is := reg.Issuer(ifp, issuer.Subject.String())
	now := r.opts.Now().UTC().Truncate(time.Second)
	// The audit key's certificate seals this ceremony: it cannot be
	// revoked by it.
	var sealer *x509.Certificate
	if kp, err := r.tok.FindKeyPair(r.sealLabel()); err == nil {
		sealer, _ = r.tok.FindCertificate(kp)
	}

	// The previous CRL: the register must not be behind it (a token
	// restored from backup, a lost register), and nothing it lists is
	// dropped.
	prevText := "none (the first CRL of this issuer)"
	if prev := r.previousCRLs[i]; prev != nil {
		if err := prev.CheckSignatureFrom(issuer); err != nil {
			return "", fmt.Errorf("previous CRL %s was not signed by %q: %v", script.Expand(st.PreviousCRL, r.inputs), issuer.Subject, err)
		}
		n := prev.Number.Int64()
		if !prev.Number.IsInt64() || n < is.CRLNumber {
			return "", fmt.Errorf("previous CRL %s is number %s, but token %q's register shows CRL number %d was issued: give the latest CRL",
				script.Expand(st.PreviousCRL, r.inputs), prev.Number, r.tok.Info().Label, is.CRLNumber)
		}
		for _, e := range prev.RevokedCertificateEntries {
			serial := serialHex(e.SerialNumber.Bytes())
			if is.FindRevoked(serial) != nil {
				continue
			}
			rv := register.Revocation{Serial: serial, Reason: pki.ReasonName(e.ReasonCode), RevokedAt: e.RevocationTime.UTC().Format(time.RFC3339), CRLNumber: n}
			if c := is.Find(serial); c != nil {
				rv.Subject, rv.PublicKeySHA256 = c.Subject, c.PublicKeySHA256
			}
			is.Revoked = append(is.Revoked, rv)
		}
		if n > is.CRLNumber {
			is.CRLNumber = n
		}
		prevText = fmt.Sprintf("number %s of %s", prev.Number, prev.ThisUpdate.UTC().Format(time.RFC3339))
	} else if is.CRLNumber > 0 {
		return "", fmt.Errorf("token %q's register shows CRL number %d of %q was issued: give it as the previous CRL (previous_crl), not %q",
			r.tok.Info().Label, is.CRLNumber, issuer.Subject, script.NoPreviousCRL)
	}

	var added []register.Revocation
	for _, req := range r.revocations[i] {
		serial := req.SerialHex()
		subject, keyFP := "", ""
		if c := req.Certificate; c != nil {
			if keys.SamePublicKey(c.PublicKey, issuer.PublicKey) {
				return "", fmt.Errorf("certificate %s is the issuer %q itself: a CA does not revoke its own key with its own CRL", req.CertificatePath, issuer.Subject)
			}
			keyFP, _ = keys.Fingerprint(c.PublicKey)
			if !bytes.Equal(c.RawIssuer, issuer.RawSubject) || c.CheckSignatureFrom(issuer) != nil {
				return "", fmt.Errorf("certificate %s (%s) was not issued by %q: only certificates of this issuer can be revoked", req.CertificatePath, c.Subject, issuer.Subject)
			}
			subject = c.Subject.String()
		} else if rec := is.Find(serial); rec != nil {
			subject, keyFP = rec.Subject, rec.PublicKeySHA256
		} else {
			return "", fmt.Errorf("serial %s is not on token %q's register as issued by %q: give the certificate file instead, so its signature can be checked", serial, r.tok.Info().Label, issuer.Subject)
		}
		if sealer != nil && serial == serialHex(sealer.SerialNumber.Bytes()) && bytes.Equal(req.Certificate.Raw, sealer.Raw) {
			return "", fmt.Errorf("certificate %s is the audit certificate that seals this very ceremony: certify a new audit key first, then revoke this one", req.CertificatePath)
		}
		if prev := is.FindRevoked(serial); prev != nil {
			return "", fmt.Errorf("serial %s (%s) is already revoked (CRL number %d, %s): remove it from the revocations file", serial, subject, prev.CRLNumber, prev.Reason)
		}
		added = append(added, register.Revocation{Serial: serial, Subject: subject, Reason: req.Reason, RevokedAt: now.Format(time.RFC3339), PublicKeySHA256: keyFP})
	}
	number := is.NextCRLNumber(now)
	for k := range added {
		added[k].CRLNumber = number.Int64()
	}
	all := append(append([]register.Revocation(nil), is.Revoked...), added...)
	// The CRL lists its entries in serial order, whatever order the
	// ceremonies revoked them in.
	listed := (&register.Issuer{Revoked: all}).SortedRevoked()
	var entries []x509.RevocationListEntry
	for _, rv := range listed {
		sn, ok := new(big.Int).SetString(rv.Serial, 16)
		if !ok {
			return "", fmt.Errorf("issuance register: bad serial %q", rv.Serial)
		}
		at, err := time.Parse(time.RFC3339, rv.RevokedAt)
		if err != nil {
			return "", fmt.Errorf("issuance register: serial %s: bad revocation time", rv.Serial)
		}
		code, ok := pki.ReasonCode(rv.Reason)
		if !ok {
			return "", fmt.Errorf("issuance register: serial %s: unknown reason %q", rv.Serial, rv.Reason)
		}
		entries = append(entries, x509.RevocationListEntry{SerialNumber: sn, RevocationTime: at, ReasonCode: code})
	}
	draft, err := pki.NewCRLDraft(prof, issuer, signer.Public(), number, now, entries)
	if err != nil {
		return "", err
	}
	if err := r.lintAndRecord(info, "CRL", draft.TBSSHA256, prof.LintExclusions, func() (*lint.Report, error) {
		return lint.RevocationList(draft.PreviewDER, prof.ExcludedLints())
	}); err != nil {
		return "", err
	}
	fields := append([]pki.Field{{Label: "Follows CRL", Value: prevText}}, pki.DescribeCRL(draft.Preview)...)
	for k := range fields {
		for _, rv := range all {
			if strings.HasPrefix(fields[k].Value, "serial "+rv.Serial+" ") && rv.Subject != "" {
				fields[k].Value += " (" + rv.Subject + ")"
			}
		}
	}
	approvers, err := r.approve(ctx, info, st, "CRL", fields, draft.TBSSHA256, map[string]any{"crl_number": number.String()})
	if err != nil {
		return "", err
	}
	// The number is used from here on, whatever happens next: reserve it
	// on the token before the HSM signs.
	is.CRLNumber = number.Int64()
	if err := r.saveRegister(reg); err != nil {
		return "", err
	}
	r.changed = true
	var crl *pki.IssuedCRL
	d, err := r.timed(info, fmt.Sprintf("Signing CRL number %s with key %q in the HSM", number, signer.Label), func() (err error) {
		crl, err = draft.Sign(signer)
		return err
	})
	if err != nil {
		return "", err
	}
	rep, err := lint.RevocationList(crl.DER, prof.ExcludedLints())
	if err != nil {
		return "", err
	}
	if err := rep.Err(); err != nil {
		return "", fmt.Errorf("the signed CRL fails lint although its preview passed: %w", err)
	}
	is.Revoked = all
	if err := r.saveRegister(reg); err != nil {
		return "", err
	}
	r.crls[st.ID] = crl
	var newSerials []string
	for _, rv := range added {
		newSerials = append(newSerials, fmt.Sprintf("%s (%s, %s)", rv.Serial, rv.Subject, rv.Reason))
	}
	text := fmt.Sprintf("Issued CRL number %s of %q, this update %s, next update %s, listing %d revoked certificates; newly revoked: %s (SHA-256 %s, TBS SHA-256 %s), approved by %s",
		number, issuer.Subject.String(), crl.CRL.ThisUpdate.UTC().Format(time.RFC3339), crl.CRL.NextUpdate.UTC().Format(time.RFC3339),
		len(all), orNone(strings.Join(newSerials, "; ")), crl.SHA256(), draft.TBSSHA256, names(approvers))
	r.face.Report(Report{Kind: Notice, Step: info, Text: "CRL SHA-256: " + record.GroupHex(crl.SHA256())})
	return text, r.record(transcript.Entry{Type: "crl-issued", Step: info.ID, Actors: actors(approvers...), Text: text, Data: map[string]any{
		"template": prof.Name, "template_sha256": prof.SHA256, "issuer": issuer.Subject.String(), "issuer_sha256": ifp,
		"crl_number": number.String(), "this_update": crl.CRL.ThisUpdate.UTC().Format(time.RFC3339),
		"next_update": crl.CRL.NextUpdate.UTC().Format(time.RFC3339), "revoked": all, "newly_revoked": nonNil(added),
		"previous_crl":  prevText,
		"signed_by_key": signer.Label, "sha256": crl.SHA256(), "tbs_sha256": draft.TBSSHA256,
		"approved_by": names(approvers), "duration_ms": d.Milliseconds(),
		"checks": []string{"linted before signing", "approved by every " + st.ApprovedBy, "signature verified with the issuer certificate",
			"TBS identical to the one linted and approved", "linted again after signing", "CRL number reserved on the token before signing"},
	}})
}
