package engine

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"

	"github.com/devicepki/ceremony/ceremony/activation"
	"github.com/devicepki/ceremony/ceremony/keys"
	"github.com/devicepki/ceremony/ceremony/script"
	"github.com/devicepki/ceremony/ceremony/secret"
	"github.com/devicepki/ceremony/ceremony/shares"
	"github.com/devicepki/ceremony/ceremony/transcript"
	"github.com/devicepki/ceremony/hsm"
)

// activationState is the token's activation record and its rebuilt secret.
type activationState struct {
	record *activation.Record
	split  shares.SplitID
	secret *secret.Secret
}

// pendingSplit holds the shares of a split until they are handed out.
type pendingSplit struct {
	role     string
	manifest *shares.Manifest
	shares   []*shares.Share
}

func (p *pendingSplit) wipe() {
	for _, s := range p.shares {
		s.Wipe()
	}
	p.shares = nil
}

// end wipes every secret the run still holds and closes the token: the
// activation secret lives exactly as long as the HSM session.
func (r *run) end() {
	if r.activation != nil {
		r.activation.secret.Wipe()
		r.activation = nil
	}
	for id, p := range r.pending {
		p.wipe()
		delete(r.pending, id)
	}
	for id, k := range r.rebuilt {
		k.secret.Wipe()
		delete(r.rebuilt, id)
	}
	for name, t := range r.others {
		_ = t.Close()
		delete(r.others, name)
	}
	if r.tok != nil {
		_ = r.tok.Close()
	}
}

// tokenInfo describes the token, or the blank token an init-token step
// will initialise.
func (r *run) tokenInfo() hsm.TokenInfo {
	switch {
	case r.tok != nil:
		return r.tok.Info()
	case r.blank != nil:
		return r.blank.Info()
	}
	return hsm.TokenInfo{}
}

// randomSecret returns n random bytes: the operating system's generator,
// XORed with the HSM's where a token is open, so that neither alone
// decides a secret.
func (r *run) randomSecret(n int) (*secret.Secret, error) {
	b := make([]byte, n)
	defer clear(b)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	if r.tok != nil {
		h, err := r.tok.Random(n)
		if err != nil {
			return nil, err
		}
		subtle.XORBytes(b, b, h)
		clear(h)
	}
	return secret.New(b), nil
}

// pins derives the token's PINs from the activation secret the run holds.
func (r *run) pins() (so, user *secret.Secret, err error) {
	if r.activation == nil {
		return nil, nil, errors.New("no activation secret: the security officer's PIN is derived from the officers' shares")
	}
	return activation.PINs(r.activation.secret, r.activation.split, r.activation.record.Format())
}

// holders returns the people present in the role of a new split, who
// must be exactly as many as there are shares.
func (r *run) holders(q *script.Quorum) ([]Participant, error) {
	hs := r.inRole(q.Role)
	if len(hs) != q.Shares {
		return nil, fmt.Errorf("%d %s(s) present; each of exactly %d receives a share", len(hs), q.Role, q.Shares)
	}
	return hs, nil
}

// recordSplit records a split's public manifest and who will hold which
// share.
func (r *run) recordSplit(info StepInfo, what string, man *shares.Manifest, holders []Participant) error {
	var hs []transcript.Holder
	for i, p := range holders {
		hs = append(hs, transcript.Holder{Share: i + 1, Role: p.Role, Name: p.Name})
	}
	text := fmt.Sprintf("Split the %s into %d shares, %d needed (split %s)", what, man.Count, man.Threshold, man.Split)
	r.face.Report(Report{Kind: Notice, Step: info, Text: text})
	return r.record(transcript.Entry{Step: info.ID, Actors: actors(holders...), Text: text,
		Data: transcript.SharesSplit{Manifest: transcript.V(man), Holders: hs}})
}

// quorumLogin rebuilds the activation secret from officers' shares,
// checks it against the record on the token, and logs in with the user
// PIN derived from it.
func (r *run) quorumLogin(ctx context.Context, info StepInfo, q *script.Quorum) (string, error) {
	rec, data, where, err := activation.Load(r.tok, r.opts.HSM.ActivationRecord)
	if err != nil {
		return "", err
	}
	split, err := rec.Manifest.SplitID()
	if err != nil {
		return "", err
	}
	sec, by, indices, err := r.collectShares(ctx, info, q.Role, rec.Manifest, rec.HolderOf)
	if err != nil {
		return "", err
	}
	r.activation = &activationState{record: rec, split: split, secret: sec}
	so, user, err := r.pins()
	if err != nil {
		return "", err
	}
	so.Wipe()
	err = r.tok.Login(user)
	user.Wipe()
	if err != nil {
		if errors.Is(err, hsm.ErrPINIncorrect) {
			r.changed = true // the token counted a failed login
			return "", fmt.Errorf("the shares match the activation record, but the token rejects the PIN derived from them: the record does not belong to this token's PINs: %w", err)
		}
		return "", err
	}
	text := fmt.Sprintf("%s entered %d activation shares (split %s, %d of %d needed); the rebuilt secret matches the commitment, and the derived PIN logged in to HSM token %q",
		names(by), len(by), rec.Manifest.Split, rec.Manifest.Threshold, rec.Manifest.Count, r.tok.Info().Label)
	return text, r.record(transcript.Entry{Step: info.ID, Actors: actors(by...), Text: text, Data: transcript.HSMLogin{
		Token:                  transcript.V(r.tok.Info()),
		Quorum:                 &transcript.LoginQuorum{SplitID: rec.Manifest.Split, Shares: indices, Threshold: rec.Manifest.Threshold, EnteredBy: nameList(by)},
		ActivationRecordSHA256: sha256Hex(data),
		ActivationRecordFrom:   where,
	}})
}

