package tui

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/devicepki/ceremony/ceremony/engine"
	"github.com/devicepki/ceremony/ceremony/record"
	"github.com/devicepki/ceremony/ceremony/script"
	"github.com/devicepki/ceremony/ceremony/shares"
	"github.com/devicepki/ceremony/ceremony/words"
)

// prompt is the widget for one question the engine asked.
type prompt interface {
	// key handles a key press. It returns the reply when the question is
	// answered, and nil while it is not.
	key(k tea.KeyMsg) *reply
	// view draws the prompt in width cells.
	view(th theme, width int) []string
	// keys lists the prompt's key bindings that apply now, for the help.
	keys() []key.Binding
}

// wiper is implemented by prompts holding typed secrets: wipe clears them
// when the prompt is dropped unanswered.
type wiper interface {
	wipe()
}

func (p *secretPrompt) wipe()  { p.in.wipe() }
func (p *sharePrompt) wipe()   { p.entry.in.wipe() }
func (p *handOutPrompt) wipe() { p.entry.in.wipe(); p.pass1.wipe(); p.pass2.wipe() }

// fullScreen is implemented by prompts that take the whole screen (the
// share hand-out), hiding everything else.
type fullScreen interface {
	viewFull(th theme, width, height int) string
}

// refusal is implemented by prompts where 'n' refuses: the model then asks
// whether to stop the ceremony. refusal returns what refusing means ("Olga
// Officer (officer) refuses"), or "" when 'n' is not a refusal now (it is
// being typed).
type refusal interface {
	refusal() string
}

// who names a participant: "Olga Officer (officer)".
func who(p engine.Participant) string { return fmt.Sprintf("%s (%s)", p.Name, p.Role) }

// picker is a list of choices moved through with the arrow keys.
type picker struct {
	items []string
	cur   int
}

// key moves the cursor; it returns true for Enter.
func (p *picker) key(k tea.KeyMsg) (chosen bool) {
	switch {
	case key.Matches(k, listUp):
		if p.cur > 0 {
			p.cur--
		}
	case key.Matches(k, listDown):
		if p.cur < len(p.items)-1 {
			p.cur++
		}
	case key.Matches(k, listHome):
		p.cur = 0
	case key.Matches(k, listEnd):
		p.cur = len(p.items) - 1
	case key.Matches(k, listChoose):
		return len(p.items) > 0
	}
	return false
}

func (p *picker) view(th theme, width int) []string {
	var out []string
	for i, it := range p.items {
		for j, l := range wrap(it, width-4) {
			mark := "   "
			if j == 0 && i == p.cur {
				mark = " ▶ "
			}
			line := mark + l
			if i == p.cur {
				line = th.Cursor(fit(line, width-1))
			}
			out = append(out, line)
		}
	}
	return out
}

// whoPicker asks which of several candidates acts; with one candidate it
// is answered at once.
type whoPicker struct {
	cands  []engine.Participant
	list   picker
	chosen *engine.Participant
	ask    string // "Who enters it?"
}

func newWhoPicker(cands []engine.Participant, ask string) whoPicker {
	w := whoPicker{cands: cands, ask: ask}
	for _, c := range cands {
		w.list.items = append(w.list.items, who(c))
	}
	if len(cands) == 1 {
		w.chosen = &cands[0]
	}
	return w
}

func (w *whoPicker) key(k tea.KeyMsg) {
	if w.list.key(k) {
		w.chosen = &w.cands[w.list.cur]
	}
}

func (w *whoPicker) view(th theme, width int) []string {
	out := wrap(th.Bold(w.ask)+" (↑/↓, Enter)", width)
	return append(out, w.list.view(th, width)...)
}

// hexRE finds a SHA-256 written as 64 hex digits, grouped by 4 or not.
var hexRE = regexp.MustCompile(`\b[0-9a-f]{4}(?: ?[0-9a-f]{4}){15}\b`)

