package tui

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/devicepki/ceremony/ceremony/engine"
	"github.com/devicepki/ceremony/ceremony/qrimage"
	"github.com/devicepki/ceremony/ceremony/qrshow"
	"github.com/devicepki/ceremony/ceremony/record"
	"github.com/devicepki/ceremony/ceremony/script"
	"github.com/devicepki/ceremony/ceremony/transcript"
	"github.com/devicepki/ceremony/ceremony/words"
)

// MinWidth and MinHeight are the smallest terminal the TUI draws in.
const (
	MinWidth  = 80
	MinHeight = 24
)

type screenKind int

const (
	screenStart screenKind = iota
	screenCeremony
	screenEnd
	screenQR
)

type stepState int

const (
	stepToCome stepState = iota
	stepRunning
	stepDone
	stepFailed
)

type stepRow struct {
	id, title string
	state     stepState
	summary   string
}

// notice is a message from the engine, kept with the step it came at.
type notice struct {
	step int
	text string
}

// operation is a long operation in progress.
type operation struct {
	text  string
	start time.Time
}

type spinMsg struct{ gen int }

// engineDoneMsg is sent when the engine's Run returns.
type engineDoneMsg struct {
	res *engine.Result
	err error
}

var spinner = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// Model is the bubbletea model of the ceremony TUI: the start screens, the
// ceremony screen with the engine's prompts, and the end summary.
type Model struct {
	opts          Options
	th            theme
	width, height int
	now           func() time.Time
	face          *face
	parent        context.Context

	screen screenKind
	start  *startModel

	// The ceremony.
	script    *script.Script
	outDir    string
	rehearsal bool
	steps     []stepRow
	cur       int
	say       string
	notices   []notice
	op        *operation
	spin      int
	spinGen   int
	ask       *askMsg
	prompt    prompt
	present   []engine.Participant
	sealed    bool

	// Exceptions noted during the current step; the form being filled in;
	// the engine's request for them, waiting for the form.
	excs    []engine.Exception
	excForm *exceptionForm
	excWait *askMsg

	// abortAsk is set while "abort the ceremony?" is shown; aborting once
	// the engine was told to stop.
	abortAsk string
	aborting bool
	cancel   context.CancelFunc

	done        *engineDoneMsg
	engineEnded chan struct{}  // closed when the engine's Run returned
	ran         *engineDoneMsg // what Run returned, once engineEnded is closed
	stopping    bool           // a signal stopped the ceremony: leave when the engine is done
	qr          *qrshow.Model
}

// Init implements tea.Model.
func (m *Model) Init() tea.Cmd { return nil }

// Update implements tea.Model.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		if m.qr != nil {
			q, cmd := m.qr.Update(msg)
			qm := q.(qrshow.Model)
			m.qr = &qm
			return m, cmd
		}
		return m, nil
	case askMsg:
		return m, m.onAsk(msg)
	case dropAskMsg:
		if m.ask != nil && m.ask.id == msg.id {
			m.dropPrompt()
		}
		if m.excWait != nil && m.excWait.id == msg.id {
			m.excWait = nil
		}
		return m, nil
	case reportMsg:
		return m, m.onReport(engine.Report(msg))
	case spinMsg:
		if msg.gen != m.spinGen || m.op == nil {
			return m, nil
		}
		m.spin++
		return m, m.spinTick()
	case engineDoneMsg:
		cmd := m.onDone(msg)
		if m.stopping {
			return m, tea.Quit
		}
		return m, cmd
	case engineStopMsg:
		if m.screen != screenCeremony {
			return m, tea.Quit
		}
		m.stopping = true
		m.aborting, m.abortAsk = true, ""
		return m, nil
	case startCeremonyMsg:
		return m, m.begin(msg)
	case qrshow.DoneMsg:
		m.qr, m.screen = nil, screenEnd
		return m, nil
	case tea.KeyMsg:
		return m, m.onKey(msg)
	}
	if m.qr != nil {
		q, cmd := m.qr.Update(msg)
		qm := q.(qrshow.Model)
		m.qr = &qm
		return m, cmd
	}
	return m, nil
}

