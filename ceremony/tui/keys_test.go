package tui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/devicepki/ceremony/ceremony/outdir"
)

// lastLine is the bottom line of a view, where the help is.
func lastLine(view string) string {
	lines := strings.Split(view, "\n")
	return lines[len(lines)-1]
}

// Every screen's help shows ctrl+c, and ctrl+c does what it says.
func TestHelpShowsCtrlC(t *testing.T) {
	rootScript := func(o *Options) { o.Script = filepath.Join(scriptsDir, "root-key-generation.yaml") }
	cases := []struct {
		name, want string
		make       func(t *testing.T) *Model
	}{
		{"pick", "q/ctrl+c quit", func(t *testing.T) *Model {
			m := newModel(t)
			resize(m, 80, 24)
			return m
		}},
		{"settings", "ctrl+c quit", func(t *testing.T) *Model {
			m := newModel(t, rootScript)
			resize(m, 80, 24)
			return m
		}},
		{"ceremony", "ctrl+c abort", func(t *testing.T) *Model {
			m := newModel(t)
			onStep(t, m, "root-key-generation", "welcome")
			return m
		}},
		{"hand-out", "ctrl+c abort", func(t *testing.T) *Model {
			m := newModel(t)
			info := onStep(t, m, "root-key-generation", "hand-out-activation-shares")
			a := &asker{m: m}
			a.ask(handOutReq(info, fixedShare(), officer(1)))
			return m
		}},
		{"end", "Enter/ctrl+c exit", func(t *testing.T) *Model {
			m := newModel(t)
			onStep(t, m, "root-key-generation", "carry-out")
			m.Update(engineDoneMsg{err: errString("the HSM token was removed")})
			return m
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := c.make(t)
			v := m.View()
			if help := lastLine(v); !strings.Contains(help, c.want) {
				t.Errorf("the help %q does not show %q", help, c.want)
			}
			_, cmd := m.Update(keyCtrlC)
			switch c.name {
			case "ceremony", "hand-out":
				if !strings.Contains(m.cer.abortAsked(), "ctrl+c") || isQuit(cmd) {
					t.Errorf("ctrl+c: abort question %q, quit %v", m.cer.abortAsked(), isQuit(cmd))
				}
			default:
				if !isQuit(cmd) {
					t.Error("ctrl+c does not quit")
				}
			}
		})
	}
}

// A binding that does not apply now is neither shown in the help nor acted
// on.
func TestDisabledBindings(t *testing.T) {
	t.Run("end without QR frames", func(t *testing.T) {
		m := newModel(t)
		onStep(t, m, "root-key-generation", "carry-out")
		m.Update(engineDoneMsg{err: errString("the HSM token was removed")})
		if help := lastLine(m.View()); strings.Contains(help, "QR") {
			t.Errorf("the help offers the QR frames of a failed ceremony: %q", help)
		}
		if _, cmd := m.Update(runes("q")); m.screen != screenEnd || cmd != nil {
			t.Errorf("q on a failed ceremony's summary: screen %v, command %v", m.screen, cmd != nil)
		}
	})
	t.Run("settings toggle", func(t *testing.T) {
		m := newModel(t, func(o *Options) { o.Script = filepath.Join(scriptsDir, "root-key-generation.yaml") })
		resize(m, 80, 24)
		s := m.start
		if help := lastLine(m.View()); !strings.Contains(help, "type to edit") || strings.Contains(help, "toggle") {
			t.Errorf("on the HSM config field the help is %q", help)
		}
		s.focusOn(&s.rehearsalField)
		if help := lastLine(m.View()); strings.Contains(help, "type to edit") || !strings.Contains(help, "space toggle") {
			t.Errorf("on the rehearsal field the help is %q", help)
		}
		was := s.rehearsal
		press(m, keySpace)
		if s.rehearsal == was {
			t.Error("space on the rehearsal field does not toggle it")
		}
		s.focusOn(&s.outDir)
		before := s.outDir.input.String()
		press(m, keySpace)
		if s.rehearsal == was || s.outDir.input.String() != before+" " {
			t.Errorf("space on the output directory: rehearsal %v, directory %q", s.rehearsal, s.outDir.input.String())
		}
		s.focus = len(s.form())
		if help := lastLine(m.View()); strings.Contains(help, "type to edit") || strings.Contains(help, "toggle") {
			t.Errorf("on the start button the help is %q", help)
		}
	})
	t.Run("damaged interrupted ceremony", func(t *testing.T) {
		transcripts := t.TempDir()
		dir := filepath.Join(transcripts, "root-key-generation-20250314T092653Z")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, outdir.TranscriptFile), []byte("not a transcript\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		m := newModel(t, func(o *Options) { o.TranscriptsDir = transcripts })
		resize(m, 80, 24)
		press(m, tea.KeyMsg{Type: tea.KeyEnd}, keyEnter)
		if m.start.phase != phaseResume {
			t.Fatalf("phase %v, want the interrupted ceremony", m.start.phase)
		}
		v := m.View()
		if help := lastLine(v); strings.Contains(help, "run it again") || !strings.Contains(help, "Esc back") {
			t.Errorf("a transcript that cannot be read: the help is %q", help)
		}
		if !strings.Contains(v, "Cannot read its transcript") {
			t.Errorf("the view does not say the transcript cannot be read:\n%s", v)
		}
		press(m, keyEnter)
		if m.start.phase != phaseResume {
			t.Errorf("Enter ran a ceremony whose transcript cannot be read: phase %v", m.start.phase)
		}
	})
	t.Run("exception while aborting", func(t *testing.T) {
		m := newModel(t)
		onStep(t, m, "root-key-generation", "welcome")
		if v := m.View(); !strings.Contains(v, "ctrl+e exception") {
			t.Fatalf("the help does not offer ctrl+e:\n%s", v)
		}
		rec := &cancelRecorder{}
		m.cer.cancel = rec.cancel
		press(m, keyCtrlC, runes("y"))
		if !m.cer.aborting || rec.calls != 1 {
			t.Fatalf("aborting %v, cancel called %d times", m.cer.aborting, rec.calls)
		}
		v := m.View()
		if strings.Contains(v, "ctrl+e") || !strings.Contains(v, "ctrl+c abort") {
			t.Errorf("while aborting the help offers ctrl+e, or not ctrl+c:\n%s", v)
		}
		press(m, keyCtrlE)
		if m.cer.excForm != nil {
			t.Error("ctrl+e opened the exception form while aborting")
		}
	})
}
