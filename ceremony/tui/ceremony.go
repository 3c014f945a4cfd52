package tui

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/devicepki/ceremony/ceremony/engine"
	"github.com/devicepki/ceremony/ceremony/record"
	"github.com/devicepki/ceremony/ceremony/script"
)

// ceremonyModel is the ceremony screen: the steps, the text to read aloud,
// the engine's prompt (or the exception form) and the notes, while the
// engine runs; and over it the question whether to abort.
type ceremonyModel struct {
	*frame

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

	// sayOff is where the reader left the text to read aloud (its first
	// line in view); sayView is its window as last drawn (height 0: not
	// drawn).
	sayOff  int
	sayView viewport.Model

	// Exceptions noted during the current step; the form being filled in;
	// the engine's request for them, waiting for the form.
	excs    []engine.Exception
	excForm *exceptionForm
	excWait *askMsg

	// abortQ is the question "abort the ceremony?" while it is shown;
	// aborting once the engine was told to stop, which cancel does.
	abortQ   *abortModel
	aborting bool
	cancel   context.CancelFunc
}

// newCeremonyModel returns the ceremony screen of sc, writing to outDir,
// before its first step.
func newCeremonyModel(fr *frame, sc *script.Script, outDir string, rehearsal bool) *ceremonyModel {
	c := &ceremonyModel{frame: fr, script: sc, outDir: outDir, rehearsal: rehearsal, cur: -1}
	c.steps = make([]stepRow, len(sc.Steps))
	for i, st := range sc.Steps {
		c.steps[i] = stepRow{id: st.ID, title: record.Printable(st.Title)}
	}
	return c
}

// Update handles the engine's messages and the keys on the ceremony
// screen.
func (c *ceremonyModel) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case askMsg:
		return c.onAsk(msg)
	case dropAskMsg:
		if c.ask != nil && c.ask.id == msg.id {
			c.dropPrompt()
		}
		if c.excWait != nil && c.excWait.id == msg.id {
			c.excWait = nil
		}
	case reportMsg:
		return c.onReport(engine.Report(msg))
	case spinMsg:
		if msg.gen != c.spinGen || c.op == nil {
			return nil
		}
		c.spin++
		return c.spinTick()
	case tea.KeyMsg:
		c.onKey(msg)
	}
	return nil
}

// stop is a signal stopping the ceremony: the engine was told (the
// parent context), and the screen says it is aborting.
func (c *ceremonyModel) stop() {
	c.aborting, c.abortQ = true, nil
}

// finish takes the prompt, the operation, the abort question and the
// exception form off the screen when the engine's Run returned; failed
// marks the current step.
func (c *ceremonyModel) finish(failed bool) {
	c.dropPrompt()
	c.op, c.abortQ, c.excForm = nil, nil, nil
	if failed && c.cur >= 0 && c.cur < len(c.steps) {
		c.steps[c.cur].state = stepFailed
	}
}

// abortAsked is why the abort question is on screen ("ctrl+c", or who
// refuses), or "" if it is not.
func (c *ceremonyModel) abortAsked() string {
	if c.abortQ == nil {
		return ""
	}
	return c.abortQ.why
}

