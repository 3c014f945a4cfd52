package engine

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/devicepki/ceremony/ceremony/keys"
	"github.com/devicepki/ceremony/ceremony/lint"
	"github.com/devicepki/ceremony/ceremony/pki"
	"github.com/devicepki/ceremony/ceremony/record"
	"github.com/devicepki/ceremony/ceremony/register"
	"github.com/devicepki/ceremony/ceremony/revoke"
	"github.com/devicepki/ceremony/ceremony/script"
	"github.com/devicepki/ceremony/ceremony/seal"
	"github.com/devicepki/ceremony/ceremony/transcript"
)

// KindIssueCRL revokes certificates: the issuer signs a CRL listing them
// and every earlier revocation.
const KindIssueCRL = "issue-crl"

// NoPreviousCRL is the previous_crl value of an issuer's first CRL.
const NoPreviousCRL = "none"

var issueCRLKind = script.Kind{
	Name:    KindIssueCRL,
	Summary: "revokes certificates: the issuer signs a CRL listing them and every earlier revocation, linted, then approved by every attendee of a role",
	New:     func() script.Spec { return &issueCRLStep{} },
}

type issueCRLStep struct {
	// Template names a CRL template in templates/.
	Template string `yaml:"template"`
	// Issuer is the id of the earlier step whose key and certificate
	// sign the CRL.
	Issuer string `yaml:"issuer"`
	// Revocations is the path of the revocations file listing what to
	// revoke and why; may use ${input}.
	Revocations string `yaml:"revocations"`
	// PreviousCRL is the latest CRL the issuer signed before (a path), or
	// "none" for its first; may use ${input}. The new CRL follows it:
	// the next number, every entry it lists.
	PreviousCRL string `yaml:"previous_crl"`
	// ApprovedBy is the role whose every attendee approves the decoded
	// CRL before the HSM signs it.
	ApprovedBy string `yaml:"approved_by"`
}

func (k *issueCRLStep) Validate(c *script.Check) error {
	if k.ApprovedBy != "" {
		if err := c.NeedsPeople(); err != nil {
			return err
		}
	}
	if c.At(script.FactToken) < 0 {
		return c.Errorf("", "issue-crl needs the HSM: put an hsm-login step before it")
	}
	if err := c.TemplateName("template", k.Template); err != nil {
		return err
	}
	if _, err := c.Earlier("issuer", k.Issuer, KindUseKey, KindRestoreKey, KindIssueCertificate); err != nil {
		return err
	}
	if err := c.Required("revocations", k.Revocations, "the revocations file (what to revoke, and why)"); err != nil {
		return err
	}
	if err := c.Required("previous_crl", k.PreviousCRL, `the issuer's latest CRL (a file), or "`+NoPreviousCRL+`" for its first`); err != nil {
		return err
	}
	if c.Role("approved_by", k.ApprovedBy) != nil {
		return c.Errorf("approved_by", "required: the role whose every member approves the CRL before it is signed")
	}
	return nil
}

func (k *issueCRLStep) prepare(p *Plan, i int) error { return p.prepareCRL(stepPath(i, ""), k, i) }

func (k *issueCRLStep) asks() []Ask { return []Ask{{Kind: AskApprove, Role: k.ApprovedBy}} }

func (k *issueCRLStep) run(ctx context.Context, r *run, info StepInfo) (string, error) {
	return r.issueCRL(ctx, info, k, info.Index)
}

// prepareCRL checks an issue-crl step: its CRL template and its
// revocations file, read in full now.
func (p *Plan) prepareCRL(path string, st *issueCRLStep, i int) error {
	if _, ok := p.crlTemplates[st.Template]; !ok {
		file := filepath.Join(p.opts.TemplatesDir, st.Template+".yaml")
		if _, err := os.Stat(file); err != nil {
			return p.script.Errorf(path+".template", "no template %q (looked for %s)", st.Template, file)
		}
		prof, err := pki.LoadCRL(file)
		if err != nil {
			return err
		}
		if err := lint.CheckExclusions(prof.ExcludedLints()); err != nil {
			return fmt.Errorf("%s: lint.exclude: %w", prof.Path, err)
		}
		p.crlTemplates[st.Template] = prof
	}
	reqs, err := revoke.Load(script.Expand(st.Revocations, p.inputs))
	if err != nil {
		return p.script.Errorf(path+".revocations", "%v", err)
	}
	p.revocations[i] = reqs
	if prev := script.Expand(st.PreviousCRL, p.inputs); prev != NoPreviousCRL {
		crl, err := pki.ReadCRLFile("previous CRL", prev)
		if err != nil {
			return p.script.Errorf(path+".previous_crl", "%v", err)
		}
		p.previousCRLs[i] = crl
	}
	return nil
}

// issueCRL issues the CRL of an issue-crl step: every earlier revocation
// of this issuer on the token's register plus the new ones, under the
// next CRL number. Each new revocation is checked: a certificate file must
// carry the issuer's signature, a bare serial number must be on the
// register as issued by it. The CRL is linted and approved before the HSM
// signs it.
func (r *run) issueCRL(ctx context.Context, info StepInfo, st *issueCRLStep, i int) (string, error) {
	prof := r.crlTemplates[st.Template]
	signer, err := r.refind(r.keys[signingKeyOf(r.script, st.Issuer)])
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
			r.tok.Info().Label, is.CRLNumber, issuer.Subject, NoPreviousCRL)
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
	approvers, err := r.approve(ctx, info, st.ApprovedBy, "CRL", fields, draft.TBSSHA256, transcript.SigningApproved{CRLNumber: number.String()})
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
	r.crls[info.ID] = crl
	var newSerials []string
	for _, rv := range added {
		newSerials = append(newSerials, fmt.Sprintf("%s (%s, %s)", rv.Serial, rv.Subject, rv.Reason))
	}
	text := fmt.Sprintf("Issued CRL number %s of %q, this update %s, next update %s, listing %d revoked certificates; newly revoked: %s (SHA-256 %s, TBS SHA-256 %s), approved by %s",
		number, issuer.Subject.String(), crl.CRL.ThisUpdate.UTC().Format(time.RFC3339), crl.CRL.NextUpdate.UTC().Format(time.RFC3339),
		len(all), orNone(strings.Join(newSerials, "; ")), crl.SHA256(), draft.TBSSHA256, names(approvers))
	r.face.Report(Report{Kind: Notice, Step: info, Text: "CRL SHA-256: " + record.GroupHex(crl.SHA256())})
	return text, r.record(transcript.Entry{Step: info.ID, Actors: actors(approvers...), Text: text, Data: transcript.CRLIssued{
		Template: prof.Name, TemplateSHA256: prof.SHA256, Issuer: issuer.Subject.String(), IssuerSHA256: ifp,
		CRLNumber: number.String(), ThisUpdate: crl.CRL.ThisUpdate.UTC().Format(time.RFC3339),
		NextUpdate: crl.CRL.NextUpdate.UTC().Format(time.RFC3339), Revoked: transcript.V(all), NewlyRevoked: transcript.V(nonNil(added)),
		PreviousCRL: prevText,
		SignedByKey: signer.Label, SHA256: crl.SHA256(), TBSSHA256: draft.TBSSHA256,
		ApprovedBy: names(approvers), DurationMS: d.Milliseconds(),
		Checks: []string{"linted before signing", "approved by every " + st.ApprovedBy, "signature verified with the issuer certificate",
			"TBS identical to the one linted and approved", "linted again after signing", "CRL number reserved on the token before signing"},
	}})
}
