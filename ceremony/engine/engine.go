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

	"github.com/devicepki/ceremony/ceremony/activation"
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
	labels     map[int]string               // generate-key, restore-key, use-key and seal step index -> expanded label
	labelAt    map[string]int               // label of a key generated or restored on the main token -> its step index
	backups    map[string]int               // generate-key step id -> the index of the backup-key step that backs it up
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
	// caps is what the main token's module offers, as the run checked it.
	caps *hsm.Capabilities
}

// Prepare checks a ceremony run without touching the HSM or the disk.
func Prepare(opts Options) (*Plan, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Interfaces == nil {
		opts.Interfaces = LiveInterfaces
	}
	s, err := LoadScript(opts.ScriptPath)
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
		labelAt:    map[string]int{},
		backups:    map[string]int{},
		restores:   map[int]*restoreInput{},
		restored:   map[string]*x509.Certificate{},
		validities: map[int]pki.Validity{},
		csrs:       map[int]*csrInput{}, subjects: map[int]*pkix.Name{},
		crlTemplates: map[string]*pki.CRLProfile{}, revocations: map[int][]revoke.Request{}, previousCRLs: map[int]*x509.RevocationList{},
		pinned: map[int]*x509.Certificate{},
		start:  opts.Now().UTC().Truncate(time.Second),
	}
	// A script is approved before it runs: an approval dated after
	// today is a mistake in the script or in the machine's clock.
	if a := s.Approval; a != nil && a.Day().After(p.start) {
		return nil, s.Errorf("approval.date", "%s is after today (%s): a script is approved before a ceremony runs it; check the date in the script and the machine's clock", a.Date, p.start.Format(time.DateOnly))
	}
	for i := range s.Steps {
		if err := kindOf(s, i).prepare(p, i); err != nil {
			return nil, err
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

// otherToken checks that the HSM config names the other token a step
// uses ("" for the ceremony's main token).
func (p *Plan) otherToken(i int, token string) error {
	if token == "" {
		return nil
	}
	if _, err := p.opts.HSM.Other(token); err != nil {
		return p.script.Errorf(stepPath(i, "token"), "%v", err)
	}
	return nil
}

// keyLabel checks the label of a key step i makes (generate-key,
// restore-key): a valid label, made by no other step.
func (p *Plan) keyLabel(i int, text string) error {
	label := p.expand(text)
	if err := hsm.ValidateLabel(label); err != nil {
		return p.script.Errorf(stepPath(i, "label"), "%v", err)
	}
	if j, dup := p.labelAt[label]; dup {
		return p.script.Errorf(stepPath(i, "label"), "label %q is also generated by steps[%d]", label, j)
	}
	p.labelAt[label] = i
	p.labels[i] = label
	return nil
}

// expand replaces the ${input} references in a step's text.
func (p *Plan) expand(text string) string { return script.Expand(text, p.inputs) }

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
	// Fingerprints are the certificate SHA-256 (fingerprint) of each
	// certificate artifact, by path: what the paper record, verify's
	// --root-fingerprint and import's pin name.
	Fingerprints map[string]string
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
	var caps *hsm.Capabilities
	// One ceremony per token at a time, from before the token (or the
	// blank slot) is looked at until the end.
	unlockToken, err := hsm.LockToken(p.opts.HSM)
	if err != nil {
		return nil, err
	}
	defer unlockToken()
	if p.initialises() {
		open := hsm.OpenBlank
		if p.takesOver() {
			open = hsm.OpenToTakeOver
		}
		blank, err = open(p.opts.HSM)
		if err != nil {
			return nil, err
		}
		defer blank.Close()
		caps, err = blank.Capabilities()
	} else {
		tok, err = hsm.Open(p.opts.HSM)
		if err != nil {
			return nil, err
		}
		caps, err = tok.Capabilities()
	}
	if err == nil {
		err = p.checkHSM(caps)
	}
	if err == nil && tok != nil && p.quorumLogin() {
		// The activation record (on the token, or the file the config
		// names) is checked before anyone acts, not at the login.
		_, _, _, err = activation.Load(tok, p.opts.HSM.ActivationRecord)
	}
	if err != nil {
		if tok != nil {
			tok.Close()
		}
		return nil, err
	}
	if err := p.out.Create(); err != nil {
		if tok != nil {
			tok.Close()
		}
		return nil, err
	}
	// The directory is this run's alone from here: another run or a
	// close waits for nothing and is refused. Another process may have
	// started in it between the check and the lock: then it is not
	// empty, and this run leaves it as it is.
	if err := p.out.Lock(); err != nil {
		if tok != nil {
			tok.Close()
		}
		return nil, err
	}
	defer p.out.Unlock()
	if _, err := outdir.Check(p.out.Path()); err != nil {
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
	r.blank, r.caps = blank, caps
	defer r.end()
	return r.run(ctx)
}

// quorumLogin reports whether the script opens its main token with a
// quorum of activation shares.
func (p *Plan) quorumLogin() bool {
	for i := range p.script.Steps {
		if l, ok := p.script.Steps[i].Spec.(*hsmLoginStep); ok && l.Quorum != nil && l.Token == "" {
			return true
		}
	}
	return false
}

// takesOver reports whether the script's init-token step takes over a
// token that has a security officer's PIN.
func (p *Plan) takesOver() bool {
	i := p.script.KindAt(KindInitToken)
	if i < 0 {
		return false
	}
	st, ok := p.script.Steps[i].Spec.(*initTokenStep)
	return ok && st.SOPINBy != ""
}

// initialises reports whether the script initialises a blank token.
func (p *Plan) initialises() bool {
	return p.script.KindAt(KindInitToken) >= 0
}
