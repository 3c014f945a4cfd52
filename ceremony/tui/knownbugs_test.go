package tui

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/devicepki/ceremony/ceremony/engine"
	"github.com/devicepki/ceremony/ceremony/shares"
)

// Tests of bugs found while writing the golden tests, now fixed: each one
// checks the behaviour the TUI must have and fails if the bug returns.

// knownBug fails the test if any problem was found.
func knownBug(t *testing.T, bug string, problems []string) {
	t.Helper()
	if len(problems) > 0 {
		t.Fatalf("%s:\n  %s", bug, strings.Join(problems, "\n  "))
	}
}

// The override reason is typed in a lineInput, but the ceremony screen's onKey treats every
// 'n' or 'N' as a refusal (overridePrompt implements refusal) before the
// prompt sees the key: a reason cannot contain the letter n.
func TestKnownBugOverrideReasonN(t *testing.T) {
	m := newModel(t)
	info := onStep(t, m, "root-key-generation", "preflight")
	a := &asker{m: m}
	ch := a.ask(engine.OverrideRequest{Step: info, Check: "network", Problem: "network interface(s) up: eth0", Candidates: []engine.Participant{admin}})
	press(m, runes("o"))
	const reason = "Lab rehearsal on the training machine"
	var problems []string
	for _, r := range reason {
		if r == ' ' {
			press(m, keySpace)
		} else {
			press(m, runes(string(r)))
		}
		if m.cer.abortAsked() != "" {
			problems = append(problems, fmt.Sprintf("typing %q asked %q", r, m.cer.abortAsked()))
			press(m, keyEsc)
		}
	}
	press(m, keyEnter)
	select {
	case r := <-ch:
		if got := r.val.(engine.OverrideAnswer).Reason; got != reason {
			problems = append(problems, fmt.Sprintf("reason recorded as %q, want %q", got, reason))
		}
	default:
		problems = append(problems, "no override was sent")
	}
	knownBug(t, "the letter n cannot be typed in the override reason (ceremony.go onKey: refusal check before prompt.key)", problems)
}

// Refusing an override asks "nobody overrides refuses: stop the ceremony?"
// (ceremony.go onKey: r.refuser()+" refuses", with overridePrompt.refuser
// returning "nobody overrides").
func TestKnownBugOverrideRefusalText(t *testing.T) {
	m := newModel(t)
	info := onStep(t, m, "root-key-generation", "preflight")
	a := &asker{m: m}
	a.ask(engine.OverrideRequest{Step: info, Check: "network", Problem: "network interface(s) up: eth0", Candidates: []engine.Participant{admin}})
	press(m, runes("n"))
	var problems []string
	if v := text(m.View()); strings.Contains(v, "nobody overrides refuses") {
		problems = append(problems, "the abort question reads "+strings.SplitN(v[strings.Index(v, "ABORT?"):], ".", 2)[0])
	}
	knownBug(t, "ungrammatical abort question after refusing an override", problems)
}

// The end screen drops what does not fit in 24 lines (end.go View:
// lines[:m.height-1]) and cuts the transcript line; with a longer
// ceremony directory, as on removable media, the last instructions
// disappear.
func TestKnownBugEndScreenOverflow(t *testing.T) {
	m := newModel(t)
	onStep(t, m, "root-key-generation", "carry-out")
	m.cer.outDir = "/media/ceremony-usb/transcripts/root-key-generation-20250314T092653Z"
	m.Update(engineDoneMsg{res: endResult(m.cer.outDir)})
	v := m.View()
	var problems []string
	for _, want := range []string{"(87 events)", "Print transcript.pdf (every page); every participant signs it.", "Bundle SHA-256 as words", "06:F4:0A:9B"} {
		if !strings.Contains(text(v), want) {
			problems = append(problems, fmt.Sprintf("%q is not on the end screen", want))
		}
	}
	knownBug(t, "the end screen silently drops lines that do not fit", problems)
}

