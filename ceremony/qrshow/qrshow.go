// Package qrshow shows a sequence of QR codes ("frames") full-screen in a
// terminal, one at a time, so that a phone or camera on the other side of the
// air gap can scan them in any order.
//
// It is a bubbletea model: [Run] drives it as the whole program for
// "ceremony qr show", and the ceremony TUI embeds the same [Model]. Frames
// cycle at an adjustable rate; keys pause, step, change the rate and invert
// the colours. The package does not encode QR codes itself: the caller
// injects a render function ([Options.Render]), and the package only caches
// and lays out its output. It never emits colour or other styling, so it
// honours NO_COLOR by construction.
//
// It is not a scanner and does not split artifacts into frames; that is the
// exporter's job.
package qrshow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
)

// Frame rates, in frames per second.
const (
	// DefaultRate is the rate used when Options.Rate is zero.
	DefaultRate = 2.0
	// MinRate is the slowest rate the keys (and Options.Rate) allow.
	MinRate = 0.5
	// MaxRate is the fastest rate the keys (and Options.Rate) allow.
	MaxRate = 10.0
)

// rateSteps are the rates that '+' and '-' move between.
var rateSteps = []float64{0.5, 1, 1.5, 2, 3, 4, 5, 6, 8, 10}

// helpLine lists the keys; it is shown under the status line. helpShort
// replaces it in a narrow terminal.
const (
	helpLine  = "space pause/resume · ←/→ step · +/- rate · i invert · g first · q quit"
	helpShort = "keys: space ←/→ +/- i g q"
)

// RenderFunc returns the QR code of text as terminal text, one line per row
// of characters (a trailing newline is allowed). invert swaps dark and light:
// false suits light text on a dark background.
type RenderFunc func(text string, invert bool) (string, error)

// Options configures a [Model].
type Options struct {
	// Frames are the frame texts, in order. At least one is required.
	Frames []string
	// BundleID names the bundle the frames belong to; it is shown in the
	// status line when not empty.
	BundleID string
	// Render draws a frame's QR code as terminal text. It is required, and
	// is called at most once per frame and colour setting.
	Render RenderFunc
	// Rate is the cycling speed in frames per second, from MinRate to
	// MaxRate; zero means DefaultRate.
	Rate float64
	// Invert starts with dark and light swapped (for light backgrounds).
	Invert bool
	// Title, when not empty, is shown centred on the top line.
	Title string
	// Paused starts the display paused on the first frame instead of
	// cycling.
	Paused bool
	// Embedded is set when the model is part of a larger program (the
	// ceremony TUI): a quit key then sends [DoneMsg] instead of ending the
	// program.
	Embedded bool
}

// DoneMsg is sent by an embedded model when the user quits the display.
type DoneMsg struct{}

// tickMsg advances the display by one frame. gen is the generation of the
// tick loop that sent it: a tick whose gen is not the model's current one is
// stale (the loop was stopped by a pause, step or rate change) and is
// ignored, so at most one tick loop is ever live.
type tickMsg struct {
	gen int
}

// rendered is one frame's QR code, rendered once.
type rendered struct {
	lines []string // without trailing newline
	width int      // widest line, in terminal cells
	err   error
}

// cache holds rendered frames, indexed by [invert][frame]. It is shared by
// copies of a Model; an entry depends only on its frame text and colour
// setting, so any copy may fill it.
type cache struct {
	frames [2][]*rendered
}

// Model is the bubbletea model that shows the frames. Create it with [New];
// the zero value is not usable.
type Model struct {
	frames []string
	bundle string
	title  string
	render RenderFunc
	cache  *cache

	cur    int     // index of the frame on screen
	rate   float64 // frames per second
	paused bool
	invert bool
	gen    int // generation of the live tick loop

	quit          bool // a quit key was pressed
	embedded      bool
	sized         bool // a WindowSizeMsg has arrived
	width, height int
}

// New checks opts and returns a model showing the first frame. It renders the
// first frame straight away, so a failing render function is reported here.
func New(opts Options) (Model, error) {
	if len(opts.Frames) == 0 {
		return Model{}, errors.New("qr show: no frames to show")
	}
	if opts.Render == nil {
		return Model{}, errors.New("qr show: no render function")
	}
	rate := opts.Rate
	if rate == 0 {
		rate = DefaultRate
	}
	if math.IsNaN(rate) || rate < MinRate || rate > MaxRate {
		return Model{}, fmt.Errorf("qr show: rate %g frames/s is out of range; use %g to %g", opts.Rate, MinRate, MaxRate)
	}
	c := &cache{}
	for i := range c.frames {
		c.frames[i] = make([]*rendered, len(opts.Frames))
	}
	m := Model{
		frames:   opts.Frames,
		bundle:   opts.BundleID,
		title:    opts.Title,
		render:   opts.Render,
		cache:    c,
		rate:     rate,
		paused:   opts.Paused,
		invert:   opts.Invert,
		embedded: opts.Embedded,
	}
	if r := m.ensure(); r.err != nil {
		return Model{}, fmt.Errorf("qr show: %w", r.err)
	}
	return m, nil
}