func (c *ceremonyModel) onKey(k tea.KeyMsg) {
	if c.abortQ != nil {
		switch c.abortQ.Update(k) {
		case abortYes:
			why := c.abortQ.why
			c.abortQ = nil
			c.abort(why)
		case abortNo:
			c.abortQ = nil
		}
		return
	}
	switch {
	case key.Matches(k, enabled(sayUp, c.sayKeys())):
		c.scrollSay(-1)
		return
	case key.Matches(k, enabled(sayDown, c.sayKeys())):
		c.scrollSay(1)
		return
	case key.Matches(k, abortKey):
		if !c.aborting {
			c.abortQ = &abortModel{frame: c.frame, why: "ctrl+c"}
		}
		return
	case key.Matches(k, exceptionKey):
		if c.excForm == nil && !c.aborting {
			c.excForm = newExceptionForm(c.present, c.sealed, c.cur >= 0 && c.script.Steps[c.cur].Kind == script.KindSeal)
		}
		return
	}
	if c.excForm != nil {
		if done, ex := c.excForm.key(k); done {
			if ex != nil {
				c.excs = append(c.excs, *ex)
				c.notices = append(c.notices, notice{c.cur, fmt.Sprintf("Exception noted by %s; it is recorded at the end of this step.", ex.By.Name)})
			}
			c.excForm = nil
			if c.excWait != nil {
				a := *c.excWait
				c.excWait = nil
				c.giveExceptions(a)
			}
		}
		return
	}
	if c.prompt == nil || c.aborting {
		return
	}
	if r, ok := c.prompt.(refusal); ok && key.Matches(k, refuseKey) && r.refusal() != "" {
		c.abortQ = &abortModel{frame: c.frame, why: r.refusal()}
		return
	}
	if r := c.prompt.key(k); r != nil {
		c.answer(*r)
	}
}

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

var spinner = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

func (c *ceremonyModel) spinTick() tea.Cmd {
	gen := c.spinGen
	return tea.Tick(120*time.Millisecond, func(time.Time) tea.Msg { return spinMsg{gen} })
}

// onAsk shows a prompt from the engine.
func (c *ceremonyModel) onAsk(a askMsg) tea.Cmd {
	if _, ok := a.req.(exceptionsReq); ok {
		if c.excForm != nil {
			c.excWait = &a
			return nil
		}
		c.giveExceptions(a)
		return nil
	}
	c.ask = &a
	switch req := a.req.(type) {
	case engine.AttendanceRequest:
		c.prompt = newAttendancePrompt(req)
	case engine.ConfirmRequest:
		c.prompt = &confirmPrompt{req: req}
	case engine.AnnounceRequest:
		c.prompt = &announcePrompt{req: req}
	case engine.InventoryRequest:
		c.prompt = newInventoryPrompt(req)
	case engine.ApprovalRequest:
		c.prompt = &approvePrompt{req: req, say: c.say}
	case engine.ChoiceRequest:
		c.prompt = newChoosePrompt(req)
	case engine.SecretRequest:
		c.prompt = &secretPrompt{req: req, whom: newWhoPicker(req.Candidates, "Who enters it?")}
	case engine.OverrideRequest:
		c.prompt = &overridePrompt{req: req}
	case engine.ShareRequest:
		c.prompt = &sharePrompt{req: req, whom: newWhoPicker(req.Candidates, "Which keyholder comes forward?")}
	case engine.HandOutRequest:
		c.prompt = newHandOutPrompt(req)
	default:
		a.reply <- reply{err: fmt.Errorf("tui: cannot ask %T", req)}
		c.ask = nil
	}
	return nil
}

// giveExceptions answers the engine's request for the exceptions of a step.
func (c *ceremonyModel) giveExceptions(a askMsg) {
	step := a.req.(exceptionsReq).step
	ex := c.excs
	c.excs = nil
	if step.Kind == script.KindSeal {
		c.sealed = true // asked before sealing: nothing more can be recorded
	}
	a.reply <- reply{val: ex}
}

// dropPrompt takes the prompt off the screen unanswered, wiping what was
// typed into it.
func (c *ceremonyModel) dropPrompt() {
	if w, ok := c.prompt.(wiper); ok {
		w.wipe()
	}
	c.ask, c.prompt = nil, nil
}

// answer sends the reply to the prompt on screen and takes it off.
func (c *ceremonyModel) answer(r reply) {
	if c.ask == nil {
		return
	}
	c.ask.reply <- r
	if a, ok := r.val.(engine.Attendance); ok && r.err == nil {
		c.present = participantsOf(c.script.Roles, a)
	}
	c.dropPrompt()
}

