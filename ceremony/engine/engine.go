// Package engine runs ceremony scripts. It composes the other packages: it
// reads the script and its templates, asks the people in the room through a
// Face, drives the HSM, writes artifacts, and records every event in the
// transcript.
//
// A run has two phases. Prepare checks everything that can be checked
// without people or hardware: the script, the inputs, every template the
// script uses (including the validity each certificate will get), every key
// label, the HSM configuration and the output directory. Run then opens the
// HSM token before it creates anything, so a missing module or token leaves
// no trace, and runs the steps.
//
// If a run fails or is aborted, keys it generated are destroyed (a key
// without a completed ceremony must not stay usable) and the transcript
// records why. A run that fails on an error before it changed anything (no
// key generated, no artifact written) removes its transcript and output
// directory, so that a bad input leaves nothing behind and the rehearsal can
// simply be rerun. An abort by the participants is always kept on record.
package engine

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/devicepki/ceremony/ceremony/lint"
	"github.com/devicepki/ceremony/ceremony/outdir"
	"github.com/devicepki/ceremony/ceremony/pki"
	"github.com/devicepki/ceremony/ceremony/revoke"
	"github.com/devicepki/ceremony/ceremony/script"
	"github.com/devicepki/ceremony/hsm"
)

// Options describe a ceremony run.
type Options struct {
	// ScriptPath is the ceremony script to run.
	ScriptPath string
	// TemplatesDir holds the certificate templates; by default the
	// templates directory next to the script's directory.
	TemplatesDir string
	// Inputs are the --input NAME=VALUE values.
	Inputs map[string]string
	// HSM selects the PKCS#11 module and token.
	HSM hsm.Config
	// OutDir is the ceremony directory to create.
	OutDir string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Tool describes this program for the transcript.
	Tool ToolInfo
	// Interfaces lists the live network interfaces; LiveInterfaces when
	// nil. Tests replace it.
	Interfaces func() ([]NetInterface, error)
	// Rehearsal marks a rehearsal: the transcript says so, and the
	// shares handed out are also written to OUT/shares/ (an answers file
	// can hand out shares only in a rehearsal).
	Rehearsal bool
}

// Plan is a prepared ceremony: everything checked, nothing touched yet.
type Plan struct {
	opts       Options
	script     *script.Script
	inputs     map[string]string
	templates  map[string]*pki.Profile      // by template name
	labels     map[int]string               // generate-key, restore-key and seal step index -> expanded label
	backups    map[string]*script.Step      // generate-key step id -> the backup-key step that backs it up
	restores   map[int]*restoreInput        // rebuild-backup-key and restore-key step index -> the checked backup and certificate
	restored   map[string]*x509.Certificate // restore-key step id -> the certificate its key must match
	validities map[int]pki.Validity         // issue-certificate step index -> validity
	// csrs are the checked CSRs, subjects the subjects given by the
	// script for throwaway keys, by issue-certificate step index.
	csrs     map[int]*csrInput
	subjects map[int]*pkix.Name
	// crlTemplates are the CRL profiles by name; revocations the checked
	// revocations files by issue-crl step index.
	crlTemplates map[string]*pki.CRLProfile
	revocations  map[int][]revoke.Request
	previousCRLs map[int]*x509.RevocationList // issue-crl step index -> the CRL it follows (absent: none)
	// pinned are the certificates use-key steps must find, by index.
	pinned map[int]*x509.Certificate
	out    *outdir.Dir
	start  time.Time
}