// shareFromOther asks the person who entered share n, issued to holder,
// why; without a reason the ceremony stops. The reason goes on record as
// an override of the check "share-holder".
func (r *run) shareFromOther(ctx context.Context, info StepInfo, man *shares.Manifest, n int, holder string, who Participant) error {
	problem := fmt.Sprintf("share %d of split %s was issued to %s, but %s entered it", n, man.Split, holder, who.Name)
	r.face.Report(Report{Kind: Notice, Step: info, Text: "WARNING: " + problem})
	ans, err := r.face.Override(ctx, OverrideRequest{Step: info, Check: "share-holder", Problem: problem, Candidates: []Participant{who}})
	if err != nil {
		return fmt.Errorf("%s, and nobody said why: %w", problem, err)
	}
	by, err := pick(ans.By, []Participant{who})
	if err != nil {
		return err
	}
	if strings.TrimSpace(ans.Reason) == "" {
		return fmt.Errorf("%s: a reason is required", problem)
	}
	return r.record(transcript.Entry{Step: info.ID, Actors: actors(by),
		Text: fmt.Sprintf("Exception: %s; reason given by %s: %s", problem, by.Name, ans.Reason),
		Data: transcript.Override{Check: "share-holder", Reason: ans.Reason, Details: transcript.V(map[string]any{"share": n, "split": man.Split, "issued_to": holder, "entered_by": who.Name})}})
}

// collectShares asks Threshold keyholders of role, one at a time, for
// their shares of the split man describes, checks each as it is entered
// (format, split, manifest hash, not entered twice), and rebuilds and
// checks the secret.
func (r *run) collectShares(ctx context.Context, info StepInfo, role string, man *shares.Manifest, holderOf func(int) string) (*secret.Secret, []Participant, []int, error) {
	present := r.inRole(role)
	if len(present) < man.Threshold {
		return nil, nil, nil, fmt.Errorf("%d %s(s) present; %d of the %d %s shares of split %s are needed",
			len(present), role, man.Threshold, man.Count, man.Purpose, man.Split)
	}
	var (
		got     []*shares.Share
		by      []Participant
		indices []int
	)
	defer func() {
		for _, s := range got {
			s.Wipe()
		}
	}()
	for k := 1; k <= man.Threshold; k++ {
		var cands []Participant
		for _, p := range present {
			if !containsParticipant(by, p) {
				cands = append(cands, p)
			}
		}
		problem := ""
		for attempt := 1; ; attempt++ {
			ans, err := r.face.Share(ctx, ShareRequest{Step: info, Purpose: man.Purpose, Split: man.Split, Number: k, Needed: man.Threshold,
				Candidates: cands, Attempt: attempt, Problem: problem})
			if errors.Is(err, ErrNoRetry) && problem != "" {
				return nil, nil, nil, errors.New(problem)
			}
			if err != nil {
				return nil, nil, nil, err
			}
			who, err := pick(ans.By, cands)
			if err != nil {
				ans.Text.Wipe()
				return nil, nil, nil, err
			}
			sh, perr := shares.Parse(ans.Text.Bytes())
			ans.Text.Wipe()
			if perr == nil {
				perr = man.CheckShare(sh)
			}
			if perr == nil {
				for _, g := range got {
					if g.Index == sh.Index {
						perr = fmt.Errorf("share %d was already entered", sh.Index)
					}
				}
			}
			if perr == nil && holderOf != nil {
				// A share issued to someone else (an absent officer's,
				// brought by another) is used only with a reason, on
				// record.
				if holder := holderOf(sh.Index); holder != "" && holder != who.Name {
					if err := r.shareFromOther(ctx, info, man, sh.Index, holder, who); err != nil {
						sh.Wipe()
						return nil, nil, nil, err
					}
				}
			}
			if perr == nil {
				got, by, indices = append(got, sh), append(by, who), append(indices, sh.Index)
				break
			}
			if sh != nil {
				sh.Wipe()
			}
			problem = fmt.Sprintf("the %s share entered by %s: %v", man.Purpose, who.Name, perr)
			if err := r.record(transcript.Entry{Step: info.ID, Actors: actors(who), Text: problem,
				Data: transcript.ShareRejected{SplitID: man.Split, Attempt: attempt, Problem: perr.Error()}}); err != nil {
				return nil, nil, nil, err
			}
			if attempt >= MaxSecretAttempts {
				return nil, nil, nil, errors.New(problem)
			}
		}
	}
	sec, err := shares.Combine(got, man)
	if err != nil {
		return nil, nil, nil, err
	}
	return sec, by, indices, nil
}

func containsParticipant(list []Participant, p Participant) bool {
	for _, q := range list {
		if q == p {
			return true
		}
	}
	return false
}

func names(ps []Participant) string { return strings.Join(nameList(ps), ", ") }

// nameList lists the participants' names, in order.
func nameList(ps []Participant) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return out
}

func sha256Hex(b []byte) string {
	return fmt.Sprintf("%x", sha256.Sum256(b))
}

// testSignature signs a fixed test message with kp in the HSM and checks
// the signature with pub.
func testSignature(kp crypto.Signer, pub crypto.PublicKey, what string) error {
	digest := sha256.Sum256([]byte("ceremony test signature: " + what))
	sig, err := kp.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return fmt.Errorf("test signature: %w", err)
	}
	if err := keys.VerifyDigest(pub, crypto.SHA256, digest[:], sig); err != nil {
		return fmt.Errorf("test signature by the key in the HSM does not verify with %s: %w", what, err)
	}
	return nil
}