func (m *Model) spinTick() tea.Cmd {
	gen := m.spinGen
	return tea.Tick(120*time.Millisecond, func(time.Time) tea.Msg { return spinMsg{gen} })
}

// onAsk shows a prompt from the engine.
func (m *Model) onAsk(a askMsg) tea.Cmd {
	if _, ok := a.req.(exceptionsReq); ok {
		if m.excForm != nil {
			m.excWait = &a
			return nil
		}
		m.giveExceptions(a)
		return nil
	}
	m.ask = &a
	switch req := a.req.(type) {
	case engine.AttendanceRequest:
		m.prompt = newAttendancePrompt(req)
	case engine.ConfirmRequest:
		m.prompt = &confirmPrompt{req: req}
	case engine.ApprovalRequest:
		m.prompt = &approvePrompt{req: req}
	case engine.ChoiceRequest:
		m.prompt = newChoosePrompt(req)
	case engine.SecretRequest:
		m.prompt = &secretPrompt{req: req, whom: newWhoPicker(req.Candidates, "Who enters it?")}
	case engine.OverrideRequest:
		m.prompt = &overridePrompt{req: req}
	case engine.ShareRequest:
		m.prompt = &sharePrompt{req: req, whom: newWhoPicker(req.Candidates, "Which keyholder comes forward?")}
	case engine.HandOutRequest:
		m.prompt = newHandOutPrompt(req)
	default:
		a.reply <- reply{err: fmt.Errorf("tui: cannot ask %T", req)}
		m.ask = nil
	}
	return nil
}

// giveExceptions answers the engine's request for the exceptions of a step.
func (m *Model) giveExceptions(a askMsg) {
	step := a.req.(exceptionsReq).step
	ex := m.excs
	m.excs = nil
	if step.Kind == script.KindSeal {
		m.sealed = true // asked before sealing: nothing more can be recorded
	}
	a.reply <- reply{val: ex}
}

// dropPrompt takes the prompt off the screen unanswered, wiping what was
// typed into it.
func (m *Model) dropPrompt() {
	if w, ok := m.prompt.(wiper); ok {
		w.wipe()
	}
	m.ask, m.prompt = nil, nil
}

// answer sends the reply to the prompt on screen and takes it off.
func (m *Model) answer(r reply) {
	if m.ask == nil {
		return
	}
	m.ask.reply <- r
	if a, ok := r.val.(engine.Attendance); ok && r.err == nil {
		m.present = participantsOf(m.script.Roles, a)
	}
	m.dropPrompt()
}

func (m *Model) onReport(r engine.Report) tea.Cmd {
	i := r.Step.Index
	switch r.Kind {
	case engine.StepStarted:
		if i >= 0 && i < len(m.steps) {
			m.cur = i
			m.steps[i].state = stepRunning
			m.say = record.Printable(r.Step.Say)
		}
	case engine.StepDone:
		if i >= 0 && i < len(m.steps) {
			m.steps[i].state = stepDone
			m.steps[i].summary = record.Printable(r.Text)
			if r.Step.Kind == script.KindSeal {
				m.sealed = true
			}
		}
	case engine.OperationStarted:
		m.op = &operation{text: record.Printable(r.Text), start: m.now()}
		m.spinGen++
		return m.spinTick()
	case engine.OperationDone:
		if m.op != nil {
			m.notices = append(m.notices, notice{i, fmt.Sprintf("%s: done in %s", strings.TrimSuffix(m.op.text, " ..."), r.Elapsed.Round(time.Millisecond))})
		}
		m.op = nil
	case engine.Notice:
		m.notices = append(m.notices, notice{i, record.Printable(r.Text)})
	}
	return nil
}