// readable rewrites a message for reading aloud: a SHA-256 in it is shown in
// groups of 4, and followed on extra lines by its words.
func readable(text string) []string {
	var extra []string
	out := hexRE.ReplaceAllStringFunc(text, func(h string) string {
		h = strings.ReplaceAll(h, " ", "")
		if ws, err := words.FromHex(h); err == nil {
			extra = append(extra, "  words: "+strings.Join(ws, " "))
		}
		return record.GroupHex(h)
	})
	return append([]string{out}, extra...)
}

// ----- attendance

type attendancePrompt struct {
	req     engine.AttendanceRequest
	names   engine.Attendance
	role    int
	input   lineInput
	problem string
}

func newAttendancePrompt(req engine.AttendanceRequest) *attendancePrompt {
	return &attendancePrompt{req: req, names: engine.Attendance{}}
}

// attendanceKeys are the keys of the attendance: Enter adds the name typed
// (or, with none, goes to the next role), ↑/↓ move between the roles, and
// Backspace in an empty field takes back the role's last name.
var attendanceKeys = struct {
	add, next, up, down, back key.Binding
}{
	add:  bind("Enter", "add", "enter"),
	next: bind("empty Enter:", "next role", "enter"),
	up:   bind("↑/↓", "role", "up", "shift+tab"),
	down: bind("↓", "role", "down", "tab"),
	back: bind("Backspace", "take back the last name", "backspace"),
}

func (p *attendancePrompt) keys() []key.Binding {
	km := attendanceKeys
	return []key.Binding{km.add, km.next, km.up}
}

func (p *attendancePrompt) key(k tea.KeyMsg) *reply {
	km := attendanceKeys
	roles := p.req.Roles
	r := roles[p.role]
	switch {
	case key.Matches(k, km.up):
		if p.role > 0 {
			p.role--
		}
		p.problem = ""
		return nil
	case key.Matches(k, km.down):
		if p.role < len(roles)-1 {
			p.role++
		}
		p.problem = ""
		return nil
	case key.Matches(k, km.back):
		if len(p.input.value) == 0 {
			if list := p.names[r.Name]; len(list) > 0 {
				p.input.set(list[len(list)-1])
				p.names[r.Name] = list[:len(list)-1]
			}
			return nil
		}
	case key.Matches(k, km.add):
		p.problem = ""
		name := strings.Join(strings.Fields(p.input.String()), " ")
		if name == "" {
			if n := len(p.names[r.Name]); n < r.Min {
				p.problem = fmt.Sprintf("%s: at least %d must be present, %d recorded", r.Name, r.Min, n)
				return nil
			}
			if p.role < len(roles)-1 {
				p.role++
				return nil
			}
			if err := engine.CheckAttendance(roles, p.names); err != nil {
				p.problem = err.Error()
				return nil
			}
			return &reply{val: p.names}
		}
		if err := engine.CheckPersonName(name); err != nil {
			p.problem = err.Error()
			return nil
		}
		if r.Max > 0 && len(p.names[r.Name]) >= r.Max {
			p.problem = fmt.Sprintf("%s: at most %d may be present", r.Name, r.Max)
			return nil
		}
		for role, list := range p.names {
			for _, n := range list {
				if engine.PersonKey(n) == engine.PersonKey(name) {
					p.problem = fmt.Sprintf("%s is already recorded as %s", n, role)
					return nil
				}
			}
		}
		p.names[r.Name] = append(p.names[r.Name], name)
		p.input.set("")
		return nil
	}
	p.input.key(k)
	return nil
}

func (p *attendancePrompt) view(th theme, width int) []string {
	out := []string{th.Bold("Who is present? Type each name and press Enter.")}
	for i, r := range p.req.Roles {
		n := len(p.names[r.Name])
		need := fmt.Sprintf("%d of %d", n, r.Max)
		if r.Max == 0 {
			need = fmt.Sprintf("%d (≥%d)", n, r.Min)
		}
		mark := " "
		if n >= r.Min && (r.Max == 0 || n <= r.Max) {
			mark = th.Good("✓")
		}
		cursor := "  "
		if i == p.role {
			cursor = "▶ "
		}
		line := fmt.Sprintf("%s%-14s %-8s %s %s", cursor, r.Name, need, mark, strings.Join(p.names[r.Name], ", "))
		if i == p.role {
			line = th.Bold(line)
		}
		out = append(out, cut(line, width))
	}
	r := p.req.Roles[p.role]
	out = append(out, "", fmt.Sprintf("%s name: %s", r.Name, p.input.view(width-len(r.Name)-8)))
	if p.problem != "" {
		out = append(out, wrap(th.Bad("! "+p.problem), width)...)
	}
	return out
}

