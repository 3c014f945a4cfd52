package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/devicepki/ceremony/ceremony/activation"
	"github.com/devicepki/ceremony/ceremony/durable"
	"github.com/devicepki/ceremony/ceremony/keys"
	"github.com/devicepki/ceremony/ceremony/outdir"
	"github.com/devicepki/ceremony/ceremony/record"
	"github.com/devicepki/ceremony/ceremony/register"
	"github.com/devicepki/ceremony/ceremony/transcript"
	"github.com/devicepki/ceremony/hsm"
)

// CloseOptions names an interrupted ceremony to close and the token its
// leftover keys are on.
type CloseOptions struct {
	// Dir is the interrupted ceremony's directory.
	Dir string
	// HSM is the token to destroy leftover keys on; needed only when the
	// transcript records keys that were not destroyed.
	HSM hsm.Config
	// Login logs in to the opened token (a quorum of activation shares,
	// or a PIN) and says how, for the record. Called only when there are
	// keys to destroy.
	Login func(tok *hsm.Token) (string, error)
	Now   func() time.Time
	// Confirmed: do it. Without it, CloseInterrupted only checks and
	// lists what it would do (Planned), touching neither token nor files:
	// the transcript of an unsealed ceremony is not authenticated, so the
	// people closing it read the list before anything is destroyed.
	Confirmed bool
	// TokenGone: the token the leftover keys are on is gone (its module
	// lost it, or it was reset or destroyed). The module HSM names must
	// list no initialised token with the transcript's label; the keys
	// are then recorded as destroyed with it, without a login. It holds
	// the closer's reason, which is recorded: why the token is gone for
	// good (an unplugged token, or a config naming the wrong module, is
	// not gone).
	TokenGone string
}

// CloseResult says what closing did.
type CloseResult struct {
	Transcript string
	Destroyed  []string // "label (id)" of each key destroyed
	Withdrawn  []string // artifact paths removed
	Gone       []string // artifact paths that were already gone
	Events     int      // events the transcript now holds
	// Planned lists what a close would do, when not Confirmed.
	Planned []string
	// JournalCleared says a sealed ceremony's journal was removed from
	// the token, and nothing else done.
	JournalCleared string
	// NothingToClose says why the ceremony needed no closing (it ended,
	// or never began) when close only tidied what a kill left around it.
	NothingToClose string
	// Tidied lists what was removed or rewritten outside the transcript:
	// temporary files of writes cut short, the printable record.
	Tidied []string
}

// leftoverKey is a key an interrupted ceremony generated or restored and
// did not destroy.
type leftoverKey struct {
	Label, ID, PublicKeySHA256, Token string
	// Intent: only its generation was announced (key-generating); a
	// crash may have left all, part or none of the pair.
	Intent bool
}

