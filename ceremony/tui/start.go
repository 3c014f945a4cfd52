package tui

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/devicepki/ceremony/ceremony/engine"
	"github.com/devicepki/ceremony/ceremony/record"
	"github.com/devicepki/ceremony/ceremony/script"
	"github.com/devicepki/ceremony/hsm"
)

type startPhase int

const (
	phasePick startPhase = iota
	phaseResume
	phaseSettings
)

// choice is one line of the start list: a script, or an interrupted
// ceremony to look at and run again.
type choice struct {
	path   string         // script path
	script *script.Script // nil if it did not load
	err    error
	resume *interrupted
}

// startModel is the start: pick a script (or an interrupted ceremony),
// then confirm the HSM config, output directory, rehearsal and inputs.
type startModel struct {
	phase   startPhase
	choices []choice
	list    picker
	chosen  *choice
	problem string

	// The settings form: the HSM config, the output directory, whether it
	// is a rehearsal, and the script's inputs, in the order form lists
	// them; focus is the index in it of the field being edited
	// (len(form()): the start button).
	config         field
	outDir         field
	rehearsal      bool
	rehearsalField field // toggles rehearsal
	inputs         []field
	focus          int
}

// form lists the fields of the settings form in their order on screen.
func (s *startModel) form() []*field {
	out := []*field{&s.config, &s.outDir, &s.rehearsalField}
	for i := range s.inputs {
		out = append(out, &s.inputs[i])
	}
	return out
}

// focusOn moves the focus to f, a field of the form.
func (s *startModel) focusOn(f *field) {
	for i, g := range s.form() {
		if g == f {
			s.focus = i
		}
	}
}

// startKeys are the keys of the start screens.
var startKeys = struct {
	quit, interrupt, again, back, up, down, edit, next, toggle key.Binding
}{
	quit:      bind("q", "quit", "q", "esc"),
	interrupt: bind("ctrl+c", "quit", "ctrl+c"),
	again:     bind("Enter", "run it again", "enter"),
	back:      bind("Esc", "back", "esc"),
	up:        bind("↑/↓", "field", "up", "shift+tab"),
	down:      bind("↓", "field", "down", "tab"),
	edit:      typing("type", "to edit"),
	next:      bind("Enter", "next / start", "enter"),
	toggle:    bind("space", "toggle", " "),
}

// keys lists the keys of the start screen on view.
func (s *startModel) keys() []key.Binding {
	km := startKeys
	switch s.phase {
	case phasePick:
		quit := km.quit // and ctrl+c, as on every start screen
		quit.SetHelp("q/ctrl+c", "quit")
		return append(listHelp(), quit)
	case phaseResume:
		return []key.Binding{enabled(km.again, s.canRerun()), km.back, km.interrupt}
	}
	f := s.focused()
	return []key.Binding{km.up, enabled(km.edit, f != nil && f.toggle == nil), enabled(km.toggle, f != nil && f.toggle != nil),
		km.next, km.back, km.interrupt}
}

// canRerun reports whether the interrupted ceremony chosen can be run
// again: its transcript was read and names its script.
func (s *startModel) canRerun() bool {
	in := s.chosen.resume
	return in != nil && !in.running && in.damaged == "" && in.scriptPath != ""
}

// focused is the field being edited, or nil on the start button.
func (s *startModel) focused() *field {
	if form := s.form(); s.focus < len(form) {
		return form[s.focus]
	}
	return nil
}

// field is one line of the settings form.
type field struct {
	label, help string
	input       lineInput
	toggle      *bool  // a yes/no field (rehearsal)
	inputName   string // the script input this field sets ("" for the others)
}

type startCeremonyMsg struct {
	plan *engine.Plan
}

func newStartModel(opts Options) *startModel {
	s := &startModel{}
	paths, _ := filepath.Glob(filepath.Join(opts.ScriptsDir, "*.yaml"))
	sort.Strings(paths)
	for _, p := range paths {
		sc, err := engine.LoadScript(p)
		s.choices = append(s.choices, choice{path: p, script: sc, err: err})
	}
	for _, in := range findInterrupted(opts.TranscriptsDir) {
		s.choices = append(s.choices, choice{path: in.scriptPath, resume: in})
	}
	for _, c := range s.choices {
		s.list.items = append(s.list.items, c.label())
	}
	if opts.Script != "" {
		sc, err := engine.LoadScript(opts.Script)
		if err != nil {
			s.problem = err.Error()
		} else {
			s.chosen = &choice{path: opts.Script, script: sc}
			s.settings(opts, nil)
		}
	}
	return s
}