// onDone shows the end of the ceremony.
func (m *Model) onDone(d engineDoneMsg) tea.Cmd {
	m.dropPrompt()
	m.op, m.abortAsk, m.excForm = nil, "", nil
	var se *engine.StepError
	if d.err != nil && m.cur < 0 && !errors.As(d.err, &se) {
		// Nothing started (the token or the directory could not be
		// opened): back to the settings, with the problem.
		m.screen = screenStart
		m.start.problem = d.err.Error()
		m.start.phase = phaseSettings
		return nil
	}
	m.done = &d
	if d.err != nil && m.cur >= 0 && m.cur < len(m.steps) {
		m.steps[m.cur].state = stepFailed
	}
	m.screen = screenEnd
	return nil
}

func (m *Model) onKey(k tea.KeyMsg) tea.Cmd {
	switch m.screen {
	case screenStart:
		return m.start.key(m, k)
	case screenQR:
		q, cmd := m.qr.Update(k)
		qm := q.(qrshow.Model)
		m.qr = &qm
		return cmd
	case screenEnd:
		switch k.String() {
		case "q":
			return m.showQR()
		case "enter", "x", "ctrl+c", "esc":
			return tea.Quit
		}
		return nil
	}
	// The ceremony screen.
	if m.abortAsk != "" {
		switch k.String() {
		case "y", "Y":
			why := m.abortAsk
			m.abortAsk = ""
			m.abort(why)
		case "n", "N", "esc":
			m.abortAsk = ""
		}
		return nil
	}
	switch k.String() {
	case "ctrl+c":
		if !m.aborting {
			m.abortAsk = "ctrl+c"
		}
		return nil
	case "ctrl+e":
		if m.excForm == nil && !m.aborting {
			m.excForm = newExceptionForm(m.present, m.sealed, m.cur >= 0 && m.script.Steps[m.cur].Kind == script.KindSeal)
		}
		return nil
	}
	if m.excForm != nil {
		if done, ex := m.excForm.key(k); done {
			if ex != nil {
				m.excs = append(m.excs, *ex)
				m.notices = append(m.notices, notice{m.cur, fmt.Sprintf("Exception noted by %s; it is recorded at the end of this step.", ex.By.Name)})
			}
			m.excForm = nil
			if m.excWait != nil {
				a := *m.excWait
				m.excWait = nil
				m.giveExceptions(a)
			}
		}
		return nil
	}
	if m.prompt == nil || m.aborting {
		return nil
	}
	if r, ok := m.prompt.(refusal); ok && (k.String() == "n" || k.String() == "N") && r.refusal() != "" {
		m.abortAsk = r.refusal()
		return nil
	}
	if r := m.prompt.key(k); r != nil {
		m.answer(*r)
	}
	return nil
}

// abort stops the ceremony: the engine's context is cancelled, so the prompt
// on screen returns and the engine records the abort, destroys what it
// generated and withdraws its artifacts.
func (m *Model) abort(why string) {
	m.aborting = true
	m.excForm = nil
	// The question on screen is answered "aborted by the participants"
	// (saying who refused, if someone did); a long operation stops at its
	// end (the context).
	// Ctrl+C is the room stopping the ceremony, not the person asked
	// refusing: it is not recorded as their refusal.
	err := fmt.Errorf("%w: ceremony aborted by the room (ctrl+c)", context.Canceled)
	if why != "ctrl+c" && why != "" {
		err = fmt.Errorf("%w: %s", engine.ErrAborted, why)
	}
	m.answer(reply{err: err})
	if m.excWait != nil {
		a := *m.excWait
		m.excWait = nil
		m.giveExceptions(a)
	}
	if m.cancel != nil {
		m.cancel()
	}
}

// showQR shows the exported QR frames full-screen.
func (m *Model) showQR() tea.Cmd {
	if m.done == nil || m.done.res == nil || m.done.res.QR == nil {
		return nil
	}
	q := m.done.res.QR
	level := q.Level
	if level == 0 {
		level = qrimage.Medium
	}
	render := func(text string, invert bool) (string, error) {
		s, _, _, err := qrimage.Terminal(text, level, !invert)
		return s, err
	}
	qm, err := qrshow.New(qrshow.Options{Frames: q.Frames, BundleID: q.Bundle, Render: render, Rate: 1,
		Title: m.script.Title + " · carry out", Embedded: true})
	if err != nil {
		return nil
	}
	m.qr, m.screen = &qm, screenQR
	sized, _ := m.qr.Update(tea.WindowSizeMsg{Width: m.width, Height: m.height})
	qm = sized.(qrshow.Model)
	m.qr = &qm
	return m.qr.Init()
}

