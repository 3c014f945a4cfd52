package tui

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/devicepki/ceremony/ceremony/engine"
	"github.com/devicepki/ceremony/ceremony/outdir"
	"github.com/devicepki/ceremony/ceremony/record"
	"github.com/devicepki/ceremony/ceremony/script"
	"github.com/devicepki/ceremony/ceremony/transcript"
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

// interrupted is a ceremony directory whose transcript is not sealed.
type interrupted struct {
	dir          string
	scriptPath   string
	scriptSHA256 string
	title        string
	inputs       map[string]string
	rehearsal    bool
	started      string
	events       int
	last         string // the last event's text
	ended        bool   // the last event says how it ended (aborted, failed)
	closed       bool   // ceremony close ended it
	keysLeft     []string
	filesLeft    []string
	initToken    bool
	damaged      string // why the transcript could not be read
}

// startModel is the start: pick a script (or an interrupted ceremony),
// then confirm the HSM config, output directory, rehearsal and inputs.
type startModel struct {
	phase   startPhase
	choices []choice
	list    picker
	chosen  *choice
	problem string

	fields []field
	focus  int
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

// findInterrupted lists the ceremony directories under dir whose
// transcript has no seal, newest first.
func findInterrupted(dir string) []*interrupted {
	if dir == "" {
		return nil
	}
	paths, _ := filepath.Glob(filepath.Join(dir, "*", outdir.TranscriptFile))
	var out []*interrupted
	for _, p := range paths {
		d := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(d, outdir.SealFile)); err == nil {
			continue
		}
		out = append(out, readInterrupted(d))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].started > out[j].started })
	if len(out) > 20 {
		out = out[:20]
	}
	return out
}

func readInterrupted(dir string) *interrupted {
	in := &interrupted{dir: record.Printable(dir), title: "?"}
	c, err := transcript.ReadFile(filepath.Join(dir, outdir.TranscriptFile))
	if err != nil {
		in.damaged = err.Error()
		return in
	}
	if len(c.Events) == 0 {
		in.damaged = "the transcript is empty"
		return in
	}
	first := c.Events[0]
	start, err := transcript.DataAs[transcript.CeremonyStarted](first)
	if err != nil {
		in.damaged = "the first event is not the ceremony's start"
		return in
	}
	in.title, in.inputs, in.scriptPath, in.rehearsal, in.started = record.Printable(start.Title), start.Inputs, start.Script.Path, start.Rehearsal, record.Printable(first.Time)
	in.scriptSHA256 = start.Script.SHA256
	for k, v := range in.inputs {
		in.inputs[k] = record.Printable(v)
	}
	in.events = len(c.Events)
	last := c.Events[len(c.Events)-1]
	in.last = record.Printable(last.Text)
	in.ended = last.Is(transcript.TypeCeremonyAborted, transcript.TypeCeremonyFailed, transcript.TypeCeremonyClosed)
	in.closed = last.Is(transcript.TypeCeremonyClosed)
	for _, e := range c.Events {
		if e.Is(transcript.TypeTokenInitialised) {
			in.initToken = true
		}
	}
	keys, files, err := engine.Leftovers(c)
	if err != nil {
		in.damaged = err.Error()
		return in
	}
	for _, k := range keys {
		in.keysLeft = append(in.keysLeft, record.Printable(k))
	}
	for _, f := range files {
		in.filesLeft = append(in.filesLeft, record.Printable(f))
	}
	return in
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
	s.fields = []field{
		{label: "HSM config", help: "YAML file naming the PKCS#11 module and the token"},
		{label: "Output directory", help: "the ceremony directory; it must not exist yet"},
		{label: "Rehearsal", help: "space toggles; a rehearsal also writes the shares to OUT/shares/", toggle: &rehearsal},
	}
	s.fields[0].input.set(opts.ConfigPath)
	s.fields[1].input.set(out)
	for _, in := range sc.Inputs {
		f := field{label: in.Name, help: in.Description, inputName: in.Name}
		if v, ok := inputs[in.Name]; ok {
			f.input.set(v)
		} else if in.Default != nil {
			f.input.set(*in.Default)
		}
		s.fields = append(s.fields, f)
	}
}

