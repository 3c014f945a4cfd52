package tui

import (
	"fmt"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/devicepki/ceremony/ceremony/engine"
	"github.com/devicepki/ceremony/ceremony/qrframe"
	"github.com/devicepki/ceremony/ceremony/qrimage"
	"github.com/devicepki/ceremony/ceremony/qrshow"
)

// qrModel is the QR view of the carry-out frames, full-screen: the qrshow
// model (nil while no frame fits the terminal), the generation of its
// commands (the view is built again when a resize changes the frames), the
// frames it shows, and the exported bundle to cut them from.
type qrModel struct {
	*frame
	exp    *engine.QRExport
	title  string // the script's
	view   *qrshow.Model
	gen    int
	frames qrChoice
	packed []byte
}

// qrBackKey leaves the message that no frame fits (the QR view has its
// own keys).
var qrBackKey = bind("q", "back", "q", "esc", "ctrl+c")

// newQRModel returns the QR view of the frames res exported, or nil if it
// exported none. Its Update sizes it.
func newQRModel(fr *frame, res *engine.Result, title string) *qrModel {
	if res == nil || res.QR == nil || len(res.QR.Frames) == 0 {
		return nil
	}
	q := &qrModel{frame: fr, exp: res.QR, title: title}
	// The frames join into the bundle, which can be cut again into
	// frames that fit the terminal (a scanner takes any cut of it).
	a := qrframe.NewAssembler(res.QR.Bundle)
	for i, f := range res.QR.Frames {
		a.Add(f, fmt.Sprintf("frame %d", i+1))
	}
	if _, packed, err := a.Result(); err == nil {
		q.packed = packed
	}
	return q
}

// qrMsg is a message of a QR view's command, with the view's generation.
type qrMsg struct {
	gen int
	msg tea.Msg
}

// Update handles a message of the QR screen: a new size fits the view
// again, the view's own messages and keys go to it. back is true when
// the people leave the view (or it cannot be drawn).
func (q *qrModel) Update(msg tea.Msg) (cmd tea.Cmd, back bool) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		return q.fit()
	case qrMsg:
		if msg.gen != q.gen {
			return nil, false // a tick of a QR view since rebuilt
		}
		return q.Update(msg.msg)
	case qrshow.DoneMsg:
		return nil, true
	case tea.KeyMsg:
		if q.view == nil { // no frame fits: the message says so
			return nil, key.Matches(msg, qrBackKey)
		}
	}
	if q.view == nil {
		return nil, false
	}
	return q.update(msg), false
}

// update hands msg to the qrshow view.
func (q *qrModel) update(msg tea.Msg) tea.Cmd {
	v, cmd := q.view.Update(msg)
	qm := v.(qrshow.Model)
	q.view = &qm
	return q.tag(cmd)
}

// tag tags the messages of a QR view's command with its generation, so
// that the ticks of a view replaced on resize do not drive the new one.
func (q *qrModel) tag(cmd tea.Cmd) tea.Cmd {
	if cmd == nil {
		return nil
	}
	gen := q.gen
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

// choose picks the frames to show in a cols×rows terminal: the exported
// ones if each fits with its quiet zone and the view's captions, else
// the bundle cut again into the largest frames that fit, at the export's
// error correction or else at L (a screen is not smudged). ok is false if
// no frame fits.
func (q *qrModel) choose(cols, rows int) (c qrChoice, ok bool) {
	exp := q.exp
	level := exp.Level
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
	exported := qrChoice{exported: true, level: level, frames: exp.Frames}
	if fits(exp.Frames, level) {
		return exported, true
	}
	if q.packed == nil {
		return exported, false
	}
	for _, lvl := range []qrimage.Level{level, qrimage.Low} {
		chars := qrimage.FitChars(lvl, cols, rows)
		for n := qrframe.MaxFrameBytes; n >= qrframe.MinFrameBytes; n-- {
			total := (len(q.packed) + n - 1) / n
			if total > qrframe.MaxFrames {
				break
			}
			if qrframe.TextLen(n, total) > chars {
				continue
			}
			fs, err := qrframe.Split(q.packed, n)
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

// fit (re)builds the QR view for the terminal's size when the frames
// that fit it changed, keeping the rate, pause and colours. back is true
// if a frame cannot be drawn: back to the summary.
func (q *qrModel) fit() (cmd tea.Cmd, back bool) {
	c, ok := q.choose(q.width, q.height)
	if !ok {
		q.view, q.frames = nil, qrChoice{}
		q.gen++
		return nil, false
	}
	size := tea.WindowSizeMsg{Width: q.width, Height: q.height}
	if q.view != nil && c.same(q.frames) {
		return q.update(size), false
	}
	opts := qrshow.Options{Frames: c.frames, BundleID: q.exp.Bundle, Rate: 1, Embedded: true,
		Title: q.title + " · carry out"}
	if !c.exported {
		opts.Title += " (frames cut to fit this screen)"
	}
	if q.view != nil {
		opts.Rate, opts.Invert, opts.Paused = q.view.Rate(), q.view.Inverted(), q.view.Paused()
	}
	level := c.level
	opts.Render = func(text string, invert bool) (string, error) {
		s, _, _, err := qrimage.Terminal(text, level, !invert)
		return s, err
	}
	qm, err := qrshow.New(opts)
	q.gen++
	if err != nil {
		q.view, q.frames = nil, qrChoice{}
		return nil, true
	}
	q.view, q.frames = &qm, c
	q.update(size)
	return q.tag(q.view.Init()), false
}

// View draws the QR view, or says that no frame fits the terminal.
func (q *qrModel) View() string {
	if q.view != nil {
		return q.view.View()
	}
	// The shortest frame text there can be for this bundle, at L.
	need := 0
	for _, f := range q.exp.Frames {
		need = max(need, len(f))
	}
	if q.packed != nil {
		n := qrframe.MinFrameBytes
		need = qrframe.TextLen(n, (len(q.packed)+n-1)/n)
	}
	cols, rows := 0, 0
	for cols < 1000 && qrimage.FitChars(qrimage.Low, cols, 1000) < need {
		cols++
	}
	for rows < 1000 && qrimage.FitChars(qrimage.Low, 1000, rows) < need {
		rows++
	}
	msg := fmt.Sprintf("The QR frames do not fit this terminal (%d×%d): the smallest need %d columns and %d lines with their captions. Enlarge the terminal, or print qr/sheet.html of the ceremony directory. %s goes back.",
		q.width, q.height, cols, rows+qrChrome, qrBackKey.Help().Key)
	return screen(wrap(msg, q.width), q.width, q.height)
}
