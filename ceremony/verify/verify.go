// Package verify checks a ceremony directory the way an auditor does: the
// transcript's lines, sequence numbers and hash chain; the seal (a detached
// CMS signature by the audit key, whose certificate must chain to a root the
// auditor pins); and every artifact against the SHA-256 the transcript
// recorded for it. The first problem is reported as one *Failure naming the
// event number or the file.
//
// Nothing here trusts the ceremony directory: the root comes from the
// auditor (a certificate file or its SHA-256 fingerprint from the paper
// record), and every claim the transcript makes about files is checked
// against the files.
//
// Ceremony checks a whole ceremony directory, as the ceremony left it.
// Carried checks what was carried out of the room, which holds only some of
// the artifacts (never the key backups): the absent ones are listed, the
// present ones checked as strictly.
package verify

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/devicepki/ceremony/ceremony/durable"
	"github.com/devicepki/ceremony/ceremony/outdir"
	"github.com/devicepki/ceremony/ceremony/pki"
	"github.com/devicepki/ceremony/ceremony/record"
	"github.com/devicepki/ceremony/ceremony/seal"
	"github.com/devicepki/ceremony/ceremony/transcript"
)

// Status is the outcome of a verification that found nothing wrong.
type Status int

const (
	// Verified: sealed, intact, the seal chains to the pinned root, every
	// artifact matches.
	Verified Status = iota
	// Unsealed: the ceremony did not reach its seal (it failed, was
	// aborted or crashed); the transcript is intact up to its last event.
	Unsealed
	// Unpinned: sealed and intact, but no root was pinned, so who sealed
	// it is unproven.
	Unpinned
)

// Pin is the root the seal must chain to: a certificate, or the SHA-256
// fingerprint of one (looked up among the certificates the seal carries).
type Pin struct {
	Root        *x509.Certificate
	Fingerprint string
}

// Failure is the first thing found wrong: at an event, or in a file.
type Failure struct {
	Event int    // 1-based event number, 0 if the problem is a file
	File  string // path relative to the ceremony directory, if a file
	Msg   string
	// Line is true when Msg is a whole sentence naming the transcript
	// line (and so the event) at fault.
	Line bool
}

func (f *Failure) Error() string {
	if f.Line {
		return f.Msg
	}
	if f.Event > 0 {
		return fmt.Sprintf("event %d: %s", f.Event, f.Msg)
	}
	return fmt.Sprintf("%s: %s", f.File, f.Msg)
}

// Result describes a transcript that verified (fully or as unsealed).
type Result struct {
	Status Status
	Chain  *transcript.Chain
	// Seal and Root are set for a sealed transcript; Root only if pinned.
	Seal *seal.Seal
	Root *x509.Certificate
	// Artifacts are the files the transcript records that are present,
	// each checked against its recorded size and SHA-256: for Ceremony,
	// every artifact the transcript records.
	Artifacts []record.Artifact
	// Absent are the artifacts the transcript records that the directory
	// does not hold (Carried only: for Ceremony an absent artifact is a
	// failure).
	Absent []record.Artifact
	// Notes are things worth knowing that are not failures.
	Notes []string
	// CRLs are the CRLs among Artifacts, each issued by the time the
	// transcript was sealed, and whether each is current now.
	CRLs []ArtifactCRL
	// dir is the ceremony directory.
	dir string
}

// LastEvent is the number of the transcript's last event.
func (r *Result) LastEvent() int { return len(r.Chain.Events) }

// Ceremony verifies the ceremony directory holding the transcript at path.
func Ceremony(path string, pin Pin) (*Result, error) {
	return check(path, pin, false)
}