// ----- confirmation

type confirmPrompt struct{ req engine.ConfirmRequest }

// confirmKey confirms a step.
var confirmKey = bind("y", "confirm", "y", "Y")

func (p *confirmPrompt) keys() []key.Binding {
	refuse := refuseKey
	refuse.SetHelp("n", "refuse (stops the ceremony)")
	return []key.Binding{confirmKey, refuse}
}
func (p *confirmPrompt) refusal() string { return who(p.req.Participant) + " refuses" }

func (p *confirmPrompt) key(k tea.KeyMsg) *reply {
	if key.Matches(k, confirmKey) {
		return &reply{}
	}
	return nil
}

func (p *confirmPrompt) view(th theme, width int) []string {
	return wrap(fmt.Sprintf("%s: %s, press y to confirm this step.", th.Bold("CONFIRM"), th.Bold(who(p.req.Participant))), width)
}

// ----- inventory: equipment, seals, storage

// inventoryPrompt has one participant type the value of each item an
// inventory step records, one field after another; items the token
// reports are shown filled in. Enter moves to the next field, and on the
// last records them all.
type inventoryPrompt struct {
	req    engine.InventoryRequest
	typed  []int // the indexes of the items typed
	inputs []lineInput
	cur    int
	prob   string
}

func newInventoryPrompt(req engine.InventoryRequest) *inventoryPrompt {
	p := &inventoryPrompt{req: req}
	for i, it := range req.Items {
		if !it.FromToken {
			p.typed = append(p.typed, i)
			p.inputs = append(p.inputs, lineInput{max: engine.MaxInventoryValue})
		}
	}
	return p
}

// nextKey moves to the next field, or records the inventory.
var nextKey = bind("Enter", "next / record", "enter")

func (p *inventoryPrompt) keys() []key.Binding {
	return []key.Binding{typing("type", "the value read out"), nextKey}
}

func (p *inventoryPrompt) key(k tea.KeyMsg) *reply {
	if len(p.inputs) == 0 {
		if key.Matches(k, nextKey) {
			return &reply{val: map[string]string{}}
		}
		return nil
	}
	if !key.Matches(k, nextKey) {
		p.inputs[p.cur].key(k)
		return nil
	}
	if strings.TrimSpace(p.inputs[p.cur].String()) == "" {
		p.prob = "type the value read out"
		return nil
	}
	p.prob = ""
	if p.cur < len(p.inputs)-1 {
		p.cur++
		return nil
	}
	out := map[string]string{}
	for j, i := range p.typed {
		out[p.req.Items[i].Name] = strings.TrimSpace(p.inputs[j].String())
	}
	return &reply{val: out}
}

func (p *inventoryPrompt) view(th theme, width int) []string {
	out := wrap(fmt.Sprintf("%s %s, read out each item and type it:", th.Bold("INVENTORY:"), th.Bold(who(p.req.Participant))), width)
	if p.req.Problem != "" {
		out = append(out, wrap(th.Bad("! "+p.req.Problem), width)...)
	}
	j := 0
	for _, it := range p.req.Items {
		label := record.Printable(it.Name) + ": "
		switch {
		case it.FromToken:
			out = append(out, cut("  "+label+record.Printable(it.Value)+" (from the token)", width))
			continue
		case j == p.cur:
			out = append(out, cut("> "+label, width), "  "+p.inputs[j].view(width-3))
		case j < p.cur:
			out = append(out, cut("  "+label+record.Printable(p.inputs[j].String()), width))
		default:
			out = append(out, cut("  "+label, width))
		}
		j++
	}
	if p.prob != "" {
		out = append(out, th.Bad("! "+p.prob))
	}
	return out
}