// leftovers reads what an interrupted ceremony left: keys it generated or
// restored and did not destroy, and artifacts it wrote and did not
// withdraw, in the order it made them.
func leftovers(c *transcript.Chain) ([]leftoverKey, []outdir.Artifact, error) {
	var ks []leftoverKey
	var arts []outdir.Artifact
	initialising := false
	for _, ev := range c.Events {
		switch transcript.Canonical(ev.Type) {
		case transcript.TypeKeyGenerating, transcript.TypeKeyRestoring:
			var p transcript.KeyGenerating
			var err error
			if ev.Is(transcript.TypeKeyGenerating) {
				p, err = transcript.DataAs[transcript.KeyGenerating](ev)
			} else {
				var r transcript.KeyRestoring
				r, err = transcript.DataAs[transcript.KeyRestoring](ev)
				p = transcript.KeyGenerating(r)
			}
			if err != nil || p.ID == "" || p.Token == "" {
				return nil, nil, fmt.Errorf("event %d (%s) does not name a CKA_ID and a token", ev.Seq, ev.Type)
			}
			ks = append(ks, leftoverKey{Label: p.Label, ID: p.ID, Token: p.Token, Intent: true})
			continue
		case transcript.TypeArtifactWriting:
			p, err := transcript.DataAs[transcript.ArtifactWriting](ev)
			if err != nil || p.Path == "" || p.SHA256 == "" {
				return nil, nil, fmt.Errorf("event %d (artifact-writing) does not name a file and its SHA-256", ev.Seq)
			}
			if _, err := outdir.ArtifactPath(p.Path); err != nil {
				return nil, nil, fmt.Errorf("event %d (artifact-writing): %v", ev.Seq, err)
			}
			arts = append(arts, outdir.Artifact{Path: p.Path, SHA256: p.SHA256, Size: p.Size})
			continue
		case transcript.TypeKeyGenerated, transcript.TypeKeyRestored:
			var k leftoverKey
			var err error
			if ev.Is(transcript.TypeKeyGenerated) {
				var p transcript.KeyGenerated
				p, err = transcript.DataAs[transcript.KeyGenerated](ev)
				k = leftoverKey{Label: p.Label, ID: p.ID, PublicKeySHA256: p.PublicKeySHA256, Token: p.Token}
			} else {
				var p transcript.KeyRestored
				p, err = transcript.DataAs[transcript.KeyRestored](ev)
				k = leftoverKey{Label: p.Label, ID: p.ID, PublicKeySHA256: p.PublicKeySHA256, Token: p.Token}
			}
			if err != nil || k.Label == "" || k.ID == "" || k.PublicKeySHA256 == "" {
				return nil, nil, fmt.Errorf("event %d (%s) does not name a key's label, id and public key", ev.Seq, ev.Type)
			}
			// The generation it announced is done.
			ks = slices.DeleteFunc(ks, func(o leftoverKey) bool { return o.Intent && o.ID == k.ID })
			ks = append(ks, k)
		case transcript.TypeKeyDestroyed:
			k, _ := transcript.DataAs[transcript.KeyDestroyed](ev)
			for i := range ks {
				if ks[i].Label == k.Label && ks[i].ID == k.ID {
					ks = append(ks[:i], ks[i+1:]...)
					break
				}
			}
		case transcript.TypeTokenInitialising:
			initialising = true
		case transcript.TypeArtifactWritten:
			w, err := transcript.DataAs[transcript.ArtifactWritten](ev)
			a := outdir.Artifact{Path: w.Path, SHA256: w.SHA256, Size: w.Size}
			if err != nil || a.Path == "" || a.SHA256 == "" {
				return nil, nil, fmt.Errorf("event %d (artifact-written) does not name a file and its SHA-256", ev.Seq)
			}
			if _, err := outdir.ArtifactPath(a.Path); err != nil {
				return nil, nil, fmt.Errorf("event %d (artifact-written): %v", ev.Seq, err)
			}
			// The write it announced is done.
			arts = slices.DeleteFunc(arts, func(o outdir.Artifact) bool { return o.Path == a.Path })
			arts = append(arts, a)
		case transcript.TypeArtifactWithdrawn:
			a, _ := transcript.DataAs[transcript.ArtifactWithdrawn](ev)
			for i := range arts {
				if arts[i].Path == a.Path {
					arts = append(arts[:i], arts[i+1:]...)
					break
				}
			}
		}
	}
	if initialising {
		// The token may be initialised, and stays so: its activation
		// record stays with it (on some modules the file is the only
		// copy).
		arts = slices.DeleteFunc(arts, func(a outdir.Artifact) bool { return a.Path == activationArtifactPath })
	}
	return ks, arts, nil
}

// activationArtifactPath is where an init-token step writes the
// activation record.
var activationArtifactPath = "artifacts/" + activation.ArtifactName

// Leftovers lists what an interrupted ceremony's transcript says it left:
// the labels of the key pairs it generated or restored and did not
// destroy, and the paths of the artifacts it wrote and did not withdraw.
func Leftovers(c *transcript.Chain) (keyLabels, artifactPaths []string, err error) {
	ks, arts, err := leftovers(c)
	if err != nil {
		return nil, nil, err
	}
	for _, k := range ks {
		keyLabels = append(keyLabels, k.Label)
	}
	for _, a := range arts {
		artifactPaths = append(artifactPaths, a.Path)
	}
	return keyLabels, artifactPaths, nil
}

// endedBy returns the event that ended the ceremony on record (sealed,
// aborted, failed or closed), if any.
func endedBy(c *transcript.Chain) (transcript.Event, bool) {
	for _, ev := range c.Events {
		if ev.Is(transcript.TypeTranscriptSealed, transcript.TypeCeremonyAborted, transcript.TypeCeremonyFailed, transcript.TypeCeremonyClosed) {
			return ev, true
		}
	}
	return transcript.Event{}, false
}

