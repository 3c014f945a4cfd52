package engine

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"

	"github.com/devicepki/ceremony/ceremony/activation"
	"github.com/devicepki/ceremony/ceremony/outdir"
	"github.com/devicepki/ceremony/ceremony/script"
	"github.com/devicepki/ceremony/ceremony/secret"
	"github.com/devicepki/ceremony/ceremony/shares"
	"github.com/devicepki/ceremony/ceremony/transcript"
	"github.com/devicepki/ceremony/hsm"
)

// KindInitToken initialises a blank HSM token with PINs derived from a
// fresh activation secret, split among a quorum of keyholders.
const KindInitToken = "init-token"

var initTokenKind = script.Kind{
	Name:    KindInitToken,
	Summary: "initialises a blank token with PINs derived from a fresh activation secret, split M-of-N among a quorum of officers",
	New:     func() script.Spec { return &initTokenStep{} },
}

type initTokenStep struct {
	noPrepare
	// Quorum is the split of the activation secret: role, threshold and
	// shares.
	Quorum *script.Quorum `yaml:"quorum"`
	// SOPINBy takes ownership of a token that already has a security
	// officer's PIN (a factory default, or one set with the vendor's
	// tools): a person in this role types it. Empty: the token is blank
	// and C_InitToken sets the PIN.
	SOPINBy string `yaml:"so_pin_by"`
	// MinPINBits is the least entropy the derived PINs must carry
	// (default activation.DefaultMinPINBits); a token whose PIN length
	// range cannot give it is refused before anyone acts.
	MinPINBits int `yaml:"min_pin_bits"`
}

// minPINBits is the PIN entropy floor the step asks.
func (k *initTokenStep) minPINBits() int {
	if k.MinPINBits == 0 {
		return activation.DefaultMinPINBits
	}
	return k.MinPINBits
}

func (k *initTokenStep) asks() []Ask {
	if k.SOPINBy == "" {
		return nil
	}
	return []Ask{{Kind: AskPIN, Role: k.SOPINBy}}
}

func (k *initTokenStep) StepQuorum() *script.Quorum { return k.Quorum }

func (k *initTokenStep) Validate(c *script.Check) error {
	if err := c.NeedsPeople(); err != nil {
		return err
	}
	if err := opensMainToken(c); err != nil {
		return err
	}
	if err := c.Quorum(k.Quorum, true); err != nil {
		return err
	}
	if k.SOPINBy != "" {
		if err := c.Role("so_pin_by", k.SOPINBy); err != nil {
			return err
		}
	}
	if k.MinPINBits != 0 && (k.MinPINBits < activation.FloorPINBits || k.MinPINBits > 256) {
		return c.Errorf("min_pin_bits", "%d: give %d to 256 bits (default %d)", k.MinPINBits, activation.FloorPINBits, activation.DefaultMinPINBits)
	}
	if err := c.ArtifactName("", "activation-record", []string{activation.ArtifactName}); err != nil {
		return err
	}
	c.Mark(script.FactOfficer)
	c.Finally(func() error { return needsHandOut(c) })
	return nil
}

// needsHandOut checks that a hand-out-shares step gives out the shares of
// the split this step makes.
func needsHandOut(c *script.Check) error {
	id := c.Step.ID
	if len(c.Later(func(st *script.Step) bool {
		h, ok := st.Spec.(*handOutSharesStep)
		return ok && h.Split == id
	})) == 0 {
		return c.Errorf("", "nobody receives the shares of step %q: add a %s step with split: %s", id, KindHandOutShares, id)
	}
	return nil
}

func (k *initTokenStep) run(ctx context.Context, r *run, info StepInfo) (string, error) {
	return r.initToken(ctx, info, k)
}