// ----- announcement before the machine acts

// announcePrompt holds a step whose machine acts at once (a key generated,
// a token initialised, a share handed out) until its text, on screen
// above, has been read aloud and the administrator says to go on.
type announcePrompt struct{ req engine.AnnounceRequest }

// goKey lets the machine act.
var goKey = bind("Enter", "go on", "enter")

func (p *announcePrompt) keys() []key.Binding {
	refuse := refuseKey
	refuse.SetHelp("n", "stop the ceremony")
	return []key.Binding{goKey, refuse}
}
func (p *announcePrompt) refusal() string { return who(p.req.Participant) + " stops the ceremony" }

func (p *announcePrompt) key(k tea.KeyMsg) *reply {
	if key.Matches(k, goKey) {
		return &reply{}
	}
	return nil
}

func (p *announcePrompt) view(th theme, width int) []string {
	return wrap(fmt.Sprintf("%s %s, read the text above aloud; press Enter when the room has heard it and the machine may go on.", th.Bold("READ ALOUD:"), th.Bold(who(p.req.Participant))), width)
}

// ----- approval of what is signed

// approvePrompt shows what is signed, in a window that scrolls over it,
// and takes y only once its last line has been on screen.
type approvePrompt struct {
	req   engine.ApprovalRequest
	say   string   // the step's text to read aloud, shown above what is signed
	lines []string // built for width
	width int
	// window is the lines in view: its height is the rows the field
	// list may use (0 until drawn), its offset the first line in view.
	window viewport.Model
	seen   bool // the last line has been on screen
}

// approveKeys are the keys of the approval: they scroll what is signed,
// and approve it once its last line has been on screen.
var approveKeys = struct {
	scroll, up, down, pageUp, pageDown, approve key.Binding
}{
	scroll:   bind("↑/↓ PgUp/PgDn", "scroll", "up", "k", "down", "j", "pgup", "pgdown", " "),
	up:       bind("↑", "scroll up", "up", "k"),
	down:     bind("↓", "scroll down", "down", "j"),
	pageUp:   bind("PgUp", "page up", "pgup"),
	pageDown: bind("PgDn", "page down", "pgdown", " "),
	approve:  bind("y", "approve", "y", "Y"),
}

func (p *approvePrompt) keys() []key.Binding {
	km := approveKeys
	if !p.seen {
		km.scroll.SetHelp("↑/↓ PgUp/PgDn", "scroll to the end")
	}
	return []key.Binding{km.scroll, enabled(km.approve, p.seen), refuseKey}
}
func (p *approvePrompt) refusal() string { return who(p.req.Participant) + " refuses to approve" }

func (p *approvePrompt) build(width int) {
	if p.width == width && p.lines != nil {
		return
	}
	p.width = width
	p.lines = nil
	defer func() {
		p.window.Width = width
		p.window.SetContent(strings.Join(p.lines, "\n"))
	}()
	labelW := 0
	for _, f := range p.req.Fields {
		labelW = max(labelW, len(f.Label))
	}
	labelW = min(labelW, 28)
	if strings.TrimSpace(p.say) != "" {
		p.lines = append(p.lines, " Read aloud:")
		p.lines = append(p.lines, indent(p.say, 3, width)...)
		p.lines = append(p.lines, "")
	}
	for _, f := range p.req.Fields {
		val := record.Printable(f.Value) // decoded from a CSR or certificate: never raw
		if strings.Contains(f.Label, "SHA-256") && hexRE.MatchString(val) {
			val = record.GroupHex(strings.ReplaceAll(val, " ", ""))
		}
		if strings.HasSuffix(f.Label, "as words") || f.Label == "TBS SHA-256" {
			continue // shown below, once
		}
		for i, l := range wrap(val, width-labelW-3) {
			label := ""
			if i == 0 {
				label = f.Label + ":"
			}
			p.lines = append(p.lines, fmt.Sprintf(" %-*s %s", labelW+1, label, l))
		}
	}
	if p.req.NotSigned {
		p.lines = append(p.lines, "", " SHA-256 of exactly what is approved, to read aloud:")
	} else {
		p.lines = append(p.lines, "", " SHA-256 of exactly what is signed (the TBS), to read aloud:")
	}
	for _, l := range wrap(record.GroupHex(p.req.TBSSHA256), width-3) {
		p.lines = append(p.lines, "   "+l)
	}
	for _, l := range wrap(p.req.Words, width-3) {
		p.lines = append(p.lines, "   "+l)
	}
}