func (c *ceremonyModel) onReport(r engine.Report) tea.Cmd {
	i := r.Step.Index
	switch r.Kind {
	case engine.StepStarted:
		if i >= 0 && i < len(c.steps) {
			c.cur = i
			c.steps[i].state = stepRunning
			c.say = record.Printable(r.Step.Say)
			c.sayOff = 0
		}
	case engine.StepDone:
		if i >= 0 && i < len(c.steps) {
			c.steps[i].state = stepDone
			c.steps[i].summary = record.Printable(r.Text)
			if r.Step.Kind == script.KindSeal {
				c.sealed = true
			}
		}
	case engine.OperationStarted:
		c.op = &operation{text: record.Printable(r.Text), start: c.now()}
		c.spinGen++
		return c.spinTick()
	case engine.OperationDone:
		if c.op != nil {
			c.notices = append(c.notices, notice{i, fmt.Sprintf("%s: done in %s", strings.TrimSuffix(c.op.text, " ..."), r.Elapsed.Round(time.Millisecond))})
		}
		c.op = nil
	case engine.Notice:
		c.notices = append(c.notices, notice{i, record.Printable(r.Text)})
	}
	return nil
}

// abort stops the ceremony: the engine's context is cancelled, so the prompt
// on screen returns and the engine records the abort, destroys what it
// generated and withdraws its artifacts.
func (c *ceremonyModel) abort(why string) {
	c.aborting = true
	c.excForm = nil
	// The question on screen is answered "aborted by the participants"
	// (saying who refused, if someone did); a long operation stops at its
	// end (the context).
	// Ctrl+C is the room stopping the ceremony, not the person asked
	// refusing: it is not recorded as their refusal.
	err := fmt.Errorf("%w: ceremony aborted by the room (ctrl+c)", context.Canceled)
	if why != "ctrl+c" && why != "" {
		err = fmt.Errorf("%w: %s", engine.ErrAborted, why)
	}
	c.answer(reply{err: err})
	if c.excWait != nil {
		a := *c.excWait
		c.excWait = nil
		c.giveExceptions(a)
	}
	if c.cancel != nil {
		c.cancel()
	}
}

// header draws the top bar.
func (c *ceremonyModel) header() string {
	left := " " + c.script.Title
	if c.rehearsal {
		left += " · REHEARSAL"
	}
	right := c.now().UTC().Format("15:04:05 UTC ")
	if c.cur >= 0 {
		right = fmt.Sprintf("step %d of %d · %s", c.cur+1, len(c.steps), right)
	}
	return c.th.Title(fit(fit(left, c.width-ansi.StringWidth(right))+right, c.width))
}

const stepListWidth = 24

// View draws the ceremony screen, or the abort question over it.
func (c *ceremonyModel) View() string {
	c.sayView.Height = 0 // set again if the text to read aloud is drawn
	if c.abortQ != nil {
		return c.abortQ.View(c.header())
	}
	if f, ok := c.prompt.(fullScreen); ok && c.excForm == nil {
		return f.viewFull(c.th, c.width, c.height)
	}
	// The keys depend on the body (the scroll keys are listed only when
	// the text to read aloud does not fit; an approval read to its end
	// takes y), and the body's height on the help's: drawn again until
	// they agree.
	help := helpLines(c.keys(false), c.width)
	var body []string
	for range 3 {
		body = c.body(c.height - 2 - len(help)) // header, status, help
		next := helpLines(c.keys(c.sayScrolls()), c.width)
		same := slices.Equal(next, help)
		help = next
		if same {
			break
		}
	}
	body = body[:min(len(body), max(c.height-2-len(help), 0))]
	lines := append([]string{c.header()}, body...)
	for len(lines) < c.height-1-len(help) {
		lines = append(lines, "")
	}
	lines = append(lines, c.statusLine())
	for _, l := range help {
		lines = append(lines, c.th.Faint(l))
	}
	return screen(lines, c.width, c.height)
}