// Carried verifies a ceremony directory that holds only some of the
// artifacts the transcript records, as carried out of the ceremony room:
// transcript.jsonl and transcript.sig as Ceremony checks them, and each
// artifact that is present exactly as Ceremony checks it (a regular file of
// the recorded size and SHA-256). A recorded artifact that is absent is
// listed in Result.Absent instead of failing. A file under artifacts/ that
// the transcript does not record, or records as withdrawn, still fails.
//
// Carried does not require the seal: an unsealed transcript verifies as
// Unsealed, as with Ceremony. Callers that import only sealed ceremonies
// check Result.Status.
func Carried(path string, pin Pin) (*Result, error) {
	return check(path, pin, true)
}

// check verifies the ceremony directory holding the transcript at path; if
// carried, absent artifacts are listed rather than failing.
func check(path string, pin Pin, carried bool) (*Result, error) {
	dir := filepath.Dir(path)
	content, err := durable.ReadRegularFile(path, durable.Transcript.Max)
	if err != nil {
		return nil, &Failure{File: filepath.Base(path), Msg: readFailure(durable.Transcript, path, err)}
	}
	res := &Result{dir: dir}
	chain, err := transcript.Check(content)
	var ce *transcript.ChainError
	if errors.As(err, &ce) && ce.CutOff && ce.Event > 1 {
		// A crash in the middle of writing an event: what came before it
		// is intact, and the ceremony was never sealed.
		content = content[:bytes.LastIndexByte(content, '\n')+1]
		if chain, err = transcript.Check(content); err == nil {
			res.Notes = append(res.Notes, fmt.Sprintf("event %d was cut off in the middle of its write (a crash or power loss); it is not part of the record", ce.Event))
			if last := chain.Events[len(chain.Events)-1]; last.Is(transcript.TypeTranscriptSealed) {
				return nil, &Failure{Event: ce.Event, Msg: fmt.Sprintf("a partial line after the seal (event %d): nothing may follow it", last.Seq)}
			}
			// The engine writes transcript.sig only after the seal event
			// is complete and fsync'ed: beside it, a cut-off line is no crash.
			if _, serr := os.Lstat(filepath.Join(dir, outdir.SealFile)); serr == nil {
				return nil, &Failure{Event: ce.Event, Msg: fmt.Sprintf("%s, but %s is present, which no crash leaves beside a cut-off line: this event was altered", ce.Msg, outdir.SealFile)}
			}
		}
	}
	if err != nil {
		if errors.As(err, &ce) && ce.Line {
			// A line that is no event at all: the sentence names it.
			return nil, &Failure{Event: ce.Event, Msg: ce.Msg, Line: true}
		}
		if errors.As(err, &ce) {
			return nil, &Failure{Event: ce.Event, Msg: ce.Msg}
		}
		return nil, err
	}
	res.Chain = chain
	evs := chain.Events
	if !evs[0].Is(transcript.TypeCeremonyStarted) {
		return nil, &Failure{Event: 1, Msg: fmt.Sprintf("a transcript starts with ceremony-started, not %s", evs[0].Type)}
	}
	// The script and templates it carries, which the printed record
	// shows, must be the files whose SHA-256 it records.
	if st, err := transcript.DataAs[transcript.CeremonyStarted](evs[0]); err == nil {
		for _, f := range append([]transcript.File{st.Script}, st.Templates...) {
			if sum := sha256.Sum256([]byte(f.Text)); f.Text != "" && hex.EncodeToString(sum[:]) != f.SHA256 {
				return nil, &Failure{Event: 1, Msg: fmt.Sprintf("the text of %s it carries has SHA-256 %s, not the recorded %s", f.Path, short(hex.EncodeToString(sum[:])), short(f.SHA256))}
			}
		}
	}
	sealAt := -1
	for i, ev := range evs {
		if ev.Is(transcript.TypeTranscriptSealed) {
			if sealAt >= 0 {
				return nil, &Failure{Event: ev.Seq, Msg: fmt.Sprintf("a second seal event (the first is event %d)", evs[sealAt].Seq)}
			}
			sealAt = i
		} else if sealAt >= 0 {
			return nil, &Failure{Event: ev.Seq, Msg: fmt.Sprintf("recorded after the seal (event %d): nothing may follow it", evs[sealAt].Seq)}
		}
	}

	sigPath := filepath.Join(dir, outdir.SealFile)
	sig, sigErr := durable.ReadRegularFile(sigPath, durable.Seal.Max)
	_, pendErr := os.Lstat(filepath.Join(dir, outdir.PendingSealFile))
	pending := pendErr == nil
	switch {
	case pending && errors.Is(sigErr, fs.ErrNotExist):
		// Killed while sealing: the signature waits beside the
		// transcript, with or without its seal event written.
		res.Status = Unsealed
		res.Notes = append(res.Notes, fmt.Sprintf("the ceremony was killed while sealing; its signature waits in %s: 'ceremony seal DIR' finishes the seal", outdir.PendingSealFile))
		if sealAt >= 0 {
			// checkArtifacts below reads the artifacts the seal lists
			// as any unsealed transcript's.
			res.Chain = &transcript.Chain{Events: evs[:sealAt], Head: evs[sealAt].Prev}
		}
	case sealAt < 0 && sigErr == nil && looksSealed(evs[len(evs)-1]):
		last := evs[len(evs)-1]
		return nil, &Failure{Event: last.Seq, Msg: fmt.Sprintf("type %q, but it records a seal of the %d events before it and %s is present: this seal event was altered", last.Type, last.Seq-1, outdir.SealFile)}
	case sealAt < 0 && sigErr == nil:
		return nil, &Failure{File: outdir.SealFile, Msg: fmt.Sprintf("present, but the transcript has no seal event: it ends at event %d (events after %d removed?)", len(evs), len(evs))}
	case sealAt < 0 && !errors.Is(sigErr, fs.ErrNotExist):
		return nil, &Failure{File: outdir.SealFile, Msg: readFailure(durable.Seal, sigPath, sigErr)}
	case sealAt < 0:
		res.Status = Unsealed
		if last := evs[len(evs)-1]; last.Is(transcript.TypeTranscriptSealing) {
			res.Notes = append(res.Notes, fmt.Sprintf("the ceremony was killed while sealing, before its signature was made (event %d announced it): 'ceremony seal DIR --config HSM.yaml' with a login to the token signs it now", last.Seq))
		}
	case errors.Is(sigErr, fs.ErrNotExist):
		return nil, &Failure{File: outdir.SealFile, Msg: fmt.Sprintf("missing: event %d says the transcript was sealed", evs[sealAt].Seq)}
	case sigErr != nil:
		return nil, &Failure{File: outdir.SealFile, Msg: readFailure(durable.Seal, sigPath, sigErr)}
	default:
		if err := res.checkSeal(evs[sealAt], content, sig, pin); err != nil {
			return nil, err
		}
	}
	if err := res.checkArtifacts(dir, carried); err != nil {
		return nil, err
	}
	return res, nil
}