func (p *approvePrompt) title() string {
	if p.req.NotSigned {
		return fmt.Sprintf("APPROVE the %s: %s, read it all.", p.req.What, who(p.req.Participant))
	}
	return fmt.Sprintf("APPROVE the %s to be signed: %s, read it all.", p.req.What, who(p.req.Participant))
}

func (p *approvePrompt) footer() string {
	return fmt.Sprintf("%s: press y to approve exactly this, n to refuse.", p.req.Participant.Name)
}

func (p *approvePrompt) key(k tea.KeyMsg) *reply {
	km := approveKeys
	page := max(p.window.Height-1, 1)
	switch {
	case key.Matches(k, km.up):
		p.window.ScrollUp(1)
	case key.Matches(k, km.down):
		p.window.ScrollDown(1)
	case key.Matches(k, km.pageUp):
		p.window.ScrollUp(page)
	case key.Matches(k, km.pageDown):
		p.window.ScrollDown(page)
	case key.Matches(k, enabled(km.approve, p.seen)):
		return &reply{}
	}
	return nil
}

// setRows sets the rows the prompt may use in all, title and last line
// included.
func (p *approvePrompt) setRows(rows int) {
	rows -= len(wrap(p.title(), p.width)) + len(wrap(p.footer(), p.width)) + 1
	p.window.Height = max(rows, 3)
	p.window.SetYOffset(p.window.YOffset)
	if p.window.AtBottom() {
		p.seen = true
	}
}

func (p *approvePrompt) view(th theme, width int) []string {
	p.build(width)
	out := wrap(th.Bold(p.title()), width)
	out = append(out, windowLines(p.window)...)
	if end := p.window.YOffset + p.window.VisibleLineCount(); end < len(p.lines) {
		out = append(out, wrap(th.Faint(fmt.Sprintf(" ↓ %d more lines: scroll down to read them before approving", len(p.lines)-end)), width)...)
	} else {
		out = append(out, wrap(th.Bold(p.footer()), width)...)
	}
	return out
}

// ----- choice

type choosePrompt struct {
	req  engine.ChoiceRequest
	whom whoPicker
	opts picker
}

func newChoosePrompt(req engine.ChoiceRequest) *choosePrompt {
	p := &choosePrompt{req: req, whom: newWhoPicker(req.Candidates, "Who chooses?")}
	for _, o := range req.Options {
		text := o.Text
		if o.Abort {
			text += " (stops the ceremony)"
		}
		p.opts.items = append(p.opts.items, text)
	}
	return p
}

func (p *choosePrompt) keys() []key.Binding { return listHelp() }

func (p *choosePrompt) key(k tea.KeyMsg) *reply {
	if p.whom.chosen == nil {
		p.whom.key(k)
		return nil
	}
	if p.opts.key(k) {
		return &reply{val: engine.Choice{Value: p.req.Options[p.opts.cur].Value, By: *p.whom.chosen}}
	}
	return nil
}

func (p *choosePrompt) view(th theme, width int) []string {
	if p.whom.chosen == nil {
		return p.whom.view(th, width)
	}
	out := wrap(th.Bold(fmt.Sprintf("CHOOSE: %s, choose one (↑/↓, Enter):", who(*p.whom.chosen))), width)
	return append(out, p.opts.view(th, width)...)
}

// ----- a secret such as a PIN

type secretPrompt struct {
	req  engine.SecretRequest
	whom whoPicker
	in   maskedInput
}

// submitKey submits a secret or a share typed into its masked field.
var submitKey = bind("Enter", "submit", "enter")

