package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/devicepki/ceremony/ceremony/outdir"
	"github.com/devicepki/ceremony/ceremony/seal"
	"github.com/devicepki/ceremony/ceremony/transcript"
	"github.com/devicepki/ceremony/hsm"
)

// SealOptions are what 'ceremony seal DIR' needs to seal a ceremony
// killed after it announced its seal (transcript-sealing) and before the
// signature was kept: the token with the audit key, and a login to it.
type SealOptions struct {
	Dir   string
	HSM   hsm.Config
	Login func(*hsm.Token) (string, error) // nil: no login given
	Now   func() time.Time
}

// Seal finishes the seal of a ceremony killed while sealing. With a
// pending seal (the signature was made and kept) it is FinishSeal: nothing
// is signed again and no login is needed. Otherwise the transcript must
// end with the transcript-sealing event: the audit key it names (checked
// by label, id and certificate) signs the transcript now, under the login
// opts gives, exactly as the seal step would have.
func Seal(opts SealOptions) (string, error) {
	if SealPending(opts.Dir) {
		return FinishSeal(opts.Dir)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	dir, err := outdir.Open(opts.Dir)
	if err != nil {
		return "", err
	}
	if err := dir.Lock(); err != nil {
		return "", err
	}
	defer dir.Unlock()
	if _, err := os.Lstat(filepath.Join(dir.Path(), outdir.SealFile)); err == nil {
		return "", fmt.Errorf("%s has a seal (%s): it is sealed already; nothing was changed", dir.Path(), outdir.SealFile)
	}
	path := dir.TranscriptPath()
	chain, torn, err := transcript.ReadIntact(path)
	if err != nil {
		return "", fmt.Errorf("transcript %s: %w", path, err)
	}
	last := chain.Events[len(chain.Events)-1]
	if torn != nil || !last.Is(transcript.TypeTranscriptSealing) {
		return "", fmt.Errorf("%s was not killed while sealing (its transcript does not end with a %s event): 'ceremony transcript verify %s' says what to do; nothing was changed",
			dir.Path(), transcript.TypeTranscriptSealing, path)
	}
	intent, err := transcript.DataAs[transcript.TranscriptSealing](last)
	if err != nil || intent.AuditKey.Label == "" || intent.AuditKey.ID == "" || intent.AuditCertificate.SHA256 == "" {
		return "", fmt.Errorf("event %d (%s) does not name the audit key and its certificate; nothing was changed", last.Seq, last.Type)
	}
	start, err := transcript.DataAs[transcript.CeremonyStarted](chain.Events[0])
	if err != nil {
		return "", fmt.Errorf("event 1: %w", err)
	}
	if opts.Login == nil {
		return "", fmt.Errorf("%s was killed before its seal was signed: give the config of token %q and a login (activation shares, or --pin-file) and audit key %q signs it now; nothing was changed",
			dir.Path(), intent.AuditKey.Token, intent.AuditKey.Label)
	}
	unlockToken, err := hsm.LockToken(opts.HSM)
	if err != nil {
		return "", err
	}
	defer unlockToken()
	tok, err := hsm.Open(opts.HSM)
	if err != nil {
		return "", err
	}
	defer tok.Close()
	if tok.Info().Label != intent.AuditKey.Token {
		return "", fmt.Errorf("the audit key is on token %q by the transcript, not on token %q: seal with that token's config; nothing was changed", intent.AuditKey.Token, tok.Info().Label)
	}
	if _, err := opts.Login(tok); err != nil {
		return "", err
	}
	// The token, not the transcript, says which transcript began its
	// seal: its sealing record names the ceremony and the chain head
	// just before the transcript-sealing event.
	sr, err := readSealing(tok)
	if err != nil {
		return "", err
	}
	switch {
	case sr == nil:
		return "", fmt.Errorf("token %q holds no record that a ceremony began its seal: %s is not signed; nothing was changed", tok.Info().Label, path)
	case sr.Ceremony != ceremonyIDOf(chain) || sr.Head != last.Prev || sr.Events != last.Seq-1:
		return "", fmt.Errorf("token %q's sealing record names ceremony %q at event %d (chain head %s), not this transcript (%q, event %d, head %s): it is not the transcript whose seal was begun; nothing was changed",
			tok.Info().Label, sr.Ceremony, sr.Events, short(sr.Head), ceremonyIDOf(chain), last.Seq-1, short(last.Prev))
	}
	kp, cert, root, err := auditKey(tok, intent.AuditKey.Label, opts.Now())
	if err != nil {
		return "", err
	}
	if kp.IDHex() != intent.AuditKey.ID || seal.Fingerprint(cert) != intent.AuditCertificate.SHA256 {
		return "", fmt.Errorf("audit key %q on token %q (id %s, certificate SHA-256 %s) is not the one event %d named (id %s, certificate SHA-256 %s); nothing was changed",
			kp.Label, tok.Info().Label, kp.IDHex(), seal.Fingerprint(cert), last.Seq, intent.AuditKey.ID, intent.AuditCertificate.SHA256)
	}
	tw, _, err := transcript.Reopen(path, opts.Now)
	if err != nil {
		return "", err
	}
	defer tw.Close()
	job := sealJob{tok: tok, tw: tw, out: dir, script: start.Script.Name, steps: len(start.Steps), artifacts: writtenArtifacts(chain)}
	if err := job.sign(last.Step, kp, cert, root); err != nil {
		return "", err
	}
	sealed, err := job.finish()
	if err != nil {
		return "", err
	}
	if err := clearSealing(tok); err != nil {
		return "", fmt.Errorf("sealed, but the token's sealing record could not be removed (%w)", err)
	}
	if j, err := readJournal(tok); err == nil && j != nil && j.Ceremony == ceremonyIDOf(chain) {
		if err := tok.DestroyPrivateData(journalLabel); err != nil && !errors.Is(err, hsm.ErrDataNotFound) {
			return "", fmt.Errorf("sealed, but the ceremony's journal could not be cleared from the token (%w): 'ceremony close %s --confirm' with a login clears it", err, dir.Path())
		}
	}
	removeTempFiles(dir)
	return fmt.Sprintf("Sealed %s: audit key %q signed it now (event %d, transcript.sig), as the interrupted seal step would have", path, kp.Label, len(sealed.Events)), nil
}

// writtenArtifacts lists the artifacts a transcript records as written
// and not withdrawn, in the order they were written: what the seal step
// counts.
func writtenArtifacts(c *transcript.Chain) []outdir.Artifact {
	var arts []outdir.Artifact
	for _, ev := range c.Events {
		switch {
		case ev.Is(transcript.TypeArtifactWritten):
			if w, err := transcript.DataAs[transcript.ArtifactWritten](ev); err == nil {
				arts = append(arts, outdir.Artifact{Path: w.Path, SHA256: w.SHA256, Size: w.Size})
			}
		case ev.Is(transcript.TypeArtifactWithdrawn):
			if w, err := transcript.DataAs[transcript.ArtifactWithdrawn](ev); err == nil {
				arts = slices.DeleteFunc(arts, func(a outdir.Artifact) bool { return a.Path == w.Path })
			}
		}
	}
	return arts
}

// short abbreviates a hex digest for a message.
func short(h string) string {
	if len(h) > 16 {
		return h[:16] + "…"
	}
	return h
}
