package engine

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/devicepki/ceremony/ceremony/activation"
	"github.com/devicepki/ceremony/ceremony/script"
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
	asksNothing
	noPrepare
	// Quorum is the split of the activation secret: role, threshold and
	// shares.
	Quorum *script.Quorum `yaml:"quorum"`
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

func (r *run) initToken(_ context.Context, info StepInfo, st *initTokenStep) (string, error) {
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
	r.pending[info.ID] = &pendingSplit{role: q.Role, manifest: man, shares: list}
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
	if err := r.record(transcript.Entry{Step: info.ID,
		Text: fmt.Sprintf("Initialising blank HSM token as %q with PINs derived from a new activation secret (split %s)", label, man.Split),
		Data: transcript.TokenInitialising{Token: transcript.V(r.blank.Info()), SplitID: man.Split}}); err != nil {
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
	if err := r.record(transcript.Entry{Step: info.ID, Text: text, Data: transcript.TokenInitialised{
		Token: transcript.V(ti), PINDerivation: activation.Derivation, PINLength: pinLen,
		PINs:             "security officer and user PINs derived from the activation secret by HKDF-SHA256 with distinct labels",
		ActivationRecord: transcript.Labelled{Label: activation.RecordLabel, SHA256: sha256Hex(data)},
	}}); err != nil {
		return "", err
	}
	if err := r.recordSplit(info, "activation secret", man, holders); err != nil {
		return "", err
	}
	return text, nil
}