func (r *run) initToken(ctx context.Context, info StepInfo, st *initTokenStep) (string, error) {
	q := st.Quorum
	holders, err := r.holders(q)
	if err != nil {
		return "", err
	}
	if r.blank == nil {
		return "", errors.New("no blank token to initialise")
	}
	label := r.blank.Info().Label
	lo, hi := r.blank.PINLengths()
	format, err := activation.ChoosePIN(lo, hi, st.minPINBits())
	if err != nil {
		return "", fmt.Errorf("token %q: %w", label, err)
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
	r.pending[info.ID] = &pendingSplit{role: q.Role, manifest: man, shares: list}
	so, user, err := activation.PINs(sec, split, format)
	if err != nil {
		return "", err
	}
	defer so.Wipe()
	defer user.Wipe()
	// The record is public and known before the token is touched: it is
	// written as an artifact first, so that nothing between C_InitToken
	// and the hand-out of the shares depends on the module keeping a
	// public data object.
	st8.record = &activation.Record{Version: 1, Derivation: format.Derivation, PINLength: format.Length, Token: label, Manifest: man}
	for i, h := range holders {
		st8.record.Holders = append(st8.record.Holders, activation.Holder{Share: i + 1, Name: h.Name, Role: h.Role})
	}
	data, err := st8.record.Marshal()
	if err != nil {
		return "", err
	}
	art, err := r.writeArtifact(info, activation.ArtifactName, data)
	if err != nil {
		return "", err
	}
	r.changed = true
	r.artifacts = append(r.artifacts, art)
	r.inRoom[art.Path] = outdir.StaysInRoom(outdir.ContentActivationRecord)
	r.activationRecord = art.Path
	if err := r.record(transcript.Entry{Step: info.ID, Text: fmt.Sprintf("Wrote the activation record %s (%d bytes, SHA-256 %s)", art.Path, art.Size, art.SHA256),
		Data: transcript.ArtifactWritten{Path: art.Path, SHA256: art.SHA256, Size: art.Size, Source: info.ID, Content: outdir.ContentActivationRecord}}); err != nil {
		return "", err
	}
	var (
		tok        *hsm.Token
		taken      bool
		wasInitial = r.blank.WasInitialised()
	)
	if st.SOPINBy != "" {
		tok, err = r.takeOwnership(ctx, info, st.SOPINBy, man, so, user)
		taken = true
	} else {
		// From here the token may be initialised whatever happens next
		// (even a crash): the record says so first, and is kept.
		if err := r.record(transcript.Entry{Step: info.ID,
			Text: fmt.Sprintf("Initialising blank HSM token as %q with PINs derived from a new activation secret (split %s)", label, man.Split),
			Data: transcript.TokenInitialising{Token: transcript.V(r.blank.Info()), SplitID: man.Split}}); err != nil {
			return "", err
		}
		_, err = r.timed(info, fmt.Sprintf("Initialising HSM token %q", label), func() (err error) {
			tok, err = r.blank.Initialize(so, user)
			return err
		})
	}
	r.blank = nil
	if taken && (errors.Is(err, hsm.ErrPINIncorrect) || errors.Is(err, hsm.ErrTokenUnchanged)) {
		return "", err // the token is unchanged (but for a failed login it counted)
	}
	if err != nil {
		return "", fmt.Errorf("%w; the token may be initialised nonetheless: check it before running the ceremony again", err)
	}
	hsm.Barrier()
	r.tok, r.initialised = tok, true
	if err := tok.Login(user); err != nil {
		return "", fmt.Errorf("log in to the token just initialised: %w", err)
	}
	found := 0
	if wasInitial {
		// Taken over, not initialised again: what the vendor's setup
		// left on it stays, and is listed.
		objs, err := tok.Inventory()
		if err != nil {
			return "", err
		}
		found = len(objs)
		if found > 0 {
			var names []string
			for _, o := range objs {
				names = append(names, fmt.Sprintf("%s %q", o.Class, o.Label))
			}
			r.face.Report(Report{Kind: Notice, Step: info, Text: fmt.Sprintf("The token taken over already holds %d object(s), left as they were: %s", found, strings.Join(names, ", "))})
		}
	}
	kept := "on the token as a public data object and as " + art.Path
	if err := tok.StoreData(activation.RecordLabel, data); errors.Is(err, hsm.ErrLabelInUse) {
		// A record that is not this ceremony's is on the token (one a
		// taken-over token held): later ceremonies must not read it.
		return "", fmt.Errorf("%w: the token holds an activation record that is not this ceremony's; reset the token before running the ceremony again", err)
	} else if err != nil {
		// Some modules (tpm2-pkcs11) keep no public data objects: the
		// artifact is then the only copy, which later ceremonies are
		// given.
		kept = fmt.Sprintf("only as %s: the token refused a public data object (%v); later ceremonies name the file in their HSM config (activation_record: PATH)", art.Path, err)
		r.face.Report(Report{Kind: Notice, Step: info, Text: "The activation record is kept " + kept})
	}
	ti := tok.Info()
	text := fmt.Sprintf("Initialised HSM token %q (serial %s) with PINs derived from a new activation secret (%d %s, %d bits); nobody has seen them",
		ti.Label, ti.Serial, format.Length, format.Alphabet(), format.Bits())
	if err := r.record(transcript.Entry{Step: info.ID, Text: text, Data: transcript.TokenInitialised{
		ActivationRecord:     transcript.Labelled{Label: activation.RecordLabel, SHA256: sha256Hex(data)},
		ActivationRecordKept: kept,
		MinPINBits:           st.minPINBits(),
		ObjectsFound:         found,
		OwnershipTaken:       taken,
		PINDerivation:        format.Derivation, PINEntropyBits: format.Bits(), PINLength: format.Length,
		PINs:  "security officer and user PINs derived from the activation secret by HKDF-SHA256 with distinct labels",
		Token: transcript.V(ti),
	}}); err != nil {
		return "", err
	}
	if err := r.recordSplit(info, "activation secret", man, holders); err != nil {
		return "", err
	}
	return text, nil
}

// takeOwnership initialises a token that has a security officer's PIN:
// a person of role types it (never recorded), and the token checks it at
// C_InitToken. A PIN the token refuses changes nothing and is asked
// again, up to MaxSecretAttempts.
func (r *run) takeOwnership(ctx context.Context, info StepInfo, role string, man *shares.Manifest, so, user *secret.Secret) (*hsm.Token, error) {
	label := r.blank.Info().Label
	candidates := r.inRole(role)
	what := fmt.Sprintf("current security officer PIN of HSM token %q (the factory default, or the one set with the vendor's tools)", label)
	if state := r.blank.SOPINState(); state == "final try" || state == "count low" {
		r.face.Report(Report{Kind: Notice, Step: info, Text: fmt.Sprintf("WARNING: token %q says its security officer PIN count is low (%s): a wrong PIN may lock it", label, state)})
		if state == "final try" {
			return nil, fmt.Errorf("token %q says its security officer PIN is at its final try: one wrong PIN would lock it; nothing was typed or changed (check the PIN with its owner, or reset the token)", label)
		}
	}
	var lastErr error
	for attempt := 1; attempt <= MaxSecretAttempts; attempt++ {
		ans, err := r.face.Secret(ctx, SecretRequest{Step: info, What: what, Candidates: candidates, Attempt: attempt})
		if errors.Is(err, ErrNoRetry) && lastErr != nil {
			return nil, lastErr
		}
		if err != nil {
			return nil, err
		}
		by, err := pick(ans.By, candidates)
		if err != nil {
			ans.Secret.Wipe()
			return nil, err
		}
		// From here the token may be initialised whatever happens next
		// (even a crash): the record says so first, and is kept.
		if err := r.record(transcript.Entry{Step: info.ID, Actors: actors(by),
			Text: fmt.Sprintf("Taking ownership of HSM token %q with the current security officer PIN typed by %s, and initialising it with PINs derived from a new activation secret (split %s)", label, by.Name, man.Split),
			Data: transcript.TokenInitialising{Token: transcript.V(r.blank.Info()), SplitID: man.Split}}); err != nil {
			ans.Secret.Wipe()
			return nil, err
		}
		var tok *hsm.Token
		_, err = r.timed(info, fmt.Sprintf("Initialising HSM token %q", label), func() (err error) {
			tok, err = r.blank.TakeOwnership(ans.Secret, so, user)
			return err
		})
		ans.Secret.Wipe()
		if err == nil {
			return tok, nil
		}
		if !errors.Is(err, hsm.ErrPINIncorrect) {
			return nil, err
		}
		lastErr = fmt.Errorf("%w: check the PIN with the token's owner or its vendor's documentation", err)
		counted := "it is unchanged"
		if r.blank.WasInitialised() {
			counted = "the token counted a failed security officer login"
		}
		if rerr := r.record(transcript.Entry{Step: info.ID, Actors: actors(by),
			Text: fmt.Sprintf("The token refused the security officer PIN typed by %s (attempt %d of %d); %s", by.Name, attempt, MaxSecretAttempts, counted),
			Data: transcript.HSMLoginFailed{Attempt: attempt}}); rerr != nil {
			return nil, rerr
		}
		// The token's own count decides: stop before a try that could
		// lock its security officer PIN.
		if state := r.blank.SOPINState(); state == "final try" || state == "locked" {
			return nil, fmt.Errorf("%w; the token says its security officer PIN is at its %s: stopping rather than risk locking it", lastErr, state)
		}
	}
	return nil, lastErr
}
