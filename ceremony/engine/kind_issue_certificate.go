package engine

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"strings"
	"time"

	"github.com/devicepki/ceremony/ceremony/keys"
	"github.com/devicepki/ceremony/ceremony/lint"
	"github.com/devicepki/ceremony/ceremony/pki"
	"github.com/devicepki/ceremony/ceremony/record"
	"github.com/devicepki/ceremony/ceremony/script"
	"github.com/devicepki/ceremony/ceremony/transcript"
	"github.com/devicepki/ceremony/hsm"
)

// KindIssueCertificate signs a certificate from a template.
const KindIssueCertificate = "issue-certificate"

// IssuerSelf is the issue-certificate issuer that means self-signed.
const IssuerSelf = "self"

// NoCSR is the value of the input an issue-certificate step with both
// csr and throwaway_key names when no CSR is given: the certificate is
// then for a throwaway key.
const NoCSR = "none"

var issueCertificateKind = script.Kind{
	Name:    KindIssueCertificate,
	Summary: "signs a certificate from a template for a key generated here, a CSR's key or a throwaway key; linted, then approved by every attendee of a role, before the HSM signs",
	New:     func() script.Spec { return &issueCertificateStep{} },
}

type issueCertificateStep struct {
	// Template names a certificate template in templates/.
	Template string `yaml:"template"`
	// Key is the id of the generate-key step whose key is certified.
	Key string `yaml:"key"`
	// Issuer is "self" for a self-signed certificate, or the id of an
	// earlier issue-certificate, restore-key or use-key step whose
	// certificate and key issue this one.
	Issuer string `yaml:"issuer"`
	// CSR is the path of the certificate signing request whose key and
	// subject are certified; may use ${input}.
	CSR string `yaml:"csr"`
	// ThrowawayKey certifies a fresh software key that is discarded at
	// once: a cloud CA's verification certificate proves the issuer's
	// key, not the subject's. Together with csr, which must then be one
	// ${input} reference alone whose default is "none" (NoCSR), it means
	// a throwaway key unless that input names a CSR.
	ThrowawayKey bool `yaml:"throwaway_key"`
	// Subject gives the values of the attributes the template requests
	// (with key or throwaway_key); values may use ${input}. With csr and
	// throwaway_key together, a CSR given must request exactly this
	// subject.
	Subject map[string]string `yaml:"subject"`
	// ApprovedBy is the role whose every attendee approves the decoded
	// content before the HSM signs it.
	ApprovedBy string `yaml:"approved_by"`
}

func (k *issueCertificateStep) Validate(c *script.Check) error {
	if k.ApprovedBy != "" {
		if err := c.NeedsPeople(); err != nil {
			return err
		}
	}
	if err := c.NeedsToken(); err != nil {
		return err
	}
	if err := c.TemplateName("template", k.Template); err != nil {
		return err
	}
	sources := 0
	for _, set := range []bool{k.Key != "", k.CSR != "", k.ThrowawayKey} {
		if set {
			sources++
		}
	}
	csrOrThrowaway := k.Key == "" && k.CSR != "" && k.ThrowawayKey
	if sources != 1 && !csrOrThrowaway {
		return c.Errorf("", "give exactly one of key (a key generated in this ceremony), csr (a certificate signing request) or throwaway_key: true (or csr: ${INPUT} with throwaway_key: true, for a throwaway key unless a CSR is given)")
	}
	if k.Key != "" {
		if _, err := c.Earlier("key", k.Key, KindGenerateKey); err != nil {
			return err
		}
	}
	if csrOrThrowaway {
		if err := k.validateCSROrThrowaway(c); err != nil {
			return err
		}
	} else if len(k.Subject) > 0 && k.CSR != "" {
		return c.Errorf("subject", "a CSR brings its own subject: subject goes with key or throwaway_key")
	}
	if k.Issuer == "" {
		return c.Errorf("issuer", "required: %q, or the id of the earlier step whose key signs", IssuerSelf)
	}
	if k.Issuer == IssuerSelf {
		if k.Key == "" {
			return c.Errorf("issuer", "only a key generated in this ceremony can sign its own certificate")
		}
	} else {
		iss, err := c.Earlier("issuer", k.Issuer, KindIssueCertificate, KindRestoreKey, KindUseKey)
		if err != nil {
			return err
		}
		if ic, ok := iss.Spec.(*issueCertificateStep); ok && k.Key != "" && ic.Key == k.Key {
			return c.Errorf("issuer", "step %q certifies the same key; use issuer: %s for a self-signed certificate", k.Issuer, IssuerSelf)
		}
	}
	if k.ApprovedBy == "" {
		return c.Errorf("approved_by", "required: the role whose every member approves the certificate before it is signed")
	}
	return c.Role("approved_by", k.ApprovedBy)
}

// csrInput returns the name of the input a step with both csr and
// throwaway_key takes its CSR from (a file, or "none" for a throwaway
// key), and false for any other step.
func (k *issueCertificateStep) csrInput() (string, bool) {
	if k.CSR == "" || !k.ThrowawayKey {
		return "", false
	}
	return script.SoleRef(k.CSR)
}