// View implements tea.Model.
func (m *Model) View() string {
	if m.width == 0 {
		return "starting…"
	}
	if m.screen == screenQR && m.qr != nil {
		return m.qr.View()
	}
	if m.width < MinWidth || m.height < MinHeight {
		msg := fmt.Sprintf("This terminal is %d×%d. Enlarge it to at least %d×%d to continue.", m.width, m.height, MinWidth, MinHeight)
		if m.prompt != nil {
			msg += " (Nothing secret is shown meanwhile.)"
		}
		return screen(wrap(msg, m.width), m.width, m.height)
	}
	switch m.screen {
	case screenStart:
		return m.start.view(m)
	case screenEnd:
		return m.viewEnd()
	}
	return m.viewCeremony()
}

// header draws the top bar.
func (m *Model) header() string {
	left := " " + m.script.Title
	if m.rehearsal {
		left += " · REHEARSAL"
	}
	right := m.now().UTC().Format("15:04:05 UTC ")
	if m.cur >= 0 {
		right = fmt.Sprintf("step %d of %d · %s", m.cur+1, len(m.steps), right)
	}
	return m.th.Title(fit(fit(left, m.width-ansi.StringWidth(right))+right, m.width))
}

const stepListWidth = 24

func (m *Model) viewCeremony() string {
	if m.abortAsk != "" {
		return m.viewAbortAsk()
	}
	if f, ok := m.prompt.(fullScreen); ok && m.excForm == nil {
		return f.viewFull(m.th, m.width, m.height)
	}
	th := m.th
	bodyH := m.height - 3 // header, status, help
	lines := []string{m.header()}
	if _, wide := m.prompt.(*approvePrompt); wide && m.excForm == nil {
		// What is signed gets the whole width.
		for _, l := range m.rightPane(m.width-2, bodyH) {
			lines = append(lines, " "+l)
		}
		for len(lines) < bodyH+1 {
			lines = append(lines, "")
		}
		lines = append(lines, m.statusLine(), th.Faint(cut(" "+m.helpText(), m.width)))
		return screen(lines, m.width, m.height)
	}
	left := m.stepList(bodyH)
	rw := m.width - stepListWidth - 3
	right := m.rightPane(rw, bodyH)

	for i := 0; i < bodyH; i++ {
		l, r := "", ""
		if i < len(left) {
			l = left[i]
		}
		if i < len(right) {
			r = right[i]
		}
		lines = append(lines, fit(l, stepListWidth)+" │ "+r)
	}
	lines = append(lines, m.statusLine(), th.Faint(cut(" "+m.helpText(), m.width)))
	return screen(lines, m.width, m.height)
}

// stepList draws the steps: ✓ done, ▶ current, ✗ failed, · to come,
// scrolled so that the current step is visible.
func (m *Model) stepList(height int) []string {
	first := 0
	if m.cur >= height-2 {
		first = min(m.cur-height/2, len(m.steps)-height)
	}
	first = max(first, 0)
	var out []string
	for i := first; i < len(m.steps) && len(out) < height; i++ {
		s := m.steps[i]
		mark, text := "·", fmt.Sprintf("%2d %s", i+1, s.id)
		switch s.state {
		case stepDone:
			mark = m.th.Good("✓")
		case stepRunning:
			mark = "▶"
		case stepFailed:
			mark = m.th.Bad("✗")
		}
		line := " " + mark + " " + cut(text, stepListWidth-3)
		switch s.state {
		case stepRunning:
			line = m.th.Bold(line)
		case stepToCome:
			line = m.th.Faint(line)
		}
		out = append(out, line)
	}
	return out
}

// rightPane draws the current step: its title, the text to read aloud, the
// prompt (or the exception form), and the notices of the step.
// fingerprintNotice starts the engine's notice of a certificate's
// SHA-256 fingerprint, the one people read aloud and write down.
const fingerprintNotice = "Certificate SHA-256: "

