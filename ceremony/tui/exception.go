package tui

import (
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/devicepki/ceremony/ceremony/engine"
)

// exceptionForm records a deviation from the script: who notes it, what
// the script expected, what happened, and what was done about it.
type exceptionForm struct {
	closed string // why no exception can be recorded now ("" if one can)
	whom   whoPicker
	field  int // 0 expected, 1 happened, 2 action
	inputs [3]lineInput
	prob   string
}

var exceptionQuestions = [3]string{
	"What did the script expect?",
	"What happened instead?",
	"What was done about it?",
}

func newExceptionForm(present []engine.Participant, sealed, sealing bool) *exceptionForm {
	f := &exceptionForm{}
	switch {
	case sealed || sealing:
		f.closed = "The transcript is being sealed or is sealed: nothing more can be recorded in it. Note the exception on the printed transcript."
	case len(present) == 0:
		f.closed = "An exception is recorded by a person present: record the attendance first."
	default:
		f.whom = newWhoPicker(present, "Who records the exception?")
		f.whom.chosen = nil // always ask, even with one person present
	}
	return f
}

// The keys of the exception form: Esc closes it (cancels it, if one can
// be recorded), Enter goes to the next question.
var (
	exceptionBack   = bind("Esc", "back", "esc")
	exceptionCancel = bind("Esc", "cancel", "esc")
	exceptionNext   = bind("Enter", "next", "enter")
)

func (f *exceptionForm) keys() []key.Binding {
	switch {
	case f.closed != "":
		return []key.Binding{exceptionBack}
	case f.whom.chosen == nil:
		return append(listHelp(), exceptionCancel)
	}
	return []key.Binding{typing("type", "the answer"), exceptionNext, exceptionCancel}
}

// key handles a key; done is true when the form closes, with the exception
// if one was recorded.
func (f *exceptionForm) key(k tea.KeyMsg) (done bool, ex *engine.Exception) {
	if key.Matches(k, exceptionCancel) {
		return true, nil
	}
	if f.closed != "" {
		return false, nil
	}
	if f.whom.chosen == nil {
		f.whom.key(k)
		return false, nil
	}
	if !key.Matches(k, exceptionNext) {
		f.inputs[f.field].key(k)
		return false, nil
	}
	if strings.TrimSpace(f.inputs[f.field].String()) == "" {
		f.prob = "an answer is needed"
		return false, nil
	}
	f.prob = ""
	if f.field < 2 {
		f.field++
		return false, nil
	}
	return true, &engine.Exception{
		By:       *f.whom.chosen,
		Expected: strings.TrimSpace(f.inputs[0].String()),
		Happened: strings.TrimSpace(f.inputs[1].String()),
		Action:   strings.TrimSpace(f.inputs[2].String()),
	}
}

func (f *exceptionForm) view(th theme, width int) []string {
	out := []string{th.Warn("EXCEPTION at this step")}
	switch {
	case f.closed != "":
		return append(out, wrap(f.closed, width)...)
	case f.whom.chosen == nil:
		return append(out, f.whom.view(th, width)...)
	}
	out = append(out, "by "+who(*f.whom.chosen))
	for i := 0; i <= f.field; i++ {
		out = append(out, exceptionQuestions[i])
		if i == f.field {
			out = append(out, "> "+f.inputs[i].view(width-3))
		} else {
			out = append(out, wrap("  "+f.inputs[i].String(), width)...)
		}
	}
	if f.prob != "" {
		out = append(out, th.Bad("! "+f.prob))
	}
	return out
}
