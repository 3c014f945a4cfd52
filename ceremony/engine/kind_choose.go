package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/devicepki/ceremony/ceremony/script"
	"github.com/devicepki/ceremony/ceremony/transcript"
)

// KindChoose is a question one attendee answers from a list of options.
const KindChoose = "choose"

var chooseKind = script.Kind{
	Name:    KindChoose,
	Summary: "asks a question; one attendee of a role picks one of the options, and an option may stop the ceremony",
	New:     func() script.Spec { return &chooseStep{} },
}

type chooseStep struct {
	noPrepare
	// By is the role that chooses.
	By string `yaml:"by"`
	// Options are the answers to choose from.
	Options []Option `yaml:"options"`
}

func (k *chooseStep) Validate(c *script.Check) error {
	if err := c.NeedsPeople(); err != nil {
		return err
	}
	if err := c.Required("say", c.Step.Say, "the question"); err != nil {
		return err
	}
	if err := c.Role("by", k.By); err != nil {
		return err
	}
	if len(k.Options) < 2 {
		return c.Errorf("options", "give at least two options")
	}
	proceed := false
	for j, o := range k.Options {
		op := fmt.Sprintf("options[%d]", j)
		if err := script.CheckName(o.Value); err != nil {
			return c.Errorf(op+".value", "%v", err)
		}
		if strings.TrimSpace(o.Text) == "" {
			return c.Errorf(op+".text", "required")
		}
		for _, earlier := range k.Options[:j] {
			if earlier.Value == o.Value {
				return c.Errorf(op+".value", "%q listed twice", o.Value)
			}
		}
		proceed = proceed || !o.Abort
	}
	if !proceed {
		return c.Errorf("options", "every option aborts: give one that lets the ceremony go on")
	}
	return nil
}

func (k *chooseStep) asks() []Ask { return []Ask{{Kind: AskChoose, Role: k.By, Options: k.Options}} }

func (k *chooseStep) run(ctx context.Context, r *run, info StepInfo) (string, error) {
	return r.choose(ctx, info, k)
}

func (r *run) choose(ctx context.Context, info StepInfo, st *chooseStep) (string, error) {
	candidates := r.inRole(st.By)
	c, err := r.face.Choose(ctx, ChoiceRequest{Step: info, Candidates: candidates, Options: st.Options})
	if err != nil {
		return "", err
	}
	by, err := pick(c.By, candidates)
	if err != nil {
		return "", err
	}
	var opt *Option
	for k := range st.Options {
		if st.Options[k].Value == c.Value {
			opt = &st.Options[k]
		}
	}
	if opt == nil {
		return "", fmt.Errorf("%q is not one of the options", c.Value)
	}
	text := fmt.Sprintf("%s: %s chose %q", info.Title, by.Name, opt.Text)
	if err := r.record(transcript.Entry{Step: info.ID, Actors: actors(by), Text: text,
		Data: transcript.Choice{Question: info.Say, Value: opt.Value, Abort: opt.Abort}}); err != nil {
		return "", err
	}
	if opt.Abort {
		return "", fmt.Errorf("%w: %s chose %q", ErrAborted, by.Name, opt.Text)
	}
	return text, nil
}
