package tui

import (
	"context"
	"errors"
	"fmt"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/devicepki/ceremony/ceremony/engine"
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

// frame is what every screen draws with: the theme, the terminal's size
// and the clock. The root model holds it; the screens share it.
type frame struct {
	th            theme
	width, height int
	now           func() time.Time
}

// engineDoneMsg is sent when the engine's Run returns.
type engineDoneMsg struct {
	res *engine.Result
	err error
}

// Model is the bubbletea model of the ceremony TUI. It routes the messages
// to the screen on view, one model each in its own file: the start screens
// (start.go), the ceremony screen with the engine's prompts (ceremony.go)
// and its abort question (abort.go), the end summary (end.go) and the QR
// view of the carry-out frames (qr.go).
type Model struct {
	frame
	opts   Options
	face   *face
	parent context.Context

	screen screenKind
	start  *startModel
	cer    *ceremonyModel // from the start of a ceremony on
	end    *endModel
	qr     *qrModel

	done        *engineDoneMsg
	engineEnded chan struct{}  // closed when the engine's Run returned
	ran         *engineDoneMsg // what Run returned, once engineEnded is closed
	stopping    bool           // a signal stopped the ceremony: leave when the engine is done
}

// Init implements tea.Model.
func (m *Model) Init() tea.Cmd { return nil }

// Update implements tea.Model: the engine's messages go to the ceremony,
// the keys to the screen on view.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		if m.screen == screenQR {
			return m, m.updateQR(msg)
		}
		return m, nil
	case askMsg:
		if m.cer == nil {
			msg.reply <- reply{err: fmt.Errorf("tui: asked %T before the ceremony began", msg.req)}
			return m, nil
		}
		return m, m.cer.Update(msg)
	case dropAskMsg, reportMsg, spinMsg:
		if m.cer == nil {
			return m, nil
		}
		return m, m.cer.Update(msg)
	case engineDoneMsg:
		m.onDone(msg)
		if m.stopping {
			return m, tea.Quit
		}
		return m, nil
	case engineStopMsg:
		if m.screen != screenCeremony {
			return m, tea.Quit
		}
		m.stopping = true
		m.cer.stop()
		return m, nil
	case startCeremonyMsg:
		return m, m.begin(msg)
	case tea.KeyMsg:
		return m, m.onKey(msg)
	}
	if m.screen == screenQR {
		return m, m.updateQR(msg)
	}
	return m, nil
}

// onKey hands a key to the screen on view.
func (m *Model) onKey(k tea.KeyMsg) tea.Cmd {
	switch m.screen {
	case screenStart:
		return m.start.key(m, k)
	case screenQR:
		return m.updateQR(k)
	case screenEnd:
		cmd, showQR := m.end.Update(k)
		if showQR {
			return m.showQR()
		}
		return cmd
	}
	return m.cer.Update(k)
}

// showQR shows the carry-out QR frames full-screen, as large as the
// terminal shows them whole.
func (m *Model) showQR() tea.Cmd {
	q := newQRModel(&m.frame, m.done.res, m.cer.script.Title)
	if q == nil {
		return nil
	}
	m.qr, m.screen = q, screenQR
	return m.updateQR(tea.WindowSizeMsg{Width: m.width, Height: m.height})
}

// updateQR hands msg to the QR view; it goes back to the summary when the
// view is done.
func (m *Model) updateQR(msg tea.Msg) tea.Cmd {
	cmd, back := m.qr.Update(msg)
	if back {
		m.qr, m.screen = nil, screenEnd
		return nil
	}
	return cmd
}

// onDone shows the end of the ceremony.
func (m *Model) onDone(d engineDoneMsg) {
	var se *engine.StepError
	if d.err != nil && m.cer.cur < 0 && !errors.As(d.err, &se) {
		// Nothing started (the token or the directory could not be
		// opened): back to the settings, with the problem.
		m.cer.finish(false)
		m.screen = screenStart
		m.start.problem = d.err.Error()
		m.start.phase = phaseSettings
		return
	}
	m.cer.finish(d.err != nil)
	m.done = &d
	m.end = &endModel{frame: &m.frame, title: m.cer.script.Title, outDir: m.cer.outDir, done: d}
	m.screen = screenEnd
}

// View implements tea.Model.
func (m *Model) View() string {
	if m.width == 0 {
		return "starting…"
	}
	if m.screen == screenQR {
		return m.qr.View()
	}
	if m.width < MinWidth || m.height < MinHeight {
		msg := fmt.Sprintf("This terminal is %d×%d. Enlarge it to at least %d×%d to continue.", m.width, m.height, MinWidth, MinHeight)
		if m.screen == screenCeremony && m.cer.prompt != nil {
			msg += " (Nothing secret is shown meanwhile.)"
		}
		return screen(wrap(msg, m.width), m.width, m.height)
	}
	switch m.screen {
	case screenStart:
		return m.start.view(m)
	case screenEnd:
		return m.end.View()
	}
	return m.cer.View()
}
