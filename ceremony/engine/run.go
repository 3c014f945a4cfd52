package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/devicepki/ceremony/ceremony/outdir"
	"github.com/devicepki/ceremony/ceremony/pki"
	"github.com/devicepki/ceremony/ceremony/script"
	"github.com/devicepki/ceremony/ceremony/transcript"
	"github.com/devicepki/ceremony/hsm"
)

// run is the state of one ceremony run.
type run struct {
	*Plan
	tok  *hsm.Token
	tw   *transcript.Writer
	face Face

	present []Participant // in attendance order
	keys    map[string]*hsm.KeyPair
	certs   map[string]*pki.Issued
	crls    map[string]*pki.IssuedCRL

	generated []*hsm.KeyPair // keys this run created, for rollback
	// others are the other tokens opened by hsm-login steps, by name;
	// keyToken says on which of them a generated key lives (absent: the
	// main token).
	others   map[string]*hsm.Token
	keyToken map[*hsm.KeyPair]*hsm.Token
	// registerSaved is true once this run wrote the token's issuance
	// register; registerBefore is what it held (nil: nothing).
	registerSaved  bool
	registerBefore []byte
	artifacts      []outdir.Artifact
	// inRoom are the artifacts that never leave the room (key backups):
	// export-qr does not carry them out.
	inRoom map[string]bool
	// journaled are the tokens this run wrote a ceremony journal to.
	journaled []*hsm.Token
	// activationRecord is the path of the activation record artifact an
	// init-token step wrote: kept whenever the token was initialised.
	activationRecord string
	changed          bool // something irreversible happened
	// initialised is true once this run initialised the token.
	initialised bool
	sealed      bool // the transcript is sealed: nothing more is recorded
	// fingerprints are the certificate SHA-256 of each certificate
	// artifact written, by path (Result.Fingerprints).
	fingerprints map[string]string
	sealingBegun bool         // the token holds this run's sealing record (writeSealing)
	started      map[int]bool // steps that began
	asked        map[int]bool // steps whose exceptions were asked for

	// blank is the token slot an init-token step initialises; tok is nil
	// until it has.
	blank *hsm.Blank
	// activation is the token's activation record and secret, held from
	// init-token or a quorum login until the run ends, for the security
	// officer's PIN; wiped by end.
	activation *activationState
	// pending holds the shares of each split (by step id) until they are
	// handed out.
	pending map[string]*pendingSplit
	// rebuilt holds each rebuilt backup key (by rebuild-backup-key step
	// id) until its restore-key step; wiped by end.
	rebuilt map[string]*rebuiltKey
	// qr is what the export-qr step wrote, if it ran.
	qr *QRExport
	// caps is what the main token's module offers, as checked before
	// the run began.
	caps *hsm.Capabilities
}

func newRun(p *Plan, tok *hsm.Token, face Face) (*run, error) {
	tw, err := transcript.Create(p.out.TranscriptPath(), p.opts.Now)
	if err != nil {
		return nil, err
	}
	return &run{Plan: p, tok: tok, tw: tw, face: face,
		keys: map[string]*hsm.KeyPair{}, certs: map[string]*pki.Issued{}, crls: map[string]*pki.IssuedCRL{},
		inRoom: map[string]bool{}, started: map[int]bool{}, asked: map[int]bool{}, pending: map[string]*pendingSplit{},
		rebuilt: map[string]*rebuiltKey{}, fingerprints: map[string]string{},
		others: map[string]*hsm.Token{}, keyToken: map[*hsm.KeyPair]*hsm.Token{}}, nil
}

func (r *run) record(e transcript.Entry) error {
	_, err := r.tw.Append(e)
	return err
}

func (r *run) info(i int) StepInfo {
	st := &r.script.Steps[i]
	return StepInfo{
		Index: i, Total: len(r.script.Steps), ID: st.ID, Kind: st.Kind,
		Title: script.Expand(st.Title, r.inputs), Say: strings.TrimSpace(script.Expand(st.Say, r.inputs)),
	}
}

