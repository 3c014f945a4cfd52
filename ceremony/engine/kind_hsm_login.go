package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/devicepki/ceremony/ceremony/script"
	"github.com/devicepki/ceremony/ceremony/transcript"
	"github.com/devicepki/ceremony/hsm"
)

// KindHSMLogin opens a token that was initialised earlier.
const KindHSMLogin = "hsm-login"

var hsmLoginKind = script.Kind{
	Name:    KindHSMLogin,
	Summary: "opens the ceremony's token: one person's PIN (by), or a quorum of officers' activation shares (quorum); with token, a second token by its owner's PIN",
	New:     func() script.Spec { return &hsmLoginStep{} },
}

type hsmLoginStep struct {
	// By is the role of the one person who enters the PIN.
	By string `yaml:"by"`
	// Quorum is the role whose keyholders enter activation shares; the
	// threshold is on record on the token.
	Quorum *script.Quorum `yaml:"quorum"`
	// Token names one of the HSM config's other_tokens: a second token,
	// such as the firmware build system's. Empty means the main token.
	Token string `yaml:"token"`
}

func (k *hsmLoginStep) StepQuorum() *script.Quorum { return k.Quorum }

func (k *hsmLoginStep) Validate(c *script.Check) error {
	if err := c.NeedsPeople(); err != nil {
		return err
	}
	if k.Token != "" {
		return k.validateOther(c)
	}
	if err := opensMainToken(c); err != nil {
		return err
	}
	switch {
	case k.By != "" && k.Quorum != nil:
		return c.Errorf("quorum", "give by (one person enters the PIN) or quorum (keyholders enter activation shares), not both")
	case k.Quorum != nil:
		if err := c.Quorum(k.Quorum, false); err != nil {
			return err
		}
		c.Mark(script.FactOfficer)
		return nil
	}
	return c.Role("by", k.By)
}

// opensMainToken checks and marks the step that opens the ceremony's main
// token: once, after the preflight.
func opensMainToken(c *script.Check) error {
	if j := c.At(script.FactToken); j >= 0 {
		return c.Errorf("kind", "the HSM is opened once: steps[%d] already logs in or initialises the token", j)
	}
	if c.At(script.FactPreflight) < 0 {
		return c.Errorf("", "%s must come after the preflight step", c.Step.Kind)
	}
	c.Mark(script.FactToken)
	return nil
}

// validateOther checks a login to one of the HSM config's other tokens:
// one person's PIN, after the main token is open, once.
func (k *hsmLoginStep) validateOther(c *script.Check) error {
	switch {
	case script.CheckName(k.Token) != nil:
		return c.Errorf("token", "%q: use the lower-case name of an entry in the HSM config's other_tokens", k.Token)
	case c.At(script.FactToken) < 0:
		return c.Errorf("", "open the ceremony's main token first: put its hsm-login or init-token step before this one")
	case k.Quorum != nil:
		return c.Errorf("quorum", "a second token is opened with its owner's PIN: give by, not quorum")
	}
	if j := c.At(script.FactOtherToken(k.Token)); j >= 0 {
		return c.Errorf("token", "token %q is already opened by steps[%d]", k.Token, j)
	}
	c.Mark(script.FactOtherToken(k.Token))
	return c.Role("by", k.By)
}

// needsOtherToken checks that an earlier hsm-login step opened the other
// token a step uses.
func needsOtherToken(c *script.Check, token string) error {
	if token != "" && c.At(script.FactOtherToken(token)) < 0 {
		return c.Errorf("token", "nobody logs in to token %q before this step: put an hsm-login step with token: %s before it", token, token)
	}
	return nil
}

func (k *hsmLoginStep) prepare(p *Plan, i int) error { return p.otherToken(i, k.Token) }

func (k *hsmLoginStep) asks() []Ask {
	if k.Quorum != nil {
		return []Ask{{Kind: AskShares, Role: k.Quorum.Role}}
	}
	return []Ask{{Kind: AskPIN, Role: k.By}}
}

func (k *hsmLoginStep) run(ctx context.Context, r *run, info StepInfo) (string, error) {
	if k.Quorum != nil {
		return r.quorumLogin(ctx, info, k.Quorum)
	}
	return r.login(ctx, info, k)
}

func (r *run) login(ctx context.Context, info StepInfo, st *hsmLoginStep) (string, error) {
	tok := r.tok
	if st.Token != "" {
		cfg, err := r.opts.HSM.Other(st.Token)
		if err != nil {
			return "", err
		}
		if tok, err = hsm.Open(cfg); err != nil {
			return "", err
		}
		r.others[st.Token] = tok
	}
	candidates := r.inRole(st.By)
	what := fmt.Sprintf("HSM user PIN for token %q", tok.Info().Label)
	var lastErr error
	for attempt := 1; attempt <= MaxSecretAttempts; attempt++ {
		ans, err := r.face.Secret(ctx, SecretRequest{Step: info, What: what, Candidates: candidates, Attempt: attempt})
		if errors.Is(err, ErrNoRetry) && lastErr != nil {
			return "", lastErr
		}
		if err != nil {
			return "", err
		}
		if attempt > 1 {
			// Repeated PIN attempts count against the HSM's retry limit:
			// from here on the record is kept whatever happens.
			r.changed = true
		}
		by, err := pick(ans.By, candidates)
		if err != nil {
			ans.Secret.Wipe()
			return "", err
		}
		err = tok.Login(ans.Secret)
		ans.Secret.Wipe()
		if err == nil {
			text := fmt.Sprintf("%s logged in to HSM token %q", by.Name, tok.Info().Label)
			return text, r.record(transcript.Entry{Step: info.ID, Actors: actors(by), Text: text,
				Data: transcript.HSMLogin{Token: transcript.V(tok.Info()), Attempt: attempt}})
		}
		if !errors.Is(err, hsm.ErrPINIncorrect) {
			return "", err
		}
		lastErr = err
		if rerr := r.record(transcript.Entry{Step: info.ID, Actors: actors(by),
			Text: fmt.Sprintf("The HSM rejected the PIN entered by %s (attempt %d of %d)", by.Name, attempt, MaxSecretAttempts),
			Data: transcript.HSMLoginFailed{Attempt: attempt}}); rerr != nil {
			return "", rerr
		}
	}
	return "", lastErr
}