// lastFingerprint is the latest certificate fingerprint noticed at an
// earlier step.
func (m *Model) lastFingerprint() (notice, bool) {
	for i := len(m.notices) - 1; i >= 0; i-- {
		if n := m.notices[i]; n.step < m.cur && strings.HasPrefix(n.text, fingerprintNotice) {
			return n, true
		}
	}
	return notice{}, false
}

func (m *Model) rightPane(width, height int) []string {
	th := m.th
	var head []string
	if m.cur >= 0 {
		head = append(head, th.Bold(cut(fmt.Sprintf("%d. %s", m.cur+1, m.steps[m.cur].title), width)))
	} else {
		head = append(head, th.Bold("Starting the ceremony…"))
	}
	var act []string
	switch {
	case m.excForm != nil:
		act = m.excForm.view(th, width)
	case m.prompt != nil:
		if ap, ok := m.prompt.(*approvePrompt); ok {
			ap.build(width)
			ap.setRows(height - len(head) - 1)
		}
		act = m.prompt.view(th, width)
	case m.aborting:
		act = wrap(th.Bad("Aborting: the ceremony stops after the current operation, and the abort is recorded."), width)
	}
	var notes, keep []string // keep: the fingerprint, shown before anything else is
	for _, n := range m.notices {
		if n.step == m.cur {
			for _, l := range readable(n.text) {
				notes = append(notes, wrap(th.Faint("· ")+l, width)...)
			}
		}
	}
	if len(notes) == 0 && m.cur > 0 {
		// A step that reads a fingerprint aloud comes after the step that
		// made the certificate: the latest certificate's fingerprint stays
		// on screen, in groups and as words, until a newer one.
		if n, ok := m.lastFingerprint(); ok {
			title := ""
			if n.step >= 0 && n.step < len(m.steps) {
				title = fmt.Sprintf(" (step %d, %s)", n.step+1, m.steps[n.step].title)
			}
			for _, l := range readable(n.text + title) {
				keep = append(keep, wrap(l, width)...)
			}
		}
		if m.steps[m.cur-1].summary != "" {
			for _, l := range readable("previous step: " + m.steps[m.cur-1].summary) {
				notes = append(notes, wrap(th.Faint(l), width)...)
			}
		}
	}

	// The prompt has priority, then the text to read aloud, then notices.
	_, isApprove := m.prompt.(*approvePrompt)
	say := indent(m.say, 2, width)
	if isApprove && m.excForm == nil {
		say = nil
	}
	room := height - len(head) - len(act) - 2
	if len(say) > room {
		if room > 1 {
			say = append(say[:room-1], th.Faint("  … (the full text is in the script)"))
		} else {
			say = nil
		}
	}
	for i, l := range say {
		say[i] = th.Bold(l)
	}
	out := append([]string{}, head...)
	if len(say) > 0 {
		out = append(out, th.Faint("Read aloud:"))
		out = append(out, say...)
	}
	if len(act) > 0 {
		out = append(out, "")
		out = append(out, act...)
	}
	if room := height - len(out) - 1; room > 0 && len(keep)+len(notes) > 0 {
		if len(keep) > room {
			keep = keep[:room]
		}
		if len(notes) > room-len(keep) {
			notes = notes[len(notes)-(room-len(keep)):]
		}
		out = append(out, "")
		out = append(out, keep...)
		out = append(out, notes...)
	}
	return out
}

func (m *Model) statusLine() string {
	switch {
	case m.op != nil:
		el := m.now().Sub(m.op.start).Truncate(100 * time.Millisecond)
		return cut(fmt.Sprintf(" %s %s · %s", spinner[m.spin%len(spinner)], strings.TrimSuffix(m.op.text, " ..."), el), m.width)
	case m.aborting:
		return m.th.Bad(" aborting…")
	case m.prompt != nil || m.excForm != nil:
		return " waiting for the people in the room"
	}
	return " working…"
}