// CloseInterrupted closes a ceremony that stopped without recording its
// end (a crash, a power loss) or that could not roll back all it made: it
// destroys on the token the keys the transcript says it generated and did
// not destroy (each checked by label, id and public key first), removes
// the artifacts it wrote and did not withdraw (each checked by SHA-256
// first), and appends each of these, then a ceremony-closed event, to the
// ceremony's transcript, which stays unsealed. Everything is checked
// before anything is changed: a key or file that is not what the
// transcript recorded stops it with nothing done.
func CloseInterrupted(opts CloseOptions) (*CloseResult, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	dir, openErr := outdir.Open(opts.Dir)
	if openErr != nil {
		var err error
		if dir, err = outdir.Existing(opts.Dir); err != nil {
			return nil, openErr
		}
	}
	// A ceremony running in the directory holds its lock: close refuses
	// it rather than destroy a live ceremony's keys.
	if err := dir.Lock(); err != nil {
		return nil, err
	}
	defer dir.Unlock()
	if openErr != nil {
		// Killed before its first event: nothing was recorded, so
		// nothing was made; a temporary file may be left.
		if res, err := tidyEnded(opts, dir, nil, "no event was recorded: the ceremony was stopped before it began, and made nothing"); res != nil || err != nil {
			return res, err
		}
		return nil, openErr
	}
	path := dir.TranscriptPath()
	if SealPending(dir.Path()) {
		return nil, fmt.Errorf("%s was killed while sealing: its signature waits in %s; run 'ceremony seal %s' to finish the seal (nothing to close; nothing was changed)", dir.Path(), outdir.PendingSealFile, dir.Path())
	}
	if _, err := os.Lstat(filepath.Join(dir.Path(), outdir.SealFile)); err == nil {
		var tidied *CloseResult
		if chain, err := transcript.ReadFile(path); err == nil {
			if tidied, err = tidyEnded(opts, dir, chain, "the ceremony was sealed"); err != nil {
				return nil, err
			}
		}
		if opts.Confirmed && opts.Login != nil {
			// A kill after the seal, before the ceremony journal was
			// cleared, leaves the token listing a finished ceremony.
			res, err := clearSealedJournal(opts, dir)
			if tidied != nil && res != nil {
				res.Tidied = tidied.Tidied
			}
			return res, err
		}
		if tidied != nil {
			return tidied, nil
		}
		return nil, fmt.Errorf("%s has a seal (%s): a sealed ceremony completed; there is nothing to close", dir.Path(), outdir.SealFile)
	}
	chain, torn, err := transcript.ReadIntact(path)
	if _, unread := errors.AsType[*durable.ReadError](err); unread {
		return nil, err // names the transcript and what it is
	}
	if err != nil {
		return nil, fmt.Errorf("transcript %s: %w (closing appends to an intact transcript only; transcript verify says where it breaks)", path, err)
	}
	tornFile := ""
	if torn != nil {
		tornFile = outdir.TranscriptFile + ".torn-" + torn.SHA256[:12]
	}
	if len(chain.Events) == 0 || !chain.Events[0].Is(transcript.TypeCeremonyStarted) {
		return nil, fmt.Errorf("transcript %s does not begin with the ceremony's start", path)
	}
	ks, arts, err := leftovers(chain)
	if err != nil {
		return nil, fmt.Errorf("transcript %s: %w", path, err)
	}
	if last := chain.Events[len(chain.Events)-1]; torn == nil && last.Is(transcript.TypeTranscriptSealing) {
		// Every step completed: the ceremony is sealed, not undone.
		return nil, fmt.Errorf("%s was killed while sealing, before its signature was made (event %d): every step completed, so it is sealed, not closed: run 'ceremony seal %s --config HSM.yaml' with a login to the token; nothing was changed", dir.Path(), last.Seq, dir.Path())
	}
	if ev, ended := endedBy(chain); ended {
		if ev.Is(transcript.TypeTranscriptSealed, transcript.TypeCeremonyClosed) || (len(ks) == 0 && len(arts) == 0) {
			why := fmt.Sprintf("the ceremony already ended (event %d, %s: %s)", ev.Seq, ev.Type, record.Printable(ev.Text))
			if res, err := tidyEnded(opts, dir, chain, why); res != nil || err != nil {
				return res, err
			}
			return nil, fmt.Errorf("transcript %s: the ceremony already ended (event %d, %s: %s); there is nothing to close", path, ev.Seq, ev.Type, record.Printable(ev.Text))
		}
	}

	// The events continue in time: a clock behind the transcript (reset
	// by the power loss, or another machine) would break the record.
	if last, err := time.Parse(transcript.TimeFormat, chain.Events[len(chain.Events)-1].Time); err == nil && opts.Now().Before(last) {
		return nil, fmt.Errorf("this machine's clock (%s) is before the transcript's last event (%s): set the clock right first; nothing was changed",
			opts.Now().UTC().Format(time.RFC3339), last.Format(time.RFC3339))
	}

	// Check every artifact before touching anything. Nothing is followed
	// out of the directory: an unsealed transcript proves nothing, so a
	// link in place of artifacts/ or of an artifact could make close
	// remove files of another ceremony, or any file.
	if err := dir.CheckNoLinks(); err != nil {
		return nil, fmt.Errorf("%w: close changes only files inside the ceremony directory; nothing was changed", err)
	}
	announced := announcedOnly(chain)
	var present, gone []outdir.Artifact
	for _, a := range arts {
		local, _ := outdir.ArtifactPath(a.Path)
		if st, err := os.Lstat(filepath.Join(dir.Path(), local)); err == nil && st.Mode()&fs.ModeSymlink != 0 {
			return nil, fmt.Errorf("%s is a symbolic link, not the file the ceremony wrote: close changes only files inside the ceremony directory; nothing was changed (move it away and run close again)", filepath.Join(dir.Path(), local))
		}
		data, err := durable.ReadFile(durable.Artifact, filepath.Join(dir.Path(), local))
		if errors.Is(err, os.ErrNotExist) {
			if !announced[a.Path] {
				gone = append(gone, a)
			}
			continue // an announced write that never happened
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir.Path(), local), err)
		}
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); got != a.SHA256 {
			return nil, fmt.Errorf("%s has SHA-256 %s, but the transcript recorded %s: it is not the file the ceremony wrote; nothing was changed (move it away and run close again)",
				filepath.Join(dir.Path(), local), got, a.SHA256)
		}
		present = append(present, a)
	}

	untidied, err := findUntidy(dir, chain, false)
	if err != nil {
		return nil, err
	}

	if !opts.Confirmed {
		plan := &CloseResult{Transcript: path}
		if torn != nil {
			plan.Planned = append(plan.Planned, fmt.Sprintf("set aside the cut-off last line (event %d, %d bytes, SHA-256 %s) as %s", torn.Event, len(torn.Bytes), torn.SHA256, tornFile))
		}
		for _, k := range ks {
			on := "the token"
			if k.Token != "" {
				on = fmt.Sprintf("token %q", record.Printable(k.Token))
			}
			if opts.TokenGone != "" {
				plan.Planned = append(plan.Planned, fmt.Sprintf("record key pair %q (id %s) as destroyed with %s, which is gone", record.Printable(k.Label), k.ID, on))
				continue
			}
			if k.Intent {
				plan.Planned = append(plan.Planned, fmt.Sprintf("destroy whatever carries id %s on %s: key pair %q was being generated when the ceremony stopped", k.ID, on, record.Printable(k.Label)))
				continue
			}
			plan.Planned = append(plan.Planned, fmt.Sprintf("destroy key pair %q (id %s, public key SHA-256 %s) on %s", record.Printable(k.Label), k.ID, k.PublicKeySHA256, on))
		}
		for _, a := range present {
			plan.Planned = append(plan.Planned, fmt.Sprintf("withdraw %s (SHA-256 %s)", a.Path, a.SHA256))
		}
		for _, a := range gone {
			plan.Gone = append(plan.Gone, a.Path)
		}
		plan.Planned = append(plan.Planned, untidied.plan()...)
		return plan, nil
	}

	var (
		tok     *hsm.Token
		found   []leftoverKey
		loginBy string
	)
	goneToken := ""
	if len(ks) > 0 && opts.TokenGone != "" {
		if goneToken, err = tokenGone(opts.HSM, ks); err != nil {
			return nil, err
		}
		found = ks
	}
	if len(ks) > 0 && opts.TokenGone == "" {
		if opts.Login == nil {
			return nil, errors.New("the ceremony left keys on a token: a login is needed to destroy them")
		}
		unlockToken, err := hsm.LockToken(opts.HSM)
		if err != nil {
			return nil, err
		}
		defer unlockToken()
		if tok, err = hsm.Open(opts.HSM); err != nil {
			return nil, err
		}
		defer tok.Close()
		if loginBy, err = opts.Login(tok); err != nil {
			return nil, err
		}
		for _, k := range ks {
			if k.Token == "" {
				return nil, fmt.Errorf("the transcript does not say which token key pair %q is on; nothing was changed", record.Printable(k.Label))
			}
			if k.Token != tok.Info().Label {
				return nil, fmt.Errorf("key pair %q is on token %q by the transcript, not on token %q: close with that token's config; nothing was changed", record.Printable(k.Label), record.Printable(k.Token), tok.Info().Label)
			}
			id, err := hex.DecodeString(k.ID)
			if err != nil || len(id) == 0 {
				return nil, fmt.Errorf("key pair %q: the transcript's id %q is not hex; nothing was changed", record.Printable(k.Label), k.ID)
			}
			objs, err := tok.ObjectsWithID(id)
			if err != nil {
				return nil, err
			}
			if len(objs) == 0 {
				// Never made (an announced generation that did not
				// happen), or gone already.
				continue
			}
			for _, o := range objs {
				if o.Label != k.Label && o.Label != "" {
					return nil, fmt.Errorf("token %q holds %s %q with id %s, the id of key pair %q: it is not the ceremony's; nothing was changed", tok.Info().Label, o.Class, record.Printable(o.Label), k.ID, record.Printable(k.Label))
				}
			}
			if !k.Intent {
				// Where the pair is whole and alone, its public key must
				// be the one recorded; a half pair or a duplicate (a crash
				// in the middle of a generation or a copy) is known by
				// its id.
				if kp, err := tok.FindKeyPair(k.Label); err == nil {
					fp, _ := keys.Fingerprint(kp.Public())
					if kp.IDHex() != k.ID || fp != k.PublicKeySHA256 {
						return nil, fmt.Errorf("key pair %q on token %q (id %s, public key SHA-256 %s) is not the one the ceremony generated (id %s, public key SHA-256 %s); nothing was changed",
							kp.Label, tok.Info().Label, kp.IDHex(), fp, k.ID, k.PublicKeySHA256)
					}
				}
			}
			found = append(found, k)
		}
		if err := refuseKeysInUse(tok, chain, found); err != nil {
			return nil, err
		}
		if err := refuseKeysNotJournaled(tok, chain, found); err != nil {
			return nil, err
		}
	}

	if torn != nil {
		// A crash cut the last line: its bytes go to a file of their own,
		// named in the closing event, and the transcript goes on from its
		// last intact event.
		if err := dir.WriteFile(tornFile, torn.Bytes); err != nil {
			return nil, err
		}
		if err := truncateDurably(path, int64(torn.Offset)); err != nil {
			return nil, err
		}
	}
	w, _, err := transcript.Reopen(path, opts.Now)
	if err != nil {
		return nil, err
	}
	defer w.Close()
	res := &CloseResult{Transcript: path}
	// What is about to go is recorded first: a kill from here on leaves a
	// transcript that says so, and the next close finishes it.
	closing := transcript.CeremonyClosing{Destroying: []string{}, Withdrawing: []string{}}
	for _, k := range found {
		closing.Destroying = append(closing.Destroying, fmt.Sprintf("%s (id %s)", k.Label, k.ID))
	}
	for _, a := range present {
		closing.Withdrawing = append(closing.Withdrawing, a.Path)
	}
	if _, err := w.Append(transcript.Entry{Step: "close",
		Text: fmt.Sprintf("Closing the interrupted ceremony: destroying %d key pair(s), withdrawing %d artifact(s)", len(closing.Destroying), len(closing.Withdrawing)),
		Data: closing}); err != nil {
		return res, err
	}
	for i := len(found) - 1; i >= 0; i-- {
		k := found[i]
		res.Destroyed = append(res.Destroyed, fmt.Sprintf("%s (id %s)", k.Label, k.ID))
		entry := transcript.Entry{Step: "close", Data: transcript.KeyDestroyed{Label: k.Label, ID: k.ID, Token: goneToken}}
		if goneToken != "" {
			// Nothing to destroy: the token went with the keys.
			entry.Text = fmt.Sprintf("Key pair %q (id %s) counts as destroyed: its token %q is gone (%s lists no initialised token so labelled)", record.Printable(k.Label), k.ID, goneToken, opts.HSM.Module)
		} else {
			id, _ := hex.DecodeString(k.ID)
			n, err := tok.DestroyObjectsWithID(id)
			if err != nil {
				return res, err
			}
			hsm.Barrier()
			what := "generated by this ceremony"
			if k.Intent {
				what = "whose generation this ceremony had begun"
			}
			entry.Text = fmt.Sprintf("Destroyed key pair %q (%d object(s) with id %s) on token %q, %s, which was interrupted", record.Printable(k.Label), n, k.ID, tok.Info().Label, what)
			entry.Data = transcript.KeyDestroyed{Label: k.Label, ID: k.ID, Token: tok.Info().Label}
		}
		if _, err := w.Append(entry); err != nil {
			return res, err
		}
	}
	for i := len(present) - 1; i >= 0; i-- {
		a := present[i]
		if err := dir.RemoveArtifact(a); err != nil {
			return res, err
		}
		res.Withdrawn = append(res.Withdrawn, a.Path)
		if _, err := w.Append(transcript.Entry{Step: "close",
			Text: fmt.Sprintf("Withdrew %s (SHA-256 %s): the ceremony was interrupted", a.Path, a.SHA256),
			Data: transcript.ArtifactWithdrawn{Path: a.Path, SHA256: a.SHA256}}); err != nil {
			return res, err
		}
	}
	if tok != nil {
		if j, err := readJournal(tok); err == nil && j != nil && j.Ceremony == ceremonyIDOf(chain) {
			if err := tok.DestroyPrivateData(journalLabel); err != nil && !errors.Is(err, hsm.ErrDataNotFound) {
				return res, err
			}
		}
		if _, err := clearSealingOf(tok, ceremonyIDOf(chain)); err != nil {
			return res, err
		}
	}
	if res.Tidied, err = tidy(dir, chain, untidied); err != nil {
		return res, err
	}
	for _, a := range gone {
		// Gone before this close (an interrupted close removed it, or
		// someone did): recorded as withdrawn, so that the transcript
		// says what is no longer there, and listed as already gone.
		res.Gone = append(res.Gone, a.Path)
		if _, err := w.Append(transcript.Entry{Step: "close",
			Text: fmt.Sprintf("%s (SHA-256 %s) was already gone when the interrupted ceremony was closed", a.Path, a.SHA256),
			Data: transcript.ArtifactWithdrawn{Path: a.Path, SHA256: a.SHA256}}); err != nil {
			return res, err
		}
	}
	text := fmt.Sprintf("Ceremony closed after an interruption: %d key pair(s) destroyed, %d artifact(s) withdrawn", len(res.Destroyed), len(res.Withdrawn))
	if len(gone) > 0 {
		text += fmt.Sprintf(", %d artifact(s) already gone (%s)", len(gone), strings.Join(res.Gone, ", "))
	}
	text += ". It was not completed and is not sealed."
	data := transcript.CeremonyClosed{Destroyed: res.Destroyed, Withdrawn: res.Withdrawn, AlreadyGone: res.Gone,
		LastEventBefore: len(chain.Events), TempFilesRemoved: untidied.temps}
	if torn != nil {
		data.TornTail = &transcript.TornTail{Event: torn.Event, File: tornFile, SHA256: torn.SHA256, Size: len(torn.Bytes)}
		text += fmt.Sprintf(" Its cut-off last line (event %d, %d bytes) was set aside as %s.", torn.Event, len(torn.Bytes), tornFile)
	}
	if goneToken != "" {
		data.TokenGone, data.TokenGoneReason = goneToken, opts.TokenGone
		text += fmt.Sprintf(" Token %q was gone (%s): its keys count as destroyed with it.", goneToken, record.Printable(opts.TokenGone))
	}
	if loginBy != "" {
		data.Login = loginBy
		data.Token = transcript.V(tok.Info())
	}
	if _, err := w.Append(transcript.Entry{Step: "close", Text: text, Data: data}); err != nil {
		return res, err
	}
	res.Events = w.Len()
	if err := w.Close(); err != nil {
		return res, err
	}
	// The printable record is derived from the transcript: an aborted
	// ceremony's is replaced by one that shows the closing.
	if c, err := transcript.ReadFile(path); err == nil {
		_ = writeRecords(dir, c, recordReplace)
	}
	return res, nil
}