// validateCSROrThrowaway checks a step that certifies a CSR's key if one
// is given and a throwaway key if not: csr is one input reference alone,
// and that input says "none" unless given.
func (k *issueCertificateStep) validateCSROrThrowaway(c *script.Check) error {
	name, ok := k.csrInput()
	if !ok {
		return c.Errorf("csr", "%q: with throwaway_key: true, csr is one input reference alone, such as ${csr}, whose default is %s: the CSR's key is certified when the input names a file, a throwaway key when it is %s",
			k.CSR, NoCSR, NoCSR)
	}
	in, _ := c.Script.Input(name)
	if in.Default == nil || *in.Default != NoCSR {
		return c.Errorf("csr", "input %s must have default: %s: with throwaway_key: true the certificate is for a throwaway key unless a CSR is given", name, NoCSR)
	}
	return nil
}

func (k *issueCertificateStep) prepare(p *Plan, i int) error {
	prof, err := p.template(stepPath(i, ""), k.Template)
	if err != nil {
		return err
	}
	return p.prepareIssue(stepPath(i, ""), k, i, prof)
}

func (k *issueCertificateStep) asks() []Ask { return []Ask{{Kind: AskApprove, Role: k.ApprovedBy}} }

func (k *issueCertificateStep) run(ctx context.Context, r *run, info StepInfo) (string, error) {
	return r.issueCertificate(ctx, info, k, info.Index)
}

// signingKeyOf returns the id of the step whose key an issuer step signs
// with: an issue-certificate step's certified key, or the key a restore-key
// or use-key step found.
func signingKeyOf(s *script.Script, issuerID string) string {
	if ic, ok := specOf[*issueCertificateStep](s, issuerID); ok {
		return ic.Key
	}
	return issuerID
}

// prepareIssue checks an issue-certificate step before anything runs: the
// key it certifies suits the template (a generated key's algorithm, a CSR
// read and checked in full, or the subject a throwaway key gets), the
// lints the template excludes exist, and the validity fits the issuer
// where the issuer is known now.
func (p *Plan) prepareIssue(path string, st *issueCertificateStep, i int, prof *pki.Profile) error {
	s := p.script
	if st.Issuer == IssuerSelf && !prof.SelfSigned() {
		return s.Errorf(path+".template", "template %s is a %s profile, which is not self-signed", prof.Name, prof.Kind)
	}
	if st.Issuer != IssuerSelf && prof.SelfSigned() {
		return s.Errorf(path+".issuer", "template %s is a self-signed %s profile: use issuer: %s", prof.Name, prof.Kind, IssuerSelf)
	}
	if err := lint.CheckExclusions(prof.ExcludedLints()); err != nil {
		return fmt.Errorf("%s: lint.exclude: %w", prof.Path, err)
	}
	switch {
	case st.Key != "":
		keyStep := &s.Steps[s.StepIndex(st.Key)]
		keyProf := p.templates[keyStep.Spec.(*generateKeyStep).Template]
		if !prof.AllowsKey(keyProf.Key) {
			return s.Errorf(path+".template", "template %s wants a %s key, but step %q generates %s (template %s)",
				prof.Name, prof.DescribeAllowedKeys(), keyStep.ID, keyProf.Key.Describe(), keyProf.Name)
		}
		if err := p.prepareSubject(path, st, i, prof); err != nil {
			return err
		}
	case st.CSR != "":
		if err := p.prepareCSR(path, st, i, prof); err != nil {
			return err
		}
	default: // throwaway key
		if prof.Key == "" || !prof.Key.IsECDSA() {
			return s.Errorf(path+".template", "a throwaway key needs a template with an ECDSA key.algorithm")
		}
		if err := p.prepareSubject(path, st, i, prof); err != nil {
			return err
		}
	}
	v, err := prof.Validity.Resolve(p.start)
	if err != nil {
		return fmt.Errorf("%s: validity: %w", prof.Path, err)
	}
	p.validities[i] = v
	if st.Issuer == IssuerSelf {
		return nil
	}
	j := s.StepIndex(st.Issuer)
	switch iss := s.Steps[j].Spec.(type) {
	case *restoreKeyStep:
		// Issued by a restored key: checked against its certificate
		// now, before the restore.
		cert := p.restored[st.Issuer]
		v = prof.Validity.ClampToIssuer(v, cert.NotAfter)
		p.validities[i] = v
		if err := pki.CheckIssuer(prof, v, cert); err != nil {
			return s.Errorf(path+".issuer", "%v", err)
		}
	case *issueCertificateStep:
		v = prof.Validity.ClampToIssuer(v, p.validities[j].NotAfter)
		p.validities[i] = v
		if err := pki.CheckIssuerProfile(prof, v, p.templates[iss.Template], p.validities[j]); err != nil {
			return s.Errorf(path+".issuer", "%v", err)
		}
	case *useKeyStep:
		if c := p.pinned[j]; c != nil {
			v = prof.Validity.ClampToIssuer(v, c.NotAfter)
			if err := pki.CheckIssuer(prof, v, c); err != nil {
				return s.Errorf(path+".issuer", "%v", err)
			}
		}
		// Otherwise the issuer certificate is on the token: checked when
		// the step runs, before anything is signed.
	}
	return nil
}

