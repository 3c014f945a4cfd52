package engine

import (
	"fmt"
	"strings"

	"github.com/devicepki/ceremony/ceremony/activation"
	"github.com/devicepki/ceremony/hsm"
)

// hsmNeeder is a kind whose steps need mechanisms of the ceremony's main
// token's module. Steps on a second token are checked when it is opened.
type hsmNeeder interface {
	hsmNeeds(p *Plan, i int) []hsm.Need
}

// HSMProblem is something a step needs that the module does not offer.
type HSMProblem struct {
	Index int
	ID    string
	Kind  string
	Text  string
}

func (p HSMProblem) String() string {
	return fmt.Sprintf("step %s (steps[%d], %s): %s", p.ID, p.Index, p.Kind, p.Text)
}

// CheckHSM checks every step of the plan against what the main token's
// module offers: the mechanisms each step uses, with their flags and key
// sizes, and the PIN lengths an initialisation derives. It touches
// nothing.
func (p *Plan) CheckHSM(c *hsm.Capabilities) []HSMProblem {
	var out []HSMProblem
	for i := range p.script.Steps {
		st := &p.script.Steps[i]
		add := func(text string) {
			out = append(out, HSMProblem{Index: i, ID: st.ID, Kind: st.Kind, Text: text})
		}
		if it, ok := st.Spec.(*initTokenStep); ok {
			if _, err := activation.ChoosePIN(c.MinPIN, c.MaxPIN, it.minPINBits()); err != nil {
				add(err.Error())
			}
		}
		if b, ok := st.Spec.(*backupKeyStep); ok && !b.none() && !b.AllowUntrustedWrap {
			if refused := c.Trust.Refused(); refused != "" {
				add(fmt.Sprintf("the module refuses %s, needed to keep the key's backup under a wrapping key the security officer marked trusted; instead: allow_untrusted_wrap: true (the wrapping key is imported by the user without CKA_TRUSTED; recorded, with a warning), or method: %s (no backup; approved_by a role)", refused, backupNone))
			}
		}
		if n, ok := st.Spec.(hsmNeeder); ok {
			for _, text := range c.Check(n.hsmNeeds(p, i)...) {
				add(text)
			}
		}
	}
	return out
}

// checkHSM refuses a run whose script cannot finish on the module, before
// anything is created.
func (p *Plan) checkHSM(c *hsm.Capabilities) error {
	p.caps = c
	problems := p.CheckHSM(c)
	if len(problems) == 0 {
		return nil
	}
	texts := make([]string, len(problems))
	for i, pr := range problems {
		texts[i] = pr.String()
	}
	return fmt.Errorf("script %s cannot finish on token %q of %s: %s; nothing was changed (choose templates and steps the module offers, or another module: 'ceremony hsm check' lists what it offers)",
		p.script.Name, c.Token, c.Module, strings.Join(texts, "; "))
}

func (k *generateKeyStep) hsmNeeds(p *Plan, i int) []hsm.Need {
	if k.Token != "" {
		return nil
	}
	return hsm.KeyNeeds(p.templates[k.Template].Key)
}

// hsmNeeds of a backup: the mechanisms of its method (none for method:
// none). Which RFC 5649 constant the module means is found by a
// known-answer test when the step runs.
func (k *backupKeyStep) hsmNeeds(p *Plan, i int) []hsm.Need {
	if k.none() {
		return nil
	}
	return hsm.BackupNeeds(hsm.Method(k.method()))
}

// hsmNeeds of a restore: the mechanisms of the method its backup file
// names, and signing with the restored key.
func (k *restoreKeyStep) hsmNeeds(p *Plan, i int) []hsm.Need {
	in := p.restores[i]
	if in == nil {
		return hsm.RestoreNeeds(hsm.MethodRFC5649)
	}
	return append(hsm.RestoreNeeds(in.backup.Method()), hsm.SignNeeds(in.backup.Algorithm)...)
}
