package engine

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/devicepki/ceremony/ceremony/csr"
	"github.com/devicepki/ceremony/ceremony/keys"
	"github.com/devicepki/ceremony/ceremony/lint"
	"github.com/devicepki/ceremony/ceremony/pki"
	"github.com/devicepki/ceremony/ceremony/register"
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
	typ, text := transcript.TypeLintPassed, fmt.Sprintf("zlint %s: the %s (TBS SHA-256 %s) passed %d applicable lints", rep.Version, what, tbs, rep.Ran)
	if lerr != nil {
		typ, text = transcript.TypeLintFailed, fmt.Sprintf("zlint %s: the %s (TBS SHA-256 %s) fails: %v", rep.Version, what, tbs, lerr)
	}
	if len(exclusions) > 0 {
		var ex []string
		for _, e := range exclusions {
			ex = append(ex, e.Lint)
		}
		text += "; excluded by the template: " + strings.Join(ex, ", ")
	}
	data := transcript.Lint{
		TBSSHA256: tbs, Zlint: rep.Version, Ran: rep.Ran, Passed: rep.Passed,
		Findings: transcript.V(nonNil(rep.Findings)), Notices: transcript.V(nonNil(rep.Notices)), Excluded: transcript.V(nonNil(exclusions)),
	}
	var payload transcript.Payload = transcript.LintPassed(data)
	if lerr != nil {
		payload = transcript.LintFailed(data)
	}
	if err := r.record(transcript.Entry{Type: typ, Step: info.ID, Text: text, Data: payload}); err != nil {
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
func (r *run) approve(ctx context.Context, info StepInfo, role string, what string, fields []pki.Field, tbs string, data transcript.SigningApproved) ([]Participant, error) {
	ws, err := words.FromHex(tbs)
	if err != nil {
		return nil, err
	}
	var who []Participant
	for _, p := range r.inRole(role) {
		err := r.face.Approve(ctx, ApprovalRequest{Step: info, Participant: p, What: what, Fields: fields, TBSSHA256: tbs, Words: strings.Join(ws, " ")})
		if errors.Is(err, ErrAborted) {
			_ = r.record(transcript.Entry{Step: info.ID, Actors: actors(p),
				Text: fmt.Sprintf("%s refused to approve the %s (TBS SHA-256 %s); nothing was signed", p.Name, what, tbs),
				Data: transcript.SigningRefused{TBSSHA256: tbs}})
		}
		if err != nil {
			return nil, err
		}
		who = append(who, p)
	}
	if len(who) == 0 {
		return nil, fmt.Errorf("nobody present as %s to approve the %s", role, what)
	}
	data.What, data.TBSSHA256, data.ApprovedBy, data.Shown = what, tbs, names(who), transcript.V(fields)
	text := fmt.Sprintf("The %s with TBS SHA-256 %s was shown decoded and approved by %s", what, tbs, names(who))
	return who, r.record(transcript.Entry{Step: info.ID, Actors: actors(who...), Text: text, Data: data})
}

// loadRegister reads the token's issuance register (empty if the token
// has none yet).
func (r *run) loadRegister() (*register.Register, error) { return loadRegister(r.tok) }

// loadRegister reads tok's issuance register (an empty one if it has none).
func loadRegister(tok *hsm.Token) (*register.Register, error) {
	data, err := tok.ReadPrivateData(register.Label)
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
	return revocation(r.tok, c)
}

// revocation returns the revocation of c in tok's issuance register, or nil.
func revocation(tok *hsm.Token, c *x509.Certificate) (*register.Revocation, error) {
	if bytes.Equal(c.RawIssuer, c.RawSubject) {
		return nil, nil
	}
	reg, err := loadRegister(tok)
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