// Prepare checks a ceremony run without touching the HSM or the disk.
func Prepare(opts Options) (*Plan, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Interfaces == nil {
		opts.Interfaces = LiveInterfaces
	}
	s, err := script.Load(opts.ScriptPath)
	if err != nil {
		return nil, err
	}
	if opts.TemplatesDir == "" {
		opts.TemplatesDir = filepath.Join(filepath.Dir(opts.ScriptPath), "..", "templates")
	}
	inputs, err := s.ResolveInputs(opts.Inputs)
	if err != nil {
		return nil, err
	}
	p := &Plan{
		opts: opts, script: s, inputs: inputs,
		templates:  map[string]*pki.Profile{},
		labels:     map[int]string{},
		backups:    map[string]*script.Step{},
		restores:   map[int]*restoreInput{},
		restored:   map[string]*x509.Certificate{},
		validities: map[int]pki.Validity{},
		csrs:       map[int]*csrInput{}, subjects: map[int]*pkix.Name{},
		crlTemplates: map[string]*pki.CRLProfile{}, revocations: map[int][]revoke.Request{}, previousCRLs: map[int]*x509.RevocationList{},
		pinned: map[int]*x509.Certificate{},
		start:  opts.Now().UTC().Truncate(time.Second),
	}
	labelAt := map[string]int{}
	for i := range s.Steps {
		st := &s.Steps[i]
		path := fmt.Sprintf("steps[%d]", i)
		var prof *pki.Profile
		if st.Kind == script.KindIssueCRL {
			if err := p.prepareCRL(path, st, i); err != nil {
				return nil, err
			}
			continue
		}
		if st.Token != "" {
			if _, err := opts.HSM.Other(st.Token); err != nil {
				return nil, s.Errorf(path+".token", "%v", err)
			}
		}
		if st.Template != "" {
			if prof, err = p.template(path, st.Template); err != nil {
				return nil, err
			}
		}
		switch st.Kind {
		case script.KindBackupKey:
			p.backups[st.Key] = st
		case script.KindUseKey:
			label := script.Expand(st.Label, inputs)
			if err := hsm.ValidateLabel(label); err != nil {
				return nil, s.Errorf(path+".label", "%v", err)
			}
			p.labels[i] = label
			if st.Certificate != "" {
				c, err := pki.ReadCertificateFile("certificate", script.Expand(st.Certificate, inputs))
				if err != nil {
					return nil, s.Errorf(path+".certificate", "%v", err)
				}
				p.pinned[i] = c
			}
			if err := p.prepareUseKey(path, st, i); err != nil {
				return nil, err
			}
		case script.KindGenerateKey, script.KindRestoreKey:
			if st.Kind == script.KindGenerateKey && prof.Key == "" {
				return nil, s.Errorf(path+".template", "template %s lists the keys a CSR may bring (key.allowed); a generate-key step needs a template with key.algorithm", prof.Name)
			}
			label := script.Expand(st.Label, inputs)
			if err := hsm.ValidateLabel(label); err != nil {
				return nil, s.Errorf(path+".label", "%v", err)
			}
			if j, dup := labelAt[label]; dup {
				return nil, s.Errorf(path+".label", "label %q is also generated by steps[%d]", label, j)
			}
			labelAt[label] = i
			p.labels[i] = label
			if st.Kind == script.KindRestoreKey {
				in := p.restores[s.StepIndex(st.Source)]
				p.restores[i] = in
				p.restored[st.ID] = in.cert
			}
		case script.KindRebuildBackupKey:
			// The backup and the certificate are read and checked
			// against each other now, before any token is touched; the
			// restore uses these very bytes.
			in, field, err := loadRestore(script.Expand(st.Backup, inputs), script.Expand(st.Certificate, inputs))
			if err != nil {
				return nil, s.Errorf(path+"."+field, "%v", err)
			}
			p.restores[i] = in
		case script.KindSeal:
			label := script.Expand(st.Label, inputs)
			if err := hsm.ValidateLabel(label); err != nil {
				return nil, s.Errorf(path+".label", "%v", err)
			}
			if j, ok := labelAt[label]; ok {
				if kp := p.templates[s.Steps[j].Template]; kp.Kind != pki.KindTranscriptSigning {
					return nil, s.Errorf(path+".label", "key %q is generated by steps[%d] from template %s, a %s profile: only a %s key seals transcripts",
						label, j, kp.Name, kp.Kind, pki.KindTranscriptSigning)
				}
			}
			p.labels[i] = label
		case script.KindIssueCertificate:
			if err := p.prepareIssue(path, st, i, prof); err != nil {
				return nil, err
			}
		}
	}
	// A ceremony that certifies an audit key seals with that key, so its
	// transcript verifies against the root it created.
	if last := s.StepIndex(sealStep(s)); last >= 0 {
		for i := range s.Steps {
			st := &s.Steps[i]
			if st.Kind != script.KindIssueCertificate || p.templates[st.Template].Kind != pki.KindTranscriptSigning {
				continue
			}
			if want := p.labels[s.StepIndex(st.Key)]; p.labels[last] != want {
				return nil, s.Errorf(fmt.Sprintf("steps[%d].label", last), "the seal must use the audit key this ceremony certifies (%q, steps[%d]), not %q", want, i, p.labels[last])
			}
		}
	}
	if err := opts.HSM.Validate(); err != nil {
		return nil, err
	}
	if p.out, err = outdir.Check(opts.OutDir); err != nil {
		return nil, err
	}
	return p, nil
}

