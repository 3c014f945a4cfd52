package tui

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/devicepki/ceremony/ceremony/engine"
	"github.com/devicepki/ceremony/ceremony/qrframe"
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

	// The window on the text to read aloud: its first line, and the lines
	// it showed and the text had when last drawn (sayRows 0: not drawn).
	sayOff, sayRows, sayLen int

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

	// The QR view of the carry-out frames: the qrshow model (nil while
	// no frame fits the terminal), the generation of its commands (the
	// view is built again when a resize changes the frames), the frames
	// it shows, and the exported bundle to cut them from.
	qr       *qrshow.Model
	qrGen    int
	qrFrames qrChoice
	qrPacked []byte
}

// Init implements tea.Model.
func (m *Model) Init() tea.Cmd { return nil }

// Update implements tea.Model.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		if m.screen == screenQR {
			return m, m.fitQR()
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
	case qrMsg:
		if msg.gen != m.qrGen || m.screen != screenQR {
			return m, nil // a tick of a QR view since rebuilt or left
		}
		return m.Update(msg.msg)
	case tea.KeyMsg:
		return m, m.onKey(msg)
	}
	if m.qr != nil {
		return m, m.updateQR(msg)
	}
	return m, nil
}

// updateQR hands msg to the QR view.
func (m *Model) updateQR(msg tea.Msg) tea.Cmd {
	q, cmd := m.qr.Update(msg)
	qm := q.(qrshow.Model)
	m.qr = &qm
	return m.qrCmd(cmd)
}

// qrMsg is a message of a QR view's command, with the view's generation.
type qrMsg struct {
	gen int
	msg tea.Msg
}

// qrCmd tags the messages of a QR view's command with its generation, so
// that the ticks of a view replaced on resize do not drive the new one.
func (m *Model) qrCmd(cmd tea.Cmd) tea.Cmd {
	if cmd == nil {
		return nil
	}
	gen := m.qrGen
	return func() tea.Msg { return tagQR(gen, cmd()) }
}