// body draws the ceremony screen between the header and the status line:
// exactly height lines.
func (c *ceremonyModel) body(height int) []string {
	c.sayView.Height = 0 // set again if the text to read aloud is drawn
	var lines []string
	if _, wide := c.prompt.(*approvePrompt); wide && c.excForm == nil {
		// What is signed gets the whole width.
		for _, l := range c.rightPane(c.width-2, height) {
			lines = append(lines, " "+l)
		}
	} else {
		left := c.stepList(height)
		right := c.rightPane(c.width-stepListWidth-3, height)
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
func (c *ceremonyModel) stepList(height int) []string {
	first := 0
	if c.cur >= height-2 {
		first = min(c.cur-height/2, len(c.steps)-height)
	}
	first = max(first, 0)
	var out []string
	for i := first; i < len(c.steps) && len(out) < height; i++ {
		s := c.steps[i]
		mark, text := "·", fmt.Sprintf("%2d %s", i+1, s.id)
		switch s.state {
		case stepDone:
			mark = c.th.Good("✓")
		case stepRunning:
			mark = "▶"
		case stepFailed:
			mark = c.th.Bad("✗")
		}
		line := " " + mark + " " + cut(text, stepListWidth-3)
		switch s.state {
		case stepRunning:
			line = c.th.Bold(line)
		case stepToCome:
			line = c.th.Faint(line)
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
func (c *ceremonyModel) lastFingerprint() (notice, bool) {
	for i := len(c.notices) - 1; i >= 0; i-- {
		if n := c.notices[i]; n.step < c.cur && strings.HasPrefix(n.text, fingerprintNotice) {
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
func (c *ceremonyModel) rightPane(width, height int) []string {
	th := c.th
	var head []string
	if c.cur >= 0 {
		head = append(head, th.Bold(cut(fmt.Sprintf("%d. %s", c.cur+1, c.steps[c.cur].title), width)))
	} else {
		head = append(head, th.Bold("Starting the ceremony…"))
	}
	var act []string
	switch {
	case c.excForm != nil:
		act = c.excForm.view(th, width)
	case c.prompt != nil:
		if ap, ok := c.prompt.(*approvePrompt); ok {
			ap.build(width)
			ap.setRows(height - len(head) - 1)
		}
		act = c.prompt.view(th, width)
	case c.aborting:
		act = wrap(th.Bad("Aborting: the ceremony stops after the current operation, and the abort is recorded."), width)
	}
	blocks := c.noteBlocks(width)

	// The approval shows the text to read aloud itself, above what is
	// signed, in the lines it scrolls.
	var say []string
	if _, isApprove := c.prompt.(*approvePrompt); !isApprove || c.excForm != nil {
		say = indent(c.say, 2, width)
		if strings.TrimSpace(c.say) == "" {
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
		for i, l := range say {
			say[i] = th.Bold(l)
		}
		shown := c.sayWindow(say, width, sayRows)
		off := c.sayView.YOffset
		heading := "Read aloud:"
		switch {
		case sayRows == 1 && len(say) > 1:
			heading = fmt.Sprintf("Read aloud, line %d of %d (PgUp/PgDn):", off+1, len(say))
		case sayRows < len(say):
			heading = fmt.Sprintf("Read aloud, lines %d–%d of %d (PgUp/PgDn):", off+1, off+sayRows, len(say))
		}
		out = append(out, th.Faint(cut(heading, width)))
		out = append(out, shown...)
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
func (c *ceremonyModel) noteBlocks(width int) []noteBlock {
	th := c.th
	var blocks []noteBlock
	last := -1 // the step's latest fingerprint notice
	for _, n := range c.notices {
		if n.step != c.cur {
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
	if len(blocks) > 0 || c.cur <= 0 {
		return blocks
	}
	// A step that reads a fingerprint aloud comes after the step that
	// made the certificate: the latest certificate's fingerprint stays
	// on screen, in groups and as words, until a newer one.
	if n, ok := c.lastFingerprint(); ok {
		title := ""
		if n.step >= 0 && n.step < len(c.steps) {
			title = fmt.Sprintf(" (step %d, %s)", n.step+1, c.steps[n.step].title)
		}
		b := noteBlock{pinned: true}
		for _, l := range readable(n.text + title) {
			b.lines = append(b.lines, wrap(l, width)...)
		}
		blocks = append(blocks, b)
	}
	if s := c.steps[c.cur-1].summary; s != "" {
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

// sayWindow draws the text to read aloud (its lines, at most width cells
// each) in a window of rows lines, at the reader's place in it, and keeps
// the window for the keys that scroll it.
func (c *ceremonyModel) sayWindow(say []string, width, rows int) []string {
	c.sayView.Width, c.sayView.Height = width, rows
	c.sayView.SetContent(strings.Join(say, "\n"))
	// Where the reader left it, as far as this window goes: the place
	// itself is kept for a taller window drawn next.
	c.sayView.SetYOffset(c.sayOff)
	return windowLines(c.sayView)
}

// windowLines draws the lines in view of a window on a text: at most its
// height, fewer at the end of the text, without the padding the viewport
// draws them with.
func windowLines(w viewport.Model) []string {
	if w.Height <= 0 {
		return nil
	}
	lines := strings.Split(w.View(), "\n")
	lines = lines[:min(len(lines), w.VisibleLineCount())]
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return lines
}

// sayScrolls reports whether the text to read aloud, as last drawn, did
// not fit its window: PgUp/PgDn scroll it.
func (c *ceremonyModel) sayScrolls() bool {
	return c.sayView.Height > 0 && c.sayView.Height < c.sayView.TotalLineCount()
}

// scrollSay moves the window on the text to read aloud by pages (one line
// of the last page stays in view).
func (c *ceremonyModel) scrollSay(pages int) {
	if !c.sayScrolls() {
		return
	}
	c.sayView.SetYOffset(c.sayOff)
	page := max(c.sayView.Height-1, 1)
	if pages < 0 {
		c.sayView.ScrollUp(-pages * page)
	} else {
		c.sayView.ScrollDown(pages * page)
	}
	c.sayOff = c.sayView.YOffset
}

func (c *ceremonyModel) statusLine() string {
	switch {
	case c.op != nil:
		el := c.now().Sub(c.op.start).Truncate(100 * time.Millisecond)
		return cut(fmt.Sprintf(" %s %s · %s", spinner[c.spin%len(spinner)], strings.TrimSuffix(c.op.text, " ..."), el), c.width)
	case c.aborting:
		return c.th.Bad(" aborting…")
	case c.prompt != nil || c.excForm != nil:
		return " waiting for the people in the room"
	}
	return " working…"
}

// keys lists the keys of the ceremony screen: the prompt's (or the
// exception form's); the scroll keys of the text to read aloud when
// scrolls (it does not fit) and no approval scrolls what is signed; ctrl+e
// while an exception can be opened; and ctrl+c.
func (c *ceremonyModel) keys(scrolls bool) []key.Binding {
	var bs []key.Binding
	switch {
	case c.excForm != nil:
		bs = append(bs, c.excForm.keys()...)
	case c.prompt != nil:
		bs = append(bs, c.prompt.keys()...)
	}
	return append(bs, enabled(sayUp, scrolls && c.sayKeys()), enabled(exceptionKey, c.excForm == nil && !c.aborting), abortKey)
}

// sayKeys reports whether PgUp/PgDn scroll the text to read aloud: they
// do except on the approval, which scrolls what is signed (and the text
// with it).
func (c *ceremonyModel) sayKeys() bool {
	_, approving := c.prompt.(*approvePrompt)
	return !approving || c.excForm != nil
}
