package engine

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/devicepki/ceremony/ceremony/keys"
	"github.com/devicepki/ceremony/ceremony/transcript"
	"github.com/devicepki/ceremony/hsm"
)

// step runs step i and returns a one-line summary of what happened.
func (r *run) step(ctx context.Context, i int) (string, error) {
	return kindOf(r.script, i).run(ctx, r, r.info(i))
}

func actors(ps ...Participant) []transcript.Actor {
	out := make([]transcript.Actor, len(ps))
	for i, p := range ps {
		out[i] = transcript.Actor{Role: p.Role, Name: p.Name}
	}
	return out
}

func (r *run) inRole(role string) []Participant {
	var out []Participant
	for _, p := range r.present {
		if p.Role == role {
			out = append(out, p)
		}
	}
	return out
}

// pick checks that the face's answer came from one of the candidates.
func pick(by Participant, candidates []Participant) (Participant, error) {
	if len(candidates) == 1 && by.Name == "" {
		return candidates[0], nil
	}
	for _, c := range candidates {
		if c.Name == by.Name && (by.Role == "" || by.Role == c.Role) {
			return c, nil
		}
	}
	var names []string
	for _, c := range candidates {
		names = append(names, fmt.Sprintf("%q", c.Name))
	}
	return Participant{}, fmt.Errorf("%q may not act here; one of %s must", by.Name, strings.Join(names, ", "))
}

// timed reports a long operation to the room while it runs.
func (r *run) timed(info StepInfo, what string, op func() error) (time.Duration, error) {
	r.face.Report(Report{Kind: OperationStarted, Step: info, Text: what})
	t0 := time.Now()
	err := op()
	d := time.Since(t0)
	r.face.Report(Report{Kind: OperationDone, Step: info, Text: what, Elapsed: d})
	return d, err
}

// refind finds a key pair generated earlier in the run again on the token,
// by label, and checks it is the same key.
func (r *run) refind(generated *hsm.KeyPair) (*hsm.KeyPair, error) {
	tok := r.tok
	if t, ok := r.keyToken[generated]; ok {
		tok = t
	}
	kp, err := tok.FindKeyPair(generated.Label)
	if err != nil {
		return nil, err
	}
	if !keys.SamePublicKey(kp.Public(), generated.Public()) || kp.IDHex() != generated.IDHex() {
		return nil, fmt.Errorf("key pair %q found on the token differs from the one generated", generated.Label)
	}
	return kp, nil
}

// tokenOf returns the other token a generate-key step uses ("" for the
// ceremony's main token).
func (r *run) tokenOf(stepID string) string {
	if g, ok := specOf[*generateKeyStep](r.script, stepID); ok {
		return g.Token
	}
	return ""
}

// serialHex writes a serial number as whole bytes of hex, as openssl
// shows it (without the colons).
func serialHex(b []byte) string { return hex.EncodeToString(b) }