// prepareSubject builds the subject of a certificate made without a CSR:
// the template's, with the requested attributes the step's subject gives.
func (p *Plan) prepareSubject(path string, st *issueCertificateStep, i int, prof *pki.Profile) error {
	if len(prof.RequestedSubject) == 0 && len(st.Subject) == 0 {
		return nil // the template's own subject
	}
	values := map[string]string{}
	for k, v := range st.Subject {
		values[k] = script.Expand(v, p.inputs)
	}
	subj, err := prof.SubjectFromValues(values)
	if err != nil {
		return p.script.Errorf(path+".subject", "%v", err)
	}
	p.subjects[i] = &subj
	return nil
}

// prepareCSR checks the CSR of an issue-certificate step before anything
// runs: read and checked in full against the template. A step with both
// csr and throwaway_key (script.Step.CSRInput) certifies a throwaway key
// when the input is none, so the throwaway key and the subject the script
// gives must suit the template whatever the input; a CSR given instead
// must request exactly that subject (for a verification certificate: the
// registration code as common name). A CSR asking for another is refused,
// not overridden: what the requester signed is what is certified.
func (p *Plan) prepareCSR(path string, st *issueCertificateStep, i int, prof *pki.Profile) error {
	s := p.script
	file := script.Expand(st.CSR, p.inputs)
	input, either := st.csrInput()
	if either {
		if prof.Key == "" || !prof.Key.IsECDSA() {
			return s.Errorf(path+".template", "a throwaway key (throwaway_key: true, used when input %s is %s) needs a template with an ECDSA key.algorithm", input, NoCSR)
		}
		if err := p.prepareSubject(path, st, i, prof); err != nil {
			return err
		}
		if file == NoCSR {
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

// keyChoice says, for the transcript, which key an issue-certificate step
// with both csr and throwaway_key certifies; "" for any other step.
func (r *run) keyChoice(st *issueCertificateStep, i int) string {
	input, either := st.csrInput()
	switch {
	case !either:
		return ""
	case r.csrs[i] != nil:
		return fmt.Sprintf("the key of the CSR given as input %s (%s)", input, r.csrs[i].req.Path)
	}
	return fmt.Sprintf("a throwaway key (input %s is %s: no CSR given)", input, NoCSR)
}

// subjectKey returns the public key an issue-certificate step certifies,
// and a description for the transcript (which, for a step that takes a
// CSR if one is given and a throwaway key if not, says which it took).
func (r *run) subjectKey(info StepInfo, st *issueCertificateStep, i int, prof *pki.Profile) (crypto.PublicKey, map[string]any, error) {
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

// issueCertificate issues the certificate of an issue-certificate step:
// the exact to-be-signed certificate is built and signed by a throwaway
// key, linted, and shown decoded to every approver; only then does the
// HSM sign it, and the result is checked (signature with the issuer's
// public key, the same TBS, lint again) before anything is kept.
func (r *run) issueCertificate(ctx context.Context, info StepInfo, st *issueCertificateStep, i int) (string, error) {
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
	if st.Issuer == IssuerSelf {
		if signer, err = r.refind(r.keys[st.Key]); err != nil {
			return "", err
		}
	} else {
		if signer, err = r.refind(r.keys[signingKeyOf(r.script, st.Issuer)]); err != nil {
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
	approvers, err := r.approve(ctx, info, st.ApprovedBy, "certificate", fields, draft.TBSSHA256, transcript.SigningApproved{
		Subject: c.Subject.String(), Serial: serialHex(c.SerialNumber.Bytes()),
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
	r.certs[info.ID] = iss
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
	return text, r.record(transcript.Entry{Step: info.ID, Actors: actors(approvers...), Text: text, Data: transcript.CertificateIssued{
		Template: prof.Name, TemplateSHA256: prof.SHA256, Profile: string(prof.Kind),
		Subject: c.Subject.String(), Issuer: c.Issuer.String(), Serial: serialHex(c.SerialNumber.Bytes()),
		NotBefore: c.NotBefore.UTC().Format(time.RFC3339), NotAfter: c.NotAfter.UTC().Format(time.RFC3339),
		SignatureAlgorithm: c.SignatureAlgorithm.String(), Key: transcript.V(keyInfo),
		SignedByKey: signer.Label, PublicKeySHA256: fp, SHA256: iss.SHA256(), TBSSHA256: draft.TBSSHA256,
		ApprovedBy: names(approvers), DurationMS: d.Milliseconds(), StoredOnToken: stored, Checks: checks,
	}})
}