func (c choice) label() string {
	switch {
	case c.resume != nil:
		return "Interrupted: " + filepath.Base(c.resume.dir) + " (" + c.resume.title + ")"
	case c.err != nil:
		return filepath.Base(c.path) + " (does not load)"
	}
	return c.script.Title
}

// settings fills the settings form for the chosen script.
func (s *startModel) settings(opts Options, from *interrupted) {
	sc := s.chosen.script
	s.phase, s.focus, s.problem = phaseSettings, 0, ""
	rehearsal := opts.Rehearsal
	out := opts.OutDir
	if out == "" {
		out = filepath.Join(opts.TranscriptsDir, sc.Name+"-"+opts.now().UTC().Format("20060102T150405Z"))
	}
	inputs := opts.Inputs
	if from != nil {
		rehearsal, inputs = from.rehearsal, from.inputs
	}
	s.rehearsal = rehearsal
	s.config = field{label: "HSM config", help: "YAML file naming the PKCS#11 module and the token"}
	s.outDir = field{label: "Output directory", help: "the ceremony directory; it must not exist yet"}
	s.rehearsalField = field{label: "Rehearsal", help: "space toggles; a rehearsal also writes the shares to OUT/shares/", toggle: &s.rehearsal}
	s.config.input.set(opts.ConfigPath)
	s.outDir.input.set(out)
	s.inputs = nil
	for _, in := range sc.Inputs {
		f := field{label: in.Name, help: in.Description, inputName: in.Name}
		if v, ok := inputs[in.Name]; ok {
			f.input.set(v)
		} else if in.Default != nil {
			f.input.set(*in.Default)
		}
		s.inputs = append(s.inputs, f)
	}
}

// key handles a key on the start screens.
func (s *startModel) key(m *Model, k tea.KeyMsg) tea.Cmd {
	km := startKeys
	if key.Matches(k, km.interrupt) {
		return tea.Quit
	}
	switch s.phase {
	case phasePick:
		if key.Matches(k, km.quit) {
			return tea.Quit
		}
		if !s.list.key(k) {
			return nil
		}
		c := s.choices[s.list.cur]
		switch {
		case c.resume != nil:
			s.chosen, s.phase, s.problem = &c, phaseResume, ""
		case c.err != nil:
			s.problem = c.err.Error()
		default:
			s.chosen = &c
			s.settings(m.opts, nil)
		}
	case phaseResume:
		switch {
		case key.Matches(k, km.back):
			s.phase = phasePick
		case key.Matches(k, enabled(km.again, s.canRerun())):
			in := s.chosen.resume
			sc, err := engine.LoadScript(in.scriptPath)
			if err != nil {
				s.problem = err.Error()
				return nil
			}
			if sc.SHA256 != in.scriptSHA256 {
				s.problem = fmt.Sprintf("%s has changed since that ceremony ran (SHA-256 %s, recorded %s): choose it from the list if it is meant to run", in.scriptPath, sc.SHA256, in.scriptSHA256)
				return nil
			}
			s.chosen = &choice{path: in.scriptPath, script: sc, resume: in}
			s.settings(m.opts, in)
		}
	case phaseSettings:
		f := s.focused()
		switch {
		case key.Matches(k, km.back):
			s.phase, s.problem = phasePick, ""
			return nil
		case key.Matches(k, km.up):
			s.focus = max(s.focus-1, 0)
			return nil
		case key.Matches(k, km.down):
			s.focus = min(s.focus+1, len(s.form()))
			return nil
		case key.Matches(k, km.next):
			if f != nil {
				s.focus++
				return nil
			}
			return s.prepare(m)
		case key.Matches(k, enabled(km.toggle, f != nil && f.toggle != nil)):
			*f.toggle = !*f.toggle
			return nil
		}
		if f != nil && f.toggle == nil {
			f.input.key(k)
		}
	}
	return nil
}