// checkSeal checks the seal event against the chain, and the seal file
// against the transcript's bytes and the pinned root.
func (res *Result) checkSeal(ev transcript.Event, content, sig []byte, pin Pin) error {
	d, err := transcript.DataAs[transcript.TranscriptSealed](ev)
	if err != nil {
		return &Failure{Event: ev.Seq, Msg: fmt.Sprintf("seal event data: %v", err)}
	}
	if d.EventsBeforeSeal != ev.Seq-1 || d.ChainHash != ev.Prev {
		return &Failure{Event: ev.Seq, Msg: fmt.Sprintf("the seal event records %d events and chain hash %s, the chain has %d and %s",
			d.EventsBeforeSeal, short(d.ChainHash), ev.Seq-1, short(ev.Prev))}
	}
	s, err := seal.Parse(sig)
	if err != nil {
		return &Failure{File: outdir.SealFile, Msg: err.Error()}
	}
	res.Seal = s
	if err := s.Verify(content); err != nil {
		if errors.Is(err, seal.ErrContentChanged) {
			return &Failure{Event: ev.Seq, Msg: "the transcript differs from what the seal signed: " + outdir.SealFile + " is the seal of another transcript, or this seal event, or the chain it commits to, was rewritten"}
		}
		if errors.Is(err, seal.ErrBadSignature) {
			return &Failure{File: outdir.SealFile, Msg: "the seal's signature does not match " + outdir.TranscriptFile + ": the transcript or its seal was changed after sealing"}
		}
		return &Failure{File: outdir.SealFile, Msg: err.Error()}
	}
	root := pin.Root
	if root == nil && pin.Fingerprint != "" {
		want, err := seal.NormalizeFingerprint(pin.Fingerprint)
		if err != nil {
			return err
		}
		if root = s.CertificateBySHA256(want); root == nil {
			if a, ok := fileWithSHA256(res.Chain, want); ok {
				return &Failure{File: "pinned root", Msg: fmt.Sprintf("%s is the SHA-256 of the file %s (its bytes, as sha256sum prints it), not a certificate's fingerprint: pin the root by its certificate SHA-256 (fingerprint), as the paper record and openssl x509 -noout -fingerprint -sha256 give it", record.GroupHex(want), a.Path)}
			}
			return &Failure{File: outdir.SealFile, Msg: fmt.Sprintf("the seal does not chain to the pinned root: it carries no certificate with SHA-256 %s", record.GroupHex(want))}
		}
	}
	// The chain first: a certificate damaged inside transcript.sig is the
	// seal file's fault, not the seal event's.
	if root != nil {
		if err := checkRoot(root, s.Signer); err != nil {
			return err
		}
		if err := s.VerifyChain(root); err != nil {
			return &Failure{File: outdir.SealFile, Msg: err.Error()}
		}
		// Only a transcript-signing certificate issued by the root itself
		// seals: not a device or server certificate further down.
		sg := s.Signer
		if !pki.IsTranscriptSigner(sg) || sg.CheckSignatureFrom(root) != nil {
			return &Failure{File: outdir.SealFile, Msg: fmt.Sprintf("the seal was made with %q, which is not a transcript-signing certificate (digitalSignature only, extended key usage documentSigning or none) issued directly by the pinned root", sg.Subject)}
		}
		if d.RootCertificate.SHA256 != seal.Fingerprint(root) {
			return &Failure{Event: ev.Seq, Msg: fmt.Sprintf("the seal event names root certificate %s, but the pinned root is %s", short(d.RootCertificate.SHA256), short(seal.Fingerprint(root)))}
		}
	}
	if fp := seal.Fingerprint(s.Signer); fp != d.AuditCertificate.SHA256 {
		return &Failure{Event: ev.Seq, Msg: fmt.Sprintf("the seal event names audit certificate %s, but the seal was made with %s", short(d.AuditCertificate.SHA256), short(fp))}
	}
	if root == nil {
		res.Status = Unpinned
		return nil
	}
	res.Root, res.Status = root, Verified
	return nil
}