// prepareIssue checks an issue-certificate step before anything runs: the
// key it certifies suits the template (a generated key's algorithm, a CSR
// read and checked in full, or the subject a throwaway key gets), the
// lints the template excludes exist, and the validity fits the issuer
// where the issuer is known now.
func (p *Plan) prepareIssue(path string, st *script.Step, i int, prof *pki.Profile) error {
	s := p.script
	if st.Issuer == script.IssuerSelf && !prof.SelfSigned() {
		return s.Errorf(path+".template", "template %s is a %s profile, which is not self-signed", prof.Name, prof.Kind)
	}
	if st.Issuer != script.IssuerSelf && prof.SelfSigned() {
		return s.Errorf(path+".issuer", "template %s is a self-signed %s profile: use issuer: %s", prof.Name, prof.Kind, script.IssuerSelf)
	}
	if err := lint.CheckExclusions(prof.ExcludedLints()); err != nil {
		return fmt.Errorf("%s: lint.exclude: %w", prof.Path, err)
	}
	switch {
	case st.Key != "":
		keyStep := &s.Steps[s.StepIndex(st.Key)]
		keyProf := p.templates[keyStep.Template]
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
	if st.Issuer == script.IssuerSelf {
		return nil
	}
	j := s.StepIndex(st.Issuer)
	switch s.Steps[j].Kind {
	case script.KindRestoreKey:
		// Issued by a restored key: checked against its certificate
		// now, before the restore.
		cert := p.restored[st.Issuer]
		v = prof.Validity.ClampToIssuer(v, cert.NotAfter)
		p.validities[i] = v
		if err := pki.CheckIssuer(prof, v, cert); err != nil {
			return s.Errorf(path+".issuer", "%v", err)
		}
	case script.KindIssueCertificate:
		v = prof.Validity.ClampToIssuer(v, p.validities[j].NotAfter)
		p.validities[i] = v
		if err := pki.CheckIssuerProfile(prof, v, p.templates[s.Steps[j].Template], p.validities[j]); err != nil {
			return s.Errorf(path+".issuer", "%v", err)
		}
	case script.KindUseKey:
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
func (p *Plan) prepareSubject(path string, st *script.Step, i int, prof *pki.Profile) error {
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

// prepareCRL checks an issue-crl step: its CRL template and its
// revocations file, read in full now.
func (p *Plan) prepareCRL(path string, st *script.Step, i int) error {
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
	if prev := script.Expand(st.PreviousCRL, p.inputs); prev != script.NoPreviousCRL {
		crl, err := pki.ReadCRLFile("previous CRL", prev)
		if err != nil {
			return p.script.Errorf(path+".previous_crl", "%v", err)
		}
		p.previousCRLs[i] = crl
	}
	return nil
}

// template loads (once) the template called name for the step at path.
func (p *Plan) template(path, name string) (*pki.Profile, error) {
	if prof, ok := p.templates[name]; ok {
		return prof, nil
	}
	file := filepath.Join(p.opts.TemplatesDir, name+".yaml")
	if _, err := os.Stat(file); err != nil {
		return nil, p.script.Errorf(path+".template", "no template %q (looked for %s)", name, file)
	}
	prof, err := pki.Load(file)
	if err != nil {
		return nil, err
	}
	p.templates[name] = prof
	return prof, nil
}

// Script returns the script the plan runs.
func (p *Plan) Script() *script.Script { return p.script }

// OutDir returns the ceremony directory the run will create.
func (p *Plan) OutDir() string { return p.out.Path() }

// StepError is the error of a run that stopped at a step.
type StepError struct {
	Index int
	ID    string
	Err   error
	// Discarded is true when nothing had changed and the run removed its
	// transcript and output directory.
	Discarded bool
	// Aborted is true when the participants stopped the ceremony.
	Aborted bool
}

func (e *StepError) Error() string {
	msg := fmt.Sprintf("step %s: %v", e.ID, e.Err)
	if e.Discarded {
		msg += " (nothing was changed; no output kept)"
	}
	return msg
}

func (e *StepError) Unwrap() error { return e.Err }

// Result describes a completed ceremony.
type Result struct {
	Dir        string
	Transcript string
	Events     int
	// Head is the SHA-256 of the transcript's last line.
	Head      string
	Artifacts []outdir.Artifact
	// QR is what the export-qr step wrote (nil if the script has none).
	QR *QRExport
}

// Run runs the ceremony, asking the people in the room through face. It
// opens the HSM token first; if that fails, nothing has been created.
// Cancelling ctx aborts the ceremony at the next prompt or step boundary,
// with an abort event in the transcript.
func (p *Plan) Run(ctx context.Context, face Face) (*Result, error) {
	if face == nil {
		return nil, errors.New("engine: no face to ask the participants")
	}
	var (
		tok   *hsm.Token
		blank *hsm.Blank
		err   error
	)
	if p.initialises() {
		blank, err = hsm.OpenBlank(p.opts.HSM)
		if err != nil {
			return nil, err
		}
		defer blank.Close()
	} else {
		tok, err = hsm.Open(p.opts.HSM)
		if err != nil {
			return nil, err
		}
	}
	if err := p.out.Create(); err != nil {
		if tok != nil {
			tok.Close()
		}
		return nil, err
	}
	r, err := newRun(p, tok, face)
	if err != nil {
		if tok != nil {
			tok.Close()
		}
		_ = p.out.Discard()
		return nil, err
	}
	r.blank = blank
	defer r.end()
	return r.run(ctx)
}

// initialises reports whether the script initialises a blank token.
func (p *Plan) initialises() bool {
	for i := range p.script.Steps {
		if p.script.Steps[i].Kind == script.KindInitToken {
			return true
		}
	}
	return false
}

// sealStep returns the id of the script's seal step ("" if none).
func sealStep(s *script.Script) string {
	for _, st := range s.Steps {
		if st.Kind == script.KindSeal {
			return st.ID
		}
	}
	return ""
}
