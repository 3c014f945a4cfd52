package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/devicepki/ceremony/ceremony/script"
	"github.com/devicepki/ceremony/ceremony/transcript"
)

// KindConfirm is a step whose text every attendee of some roles confirms.
const KindConfirm = "confirm"

var confirmKind = script.Kind{
	Name:    KindConfirm,
	Summary: "reads its text aloud; every attendee of the listed roles confirms it",
	New:     func() script.Spec { return &confirmStep{} },
}

type confirmStep struct {
	noPrepare
	// Confirm lists the roles whose every attendee confirms.
	Confirm []string `yaml:"confirm"`
}

func (k *confirmStep) Validate(c *script.Check) error {
	if err := c.NeedsPeople(); err != nil {
		return err
	}
	if err := c.Required("say", c.Step.Say, "the text the people confirm"); err != nil {
		return err
	}
	if len(k.Confirm) == 0 {
		return c.Errorf("confirm", "list the roles that confirm this step")
	}
	for j, r := range k.Confirm {
		field := fmt.Sprintf("confirm[%d]", j)
		if err := c.Role(field, r); err != nil {
			return err
		}
		if slices.Index(k.Confirm, r) != j {
			return c.Errorf(field, "role %q listed twice", r)
		}
	}
	return nil
}

func (k *confirmStep) asks() []Ask { return []Ask{{Kind: AskConfirm, Roles: k.Confirm}} }

func (k *confirmStep) run(ctx context.Context, r *run, info StepInfo) (string, error) {
	var who []Participant
	for _, role := range k.Confirm {
		for _, p := range r.inRole(role) {
			if err := r.face.Confirm(ctx, ConfirmRequest{Step: info, Participant: p}); err != nil {
				return "", err
			}
			who = append(who, p)
		}
	}
	var names []string
	for _, p := range who {
		names = append(names, p.Name)
	}
	text := fmt.Sprintf("%s: confirmed by %s", info.Title, strings.Join(names, ", "))
	return text, r.record(transcript.Entry{Step: info.ID, Actors: actors(who...), Text: text,
		Data: transcript.Confirmed{Said: info.Say}})
}
