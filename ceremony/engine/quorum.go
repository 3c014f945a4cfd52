package engine

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"path/filepath"
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
	return activation.PINs(r.activation.secret, r.activation.split, r.activation.record.PINLength)
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

func (r *run) initToken(_ context.Context, info StepInfo, st *script.Step) (string, error) {
	q := st.Quorum
	holders, err := r.holders(q)
	if err != nil {
		return "", err
	}
	if r.blank == nil {
		return "", errors.New("no blank token to initialise")
	}
	pinLen, err := activation.PINLength(r.blank.PINLengths())
	if err != nil {
		return "", fmt.Errorf("token %q: %w", r.blank.Info().Label, err)
	}
	sec, err := r.randomSecret(activation.SecretLen)
	if err != nil {
		return "", err
	}
	st8 := &activationState{secret: sec}
	list, man, err := shares.Split(rand.Reader, sec, shares.Activation, q.Threshold, q.Shares)
	if err != nil {
		sec.Wipe()
		return "", err
	}
	split, err := man.SplitID()
	if err != nil {
		sec.Wipe()
		return "", err
	}
	st8.split = split
	r.activation = st8 // wiped by end from here on
	r.pending[st.ID] = &pendingSplit{role: q.Role, manifest: man, shares: list}
	so, user, err := activation.PINs(sec, split, pinLen)
	if err != nil {
		return "", err
	}
	defer so.Wipe()
	defer user.Wipe()
	label := r.blank.Info().Label
	// From here the token may be initialised whatever happens next (even a
	// crash): the record says so first, and is kept.
	r.changed = true
	if err := r.record(transcript.Entry{Type: "token-initialising", Step: info.ID,
		Text: fmt.Sprintf("Initialising blank HSM token as %q with PINs derived from a new activation secret (split %s)", label, man.Split),
		Data: map[string]any{"token": r.blank.Info(), "split_id": man.Split}}); err != nil {
		return "", err
	}
	var tok *hsm.Token
	_, err = r.timed(info, fmt.Sprintf("Initialising HSM token %q", label), func() (err error) {
		tok, err = r.blank.Initialize(so, user)
		return err
	})
	r.blank = nil
	if err != nil {
		return "", fmt.Errorf("%w; the token may be initialised nonetheless: check it before running the ceremony again", err)
	}
	r.tok, r.initialised = tok, true
	if err := tok.Login(user); err != nil {
		return "", fmt.Errorf("log in to the token just initialised: %w", err)
	}
	st8.record = &activation.Record{Version: 1, Derivation: activation.Derivation, PINLength: pinLen, Token: label, Manifest: man}
	data, err := st8.record.Marshal()
	if err != nil {
		return "", err
	}
	if err := tok.StoreData(activation.RecordLabel, data); err != nil {
		return "", err
	}
	ti := tok.Info()
	text := fmt.Sprintf("Initialised HSM token %q (serial %s) with PINs derived from a new activation secret; nobody has seen them", ti.Label, ti.Serial)
	if err := r.record(transcript.Entry{Type: "token-initialized", Step: info.ID, Text: text, Data: map[string]any{
		"token": ti, "pin_derivation": activation.Derivation, "pin_length": pinLen,
		"pins":              "security officer and user PINs derived from the activation secret by HKDF-SHA256 with distinct labels",
		"activation_record": map[string]any{"label": activation.RecordLabel, "sha256": sha256Hex(data)},
	}}); err != nil {
		return "", err
	}
	if err := r.recordSplit(info, "activation secret", man, holders); err != nil {
		return "", err
	}
	return text, nil
}

// recordSplit records a split's public manifest and who will hold which
// share.
func (r *run) recordSplit(info StepInfo, what string, man *shares.Manifest, holders []Participant) error {
	type holder struct {
		Share int    `json:"share"`
		Role  string `json:"role"`
		Name  string `json:"name"`
	}
	var hs []holder
	for i, p := range holders {
		hs = append(hs, holder{i + 1, p.Role, p.Name})
	}
	text := fmt.Sprintf("Split the %s into %d shares, %d needed (split %s)", what, man.Count, man.Threshold, man.Split)
	r.face.Report(Report{Kind: Notice, Step: info, Text: text})
	return r.record(transcript.Entry{Type: "shares-split", Step: info.ID, Actors: actors(holders...), Text: text,
		Data: map[string]any{"manifest": man, "holders": hs}})
}