// key handles a key on the start screens.
func (s *startModel) key(m *Model, k tea.KeyMsg) tea.Cmd {
	if k.String() == "ctrl+c" {
		return tea.Quit
	}
	switch s.phase {
	case phasePick:
		switch k.String() {
		case "q", "esc":
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
		switch k.String() {
		case "esc":
			s.phase = phasePick
		case "enter":
			in := s.chosen.resume
			if in.damaged != "" || in.scriptPath == "" {
				return nil
			}
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
		var f *field
		if s.focus < len(s.fields) {
			f = &s.fields[s.focus]
		}
		switch k.String() {
		case "esc":
			s.phase, s.problem = phasePick, ""
			return nil
		case "up", "shift+tab":
			s.focus = max(s.focus-1, 0)
			return nil
		case "down", "tab":
			s.focus = min(s.focus+1, len(s.fields))
			return nil
		case "enter":
			if s.focus < len(s.fields) {
				s.focus++
				return nil
			}
			return s.prepare(m)
		case " ":
			if f != nil && f.toggle != nil {
				*f.toggle = !*f.toggle
				return nil
			}
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
	cfgPath := strings.TrimSpace(s.fields[0].input.String())
	if cfgPath == "" {
		s.problem, s.focus = "HSM config: name the YAML file that names the PKCS#11 module and the token", 0
		return nil
	}
	cfg, err := hsm.LoadConfig(cfgPath)
	if err != nil {
		s.problem, s.focus = err.Error(), 0
		return nil
	}
	inputs := map[string]string{}
	for i, f := range s.fields[3:] {
		v := strings.TrimSpace(f.input.String())
		if v == "" {
			// Said here in the form's words: the engine's message is
			// for the command line (--input NAME=VALUE).
			s.problem, s.focus = fmt.Sprintf("%s is required (%s): type it in its field", f.label, strings.TrimSpace(f.help)), 3+i
			return nil
		}
		inputs[f.inputName] = v
	}
	plan, err := engine.Prepare(engine.Options{
		ScriptPath: s.chosen.path, TemplatesDir: m.opts.TemplatesDir, Inputs: inputs, HSM: cfg,
		OutDir: strings.TrimSpace(s.fields[1].input.String()), Tool: m.opts.Tool, Rehearsal: *s.fields[2].toggle,
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
	help := ""
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
		help = "↑/↓ move · Enter choose · q quit"
	case phaseResume:
		in := s.chosen.resume
		lines = append(lines, "", th.Bold(" Interrupted ceremony "+in.dir))
		lines = append(lines, s.details(th, *s.chosen, w)...)
		lines = append(lines, "")
		lines = append(lines, indent(resumeAdvice(in), 1, w)...)
		if in.initToken && !in.closed {
			lines = append(lines, indent(th.Warn("It initialised the HSM token: reset the token before running it again (softhsm2-util --delete-token for SoftHSM2)."), 1, w)...)
		}
		help = "Enter run it again · Esc back"
	case phaseSettings:
		sc := s.chosen.script
		lines = append(lines, "", th.Bold(" "+sc.Title)+"  ("+s.chosen.path+")", "")
		for i, f := range s.fields {
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
		if s.focus == len(s.fields) {
			start = th.Cursor(" ▶ [ Start the ceremony ] ")
		}
		lines = append(lines, "", start)
		help = "↑/↓ field · type to edit · Enter next / start · Esc back"
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
	lines = append(lines[:h-1], th.Faint(cut(" "+help, w)))
	return screen(lines, w, h)
}

// details describes a choice: a script's purpose, roles and quorums, or
// what an interrupted ceremony did.
func (s *startModel) details(th theme, c choice, w int) []string {
	var out []string
	if in := c.resume; in != nil {
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
	var quorums []string
	for _, st := range sc.Steps {
		qs, ok := st.Spec.(script.QuorumStep)
		if !ok || qs.StepQuorum() == nil {
			continue
		}
		sq := qs.StepQuorum()
		q := fmt.Sprintf("%s %d of %d (%s)", sq.Role, sq.Threshold, sq.Shares, st.ID)
		if sq.Threshold == 0 {
			q = fmt.Sprintf("%s quorum of the split on record (%s)", sq.Role, st.ID)
		}
		quorums = append(quorums, q)
	}
	if len(quorums) > 0 {
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