// prepare checks the settings and the script, and starts the ceremony.
func (s *startModel) prepare(m *Model) tea.Cmd {
	s.problem = ""
	cfgPath := strings.TrimSpace(s.config.input.String())
	if cfgPath == "" {
		s.problem = "HSM config: name the YAML file that names the PKCS#11 module and the token"
		s.focusOn(&s.config)
		return nil
	}
	cfg, err := hsm.LoadConfig(cfgPath)
	if err != nil {
		s.problem = err.Error()
		s.focusOn(&s.config)
		return nil
	}
	inputs := map[string]string{}
	for i := range s.inputs {
		f := &s.inputs[i]
		v := strings.TrimSpace(f.input.String())
		if v == "" {
			// Said here in the form's words: the engine's message is
			// for the command line (--input NAME=VALUE).
			s.problem = fmt.Sprintf("%s is required (%s): type it in its field", f.label, strings.TrimSpace(f.help))
			s.focusOn(f)
			return nil
		}
		inputs[f.inputName] = v
	}
	plan, err := engine.Prepare(engine.Options{
		ScriptPath: s.chosen.path, TemplatesDir: m.opts.TemplatesDir, Inputs: inputs, HSM: cfg,
		OutDir: strings.TrimSpace(s.outDir.input.String()), Tool: m.opts.Tool, Rehearsal: s.rehearsal,
		Now: m.opts.Now, Interfaces: m.opts.Interfaces,
	})
	if err != nil {
		s.problem = err.Error()
		return nil
	}
	return func() tea.Msg { return startCeremonyMsg{plan: plan} }
}

func (s *startModel) view(m *Model) string {
	th, w, h := m.th, m.width, m.height
	lines := []string{th.Title(fit(" ceremony · offline root key ceremonies", w))}
	switch s.phase {
	case phasePick:
		lines = append(lines, "", " Choose the ceremony to run:")
		listH := min(len(s.choices), max(h/2-3, 3))
		first := max(0, min(s.list.cur-listH/2, len(s.choices)-listH))
		items := s.list.view(th, w)
		lines = append(lines, items[first:min(first+listH, len(items))]...)
		if len(s.choices) == 0 {
			lines = append(lines, fmt.Sprintf("   No scripts in %s.", m.opts.ScriptsDir))
		} else {
			lines = append(lines, "")
			lines = append(lines, s.details(th, s.choices[s.list.cur], w)...)
		}
	case phaseResume:
		in := s.chosen.resume
		lines = append(lines, "", th.Bold(" Interrupted ceremony "+in.dir))
		lines = append(lines, s.details(th, *s.chosen, w)...)
		lines = append(lines, "")
		lines = append(lines, indent(resumeAdvice(in), 1, w)...)
		if in.initToken && !in.closed {
			lines = append(lines, indent(th.Warn("It initialised the HSM token: reset the token before running it again ("+in.resetHint+")."), 1, w)...)
		}
	case phaseSettings:
		sc := s.chosen.script
		lines = append(lines, "", th.Bold(" "+sc.Title)+"  ("+s.chosen.path+")")
		lines = append(lines, approvalLines(th, sc.Approval, w)...)
		lines = append(lines, "")
		for i, f := range s.form() {
			val := f.input.String()
			if f.toggle != nil {
				val = "no"
				if *f.toggle {
					val = "yes"
				}
			}
			label := fmt.Sprintf(" %-18s ", f.label)
			if i == s.focus {
				if f.toggle == nil {
					val = f.input.view(w - 22)
				}
				lines = append(lines, th.Bold("▶"+label[1:])+val)
				lines = append(lines, th.Faint(cut("   "+f.help, w)))
			} else {
				lines = append(lines, label+cut(val, w-21))
			}
		}
		start := "   [ Start the ceremony ]"
		if s.focus == len(s.form()) {
			start = th.Cursor(" ▶ [ Start the ceremony ] ")
		}
		lines = append(lines, "", start)
	}
	if s.problem != "" {
		// The problem is what the people must read: it keeps its lines,
		// and the body above it gives way when both do not fit.
		tail := append([]string{""}, wrap(th.Bad(" ! "+s.problem), w)...)
		if room := h - 1 - len(tail); len(lines) > room {
			lines = lines[:max(room, 1)]
		}
		lines = append(lines, tail...)
	}
	for len(lines) < h-1 {
		lines = append(lines, "")
	}
	lines = append(lines[:h-1], th.Faint(cut(" "+helpText(s.keys()), w)))
	return screen(lines, w, h)
}