func tagQR(gen int, msg tea.Msg) tea.Msg {
	switch msg := msg.(type) {
	case nil:
		return nil
	case tea.BatchMsg:
		out := make(tea.BatchMsg, 0, len(msg))
		for _, c := range msg {
			if c != nil {
				out = append(out, func() tea.Msg { return tagQR(gen, c()) })
			}
		}
		return out
	}
	return qrMsg{gen: gen, msg: msg}
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
		m.prompt = &approvePrompt{req: req, say: m.say}
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
			m.sayOff = 0
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
		if m.qr == nil { // no frame fits: the message says so
			switch k.String() {
			case "q", "esc", "ctrl+c":
				m.screen = screenEnd
			}
			return nil
		}
		return m.updateQR(k)
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
	switch {
	case key.Matches(k, enabled(sayUp, m.sayKeys())):
		m.scrollSay(-1)
		return nil
	case key.Matches(k, enabled(sayDown, m.sayKeys())):
		m.scrollSay(1)
		return nil
	case key.Matches(k, abortKey):
		if !m.aborting {
			m.abortAsk = "ctrl+c"
		}
		return nil
	case key.Matches(k, exceptionKey):
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
	if r, ok := m.prompt.(refusal); ok && key.Matches(k, refuseKey) && r.refusal() != "" {
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

// qrChoice is the frames the QR view shows: the exported ones, or the
// bundle cut again into frames of at most bytes bytes; at an error
// correction level.
type qrChoice struct {
	exported bool
	bytes    int
	level    qrimage.Level
	frames   []string
}

func (c qrChoice) same(o qrChoice) bool {
	return c.exported == o.exported && c.bytes == o.bytes && c.level == o.level && len(c.frames) == len(o.frames)
}

// qrChrome is the lines of the QR view besides the code: the title, the
// status and the keys.
const qrChrome = 3

// chooseQR picks the frames to show in a cols×rows terminal: the exported
// ones if each fits with its quiet zone and the view's captions, else
// the bundle cut again into the largest frames that fit, at the export's
// error correction or else at L (a screen is not smudged). ok is false if
// no frame fits.
func (m *Model) chooseQR(cols, rows int) (c qrChoice, ok bool) {
	q := m.done.res.QR
	level := q.Level
	if level == 0 {
		level = qrimage.Medium
	}
	rows -= qrChrome
	fits := func(frames []string, level qrimage.Level) bool {
		chars := qrimage.FitChars(level, cols, rows)
		for _, f := range frames {
			if len(f) > chars {
				return false
			}
		}
		return true
	}
	exported := qrChoice{exported: true, level: level, frames: q.Frames}
	if fits(q.Frames, level) {
		return exported, true
	}
	if m.qrPacked == nil {
		return exported, false
	}
	for _, lvl := range []qrimage.Level{level, qrimage.Low} {
		chars := qrimage.FitChars(lvl, cols, rows)
		for n := qrframe.MaxFrameBytes; n >= qrframe.MinFrameBytes; n-- {
			total := (len(m.qrPacked) + n - 1) / n
			if total > qrframe.MaxFrames {
				break
			}
			if qrframe.TextLen(n, total) > chars {
				continue
			}
			fs, err := qrframe.Split(m.qrPacked, n)
			if err != nil {
				break
			}
			c := qrChoice{bytes: n, level: lvl}
			for _, f := range fs {
				c.frames = append(c.frames, f.String())
			}
			return c, true
		}
	}
	return exported, false
}

// showQR shows the carry-out QR frames full-screen, as large as the
// terminal shows them whole.
func (m *Model) showQR() tea.Cmd {
	if m.done == nil || m.done.res == nil || m.done.res.QR == nil || len(m.done.res.QR.Frames) == 0 {
		return nil
	}
	// The frames join into the bundle, which can be cut again into
	// frames that fit the terminal (a scanner takes any cut of it).
	m.qrPacked = nil
	a := qrframe.NewAssembler(m.done.res.QR.Bundle)
	for i, f := range m.done.res.QR.Frames {
		a.Add(f, fmt.Sprintf("frame %d", i+1))
	}
	if _, packed, err := a.Result(); err == nil {
		m.qrPacked = packed
	}
	m.screen, m.qr, m.qrFrames = screenQR, nil, qrChoice{}
	return m.fitQR()
}

// fitQR (re)builds the QR view for the terminal's size when the frames
// that fit it changed, keeping the rate, pause and colours.
func (m *Model) fitQR() tea.Cmd {
	c, ok := m.chooseQR(m.width, m.height)
	if !ok {
		m.qr, m.qrFrames = nil, qrChoice{}
		m.qrGen++
		return nil
	}
	size := tea.WindowSizeMsg{Width: m.width, Height: m.height}
	if m.qr != nil && c.same(m.qrFrames) {
		return m.updateQR(size)
	}
	opts := qrshow.Options{Frames: c.frames, BundleID: m.done.res.QR.Bundle, Rate: 1, Embedded: true,
		Title: m.script.Title + " · carry out"}
	if !c.exported {
		opts.Title += " (frames cut to fit this screen)"
	}
	if m.qr != nil {
		opts.Rate, opts.Invert, opts.Paused = m.qr.Rate(), m.qr.Inverted(), m.qr.Paused()
	}
	level := c.level
	opts.Render = func(text string, invert bool) (string, error) {
		s, _, _, err := qrimage.Terminal(text, level, !invert)
		return s, err
	}
	qm, err := qrshow.New(opts)
	if err != nil { // a frame that cannot be drawn: back to the summary
		m.qr, m.qrFrames, m.screen = nil, qrChoice{}, screenEnd
		m.qrGen++
		return nil
	}
	m.qrGen++
	m.qr, m.qrFrames = &qm, c
	m.updateQR(size)
	return m.qrCmd(m.qr.Init())
}

// viewQRNoFit says that no QR frame fits the terminal, and what would.
func (m *Model) viewQRNoFit() string {
	// The shortest frame text there can be for this bundle, at L.
	need := 0
	for _, f := range m.done.res.QR.Frames {
		need = max(need, len(f))
	}
	if m.qrPacked != nil {
		n := qrframe.MinFrameBytes
		need = qrframe.TextLen(n, (len(m.qrPacked)+n-1)/n)
	}
	cols, rows := 0, 0
	for cols < 1000 && qrimage.FitChars(qrimage.Low, cols, 1000) < need {
		cols++
	}
	for rows < 1000 && qrimage.FitChars(qrimage.Low, 1000, rows) < need {
		rows++
	}
	msg := fmt.Sprintf("The QR frames do not fit this terminal (%d×%d): the smallest need %d columns and %d lines with their captions. Enlarge the terminal, or print qr/sheet.html of the ceremony directory. q goes back.",
		m.width, m.height, cols, rows+qrChrome)
	return screen(wrap(msg, m.width), m.width, m.height)
}

// View implements tea.Model.
func (m *Model) View() string {
	if m.width == 0 {
		return "starting…"
	}
	if m.screen == screenQR {
		if m.qr == nil {
			return m.viewQRNoFit()
		}
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
	m.sayRows, m.sayLen = 0, 0 // set again if the text to read aloud is drawn
	if m.abortAsk != "" {
		return m.viewAbortAsk()
	}
	if f, ok := m.prompt.(fullScreen); ok && m.excForm == nil {
		return f.viewFull(m.th, m.width, m.height)
	}
	// The keys depend on the body (the scroll keys are listed only when
	// the text to read aloud does not fit; an approval read to its end
	// takes y), and the body's height on the help's: drawn again until
	// they agree.
	help := helpLines(m.keys(false), m.width)
	var body []string
	for range 3 {
		body = m.body(m.height - 2 - len(help)) // header, status, help
		next := helpLines(m.keys(m.sayScrolls()), m.width)
		same := slices.Equal(next, help)
		help = next
		if same {
			break
		}
	}
	body = body[:min(len(body), max(m.height-2-len(help), 0))]
	lines := append([]string{m.header()}, body...)
	for len(lines) < m.height-1-len(help) {
		lines = append(lines, "")
	}
	lines = append(lines, m.statusLine())
	for _, l := range help {
		lines = append(lines, m.th.Faint(l))
	}
	return screen(lines, m.width, m.height)
}

// body draws the ceremony screen between the header and the status line:
// exactly height lines.
func (m *Model) body(height int) []string {
	m.sayRows, m.sayLen = 0, 0 // set again if the text to read aloud is drawn
	var lines []string
	if _, wide := m.prompt.(*approvePrompt); wide && m.excForm == nil {
		// What is signed gets the whole width.
		for _, l := range m.rightPane(m.width-2, height) {
			lines = append(lines, " "+l)
		}
	} else {
		left := m.stepList(height)
		right := m.rightPane(m.width-stepListWidth-3, height)
		for i := 0; i < height; i++ {
			l, r := "", ""
			if i < len(left) {
				l = left[i]
			}
			if i < len(right) {
				r = right[i]
			}
			lines = append(lines, fit(l, stepListWidth)+" │ "+r)
		}
	}
	lines = lines[:min(len(lines), height)]
	for len(lines) < height {
		lines = append(lines, "")
	}
	return lines
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

// sayMin is the fewest lines of the text to read aloud that the ceremony
// screen shows when the text, the prompt and the notes do not all fit;
// PgUp/PgDn scroll it.
const sayMin = 3

// noteBlock is one note as drawn: its first line is its header (the start
// of the notice, "previous step: …"). A pinned block (the certificate
// fingerprint to read aloud) is never dropped for lack of room.
type noteBlock struct {
	lines  []string
	pinned bool
}

// rightPane draws the current step: its title, the text to read aloud, the
// prompt (or the exception form), and the notes of the step. The prompt
// has priority; the text to read aloud scrolls (PgUp/PgDn) when it does
// not fit beside the notes; the notes drop their oldest first.
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
	blocks := m.noteBlocks(width)

	// The approval shows the text to read aloud itself, above what is
	// signed, in the lines it scrolls.
	var say []string
	if _, isApprove := m.prompt.(*approvePrompt); !isApprove || m.excForm != nil {
		say = indent(m.say, 2, width)
		if strings.TrimSpace(m.say) == "" {
			say = nil
		}
	}
	rest := height - len(head) // for the text, the prompt and the notes
	if len(act) > 0 {
		rest -= 1 + len(act) // a blank line, the prompt
	}
	// The notes want all their lines; they need at least the pinned one
	// and the first line of the newest other one.
	notesWant, pinned, others := 0, 0, false
	for _, b := range blocks {
		notesWant += len(b.lines)
		if b.pinned {
			pinned += len(b.lines)
		} else {
			others = true
		}
	}
	notesMin := pinned
	if others {
		notesMin++
	}
	if notesWant > 0 { // and a blank line above them
		notesWant++
		notesMin++
	}
	if pinned > 0 {
		pinned++
	}
	sayRows := 0
	if len(say) > 0 {
		avail := rest - 1 // under its heading
		sayRows = len(say)
		if sayRows+notesWant > avail {
			// Not all of it fits: the text scrolls, in what the notes
			// leave above their least; it keeps sayMin lines unless the
			// pinned note needs them, and one line always.
			sayRows = avail - notesMin
			if sayRows < sayMin {
				sayRows = min(sayMin, avail-pinned)
			}
			sayRows = min(max(sayRows, 1), len(say), avail)
		}
		sayRows = max(sayRows, 0)
	}
	out := append([]string{}, head...)
	if sayRows > 0 {
		m.sayLen, m.sayRows = len(say), sayRows
		off := max(0, min(m.sayOff, len(say)-sayRows))
		heading := "Read aloud:"
		switch {
		case sayRows == 1 && len(say) > 1:
			heading = fmt.Sprintf("Read aloud, line %d of %d (PgUp/PgDn):", off+1, len(say))
		case sayRows < len(say):
			heading = fmt.Sprintf("Read aloud, lines %d–%d of %d (PgUp/PgDn):", off+1, off+sayRows, len(say))
		}
		out = append(out, th.Faint(cut(heading, width)))
		for _, l := range say[off : off+sayRows] {
			out = append(out, th.Bold(l))
		}
	}
	if len(act) > 0 {
		out = append(out, "")
		out = append(out, act...)
	}
	if room := height - len(out) - 1; room > 0 && len(blocks) > 0 {
		out = append(out, "")
		out = append(out, fitNotes(th, blocks, room, width)...)
	}
	return out
}

// noteBlocks returns the notes of the current step, oldest first: its
// notices, or if it has none yet the latest certificate fingerprint of an
// earlier step and what the previous step did.
func (m *Model) noteBlocks(width int) []noteBlock {
	th := m.th
	var blocks []noteBlock
	last := -1 // the step's latest fingerprint notice
	for _, n := range m.notices {
		if n.step != m.cur {
			continue
		}
		var b noteBlock
		for _, l := range readable(n.text) {
			b.lines = append(b.lines, wrap(th.Faint("· ")+l, width)...)
		}
		if strings.HasPrefix(n.text, fingerprintNotice) {
			last = len(blocks)
		}
		blocks = append(blocks, b)
	}
	if last >= 0 {
		blocks[last].pinned = true
	}
	if len(blocks) > 0 || m.cur <= 0 {
		return blocks
	}
	// A step that reads a fingerprint aloud comes after the step that
	// made the certificate: the latest certificate's fingerprint stays
	// on screen, in groups and as words, until a newer one.
	if n, ok := m.lastFingerprint(); ok {
		title := ""
		if n.step >= 0 && n.step < len(m.steps) {
			title = fmt.Sprintf(" (step %d, %s)", n.step+1, m.steps[n.step].title)
		}
		b := noteBlock{pinned: true}
		for _, l := range readable(n.text + title) {
			b.lines = append(b.lines, wrap(l, width)...)
		}
		blocks = append(blocks, b)
	}
	if s := m.steps[m.cur-1].summary; s != "" {
		var b noteBlock
		for _, l := range readable("previous step: " + s) {
			b.lines = append(b.lines, wrap(th.Faint(l), width)...)
		}
		blocks = append(blocks, b)
	}
	return blocks
}

// fitNotes draws the note blocks in room lines. When they do not all fit,
// the pinned block stays, the newest of the others come next, and the
// oldest are dropped whole, with a line saying how many; a block that
// fits only in part keeps its first lines (its header), not its last.
func fitNotes(th theme, blocks []noteBlock, room, width int) []string {
	total := 0
	for _, b := range blocks {
		total += len(b.lines)
	}
	if total <= room {
		var out []string
		for _, b := range blocks {
			out = append(out, b.lines...)
		}
		return out
	}
	pick := func(room int) (shown [][]string, dropped int) {
		shown = make([][]string, len(blocks))
		for i, b := range blocks {
			if b.pinned {
				n := min(len(b.lines), room)
				shown[i] = truncated(b.lines, n, width)
				room -= n
			}
		}
		for i := len(blocks) - 1; i >= 0; i-- {
			b := blocks[i]
			switch {
			case b.pinned:
			case room >= len(b.lines):
				shown[i] = b.lines
				room -= len(b.lines)
			case room > 0:
				shown[i] = truncated(b.lines, room, width)
				room = 0
			default:
				dropped++
			}
		}
		return shown, dropped
	}
	shown, dropped := pick(room)
	var out []string
	if dropped > 0 && room > 1 {
		shown, dropped = pick(room - 1)
		word := "notes"
		if dropped == 1 {
			word = "note"
		}
		out = append(out, th.Faint(fmt.Sprintf("… %d earlier %s not shown", dropped, word)))
	}
	for _, s := range shown {
		out = append(out, s...)
	}
	return out
}

// truncated returns the first n lines, the last of them ending in " …"
// if lines were left out.
func truncated(lines []string, n, width int) []string {
	if n >= len(lines) {
		return lines
	}
	if n <= 0 {
		return nil
	}
	out := append([]string{}, lines[:n]...)
	last := out[n-1]
	if ansi.StringWidth(last) > width-2 {
		last = ansi.Truncate(last, width-2, "")
	}
	out[n-1] = last + " …"
	return out
}

// sayScrolls reports whether the text to read aloud, as last drawn, did
// not fit its window: PgUp/PgDn scroll it.
func (m *Model) sayScrolls() bool { return m.sayRows > 0 && m.sayRows < m.sayLen }

// scrollSay moves the window on the text to read aloud by pages (one line
// of the last page stays in view).
func (m *Model) scrollSay(pages int) {
	if !m.sayScrolls() {
		return
	}
	last := m.sayLen - m.sayRows // the window's last start
	m.sayOff = max(0, min(m.sayOff, last))
	m.sayOff = max(0, min(m.sayOff+pages*max(m.sayRows-1, 1), last))
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

// keys lists the keys of the ceremony screen: the prompt's (or the
// exception form's); the scroll keys of the text to read aloud when
// scrolls (it does not fit) and no approval scrolls what is signed; ctrl+e
// while an exception can be opened; and ctrl+c.
func (m *Model) keys(scrolls bool) []key.Binding {
	var bs []key.Binding
	switch {
	case m.excForm != nil:
		bs = append(bs, m.excForm.keys()...)
	case m.prompt != nil:
		bs = append(bs, m.prompt.keys()...)
	}
	return append(bs, enabled(sayUp, scrolls && m.sayKeys()), enabled(exceptionKey, m.excForm == nil && !m.aborting), abortKey)
}

// sayKeys reports whether PgUp/PgDn scroll the text to read aloud: they
// do except on the approval, which scrolls what is signed (and the text
// with it).
func (m *Model) sayKeys() bool {
	_, approving := m.prompt.(*approvePrompt)
	return !approving || m.excForm != nil
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