// Run shows the frames described by opts in the terminal's alternate screen,
// reading keys from in and drawing to out, and returns when the user quits
// or ctx is cancelled (then the error wraps ctx.Err()).
func Run(ctx context.Context, opts Options, in io.Reader, out io.Writer) error {
	m, err := New(opts)
	if err != nil {
		return err
	}
	p := tea.NewProgram(m,
		tea.WithAltScreen(),
		tea.WithInput(in),
		tea.WithOutput(out),
		tea.WithContext(ctx),
	)
	if _, err := p.Run(); err != nil {
		return fmt.Errorf("qr show: %w", err)
	}
	return nil
}

// Current returns the index into Options.Frames of the frame on screen.
func (m Model) Current() int { return m.cur }

// Paused reports whether cycling is paused.
func (m Model) Paused() bool { return m.paused }

// Rate returns the cycling speed in frames per second.
func (m Model) Rate() float64 { return m.rate }

// Inverted reports whether dark and light are swapped.
func (m Model) Inverted() bool { return m.invert }

// Init starts cycling unless the model starts paused.
func (m Model) Init() tea.Cmd {
	if m.paused {
		return nil
	}
	return m.tick()
}

// Update handles keys, window sizes and ticks.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.sized = true
		m.width, m.height = msg.Width, msg.Height
		return m, nil
	case tickMsg:
		if msg.gen != m.gen || m.paused {
			return m, nil // stale: its loop was stopped
		}
		m.show(m.cur + 1)
		return m, m.tick()
	case tea.KeyMsg:
		return m.key(msg)
	}
	return m, nil
}

// key handles a key message. Runes typed quickly can arrive together in one
// message ("++"); each is handled as its own key press. Pasted text is
// ignored.
func (m Model) key(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	if msg.Paste {
		return m, nil
	}
	if msg.Type != tea.KeyRunes || len(msg.Runes) <= 1 {
		return m.press(msg.String())
	}
	var cmds []tea.Cmd
	for _, r := range msg.Runes {
		next, cmd := m.press(string(r))
		m = next.(Model)
		cmds = append(cmds, cmd)
		if m.quit {
			break
		}
	}
	return m, tea.Batch(cmds...)
}

// press handles one key, named as tea.Key.String names it.
func (m Model) press(k string) (tea.Model, tea.Cmd) {
	switch k {
	case "q", "esc", "ctrl+c":
		m.stop()
		m.quit = true
		if m.embedded {
			return m, func() tea.Msg { return DoneMsg{} }
		}
		return m, tea.Quit
	case " ":
		if m.paused {
			m.paused = false
			m.gen++
			return m, m.tick()
		}
		m.stop()
	case "right", "l":
		m.stop()
		m.show(m.cur + 1)
	case "left", "h":
		m.stop()
		m.show(m.cur - 1)
	case "home", "g":
		m.stop()
		m.show(0)
	case "end", "G":
		m.stop()
		m.show(len(m.frames) - 1)
	case "+", "=":
		return m.setRate(nextRate(m.rate, +1))
	case "-", "_":
		return m.setRate(nextRate(m.rate, -1))
	case "i":
		m.invert = !m.invert
		m.ensure()
	}
	return m, nil
}

// stop pauses cycling and makes any tick in flight stale.
func (m *Model) stop() {
	m.paused = true
	m.gen++
}

// setRate changes the rate; when cycling, it restarts the tick loop so the
// new rate takes effect at once.
func (m Model) setRate(rate float64) (tea.Model, tea.Cmd) {
	if rate == m.rate {
		return m, nil
	}
	m.rate = rate
	if m.paused {
		return m, nil
	}
	m.gen++
	return m, m.tick()
}

// nextRate returns the next rate step above (dir > 0) or below (dir < 0)
// rate, staying at the bounds.
func nextRate(rate float64, dir int) float64 {
	if dir > 0 {
		for _, r := range rateSteps {
			if r > rate {
				return r
			}
		}
		return MaxRate
	}
	for i := len(rateSteps) - 1; i >= 0; i-- {
		if rateSteps[i] < rate {
			return rateSteps[i]
		}
	}
	return MinRate
}

// tick schedules the next frame for the current generation.
func (m Model) tick() tea.Cmd {
	gen := m.gen
	d := time.Duration(float64(time.Second) / m.rate)
	return tea.Tick(d, func(time.Time) tea.Msg { return tickMsg{gen: gen} })
}

// show moves to frame i, wrapping around both ways, and renders it if
// needed.
func (m *Model) show(i int) {
	n := len(m.frames)
	m.cur = ((i % n) + n) % n
	m.ensure()
}

// ensure renders the current frame in the current colours unless it is
// already cached, and returns it.
func (m *Model) ensure() *rendered {
	slot := &m.cache.frames[boolIndex(m.invert)][m.cur]
	if *slot == nil {
		*slot = renderFrame(m.render, m.frames[m.cur], m.invert, m.cur, len(m.frames))
	}
	return *slot
}