func (r *run) handOut(ctx context.Context, info StepInfo, st *script.Step) (string, error) {
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
	data := map[string]any{"split_id": ps.manifest.Split, "purpose": ps.manifest.Purpose, "share": sh.Index, "share_sha256": sh.Hash()}
	if r.opts.Rehearsal {
		name := fmt.Sprintf("%s-%d.share", holder.Role, sh.Index)
		path, err := r.out.WriteShareFile(name, text.Bytes())
		if err != nil {
			return err
		}
		if req.RehearsalFile, err = filepath.Abs(path); err != nil {
			return err
		}
		data["rehearsal_file"] = "shares/" + name
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
			data["attempts"] = attempt
			if ans.MediaDir != "" {
				media, err := r.writeMedia(ans, holder, sh, text)
				ans.Passphrase.Wipe()
				if err != nil {
					return err
				}
				data["media_copy"] = media
			}
			ans.Passphrase.Wipe()
			break
		}
		ans.Passphrase.Wipe()
		lastProblem = problem
		if err := r.record(transcript.Entry{Type: "share-typeback-failed", Step: info.ID, Actors: actors(holder),
			Text: fmt.Sprintf("%s's copy of share %d did not match (attempt %d of %d): %s", holder.Name, sh.Index, attempt, MaxSecretAttempts, problem),
			Data: map[string]any{"share": sh.Index, "attempt": attempt, "problem": problem}}); err != nil {
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
		msg += "; rehearsal: also written to " + data["rehearsal_file"].(string)
	}
	return r.record(transcript.Entry{Type: "share-handed-out", Step: info.ID, Actors: actors(holder), Text: msg, Data: data})
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

// quorumLogin rebuilds the activation secret from officers' shares,
// checks it against the record on the token, and logs in with the user
// PIN derived from it.
func (r *run) quorumLogin(ctx context.Context, info StepInfo, st *script.Step) (string, error) {
	data, err := r.tok.ReadData(activation.RecordLabel)
	if errors.Is(err, hsm.ErrDataNotFound) {
		return "", fmt.Errorf("token %q holds no activation record: it was not initialised by a ceremony; log in with a PIN (by:) instead", r.tok.Info().Label)
	}
	if err != nil {
		return "", err
	}
	rec, err := activation.ParseRecord(data)
	if err != nil {
		return "", err
	}
	split, err := rec.Manifest.SplitID()
	if err != nil {
		return "", err
	}
	sec, by, indices, err := r.collectShares(ctx, info, st.Quorum.Role, rec.Manifest)
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
	return text, r.record(transcript.Entry{Type: "hsm-login", Step: info.ID, Actors: actors(by...), Text: text, Data: map[string]any{
		"token": r.tok.Info(), "quorum": map[string]any{"split_id": rec.Manifest.Split, "shares": indices, "threshold": rec.Manifest.Threshold},
		"activation_record_sha256": sha256Hex(data),
	}})
}

// collectShares asks Threshold keyholders of role, one at a time, for
// their shares of the split man describes, checks each as it is entered
// (format, split, manifest hash, not entered twice), and rebuilds and
// checks the secret.
func (r *run) collectShares(ctx context.Context, info StepInfo, role string, man *shares.Manifest) (*secret.Secret, []Participant, []int, error) {
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
			if perr == nil {
				got, by, indices = append(got, sh), append(by, who), append(indices, sh.Index)
				break
			}
			if sh != nil {
				sh.Wipe()
			}
			problem = fmt.Sprintf("the %s share entered by %s: %v", man.Purpose, who.Name, perr)
			if err := r.record(transcript.Entry{Type: "share-rejected", Step: info.ID, Actors: actors(who), Text: problem,
				Data: map[string]any{"split_id": man.Split, "attempt": attempt, "problem": perr.Error()}}); err != nil {
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

func names(ps []Participant) string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return strings.Join(out, ", ")
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