// CheckRoot checks that root can be pinned: a self-signed CA certificate
// that signs certificates. The error is a *Failure naming "pinned root".
func CheckRoot(root *x509.Certificate) error {
	if root == nil {
		return &Failure{File: "pinned root", Msg: "no certificate given"}
	}
	return checkRoot(root, nil)
}

// checkRoot checks that the pinned root is a root: a self-signed CA
// certificate that signs certificates, and not the seal's own signer.
func checkRoot(root, signer *x509.Certificate) error {
	if !root.BasicConstraintsValid || !root.IsCA || root.KeyUsage&x509.KeyUsageCertSign == 0 ||
		!bytes.Equal(root.RawSubject, root.RawIssuer) || root.CheckSignatureFrom(root) != nil || root.Equal(signer) {
		return &Failure{File: "pinned root", Msg: fmt.Sprintf("%q (SHA-256 %s) is not a self-signed CA certificate: pin the company root", root.Subject, seal.Fingerprint(root))}
	}
	return nil
}

var artifactPath = regexp.MustCompile(`^artifacts/[a-z0-9][a-z0-9._-]{0,99}$`)

// checkArtifacts compares the files under artifacts/ with the transcript:
// each recorded artifact exists with the recorded size and SHA-256 (or, if
// carried, is absent), each withdrawn one is gone, and nothing else is
// there.
func (res *Result) checkArtifacts(dir string, carried bool) error {
	evs := res.Chain.Events
	withdrawn := map[string]int{}
	for _, ev := range evs {
		if !ev.Is(transcript.TypeArtifactWritten, transcript.TypeArtifactWithdrawn) {
			continue
		}
		var a record.Artifact
		if err := json.Unmarshal(ev.Data, &a); err != nil || !artifactPath.MatchString(a.Path) {
			return &Failure{Event: ev.Seq, Msg: fmt.Sprintf("%s event with a bad artifact path %q", ev.Type, a.Path)}
		}
		if ev.Is(transcript.TypeArtifactWithdrawn) {
			withdrawn[a.Path] = ev.Seq
		}
	}
	// Files whose write was announced (artifact-writing) and not yet
	// recorded as written: the ceremony stopped between the two.
	intended := map[string]record.Artifact{}
	for _, ev := range evs {
		switch {
		case ev.Is(transcript.TypeArtifactWriting):
			var a record.Artifact
			if err := json.Unmarshal(ev.Data, &a); err != nil || !artifactPath.MatchString(a.Path) {
				return &Failure{Event: ev.Seq, Msg: fmt.Sprintf("%s event with a bad artifact path %q", ev.Type, a.Path)}
			}
			a.Event = ev.Seq
			intended[a.Path] = a
		case ev.Is(transcript.TypeArtifactWritten, transcript.TypeArtifactWithdrawn):
			var a record.Artifact
			_ = json.Unmarshal(ev.Data, &a)
			delete(intended, a.Path)
		}
	}
	// A close that was itself interrupted announced what it withdraws:
	// such a file, missing, was removed by it.
	closing := map[string]int{}
	for _, ev := range evs {
		switch {
		case ev.Is(transcript.TypeCeremonyClosing):
			if c, err := transcript.DataAs[transcript.CeremonyClosing](ev); err == nil {
				for _, p := range c.Withdrawing {
					closing[p] = ev.Seq
				}
			}
		case ev.Is(transcript.TypeCeremonyClosed):
			clear(closing)
		}
	}
	recorded := map[string]bool{}
	for _, a := range record.Artifacts(res.Chain) {
		recorded[a.Path] = true
		file := filepath.Join(dir, filepath.FromSlash(a.Path))
		st, err := os.Lstat(file)
		switch {
		case errors.Is(err, fs.ErrNotExist) && carried:
			res.Absent = append(res.Absent, a)
			continue
		case errors.Is(err, fs.ErrNotExist) && closing[a.Path] > 0 && res.Status == Unsealed:
			res.Notes = append(res.Notes, fmt.Sprintf("%s: withdrawn by a close that was interrupted (event %d announced it); run 'ceremony close' again to finish", a.Path, closing[a.Path]))
			continue
		case errors.Is(err, fs.ErrNotExist):
			return &Failure{File: a.Path, Msg: fmt.Sprintf("recorded at event %d, but missing", a.Event)}
		case err != nil:
			return &Failure{File: a.Path, Msg: fmt.Sprintf("recorded at event %d, but %s", a.Event, durable.BareError(err))}
		case !st.Mode().IsRegular():
			return &Failure{File: a.Path, Msg: fmt.Sprintf("not a regular file (%s): the ceremony wrote a file here", st.Mode().Type())}
		case st.Size() != int64(a.Size):
			return &Failure{File: a.Path, Msg: fmt.Sprintf("%d bytes, but event %d recorded %d bytes: the file was changed", st.Size(), a.Event, a.Size)}
		}
		data, err := durable.ReadRegularFile(file, durable.Artifact.Max)
		if err != nil {
			return &Failure{File: a.Path, Msg: readFailure(durable.Artifact, file, err)}
		}
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); got != a.SHA256 || len(data) != a.Size {
			return &Failure{File: a.Path, Msg: fmt.Sprintf("SHA-256 %s (%d bytes), but event %d recorded %s (%d bytes): the file was changed",
				short(got), len(data), a.Event, short(a.SHA256), a.Size)}
		}
		// Read once: the same bytes are looked at as a CRL.
		if err := res.checkArtifactCRL(a, data); err != nil {
			return err
		}
		res.Artifacts = append(res.Artifacts, a)
	}
	if st, err := os.Lstat(filepath.Join(dir, outdir.ArtifactsDir)); err == nil && !st.IsDir() {
		return &Failure{File: outdir.ArtifactsDir, Msg: fmt.Sprintf("not a directory (%s)", st.Mode().Type())}
	}
	entries, err := os.ReadDir(filepath.Join(dir, outdir.ArtifactsDir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return &Failure{File: outdir.ArtifactsDir, Msg: durable.BareError(err)}
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	for _, n := range names {
		p := outdir.ArtifactsDir + "/" + n
		switch {
		case recorded[p]:
		case withdrawn[p] > 0:
			return &Failure{File: p, Msg: fmt.Sprintf("withdrawn at event %d, but still present: do not carry it out", withdrawn[p])}
		case res.Status == Unsealed && intended[p].Path != "":
			a := intended[p]
			data, err := durable.ReadRegularFile(filepath.Join(dir, filepath.FromSlash(p)), durable.Artifact.Max)
			sum := sha256.Sum256(data)
			if err != nil || hex.EncodeToString(sum[:]) != a.SHA256 {
				return &Failure{File: p, Msg: fmt.Sprintf("event %d announced this file with SHA-256 %s, but it is not that file: it is not the ceremony's", a.Event, short(a.SHA256))}
			}
			res.Notes = append(res.Notes, fmt.Sprintf("%s: written as event %d announced, but the ceremony stopped before recording it; ceremony close withdraws it", p, a.Event))
		case res.Status == Unsealed && strings.HasPrefix(n, "."):
			res.Notes = append(res.Notes, fmt.Sprintf("%s: an unfinished write left by the interrupted ceremony; it is not an artifact", p))
		default:
			return &Failure{File: p, Msg: "not recorded in the transcript: this file is not the ceremony's"}
		}
	}
	return nil
}

// fileWithSHA256 finds the artifact c records whose file SHA-256 is h: a
// file hash given where a certificate fingerprint belongs.
func fileWithSHA256(c *transcript.Chain, h string) (record.Artifact, bool) {
	if c == nil {
		return record.Artifact{}, false
	}
	for _, a := range record.Artifacts(c) {
		if a.SHA256 == h {
			return a, true
		}
	}
	return record.Artifact{}, false
}

// LoadRoot reads a PEM file holding exactly one certificate.
func LoadRoot(path string) (*x509.Certificate, error) {
	return pki.ReadCertificateFile("root certificate", path)
}

func short(h string) string {
	if len(h) > 16 {
		return h[:16] + "…"
	}
	return h
}

// looksSealed reports whether ev's data is that of a seal event for the
// chain before it, whatever its type.
func looksSealed(ev transcript.Event) bool {
	var d transcript.TranscriptSealed
	return json.Unmarshal(ev.Data, &d) == nil && d.EventsBeforeSeal == ev.Seq-1 && d.ChainHash == ev.Prev
}

// readFailure says why a file of kind k could not be read, without the
// path a Failure names already.
func readFailure(k durable.Kind, path string, err error) string {
	switch {
	case errors.Is(err, durable.ErrNotRegular):
		return "not a regular file: it is " + durable.What(path)
	case errors.Is(err, durable.ErrTooLarge):
		return fmt.Sprintf("larger than %d bytes, the limit for a %s", k.Max, k.Name)
	}
	return durable.BareError(err)
}