func (p *secretPrompt) keys() []key.Binding {
	return []key.Binding{typing("type", "(hidden)"), submitKey, clearKey}
}

func (p *secretPrompt) key(k tea.KeyMsg) *reply {
	if p.whom.chosen == nil {
		p.whom.key(k)
		return nil
	}
	switch {
	case key.Matches(k, submitKey):
		if p.in.len() == 0 {
			return nil
		}
		return &reply{val: engine.SecretAnswer{Secret: p.in.take(), By: *p.whom.chosen}}
	case key.Matches(k, clearKey):
		p.in.wipe()
		return nil
	}
	p.in.key(k)
	return nil
}

func (p *secretPrompt) view(th theme, width int) []string {
	if p.whom.chosen == nil {
		return p.whom.view(th, width)
	}
	out := wrap(fmt.Sprintf("%s: %s, enter the %s. It is not shown.", th.Bold("SECRET"), who(*p.whom.chosen), p.req.What), width)
	if p.req.Attempt > 1 {
		out = append(out, th.Bad(fmt.Sprintf("! The last one was rejected: attempt %d of %d.", p.req.Attempt, engine.MaxSecretAttempts)))
	}
	return append(out, "", "  "+dots(p.in.len(), width-4)+"█")
}

// ----- override of a failed safety check

type overridePrompt struct {
	req    engine.OverrideRequest
	agreed bool
	whom   whoPicker
	reason lineInput
	prob   string
}

// The keys of the override: o overrides (n, the refusal, stops); Enter
// records the reason typed.
var (
	overrideKey = bind("o", "override", "o")
	recordKey   = bind("Enter", "record it", "enter")
)

func (p *overridePrompt) keys() []key.Binding {
	switch {
	case !p.agreed:
		stop := refuseKey
		stop.SetHelp("n", "stop the ceremony")
		return []key.Binding{overrideKey, stop}
	case p.whom.chosen == nil:
		return listHelp()
	}
	return []key.Binding{typing("type", "the reason"), recordKey}
}
func (p *overridePrompt) refusal() string {
	if p.agreed {
		return ""
	}
	return "Nobody overrides the failed " + p.req.Check + " check"
}

func (p *overridePrompt) key(k tea.KeyMsg) *reply {
	switch {
	case !p.agreed:
		if key.Matches(k, overrideKey) {
			p.agreed = true
			p.whom = newWhoPicker(p.req.Candidates, "Who overrides it?")
		}
		return nil
	case p.whom.chosen == nil:
		p.whom.key(k)
		return nil
	}
	if key.Matches(k, recordKey) {
		reason := strings.TrimSpace(p.reason.String())
		if reason == "" {
			p.prob = "say why the ceremony may go on"
			return nil
		}
		return &reply{val: engine.OverrideAnswer{By: *p.whom.chosen, Reason: reason}}
	}
	p.reason.key(k)
	return nil
}

func (p *overridePrompt) view(th theme, width int) []string {
	out := wrap(th.Bad("SAFETY CHECK FAILED ("+p.req.Check+"): ")+p.req.Problem, width)
	switch {
	case !p.agreed && p.req.Check == "share-holder":
		out = append(out, "")
		out = append(out, wrap("Press o to use the share anyway and say why (it goes on record as an exception), n to stop.", width)...)
	case !p.agreed:
		out = append(out, "")
		out = append(out, wrap("Press o to override it (never at a real ceremony), n to stop.", width)...)
	case p.whom.chosen == nil:
		out = append(out, p.whom.view(th, width)...)
	default:
		out = append(out, "")
		out = append(out, wrap(who(*p.whom.chosen)+", why may the ceremony go on?", width)...)
		out = append(out, "> "+p.reason.view(width-3))
		if p.prob != "" {
			out = append(out, th.Bad("! "+p.prob))
		}
	}
	return out
}

// ----- a share typed by a keyholder

// shareEntry is a masked share field that checks every group as it is
// typed, and draws only its progress: one • per character and a mark per
// group.
type shareEntry struct {
	in      maskedInput
	problem string // set when Enter was pressed too early
}

