package engine

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/devicepki/ceremony/ceremony/script"
	"github.com/devicepki/ceremony/ceremony/secret"
	"github.com/devicepki/ceremony/ceremony/shares"
	"github.com/devicepki/ceremony/ceremony/transcript"
)

// KindHandOutShares gives each keyholder of a split their share, in
// turn, and has them type it back.
const KindHandOutShares = "hand-out-shares"

var handOutSharesKind = script.Kind{
	Name:    KindHandOutShares,
	Summary: "gives each keyholder of a split their share in turn, alone at the screen, and has them type it back",
	New:     func() script.Spec { return &handOutSharesStep{} },
}

type handOutSharesStep struct {
	noPrepare
	// Split is the id of the init-token or backup-key step whose shares
	// are handed out.
	Split string `yaml:"split"`
}

func (k *handOutSharesStep) Validate(c *script.Check) error {
	if err := c.NeedsPeople(); err != nil {
		return err
	}
	split, err := c.Earlier("split", k.Split, KindInitToken, KindBackupKey)
	if err != nil {
		return err
	}
	if b, ok := split.Spec.(*backupKeyStep); ok && b.none() {
		return c.Errorf("split", "step %q makes no backup (method: %s), so it has no shares to hand out", k.Split, backupNone)
	}
	if j := c.Before(func(st *script.Step) bool {
		h, ok := st.Spec.(*handOutSharesStep)
		return ok && h.Split == k.Split
	}); len(j) > 0 {
		return c.Errorf("split", "the shares of step %q are already handed out by steps[%d]", k.Split, j[0])
	}
	return nil
}

func (k *handOutSharesStep) asks() []Ask { return []Ask{{Kind: AskHandOut, Split: k.Split}} }

func (k *handOutSharesStep) run(ctx context.Context, r *run, info StepInfo) (string, error) {
	return r.handOut(ctx, info, k)
}

func (r *run) handOut(ctx context.Context, info StepInfo, st *handOutSharesStep) (string, error) {
	ps := r.pending[st.Split]
	if ps == nil {
		return "", fmt.Errorf("no shares of step %q to hand out", st.Split)
	}
	holders := r.inRole(ps.role)
	if len(holders) != len(ps.shares) {
		return "", fmt.Errorf("%d %s(s) present for %d shares", len(holders), ps.role, len(ps.shares))
	}
	for i, sh := range ps.shares {
		if err := r.handOutOne(ctx, info, ps, sh, holders[i], i+1); err != nil {
			return "", err
		}
		sh.Wipe()
	}
	ps.wipe()
	delete(r.pending, st.Split)
	var names []string
	for _, h := range holders {
		names = append(names, h.Name)
	}
	return fmt.Sprintf("Handed out the %d %s shares of split %s to %s; each typed theirs back correctly",
		len(holders), ps.manifest.Purpose, ps.manifest.Split, strings.Join(names, ", ")), nil
}

func (r *run) handOutOne(ctx context.Context, info StepInfo, ps *pendingSplit, sh *shares.Share, holder Participant, n int) error {
	text, compact := sh.Text(), sh.Compact()
	defer text.Wipe()
	defer compact.Wipe()
	req := HandOutRequest{Step: info, Holder: holder, Describe: sh.Describe(), Text: text, Compact: compact,
		Number: n, Count: len(ps.shares), Rehearsal: r.opts.Rehearsal}
	data := transcript.ShareHandedOut{SplitID: ps.manifest.Split, Purpose: ps.manifest.Purpose, Share: sh.Index, ShareSHA256: sh.Hash()}
	if r.opts.Rehearsal {
		name := fmt.Sprintf("%s-%d.share", holder.Role, sh.Index)
		path, err := r.out.WriteShareFile(name, text.Bytes())
		if err != nil {
			return err
		}
		if req.RehearsalFile, err = filepath.Abs(path); err != nil {
			return err
		}
		data.RehearsalFile = "shares/" + name
	}
	var lastProblem string
	for attempt := 1; ; attempt++ {
		req.Attempt = attempt
		ans, err := r.face.HandOut(ctx, req)
		if errors.Is(err, ErrNoRetry) && lastProblem != "" {
			return fmt.Errorf("%s's copy of share %d: %s", holder.Name, sh.Index, lastProblem)
		}
		if err != nil {
			return err
		}
		problem := typedBackProblem(ans.TypedBack, sh)
		ans.TypedBack.Wipe()
		if problem == "" {
			data.Attempts = attempt
			if ans.MediaDir != "" {
				media, err := r.writeMedia(ans, holder, sh, text)
				ans.Passphrase.Wipe()
				if err != nil {
					return err
				}
				data.MediaCopy = transcript.V(media)
			}
			ans.Passphrase.Wipe()
			break
		}
		ans.Passphrase.Wipe()
		lastProblem = problem
		if err := r.record(transcript.Entry{Step: info.ID, Actors: actors(holder),
			Text: fmt.Sprintf("%s's copy of share %d did not match (attempt %d of %d): %s", holder.Name, sh.Index, attempt, MaxSecretAttempts, problem),
			Data: transcript.ShareTypebackFailed{Share: sh.Index, Attempt: attempt, Problem: problem}}); err != nil {
			return err
		}
		if attempt >= MaxSecretAttempts {
			return fmt.Errorf("%s's copy of share %d: %s", holder.Name, sh.Index, problem)
		}
		req.Problem = problem
	}
	msg := fmt.Sprintf("Handed share %d of %d (%s, split %s) to %s (%s), who typed it back correctly",
		sh.Index, len(ps.shares), ps.manifest.Purpose, ps.manifest.Split, holder.Name, holder.Role)
	if r.opts.Rehearsal {
		msg += "; rehearsal: also written to " + data.RehearsalFile
	}
	return r.record(transcript.Entry{Step: info.ID, Actors: actors(holder), Text: msg, Data: data})
}

// typedBackProblem says how a typed-back copy differs from the share
// shown, and where; "" if it is the same share.
func typedBackProblem(typed *secret.Secret, sh *shares.Share) string {
	if typed.Len() == 0 {
		return "nothing was typed back"
	}
	got, err := shares.Parse(typed.Bytes())
	if err != nil {
		return err.Error()
	}
	defer got.Wipe()
	if got.Hash() == sh.Hash() && got.Index == sh.Index {
		return ""
	}
	a, b := got.Compact(), sh.Compact()
	defer a.Wipe()
	defer b.Wipe()
	ga, gb := strings.Split(string(a.Bytes()), "-"), strings.Split(string(b.Bytes()), "-")
	for i := 0; i < len(ga) && i < len(gb); i++ {
		if subtle.ConstantTimeCompare([]byte(ga[i]), []byte(gb[i])) == 0 {
			return fmt.Sprintf("the copy is well-formed but is %s, not the share shown: first difference at group %d", got.Describe(), i)
		}
	}
	return fmt.Sprintf("the copy is %s, not the share shown", got.Describe())
}