func (m *Model) helpText() string {
	h := ""
	switch {
	case m.excForm != nil:
		h = m.excForm.help()
	case m.prompt != nil:
		h = m.prompt.help()
	}
	tail := "ctrl+e exception · ctrl+c abort"
	if h == "" {
		return tail
	}
	return h + " · " + tail
}

func (m *Model) viewAbortAsk() string {
	th := m.th
	lines := []string{m.header(), ""}
	why := "Stop the ceremony now?"
	if m.abortAsk != "ctrl+c" {
		why = m.abortAsk + ". Stop the ceremony?"
	}
	lines = append(lines, indent(th.Bad("ABORT? ")+why, 2, m.width)...)
	lines = append(lines, "")
	lines = append(lines, indent("The transcript records the abort and stays unsealed; keys generated in this ceremony are destroyed and the artifacts it wrote are withdrawn. This cannot be undone.", 2, m.width)...)
	lines = append(lines, "", "  y  abort the ceremony", "  n  go back to the step")
	return screen(lines, m.width, m.height)
}

// viewEnd draws the summary at the end of the ceremony.
func (m *Model) viewEnd() string {
	th, w := m.th, m.width
	d := m.done
	var lines []string
	if d.err == nil {
		res := d.res
		lines = append(lines, th.Title(fit(" CEREMONY COMPLETE · "+m.script.Title, w)), "")
		lines = append(lines, indent(fmt.Sprintf("Transcript sealed: %s (%d events)", res.Transcript, res.Events), 1, w)...)
		lines = append(lines, " Final digest (SHA-256 of the last event), to read aloud:")
		lines = append(lines, indent(record.GroupHex(res.Head), 3, w)...)
		if ws, err := words.FromHex(res.Head); err == nil {
			lines = append(lines, indent(strings.Join(ws, " "), 3, w)...)
		}
		lines = append(lines, " Artifacts:")
		for _, a := range res.Artifacts {
			lines = append(lines, cut("   "+a.Path+"  "+a.SHA256[:16]+"…", w))
		}
		lines = append(lines, " Carry out:")
		if res.QR != nil {
			lines = append(lines, indent(fmt.Sprintf("QR bundle %s: %d frames in qr/ of the ceremony directory; q shows them here, or print qr/sheet.html.", res.QR.Bundle, len(res.QR.Frames)), 3, w)...)
		}
		lines = append(lines, indent("Or carry the directory, without its *.backup files (they stay in the room), on removable media; check it online with 'ceremony import'.", 3, w)...)
		lines = append(lines, indent("Print transcript.md; every participant signs it.", 3, w)...)
	} else {
		title := " CEREMONY FAILED"
		var se *engine.StepError
		if errors.As(d.err, &se) && se.Aborted {
			title = " CEREMONY ABORTED"
		}
		lines = append(lines, th.Title(fit(title+" · "+m.script.Title, w)), "")
		lines = append(lines, indent(th.Bad(d.err.Error()), 1, w)...)
		lines = append(lines, "")
		path := filepath.Join(m.outDir, "transcript.jsonl")
		if se != nil && se.Discarded {
			lines = append(lines, indent("Nothing had changed: the ceremony directory was removed.", 1, w)...)
		} else if c, err := transcript.ReadFile(path); err == nil {
			lines = append(lines, indent(fmt.Sprintf("The transcript %s is not sealed; it holds %d events, the last one recording how the ceremony ended. Check it with 'ceremony transcript verify %s'.", path, len(c.Events), path), 1, w)...)
		}
	}
	if len(lines) > m.height-1 {
		// Too long for the terminal: the end is kept (what to carry
		// out), the blank line under the title goes first.
		lines = append(lines[:1], lines[len(lines)-(m.height-2):]...)
	}
	for len(lines) < m.height-1 {
		lines = append(lines, "")
	}
	help := " Enter exit"
	if d.err == nil && d.res.QR != nil {
		help = " q show the QR frames · Enter exit"
	}
	lines = append(lines[:m.height-1], th.Faint(help))
	return screen(lines, w, m.height)
}