func (r *run) run(ctx context.Context) (*Result, error) {
	if err := r.record(r.startEntry()); err != nil {
		return nil, r.fail(-1, err)
	}
	for i := range r.script.Steps {
		if err := ctx.Err(); err != nil {
			return nil, r.fail(i, fmt.Errorf("%w: %v", ErrAborted, err))
		}
		info := r.info(i)
		r.started[i] = true
		r.face.Report(Report{Kind: StepStarted, Step: info, Text: info.Title})
		// Nothing can be recorded after the seal: exceptions at the seal
		// step are taken before it, and none after it.
		kind := r.script.Steps[i].Kind
		sealing := kind == script.KindSeal || kind == script.KindExportQR
		if kind == script.KindSeal {
			if err := r.exceptions(ctx, info); err != nil {
				return nil, r.fail(i, err)
			}
		}
		if err := r.announce(ctx, info); err != nil {
			return nil, r.fail(i, err)
		}
		summary, err := r.step(ctx, i)
		if err != nil {
			return nil, r.fail(i, err)
		}
		if !sealing {
			if err := r.exceptions(ctx, info); err != nil {
				return nil, r.fail(i, err)
			}
		}
		r.face.Report(Report{Kind: StepDone, Step: info, Text: summary})
	}
	if err := r.tw.Close(); err != nil {
		return nil, fmt.Errorf("close transcript: %w", err)
	}
	res := &Result{
		Dir: r.out.Path(), Transcript: r.tw.Path(), Events: r.tw.Len(), Head: r.tw.Head(), Artifacts: r.artifacts, QR: r.qr,
		Fingerprints: r.fingerprints,
	}
	return res, nil
}

// announce has the step's text read aloud, and waits for the room, before
// a step whose machine acts at once. Confirmations and choices put their
// text to the people themselves; a step without text, or before anyone's
// attendance is recorded, is not announced.
func (r *run) announce(ctx context.Context, info StepInfo) error {
	if info.Say == "" || info.Kind == KindConfirm || info.Kind == KindChoose || info.Kind == script.KindAttendance {
		return nil
	}
	leads := r.inRole("administrator")
	if len(leads) == 0 && len(r.script.Roles) > 0 {
		leads = r.inRole(r.script.Roles[0].Name)
	}
	if len(leads) == 0 {
		return nil
	}
	return r.face.Announce(ctx, AnnounceRequest{Step: info, Participant: leads[0]})
}