// renderFrame renders frame i (of n) and measures it.
func renderFrame(render RenderFunc, text string, invert bool, i, n int) *rendered {
	s, err := render(text, invert)
	if err != nil {
		return &rendered{err: fmt.Errorf("render frame %d of %d: %w", i+1, n, err)}
	}
	s = strings.TrimRight(s, "\r\n")
	if s == "" {
		return &rendered{err: fmt.Errorf("render frame %d of %d: the render function returned nothing", i+1, n)}
	}
	lines := strings.Split(s, "\n")
	w := 0
	for j, l := range lines {
		l = strings.TrimSuffix(l, "\r")
		lines[j] = l
		w = max(w, ansi.StringWidth(l))
	}
	return &rendered{lines: lines, width: w}
}

func boolIndex(b bool) int {
	if b {
		return 1
	}
	return 0
}

// View draws the screen: the title (if any), the current QR code centred,
// then the status and help lines at the bottom. If the code does not fit, a
// message saying what it needs replaces it.
func (m Model) View() string {
	if !m.sized {
		return "starting…"
	}
	if m.width <= 0 || m.height <= 0 {
		return "cannot show QR codes: the terminal reports no size (is the output a terminal?)"
	}
	var top []string
	if m.title != "" {
		top = append(top, center(m.title, m.width))
	}
	help := helpLine
	if ansi.StringWidth(help) > m.width {
		help = helpShort
	}
	bottom := []string{center(m.status(), m.width), center(help, m.width)}
	room := m.height - len(top) - len(bottom) // lines left for the code

	r := m.cache.frames[boolIndex(m.invert)][m.cur]
	var body []string
	switch {
	case r == nil: // not reached: Update renders every frame it shows
		body = []string{center("rendering…", m.width)}
	case r.err != nil:
		body = m.message(r.err.Error())
	case r.width > m.width || len(r.lines) > room:
		body = m.message(fmt.Sprintf(
			"frame %d of %d does not fit: it needs %d columns and %d lines, the terminal has %d columns and %d lines. "+
				"Enlarge the window, or export with smaller frames (--frame-bytes).",
			m.cur+1, len(m.frames), r.width, len(r.lines)+len(top)+len(bottom), m.width, m.height))
	default:
		pad := strings.Repeat(" ", (m.width-r.width)/2)
		body = make([]string, len(r.lines))
		for i, l := range r.lines {
			body[i] = pad + l
		}
	}
	return strings.Join(layout(top, body, bottom, m.height), "\n")
}

// status returns the status line.
func (m Model) status() string {
	parts := []string{fmt.Sprintf("frame %d of %d", m.cur+1, len(m.frames))}
	if m.bundle != "" {
		parts = append(parts, "bundle "+m.bundle)
	}
	parts = append(parts, fmt.Sprintf("%.1f frames/s", m.rate))
	if m.paused {
		parts = append(parts, "paused")
	} else {
		parts = append(parts, "cycling")
	}
	if m.invert {
		parts = append(parts, "inverted")
	}
	return strings.Join(parts, " · ")
}

// message returns text wrapped to the terminal width, each line centred.
func (m Model) message(text string) []string {
	lines := wrap(text, m.width)
	for i, l := range lines {
		lines[i] = center(l, m.width)
	}
	return lines
}

// layout stacks top, body and bottom into exactly height lines, with the
// body centred vertically in the space between. When they do not all fit,
// the body wins: the title goes first, then the help and status lines, then
// the body is cut.
func layout(top, body, bottom []string, height int) []string {
	if height <= 0 {
		return body
	}
	for len(top)+len(body)+len(bottom) > height && len(top) > 0 {
		top = top[:len(top)-1]
	}
	for len(top)+len(body)+len(bottom) > height && len(bottom) > 0 {
		bottom = bottom[:len(bottom)-1]
	}
	if len(body) > height {
		body = body[:height]
	}
	spare := height - len(top) - len(body) - len(bottom)
	out := make([]string, 0, height)
	out = append(out, top...)
	for range spare / 2 {
		out = append(out, "")
	}
	out = append(out, body...)
	for range spare - spare/2 {
		out = append(out, "")
	}
	return append(out, bottom...)
}

// center pads s on the left to centre it in width cells; a line wider than
// width is cut to fit, ending in "…".
func center(s string, width int) string {
	w := ansi.StringWidth(s)
	if w > width {
		return ansi.Truncate(s, max(width, 1), "…")
	}
	return strings.Repeat(" ", (width-w)/2) + s
}

// wrap breaks text into lines of at most width cells at spaces; a word
// longer than width gets a line of its own.
func wrap(text string, width int) []string {
	width = max(width, 1)
	var lines []string
	var cur string
	for _, word := range strings.Fields(text) {
		switch {
		case cur == "":
			cur = word
		case ansi.StringWidth(cur)+1+ansi.StringWidth(word) <= width:
			cur += " " + word
		default:
			lines = append(lines, cur)
			cur = word
		}
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	return lines
}
