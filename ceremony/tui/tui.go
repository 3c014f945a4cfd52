// Package tui is the terminal face of the ceremony engine: a bubbletea
// program that walks the people in the room through a ceremony script. It
// lets them pick a script (or look at an interrupted ceremony and run it
// again), set the HSM config, output directory and inputs, then shows
// every step — the text to read aloud, who acts now, the engine's prompts
// — and at the end a summary and the QR frames to carry out.
//
// The engine runs in its own goroutine and asks through [engine.Face]; the
// TUI sends each question to the event loop and the answer back, so the
// screen never freezes during long HSM operations. Secrets (PINs, shares,
// passphrases) are typed into masked fields and never drawn; a share is
// shown only on its own full-screen hand-out, cleared before the next
// keyholder comes forward. The program runs in the terminal's alternate
// screen, so nothing of it stays in the scrollback.
package tui

import (
	"context"
	"errors"
	"io"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/devicepki/ceremony/ceremony/engine"
)

// Options configures the TUI.
type Options struct {
	// ScriptsDir holds the scripts to choose from (scripts/);
	// TranscriptsDir the ceremony directories, where interrupted ones are
	// looked for and new ones are made by default (transcripts/).
	ScriptsDir, TranscriptsDir string
	// Script, if set, skips the choice: the TUI opens on its settings.
	Script string
	// Defaults for the settings form.
	ConfigPath string
	OutDir     string
	Inputs     map[string]string
	Rehearsal  bool
	// TemplatesDir overrides the templates directory (default: beside
	// the scripts).
	TemplatesDir string
	Tool         engine.ToolInfo
	// Now and Interfaces are passed to the engine (tests set them).
	Now        func() time.Time
	Interfaces func() ([]engine.NetInterface, error)
	// NoColor draws no colours, but bold, faint and reverse video (NO_COLOR
	// is set); Plain draws no styles at all (tests).
	NoColor, Plain bool
}

// Outcome is how the TUI ended.
type Outcome struct {
	// Started is false if the people quit before a ceremony began.
	Started bool
	// Result is the completed ceremony, or Err why it did not complete.
	Result *engine.Result
	Err    error
	Dir    string
	Title  string
}

// New returns the model for opts. ctx is the parent of the ceremony's
// context: cancelling it aborts the ceremony.
func New(ctx context.Context, opts Options, out io.Writer) *Model {
	if opts.ScriptsDir == "" {
		opts.ScriptsDir = "scripts"
	}
	if opts.TranscriptsDir == "" {
		opts.TranscriptsDir = "transcripts"
	}
	m := &Model{opts: opts, parent: ctx, face: &face{}}
	m.now = time.Now
	if opts.Now != nil {
		m.now = opts.Now
	}
	if !opts.Plain {
		m.th = newTheme(lipgloss.NewRenderer(out), opts.NoColor)
	} else {
		m.th = theme{plain: true}
	}
	m.start = newStartModel(opts)
	return m
}

// begin starts the prepared ceremony in its own goroutine.
func (m *Model) begin(msg startCeremonyMsg) tea.Cmd {
	plan := msg.plan
	m.cer = newCeremonyModel(&m.frame, plan.Script(), plan.OutDir(), m.start.rehearsal)
	m.screen = screenCeremony
	m.done, m.end, m.qr = nil, nil, nil
	ctx, cancel := context.WithCancel(m.parent)
	m.cer.cancel = cancel
	f := m.face
	ended := make(chan struct{})
	m.engineEnded = ended
	ran := &engineDoneMsg{}
	m.ran = ran
	return func() tea.Msg {
		defer close(ended)
		res, err := plan.Run(ctx, f)
		*ran = engineDoneMsg{res: res, err: err}
		return *ran
	}
}

// Outcome reports how the TUI ended.
func (m *Model) Outcome() Outcome {
	if m.done == nil {
		return Outcome{}
	}
	return Outcome{Started: true, Result: m.done.res, Err: m.done.err, Dir: m.cer.outDir, Title: m.cer.script.Title}
}

// Run runs the TUI on the terminal in and out, in the alternate screen, and
// returns when the people leave it. Cancelling ctx (SIGTERM) aborts a
// running ceremony, which is recorded.
func Run(ctx context.Context, opts Options, in io.Reader, out io.Writer) (Outcome, error) {
	if termenv.EnvNoColor() { // NO_COLOR set and not empty (or CLICOLOR=0)
		opts.NoColor = true
	}
	m := New(ctx, opts, out)
	// Signals are ctx's (the command's SIGINT/SIGTERM handler): bubbletea's
	// own handler would quit without telling the engine, and the command
	// would report success for an aborted ceremony.
	p := tea.NewProgram(m, tea.WithAltScreen(), tea.WithInput(in), tea.WithOutput(out), tea.WithoutSignalHandler())
	m.face.setSender(p.Send)
	stop := context.AfterFunc(ctx, func() { p.Send(engineStopMsg{}) })
	defer stop()
	final, err := p.Run()
	m.face.close()
	if fm, ok := final.(*Model); ok {
		m = fm
	}
	if m.cer != nil && m.cer.cancel != nil && m.done == nil {
		// The program ended while the engine ran (a kill): stop it and
		// wait for it to record the abort.
		m.cer.cancel()
		<-m.engineEnded
		// What the engine recorded is the outcome, though the screen
		// never showed it.
		m.done = m.ran
	}
	if err != nil {
		if errors.Is(err, tea.ErrProgramPanic) {
			err = errors.New("the TUI failed (a bug; the ceremony, if one ran, was aborted and recorded)")
		}
		return m.Outcome(), err
	}
	return m.Outcome(), nil
}

// engineStopMsg is sent when the parent context ends (SIGTERM).
type engineStopMsg struct{}