// exceptions records the exceptions the participants noted at a step.
func (r *run) exceptions(ctx context.Context, info StepInfo) error {
	r.asked[info.Index] = true
	exs, err := r.face.Exceptions(ctx, info)
	if err != nil {
		return err
	}
	for _, ex := range exs {
		if len(r.present) == 0 {
			return errors.New("an exception needs the person recording it to be present: record attendance first")
		}
		by, err := pick(ex.By, r.present)
		if err != nil {
			return fmt.Errorf("exception: %w", err)
		}
		for _, f := range []struct{ what, text string }{{"what was expected", ex.Expected}, {"what happened", ex.Happened}, {"what was done", ex.Action}} {
			if err := checkNote("exception: "+f.what, f.text); err != nil {
				return err
			}
		}
		text := fmt.Sprintf("Exception recorded by %s at step %s: %s", by.Name, info.ID, ex.Happened)
		r.face.Report(Report{Kind: Notice, Step: info, Text: text})
		if err := r.record(transcript.Entry{Step: info.ID, Actors: actors(by), Text: text,
			Data: transcript.Exception{Expected: ex.Expected, Happened: ex.Happened, Action: ex.Action}}); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) startEntry() transcript.Entry {
	var templates []transcript.File
	for _, t := range r.templates {
		templates = append(templates, transcript.File{Name: t.Name, Path: t.Path, SHA256: t.SHA256, Text: t.Text})
	}
	sort.Slice(templates, func(i, j int) bool { return templates[i].Name < templates[j].Name })
	var roles []transcript.StartedRole
	for _, ro := range r.script.Roles {
		roles = append(roles, transcript.StartedRole{Name: ro.Name, Description: strings.TrimSpace(ro.Description)})
	}
	var steps []transcript.StartedStep
	for i := range r.script.Steps {
		info := r.info(i)
		steps = append(steps, transcript.StartedStep{ID: info.ID, Kind: info.Kind, Title: info.Title, Say: info.Say})
	}
	text := fmt.Sprintf("Ceremony %q (%s) started with the %s face", r.script.Title, r.script.Name, r.face.Name())
	var approval *transcript.ScriptApproval
	if a := r.script.Approval; a != nil {
		approval = &transcript.ScriptApproval{ApprovedBy: a.ApprovedBy, Date: a.Date, Reference: a.Reference}
		text += fmt.Sprintf("; script approved on %s by %s", a.Date, strings.Join(a.ApprovedBy, "; "))
	} else {
		text += "; the script records no approval"
	}
	if r.opts.Rehearsal {
		text = "REHEARSAL: " + text + "; shares handed out are also written to shares/ and protect nothing"
	}
	return transcript.Entry{
		Text: text,
		Data: transcript.CeremonyStarted{
			FormatVersion:  transcript.Version,
			Title:          r.script.Title,
			Script:         transcript.File{Name: r.script.Name, Path: r.script.Path, SHA256: r.script.SHA256, Text: r.script.Text},
			ScriptApproval: approval,
			Roles:          roles,
			Templates:      templates,
			Steps:          steps,
			Inputs:         r.inputs,
			HSM:            transcript.V(r.opts.HSM),
			Face:           r.face.Name(),
			Rehearsal:      r.opts.Rehearsal,
			ToolVersion:    r.opts.Tool.Version,
			ValidityStart:  r.start.Format("2006-01-02T15:04:05Z"),
		},
	}
}

// fail ends a run that stopped at step i (-1 before the first step): it
// destroys the keys the run generated, withdraws the artifacts it wrote (a
// certificate from a ceremony that did not complete must not be carried
// out), and records why the ceremony ended. A run that failed on an error
// before changing anything removes its output instead; an abort by the
// participants is always kept on record.
func (r *run) fail(i int, cause error) error {
	se := &StepError{Index: i, ID: "start", Err: cause, Aborted: errors.Is(cause, ErrAborted) || errors.Is(cause, context.Canceled)}
	if r.sealed {
		// The ceremony completed and its transcript is sealed: nothing is
		// rolled back, whatever failed after the seal.
		se.ID = r.script.Steps[i].ID
		se.Err = fmt.Errorf("the ceremony completed and its transcript is sealed; keys and artifacts are kept, but: %w", cause)
		_ = r.tw.Close()
		return se
	}
	if i >= 0 {
		se.ID = r.script.Steps[i].ID
		if r.started[i] && !r.asked[i] {
			// Exceptions the people noted at the failing step go on
			// record too (best effort: the failure is what is reported).
			_ = r.exceptions(context.Background(), r.info(i))
		}
	}
	destroyedOnMain := false
	defer func() {
		if !destroyedOnMain {
			return
		}
		if err := r.restoreRegister(); err != nil {
			se.Err = fmt.Errorf("%w; and the token's issuance register could not be restored: %v", se.Err, err)
		}
	}()
	for j := len(r.generated) - 1; j >= 0; j-- {
		kp := r.generated[j]
		tok := r.tok
		if t, ok := r.keyToken[kp]; ok {
			tok = t
		}
		if err := tok.DestroyKeyPair(kp); err != nil {
			_ = r.record(transcript.Entry{Step: se.ID,
				Text: fmt.Sprintf("Could not destroy key pair %q generated by this ceremony: %v", kp.Label, err),
				Data: transcript.RollbackFailed{Label: kp.Label, ID: kp.IDHex()}})
			se.Err = fmt.Errorf("%w; and key pair %q could not be destroyed: %v", se.Err, kp.Label, err)
			continue
		}
		hsm.Barrier()
		destroyedOnMain = destroyedOnMain || tok == r.tok
		_ = r.record(transcript.Entry{Step: se.ID,
			Text: fmt.Sprintf("Destroyed key pair %q generated by this ceremony, because the ceremony did not complete", kp.Label),
			Data: transcript.KeyDestroyed{Label: kp.Label, ID: kp.IDHex()}})
	}
	if se.Err == cause {
		// Every key it made is destroyed: the token no longer lists
		// this ceremony as unfinished.
		if err := r.clearJournals(); err != nil {
			se.Err = fmt.Errorf("%w; and the token's ceremony journal could not be cleared: %v", se.Err, err)
		}
		if r.tok != nil && r.sealingBegun {
			if _, err := clearSealingOf(r.tok, r.ceremonyID()); err != nil {
				se.Err = fmt.Errorf("%w; and the token's sealing record could not be cleared: %v", se.Err, err)
			}
		}
	}
	for j := len(r.artifacts) - 1; j >= 0; j-- {
		a := r.artifacts[j]
		if r.initialised && a.Path == r.activationRecord {
			// The token stays initialised: its activation record stays
			// with it (on some modules the file is the only copy).
			continue
		}
		if err := r.out.RemoveArtifact(a); err != nil {
			se.Err = fmt.Errorf("%w; and artifact %s could not be withdrawn: %v", se.Err, a.Path, err)
			continue
		}
		_ = r.record(transcript.Entry{Step: se.ID,
			Text: fmt.Sprintf("Withdrew %s (SHA-256 %s): the ceremony did not complete", a.Path, a.SHA256),
			Data: transcript.ArtifactWithdrawn{Path: a.Path, SHA256: a.SHA256}})
	}
	if r.initialised {
		note := "Its activation shares were all handed out."
		if _, pending := r.pendingActivation(); pending {
			note = "Its activation shares were NOT all handed out: nobody can log in to it."
		}
		_ = r.record(transcript.Entry{Step: se.ID,
			Text: fmt.Sprintf("HSM token %q was initialised by this ceremony and stays initialised. %s Before the ceremony is run again the token must be reset: %s.", r.tok.Info().Label, note, hsm.ResetHint(r.opts.HSM.Module, r.tok.Info().Label)),
			Data: transcript.TokenLeftInitialised{Token: transcript.V(r.tok.Info())}})
	}
	if !r.changed && !se.Aborted {
		_ = r.tw.Close()
		if err := r.out.Discard(); err == nil {
			se.Discarded = true
		}
		return se
	}
	ended := transcript.CeremonyEnded{Step: se.ID, Error: cause.Error()}
	var payload transcript.Payload = transcript.CeremonyFailed(ended)
	what := "failed"
	if se.Aborted {
		payload, what = transcript.CeremonyAborted(ended), "was aborted"
	}
	_ = r.record(transcript.Entry{Step: se.ID, Text: fmt.Sprintf("Ceremony %s at step %s: %v", what, se.ID, cause), Data: payload})
	_ = r.tw.Close()
	if !r.sealed {
		// The printable record of an unsealed ceremony says so at the top.
		if chain, err := transcript.ReadFile(r.tw.Path()); err == nil {
			_ = writeRecords(r.out, chain, recordNew)
		}
	}
	return se
}

// pendingActivation returns the activation split whose shares are not yet
// all handed out, if any.
func (r *run) pendingActivation() (*pendingSplit, bool) {
	for _, p := range r.pending {
		if p.manifest.Purpose == "activation" {
			return p, true
		}
	}
	return nil, false
}

// tokenRand reads random bytes from the HSM.
type tokenRand struct{ tok *hsm.Token }

func (t tokenRand) Read(p []byte) (int, error) {
	b, err := t.tok.Random(len(p))
	if err != nil {
		return 0, err
	}
	return copy(p, b), nil
}

var _ io.Reader = tokenRand{}

// writeArtifact writes an artifact after recording that it is about to
// (artifact-writing, with its SHA-256): a crash between the link and the
// artifact-written event that follows leaves a file the transcript
// names, which close withdraws and verify recognises.
func (r *run) writeArtifact(info StepInfo, name string, data []byte) (outdir.Artifact, error) {
	sum := sha256.Sum256(data)
	path := outdir.ArtifactsDir + "/" + name
	if err := r.record(transcript.Entry{Step: info.ID, Text: fmt.Sprintf("Writing %s (%d bytes, SHA-256 %x)", path, len(data), sum),
		Data: transcript.ArtifactWriting{Path: path, SHA256: hex.EncodeToString(sum[:]), Size: len(data)}}); err != nil {
		return outdir.Artifact{}, err
	}
	r.changed = true
	return r.out.WriteArtifact(name, data)
}