// truncateDurably cuts the file at path to size and syncs it.
func truncateDurably(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("%s: set the cut-off line aside: %w", path, err)
	}
	return f.Sync()
}

// announcedOnly returns the artifacts whose write was announced
// (artifact-writing) and never recorded as done.
func announcedOnly(c *transcript.Chain) map[string]bool {
	out := map[string]bool{}
	for _, ev := range c.Events {
		switch {
		case ev.Is(transcript.TypeArtifactWriting):
			if p, err := transcript.DataAs[transcript.ArtifactWriting](ev); err == nil {
				out[p.Path] = true
			}
		case ev.Is(transcript.TypeArtifactWritten):
			if p, err := transcript.DataAs[transcript.ArtifactWritten](ev); err == nil {
				delete(out, p.Path)
			}
		}
	}
	return out
}

// refuseKeysInUse refuses to destroy a key pair that has been used beyond
// the interrupted ceremony: one whose certificate issued, by the token's
// issuance register, a certificate or a CRL that this transcript does not
// record. A transcript cut short (or forged) of a ceremony whose root has
// since signed intermediates would otherwise make close destroy the
// production root.
func refuseKeysInUse(tok *hsm.Token, chain *transcript.Chain, ks []leftoverKey) error {
	data, err := tok.ReadPrivateData(register.Label)
	if errors.Is(err, hsm.ErrDataNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	reg, err := register.Parse(data)
	if err != nil {
		return fmt.Errorf("the token's issuance register: %w; nothing was changed", err)
	}
	here := map[string]bool{}       // certificates this transcript records
	certOf := map[string][]string{} // public key SHA-256 -> its certificates' SHA-256
	crls := 0
	// The register names the ceremony that made each entry: an entry of
	// this ceremony whose certificate-issued event a kill cut off is its
	// own, not a use elsewhere.
	self := ""
	if start, err := transcript.DataAs[transcript.CeremonyStarted](chain.Events[0]); err == nil {
		self = start.Script.Name + " " + start.ValidityStart
	}
	for _, ev := range chain.Events {
		switch {
		case ev.Is(transcript.TypeCertificateIssued):
			c, err := transcript.DataAs[transcript.CertificateIssued](ev)
			if err == nil {
				here[c.SHA256] = true
				certOf[c.PublicKeySHA256] = append(certOf[c.PublicKeySHA256], c.SHA256)
			}
		case ev.Is(transcript.TypeCRLIssued):
			crls++
		}
	}
	for _, k := range ks {
		if k.Intent {
			continue
		}
		for _, fp := range certOf[k.PublicKeySHA256] {
			is := reg.Issuers[fp]
			if is == nil {
				continue
			}
			for _, c := range is.Issued {
				if !here[c.SHA256] && (self == "" || c.Ceremony != self) {
					return fmt.Errorf("key pair %q issued %q (serial %s) at %s, which this transcript does not record: by the token's issuance register it is in use, not an interrupted ceremony's leftover; close refuses to destroy it; nothing was changed",
						record.Printable(k.Label), record.Printable(c.Subject), c.Serial, record.Printable(c.Ceremony))
				}
			}
			if is.CRLNumber > 0 && crls == 0 {
				return fmt.Errorf("key pair %q signed CRL number %d, which this transcript does not record: by the token's issuance register it is in use; close refuses to destroy it; nothing was changed",
					record.Printable(k.Label), is.CRLNumber)
			}
		}
	}
	return nil
}

// ceremonyIDOf names the ceremony of a transcript as the token's journal
// and register do: its script's name and its start.
func ceremonyIDOf(c *transcript.Chain) string {
	start, err := transcript.DataAs[transcript.CeremonyStarted](c.Events[0])
	if err != nil {
		return ""
	}
	return start.Script.Name + " " + start.ValidityStart
}

// refuseKeysNotJournaled refuses to destroy a key pair the token does not
// list, in its ceremony journal, as made by the ceremony being closed:
// the token, not the transcript (which anyone can rewrite), says which
// keys an unfinished ceremony made.
func refuseKeysNotJournaled(tok *hsm.Token, chain *transcript.Chain, ks []leftoverKey) error {
	if len(ks) == 0 {
		return nil
	}
	j, err := readJournal(tok)
	if err != nil {
		return err
	}
	self := ceremonyIDOf(chain)
	for _, k := range ks {
		switch {
		case j == nil:
			return fmt.Errorf("token %q lists no unfinished ceremony, so key pair %q (id %s) is not an unfinished ceremony's: close refuses to destroy it; nothing was changed", tok.Info().Label, record.Printable(k.Label), k.ID)
		case j.Ceremony != self:
			return fmt.Errorf("token %q lists ceremony %q as unfinished, not this one (%q): close refuses to destroy key pair %q; nothing was changed", tok.Info().Label, record.Printable(j.Ceremony), record.Printable(self), record.Printable(k.Label))
		case !slices.Contains(j.IDs, k.ID):
			return fmt.Errorf("token %q does not list key pair %q (id %s) among the keys this ceremony made: close refuses to destroy it; nothing was changed", tok.Info().Label, record.Printable(k.Label), k.ID)
		}
	}
	return nil
}

// clearSealedJournal removes, from the token, the ceremony journal a
// sealed ceremony left there (a kill between its seal and the journal's
// removal). Nothing else is touched; a journal of another ceremony is
// refused.
func clearSealedJournal(opts CloseOptions, dir *outdir.Dir) (*CloseResult, error) {
	chain, err := transcript.ReadFile(dir.TranscriptPath())
	if err != nil {
		return nil, fmt.Errorf("transcript %s: %w", dir.TranscriptPath(), err)
	}
	if ev, ok := endedBy(chain); !ok || !ev.Is(transcript.TypeTranscriptSealed) {
		return nil, fmt.Errorf("%s has a seal (%s) but its transcript records none: transcript verify says what is wrong; nothing was changed", dir.Path(), outdir.SealFile)
	}
	unlockToken, err := hsm.LockToken(opts.HSM)
	if err != nil {
		return nil, err
	}
	defer unlockToken()
	tok, err := hsm.Open(opts.HSM)
	if err != nil {
		return nil, err
	}
	defer tok.Close()
	if _, err := opts.Login(tok); err != nil {
		return nil, err
	}
	j, err := readJournal(tok)
	if err != nil {
		return nil, err
	}
	self := ceremonyIDOf(chain)
	// A kill after the seal can leave the sealing record, the journal, or
	// both: each is removed if it names this ceremony.
	hadSealing, err := clearSealingOf(tok, self)
	if err != nil {
		return nil, err
	}
	if (j == nil || j.Ceremony != self) && !hadSealing {
		return nil, fmt.Errorf("%s has a seal (%s): a sealed ceremony completed, and token %q holds no journal of it; there is nothing to close", dir.Path(), outdir.SealFile, tok.Info().Label)
	}
	var what []string
	if j != nil && j.Ceremony == self {
		if err := tok.DestroyPrivateData(journalLabel); err != nil {
			return nil, err
		}
		what = append(what, "journal")
	}
	if hadSealing {
		what = append(what, "sealing record")
	}
	return &CloseResult{Transcript: dir.TranscriptPath(), Events: len(chain.Events),
		JournalCleared: fmt.Sprintf("Cleared the %s of sealed ceremony %q from token %q; its keys and transcript stay as they are.", strings.Join(what, " and "), self, tok.Info().Label)}, nil
}

// tokenGone checks that the token the leftover keys ks are on is gone:
// every key is on the token cfg names by label, and its module lists no
// initialised token with that label. It returns the label.
func tokenGone(cfg hsm.Config, ks []leftoverKey) (string, error) {
	label := cfg.Token.Label
	if cfg.Module == "" || label == "" {
		return "", errors.New("--token-gone needs --config naming the module and the label of the token that is gone")
	}
	for _, k := range ks {
		if k.Token != label {
			return "", fmt.Errorf("key pair %q is on token %q by the transcript, not on token %q; nothing was changed", record.Printable(k.Label), record.Printable(k.Token), label)
		}
	}
	unlockToken, err := hsm.LockToken(cfg)
	if err != nil {
		return "", err
	}
	defer unlockToken()
	tok, err := hsm.Open(cfg)
	if err == nil {
		tok.Close()
		return "", fmt.Errorf("token %q is there in %s: it is not gone; close with a login to destroy its keys; nothing was changed", label, cfg.Module)
	}
	if !errors.Is(err, hsm.ErrTokenNotFound) {
		return "", err
	}
	return label, nil
}