func (e *shareEntry) status() shares.Typing { return shares.CheckTyping(e.in.buf) }

// key handles a key; it returns true when Enter submits a complete share
// with no group known to be wrong.
func (e *shareEntry) key(k tea.KeyMsg) bool {
	if key.Matches(k, submitKey) {
		t := e.status()
		switch {
		case !t.OK():
			e.problem = "correct the group marked ✗ first"
		case !t.Complete():
			e.problem = fmt.Sprintf("the share is not complete: %d of %d groups typed", t.Groups, t.Expected)
		default:
			e.problem = ""
			return true
		}
		return false
	}
	if e.in.key(k) {
		e.problem = ""
	}
	return false
}

func (e *shareEntry) view(th theme, width int) []string {
	t := e.status()
	var out []string
	tag := "····"
	switch {
	case t.BadTag:
		tag = "••••" + th.Bad("✗")
	case t.Tag:
		tag = "••••" + th.Good("✓")
	}
	out = append(out, "  "+tag)
	line := "  "
	n := max(t.Groups+boolInt(t.Partial > 0), 1)
	for g := 1; g <= max(n, t.Expected); g++ {
		cell := "·····  "
		switch {
		case g <= t.Groups && g == t.Bad:
			cell = "•••••" + th.Bad("✗") + " "
		case g <= t.Groups:
			cell = "•••••" + th.Good("✓") + " "
		case g == t.Groups+1 && t.Partial > 0:
			cell = strings.Repeat("•", t.Partial) + strings.Repeat("·", 5-t.Partial)
			if g == t.Bad {
				cell += th.Bad("✗") + " "
			} else {
				cell += "  "
			}
		}
		line += cell
		if g%4 == 0 {
			out = append(out, line)
			line = "  "
		}
	}
	if strings.TrimSpace(line) != "" {
		out = append(out, line)
	}
	status := fmt.Sprintf("%d of %d groups", t.Groups, t.Expected)
	if t.Complete() {
		status += th.Good(" — complete: press Enter")
	}
	out = append(out, "  "+status)
	if !t.OK() {
		out = append(out, indent(th.Bad("✗ "+t.Problem)+" (Backspace to correct it)", 2, width)...)
	}
	if e.problem != "" {
		out = append(out, indent(th.Bad("! "+e.problem), 2, width)...)
	}
	return out
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

type sharePrompt struct {
	req   engine.ShareRequest
	whom  whoPicker
	entry shareEntry
}

func (p *sharePrompt) keys() []key.Binding {
	if p.whom.chosen == nil {
		return listHelp()
	}
	return []key.Binding{typing("type or scan it", "(hidden)"), submitKey}
}

func (p *sharePrompt) key(k tea.KeyMsg) *reply {
	if p.whom.chosen == nil {
		p.whom.key(k)
		return nil
	}
	if p.entry.key(k) {
		return &reply{val: engine.ShareAnswer{Text: p.entry.in.take(), By: *p.whom.chosen}}
	}
	return nil
}

func (p *sharePrompt) view(th theme, width int) []string {
	out := wrap(th.Bold(fmt.Sprintf("SHARE %d of %d needed (%s split %s)", p.req.Number, p.req.Needed, p.req.Purpose, p.req.Split)), width)
	if p.req.Problem != "" {
		out = append(out, wrap(th.Bad("! The last share was rejected: "+p.req.Problem), width)...)
	}
	if p.whom.chosen == nil {
		return append(out, p.whom.view(th, width)...)
	}
	out = append(out, wrap(fmt.Sprintf("%s, type your share from your card, or scan its QR code. It is not shown; each group is checked as you type.", who(*p.whom.chosen)), width)...)
	return append(out, p.entry.view(th, width)...)
}

// participantsOf lists the participants of an attendance in role order.
func participantsOf(roles []script.Role, a engine.Attendance) []engine.Participant {
	var out []engine.Participant
	for _, r := range roles {
		for _, n := range a[r.Name] {
			out = append(out, engine.Participant{Role: r.Name, Name: n})
		}
	}
	return out
}