// details describes a choice: a script's purpose, roles and quorums, or
// what an interrupted ceremony did.
func (s *startModel) details(th theme, c choice, w int) []string {
	var out []string
	if in := c.resume; in != nil {
		if in.running {
			return indent("Running now in another process (it holds the directory's lock): it is not interrupted.", 1, w)
		}
		if in.damaged != "" {
			return indent("Cannot read its transcript: "+in.damaged, 1, w)
		}
		state := "stopped without recording why (a crash or power loss)"
		if in.ended {
			state = "ended: " + in.last
		}
		out = append(out, indent(fmt.Sprintf("%s, started %s, %d events; %s", in.title, in.started, in.events, state), 1, w)...)
		if len(in.keysLeft) > 0 {
			out = append(out, indent(th.Warn("Key pairs it made that are still on the token: "+strings.Join(in.keysLeft, ", ")), 1, w)...)
		}
		if len(in.filesLeft) > 0 {
			out = append(out, indent(th.Warn("Files it wrote that were not withdrawn: "+strings.Join(in.filesLeft, ", ")), 1, w)...)
		}
		if in.torn != "" {
			out = append(out, indent(th.Warn("Its last event: "+in.torn), 1, w)...)
		}
		if in.rehearsal {
			out = append(out, " It was a rehearsal.")
		}
		return out
	}
	if c.err != nil {
		return indent(th.Bad(c.err.Error()), 1, w)
	}
	sc := c.script
	desc := wrap(strings.TrimSpace(sc.Description), w-2)
	if len(desc) > 6 {
		desc = append(desc[:5], "…")
	}
	for _, l := range desc {
		out = append(out, " "+l)
	}
	var roles []string
	for _, r := range sc.Roles {
		n := fmt.Sprintf("%d", r.Min)
		switch {
		case r.Max == 0:
			n = fmt.Sprintf("%d or more", r.Min)
		case r.Max != r.Min:
			n = fmt.Sprintf("%d to %d", r.Min, r.Max)
		}
		roles = append(roles, r.Name+" "+n)
	}
	out = append(out, "", cut(" Roles: "+strings.Join(roles, ", "), w))
	if quorums := scriptQuorums(sc); len(quorums) > 0 {
		out = append(out, cut(" Quorums: "+strings.Join(quorums, "; "), w))
	}
	out = append(out, cut(fmt.Sprintf(" %d steps · %s", len(sc.Steps), c.path), w))
	return out
}

// resumeAdvice says what an interrupted ceremony left and what to do.
func resumeAdvice(in *interrupted) string {
	rerun := "Enter runs the same script again, with the same inputs, in a new directory; the old transcript stays as the record of the attempt. A ceremony never continues where it stopped: the shares it had not handed out are gone."
	if len(in.keysLeft) == 0 && len(in.filesLeft) == 0 {
		if in.ended {
			return "It left nothing behind: what it made was destroyed or withdrawn when it stopped, and its transcript says so. " + rerun
		}
		return "Its transcript records nothing it made that is still there. To record that it ended, run: ceremony close " + in.dir + ". " + rerun
	}
	return "Before running it again, close it: ceremony close " + in.dir + " lists what it left; check the list, then add --confirm --config HSM.yaml and a quorum of the token's officers' share files (or --pin-file for a token with a PIN). It destroys the key pairs it left, withdraws its files, and records this in its transcript. " + rerun
}

// now returns the clock of the options.
func (o Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// approvalLines says who approved the script and when, or warns that it
// records no approval (the printed record lists that as an exception).
func approvalLines(th theme, a *script.Approval, w int) []string {
	if a == nil {
		return indent(th.Warn("This script records no approval (approval: in the script); the printed record will say so."), 1, w)
	}
	text := fmt.Sprintf("Approved on %s by %s", a.Date, strings.Join(a.ApprovedBy, "; "))
	if a.Reference != "" {
		text += " (" + a.Reference + ")"
	}
	return indent(th.Faint(record.Printable(text)), 1, w)
}