// wrap (theme.go, ansi.Wrap) breaks lines at hyphens, also between the two
// dashes of an option: "'ceremony import -" / "-root …'" on the end screen,
// a command that cannot be copied as shown.
func TestKnownBugWrapSplitsOptions(t *testing.T) {
	const s = "check it all with 'ceremony import --root …'"
	var problems []string
	for w := 10; w <= len(s); w++ {
		lines := wrap(s, w)
		for i := 0; i+1 < len(lines); i++ {
			if strings.HasSuffix(lines[i], " -") || strings.HasSuffix(lines[i], "import -") {
				problems = append(problems, fmt.Sprintf("width %d: %q", w, lines))
			}
		}
	}
	knownBug(t, "wrap splits --root between its dashes", problems)
}

// maskedInput appends to its buffer; when append moves it to a larger
// array, the old array, holding the first characters of the secret, is
// never wiped (input.go maskedInput.key).
func TestKnownBugMaskedInputGrowth(t *testing.T) {
	var in maskedInput
	in.key(runes("s"))
	first := in.buf[:cap(in.buf)]
	for range 40 {
		in.key(runes("x"))
	}
	in.take().Wipe()
	var problems []string
	if slices.ContainsFunc(first, func(b byte) bool { return b != 0 }) {
		problems = append(problems, fmt.Sprintf("an earlier buffer still holds %q", strings.TrimRight(string(first), "\x00")))
	}
	knownBug(t, "a masked field leaves copies of the secret in the arrays it outgrew", problems)
}

// A prompt taken off the screen without the secret being sent (the room
// aborts, the engine stops waiting, or the ceremony ends) is dropped with
// the secret typed so far still in its field: ceremony.go abort (c.answer
// with an error), the dropAskMsg case of Update and onDone set m.cer.prompt =
// nil without wiping the prompt's maskedInput.
func TestKnownBugDroppedPromptNotWiped(t *testing.T) {
	var problems []string
	for _, end := range []string{"abort", "dropAskMsg", "engineDoneMsg"} {
		m := newModel(t)
		info := onStep(t, m, "sign-intermediate", "activate-hsm")
		rec := &cancelRecorder{}
		m.cer.cancel = rec.cancel
		s := realSplit(t, shares.Activation)[0]
		a := &asker{m: m}
		a.ask(engine.ShareRequest{Step: info, Purpose: "activation", Split: s.Split.String(), Number: 1, Needed: 3,
			Candidates: []engine.Participant{officer(0)}, Attempt: 1})
		p := m.cer.prompt.(*sharePrompt)
		typeText(m, strings.Join(groupsOf(s)[:8], " "))
		buf := p.entry.in.buf[:cap(p.entry.in.buf)]
		switch end {
		case "abort":
			press(m, keyCtrlC, runes("y"))
		case "dropAskMsg":
			m.Update(engineStopMsg{})
			m.Update(dropAskMsg{id: a.next})
		case "engineDoneMsg":
			m.Update(engineDoneMsg{err: &engine.StepError{Index: info.Index, ID: info.ID, Err: errString("the HSM was removed"), Discarded: false}})
		}
		if m.cer.prompt != nil {
			t.Fatalf("%s: the prompt is still on screen", end)
		}
		if slices.ContainsFunc(buf, func(b byte) bool { return b != 0 }) {
			problems = append(problems, "after "+end+" the half-typed share is still in the dropped prompt's field")
		}
	}
	knownBug(t, "a prompt dropped unanswered keeps the secret typed into it", problems)
}

// The approval's title and its last line wrap for longer names, but the
// rows for the fields are counted for one line each (ceremony.go rightPane:
// ap.setRows(height - len(head) - 4)), so the screen overflows and the
// help line with the keys falls off the bottom.
func TestKnownBugApprovalLongName(t *testing.T) {
	m := newModel(t)
	info := onStep(t, m, "generate-firmware-key", "sign-firmware")
	req := approvalReq(t, info)
	req.Participant = engine.Participant{Role: "officer", Name: "Anna-Katharina Schmidt-Weberling"}
	a := &asker{m: m}
	a.ask(req)
	var problems []string
	for i := range 10 {
		v := m.View()
		lines := strings.Split(v, "\n")
		if last := lines[len(lines)-1]; !strings.Contains(last, "PgDn scroll") {
			problems = append(problems, fmt.Sprintf("after %d PgDn the last line is %q, not the help", i, last))
			break
		}
		press(m, keyPgDown)
	}
	knownBug(t, "the approval screen overflows 80×24 when the approver's name is long", problems)
}
