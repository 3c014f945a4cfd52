package qrshow

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	qrcode "github.com/skip2/go-qrcode"
)

// qrRender renders text with go-qrcode at level M in half blocks, as the
// command does.
func qrRender(text string, invert bool) (string, error) {
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		return "", err
	}
	return q.ToSmallString(invert), nil
}

// fakeRenderer draws each frame as a small box naming the frame and colour
// setting, and counts its calls.
type fakeRenderer struct {
	calls map[string]int // "text/invert" → calls
	fail  string         // text to fail on
	lines int            // height of the box; 3 if zero
	width int            // width of the box; 12 if zero
}

func (f *fakeRenderer) render(text string, invert bool) (string, error) {
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[fmt.Sprintf("%s/%v", text, invert)]++
	if text == f.fail {
		return "", errors.New("data too long")
	}
	h, w := f.lines, f.width
	if h == 0 {
		h = 3
	}
	if w == 0 {
		w = 12
	}
	label := fmt.Sprintf("[%s %v]", text, invert)
	var b strings.Builder
	for i := range h {
		l := strings.Repeat("█", w)
		if i == 0 {
			l = label + strings.Repeat("█", max(w-len(label), 0))
		}
		b.WriteString(l + "\n")
	}
	return b.String(), nil
}

func key(s string) tea.KeyMsg {
	switch s {
	case "right":
		return tea.KeyMsg{Type: tea.KeyRight}
	case "left":
		return tea.KeyMsg{Type: tea.KeyLeft}
	case "home":
		return tea.KeyMsg{Type: tea.KeyHome}
	case "end":
		return tea.KeyMsg{Type: tea.KeyEnd}
	case "space":
		return tea.KeyMsg{Type: tea.KeySpace, Runes: []rune{' '}}
	case "esc":
		return tea.KeyMsg{Type: tea.KeyEsc}
	case "ctrl+c":
		return tea.KeyMsg{Type: tea.KeyCtrlC}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)}
}

// newModel returns a sized model (100×40) over frames A, B, C with a fake
// renderer.
func newModel(t *testing.T, opts Options) (Model, *fakeRenderer) {
	t.Helper()
	f := &fakeRenderer{}
	if opts.Frames == nil {
		opts.Frames = []string{"A", "B", "C"}
	}
	if opts.Render == nil {
		opts.Render = f.render
	}
	m, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return update(t, m, tea.WindowSizeMsg{Width: 100, Height: 40}), f
}

// update sends msg to m and returns the new model, ignoring the command.
func update(t *testing.T, m Model, msg tea.Msg) Model {
	t.Helper()
	m2, _ := m.Update(msg)
	return m2.(Model)
}

// updateCmd sends msg to m and returns the new model and command.
func updateCmd(t *testing.T, m Model, msg tea.Msg) (Model, tea.Cmd) {
	t.Helper()
	m2, cmd := m.Update(msg)
	return m2.(Model), cmd
}

// press sends the named keys in turn.
func press(t *testing.T, m Model, keys ...string) Model {
	t.Helper()
	for _, k := range keys {
		m = update(t, m, key(k))
	}
	return m
}

// liveTick returns the tick message that the model's live loop would send.
func liveTick(m Model) tickMsg { return tickMsg{gen: m.gen} }

func TestNewValidates(t *testing.T) {
	f := &fakeRenderer{fail: "BAD"}
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"no frames", Options{Render: f.render}, "no frames"},
		{"no render", Options{Frames: []string{"A"}}, "no render function"},
		{"rate too low", Options{Frames: []string{"A"}, Render: f.render, Rate: 0.2}, "rate 0.2 frames/s is out of range"},
		{"rate too high", Options{Frames: []string{"A"}, Render: f.render, Rate: 11}, "out of range"},
		{"negative rate", Options{Frames: []string{"A"}, Render: f.render, Rate: -1}, "out of range"},
		{"first frame fails", Options{Frames: []string{"BAD", "A"}, Render: f.render}, "render frame 1 of 2: data too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New: got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	m, _ := newModel(t, Options{})
	if m.Rate() != DefaultRate || m.Paused() || m.Inverted() || m.Current() != 0 {
		t.Fatalf("got rate %v paused %v inverted %v frame %d; want 2, cycling, not inverted, frame 0",
			m.Rate(), m.Paused(), m.Inverted(), m.Current())
	}
	if m.Init() == nil {
		t.Fatal("Init returned no tick; a cycling model must start its tick loop")
	}
	m, _ = newModel(t, Options{Paused: true})
	if m.Init() != nil {
		t.Fatal("Init returned a command for a paused model")
	}
}

func TestStartingBeforeSize(t *testing.T) {
	m, err := New(Options{Frames: []string{"A"}, Render: (&fakeRenderer{}).render})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.View(); got != "starting…" {
		t.Fatalf("View before WindowSizeMsg = %q, want %q", got, "starting…")
	}
}

func TestViewLayout(t *testing.T) {
	m, _ := newModel(t, Options{BundleID: "ABCD2345", Title: "root CA bundle"})
	v := m.View()
	lines := strings.Split(v, "\n")
	if len(lines) != 40 {
		t.Fatalf("View has %d lines, want the terminal height 40", len(lines))
	}
	if !strings.Contains(lines[0], "root CA bundle") {
		t.Errorf("top line %q does not hold the title", lines[0])
	}
	wantStatus := "frame 1 of 3 · bundle ABCD2345 · 2.0 frames/s · cycling"
	if got := strings.TrimSpace(lines[38]); got != wantStatus {
		t.Errorf("status line = %q, want %q", got, wantStatus)
	}
	if !strings.Contains(lines[39], "q quit") {
		t.Errorf("help line = %q, want the keys", lines[39])
	}
	// The 12-cell box is centred: (100-12)/2 = 44 spaces before it.
	want := strings.Repeat(" ", 44) + "[A false]"
	found := false
	for _, l := range lines {
		if strings.HasPrefix(l, want) {
			found = true
		}
	}
	if !found {
		t.Errorf("View does not show frame A centred:\n%s", v)
	}
	if strings.Contains(v, "\x1b[") {
		t.Errorf("View contains escape sequences; it must not use colour:\n%q", v)
	}
}

func TestPauseResume(t *testing.T) {
	m, _ := newModel(t, Options{})
	m, cmd := updateCmd(t, m, key("space"))
	if !m.Paused() || cmd != nil {
		t.Fatalf("after space: paused %v, cmd %v; want paused and no command", m.Paused(), cmd)
	}
	if !strings.Contains(m.View(), "· paused") {
		t.Errorf("status does not say paused:\n%s", m.View())
	}
	m, cmd = updateCmd(t, m, key("space"))
	if m.Paused() || cmd == nil {
		t.Fatalf("after second space: paused %v, cmd %v; want cycling with a new tick", m.Paused(), cmd)
	}
	if !strings.Contains(m.View(), "· cycling") {
		t.Errorf("status does not say cycling:\n%s", m.View())
	}
}

func TestTickAdvancesAndWraps(t *testing.T) {
	m, _ := newModel(t, Options{})
	for i, want := range []int{1, 2, 0, 1} {
		var cmd tea.Cmd
		m, cmd = updateCmd(t, m, liveTick(m))
		if m.Current() != want {
			t.Fatalf("tick %d: frame %d, want %d", i+1, m.Current(), want)
		}
		if cmd == nil {
			t.Fatalf("tick %d: no next tick; the loop stopped", i+1)
		}
	}
}

func TestStaleTicksIgnored(t *testing.T) {
	m, _ := newModel(t, Options{})
	first := liveTick(m)

	// Pausing makes the tick in flight stale.
	m = press(t, m, "space")
	m2, cmd := updateCmd(t, m, first)
	if m2.Current() != 0 || cmd != nil {
		t.Fatalf("stale tick while paused: frame %d, cmd %v; want frame 0 and no command", m2.Current(), cmd)
	}

	// Resuming starts one new loop; the old tick stays stale.
	m = press(t, m, "space")
	m2, cmd = updateCmd(t, m, first)
	if m2.Current() != 0 || cmd != nil {
		t.Fatalf("old tick after resume: frame %d, cmd %v; want it ignored", m2.Current(), cmd)
	}
	m, cmd = updateCmd(t, m, liveTick(m))
	if m.Current() != 1 || cmd == nil {
		t.Fatalf("live tick: frame %d, cmd %v; want frame 1 and a next tick", m.Current(), cmd)
	}

	// A rate change restarts the loop.
	before := liveTick(m)
	m, cmd = updateCmd(t, m, key("+"))
	if cmd == nil {
		t.Fatal("rate change while cycling returned no tick")
	}
	m2, cmd = updateCmd(t, m, before)
	if m2.Current() != 1 || cmd != nil {
		t.Fatalf("tick from before the rate change: frame %d, cmd %v; want it ignored", m2.Current(), cmd)
	}

	// Stepping pauses and makes the live tick stale.
	before = liveTick(m)
	m = press(t, m, "right")
	m2, cmd = updateCmd(t, m, before)
	if m2.Current() != 2 || cmd != nil {
		t.Fatalf("tick after a step: frame %d, cmd %v; want frame 2 and no command", m2.Current(), cmd)
	}
}

func TestTickCommandCarriesGeneration(t *testing.T) {
	m, _ := newModel(t, Options{Rate: MaxRate}) // 100 ms
	m, cmd := updateCmd(t, m, key("space"))
	if cmd != nil {
		t.Fatal("pause returned a command")
	}
	m, cmd = updateCmd(t, m, key("space"))
	msg := cmd() // waits one tick interval
	tm, ok := msg.(tickMsg)
	if !ok {
		t.Fatalf("tick command returned %T, want tickMsg", msg)
	}
	if tm.gen != m.gen {
		t.Fatalf("tick carries generation %d, the model is at %d", tm.gen, m.gen)
	}
}

func TestStepWraps(t *testing.T) {
	m, _ := newModel(t, Options{})
	steps := []struct {
		key  string
		want int
	}{
		{"left", 2}, {"left", 1}, {"h", 0}, {"right", 1}, {"l", 2}, {"right", 0},
		{"end", 2}, {"right", 0}, {"G", 2}, {"home", 0}, {"l", 1}, {"g", 0},
	}
	for i, s := range steps {
		var cmd tea.Cmd
		m, cmd = updateCmd(t, m, key(s.key))
		if m.Current() != s.want || !m.Paused() || cmd != nil {
			t.Fatalf("step %d (%s): frame %d paused %v cmd %v; want frame %d, paused, no command",
				i, s.key, m.Current(), m.Paused(), cmd, s.want)
		}
	}
	if !strings.Contains(m.View(), "frame 1 of 3") {
		t.Errorf("View does not show frame 1:\n%s", m.View())
	}
}

func TestSingleFrame(t *testing.T) {
	m, _ := newModel(t, Options{Frames: []string{"ONLY"}})
	m = press(t, m, "right", "left", "right")
	if m.Current() != 0 {
		t.Fatalf("frame %d, want 0", m.Current())
	}
	m = update(t, m, liveTick(press(t, m, "space")))
	if m.Current() != 0 {
		t.Fatalf("frame %d, want 0", m.Current())
	}
}

func TestRateBounds(t *testing.T) {
	m, _ := newModel(t, Options{Paused: true})
	var seen []float64
	for range 15 {
		m = press(t, m, "+")
		seen = append(seen, m.Rate())
	}
	if m.Rate() != MaxRate {
		t.Fatalf("after many '+': rate %v, want %v (seen %v)", m.Rate(), MaxRate, seen)
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] < seen[i-1] {
			t.Fatalf("'+' lowered the rate: %v", seen)
		}
	}
	if !strings.Contains(m.View(), "10.0 frames/s") {
		t.Errorf("status does not show 10.0 frames/s:\n%s", m.View())
	}
	for range 15 {
		m = press(t, m, "-")
	}
	if m.Rate() != MinRate {
		t.Fatalf("after many '-': rate %v, want %v", m.Rate(), MinRate)
	}
	if !strings.Contains(m.View(), "0.5 frames/s") {
		t.Errorf("status does not show 0.5 frames/s:\n%s", m.View())
	}
	// At a bound, a further press changes nothing and starts no loop.
	m = press(t, m, "space")
	if _, cmd := updateCmd(t, m, key("-")); cmd != nil {
		t.Error("'-' at the minimum returned a command")
	}
	// An initial rate between the steps moves to the neighbouring steps.
	m, _ = newModel(t, Options{Rate: 2.5, Paused: true})
	if got := press(t, m, "+").Rate(); got != 3 {
		t.Errorf("2.5 then '+' = %v, want 3", got)
	}
	if got := press(t, m, "-").Rate(); got != 2 {
		t.Errorf("2.5 then '-' = %v, want 2", got)
	}
	if got := press(t, m, "=").Rate(); got != 3 {
		t.Errorf("2.5 then '=' = %v, want 3", got)
	}
}

func TestRenderCachedAndInvert(t *testing.T) {
	m, f := newModel(t, Options{})
	// Two full cycles by ticks, then stepping around: each frame once.
	for range 6 {
		m = update(t, m, liveTick(m))
	}
	m = press(t, m, "right", "right", "left", "home")
	for _, k := range []string{"A/false", "B/false", "C/false"} {
		if f.calls[k] != 1 {
			t.Errorf("Render(%s) called %d times, want once", k, f.calls[k])
		}
	}
	if !strings.Contains(m.View(), "[A false]") {
		t.Fatalf("View does not show frame A:\n%s", m.View())
	}

	m = press(t, m, "i")
	if !m.Inverted() || f.calls["A/true"] != 1 {
		t.Fatalf("after i: inverted %v, Render(A, true) called %d times; want inverted and one call", m.Inverted(), f.calls["A/true"])
	}
	v := m.View()
	if !strings.Contains(v, "[A true]") || !strings.Contains(v, "· inverted") {
		t.Fatalf("View after i does not show the inverted frame:\n%s", v)
	}
	m = press(t, m, "right")
	if f.calls["B/true"] != 1 || !strings.Contains(m.View(), "[B true]") {
		t.Fatalf("stepping while inverted: Render(B, true) called %d times; view:\n%s", f.calls["B/true"], m.View())
	}
	m = press(t, m, "i")
	if m.Inverted() || f.calls["B/false"] != 1 || !strings.Contains(m.View(), "[B false]") {
		t.Fatalf("inverting back re-rendered or showed the wrong frame: calls %v; view:\n%s", f.calls, m.View())
	}
}

func TestInvertWithRealQR(t *testing.T) {
	m, err := New(Options{Frames: []string{"CEREMONY-FRAME-1"}, Render: qrRender, Paused: true})
	if err != nil {
		t.Fatal(err)
	}
	m = update(t, m, tea.WindowSizeMsg{Width: 100, Height: 40})
	plain, _ := qrRender("CEREMONY-FRAME-1", false)
	inv, _ := qrRender("CEREMONY-FRAME-1", true)
	row := strings.Split(plain, "\n")[3]
	irow := strings.Split(inv, "\n")[3]
	if row == irow {
		t.Fatal("test setup: inverted row equals plain row")
	}
	if v := m.View(); !strings.Contains(v, row) || strings.Contains(v, irow) {
		t.Fatalf("View does not show the plain QR:\n%s", v)
	}
	m = press(t, m, "i")
	if v := m.View(); !strings.Contains(v, irow) {
		t.Fatalf("View after i does not show the inverted QR:\n%s", v)
	}
}

func TestRenderErrorShown(t *testing.T) {
	f := &fakeRenderer{fail: "BAD"}
	m, err := New(Options{Frames: []string{"A", "BAD"}, Render: f.render, Paused: true})
	if err != nil {
		t.Fatal(err)
	}
	m = update(t, m, tea.WindowSizeMsg{Width: 80, Height: 24})
	m = press(t, m, "right")
	v := m.View()
	if !strings.Contains(v, "render frame 2 of 2: data too long") || !strings.Contains(v, "frame 2 of 2") {
		t.Fatalf("View does not report the render error:\n%s", v)
	}
	m = press(t, m, "right", "right")
	if m.Current() != 1 {
		t.Fatalf("after two more steps: frame %d, want 1", m.Current())
	}
	if f.calls["BAD/false"] != 1 {
		t.Errorf("failing frame rendered %d times, want once (errors are cached too)", f.calls["BAD/false"])
	}
}

func TestTooSmall(t *testing.T) {
	f := &fakeRenderer{lines: 30, width: 60}
	m, err := New(Options{Frames: []string{"A", "B"}, Render: f.render, Paused: true})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		w, h   int
		fits   bool
		reason string
	}{
		{100, 40, true, "roomy"},
		{60, 32, true, "exact: 30 lines + status + help"},
		{59, 40, false, "one column short"},
		{100, 31, false, "one line short"},
		{40, 10, false, "much too small"},
	}
	for _, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			m := update(t, m, tea.WindowSizeMsg{Width: tt.w, Height: tt.h})
			v := m.View()
			lines := strings.Split(v, "\n")
			if len(lines) > tt.h {
				t.Errorf("View has %d lines, more than the terminal's %d", len(lines), tt.h)
			}
			hasQR := strings.Contains(v, "[A false]")
			if hasQR != tt.fits {
				t.Fatalf("%d×%d: QR shown %v, want %v:\n%s", tt.w, tt.h, hasQR, tt.fits, v)
			}
			if tt.fits {
				return
			}
			flat := strings.Join(strings.Fields(v), " ")
			for _, want := range []string{
				"frame 1 of 2 does not fit",
				"needs 60 columns and 32 lines",
				fmt.Sprintf("has %d columns and %d lines", tt.w, tt.h),
				"enlarge the window, or export with smaller frames (--frame-bytes)",
			} {
				if !strings.Contains(strings.ToLower(flat), strings.ToLower(want)) {
					t.Errorf("message lacks %q:\n%s", want, v)
				}
			}
			for _, l := range lines {
				if w := len([]rune(l)); w > tt.w {
					t.Errorf("line %q is %d wide, wider than the terminal's %d", l, w, tt.w)
				}
			}
		})
	}
}

func TestNarrowHelpAndZeroSize(t *testing.T) {
	m, _ := newModel(t, Options{Paused: true})
	v := update(t, m, tea.WindowSizeMsg{Width: 40, Height: 24}).View()
	lines := strings.Split(v, "\n")
	if got := strings.TrimSpace(lines[len(lines)-1]); got != helpShort {
		t.Errorf("help line at width 40 = %q, want %q", got, helpShort)
	}
	if got := strings.TrimSpace(lines[len(lines)-2]); got != "frame 1 of 3 · 2.0 frames/s · paused" {
		t.Errorf("status line at width 40 = %q", got)
	}
	v = update(t, m, tea.WindowSizeMsg{Width: 20, Height: 24}).View()
	lines = strings.Split(v, "\n")
	if got := lines[len(lines)-2]; !strings.HasPrefix(got, "frame 1 of 3") || !strings.HasSuffix(got, "…") || len([]rune(got)) != 20 {
		t.Errorf("status line at width 20 = %q, want it cut with an ellipsis", got)
	}
	v = update(t, m, tea.WindowSizeMsg{Width: 0, Height: 0}).View()
	if !strings.Contains(v, "no size") || strings.Contains(v, "\n") {
		t.Errorf("View at 0×0 = %q, want one line saying the size is unknown", v)
	}
}

func TestTooSmallWithTitle(t *testing.T) {
	f := &fakeRenderer{lines: 30, width: 60}
	m, err := New(Options{Frames: []string{"A"}, Render: f.render, Title: "T", Paused: true})
	if err != nil {
		t.Fatal(err)
	}
	if v := update(t, m, tea.WindowSizeMsg{Width: 100, Height: 33}).View(); !strings.Contains(v, "[A false]") {
		t.Fatalf("30 lines + title + status + help should fit in 33:\n%s", v)
	}
	v := update(t, m, tea.WindowSizeMsg{Width: 100, Height: 32}).View()
	if !strings.Contains(v, "needs 60 columns and 33 lines") {
		t.Fatalf("message does not count the title line:\n%s", v)
	}
}

func TestQuitKeys(t *testing.T) {
	for _, k := range []string{"q", "esc", "ctrl+c"} {
		t.Run(k, func(t *testing.T) {
			m, _ := newModel(t, Options{})
			m, cmd := updateCmd(t, m, key(k))
			if cmd == nil {
				t.Fatal("no command; want tea.Quit")
			}
			if _, ok := cmd().(tea.QuitMsg); !ok {
				t.Fatal("command does not quit")
			}
			// The tick loop is stopped too.
			if _, cmd := updateCmd(t, m, tickMsg{gen: m.gen - 1}); cmd != nil {
				t.Error("a tick after quitting scheduled another")
			}
		})
	}
}

func TestRunesTogether(t *testing.T) {
	m, _ := newModel(t, Options{})
	m, cmd := updateCmd(t, m, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("++i")})
	if m.Rate() != 4 || !m.Inverted() || m.Paused() {
		t.Fatalf("after \"++i\": rate %v inverted %v paused %v; want 4, inverted, cycling", m.Rate(), m.Inverted(), m.Paused())
	}
	if cmd == nil {
		t.Fatal("rate change while cycling returned no tick")
	}
	m, cmd = updateCmd(t, m, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("lqll")})
	if m.Current() != 1 {
		t.Fatalf("after \"lqll\": frame %d, want 1 (keys after q are dropped)", m.Current())
	}
	if cmd == nil {
		t.Fatal("\"lqll\" returned no command; want tea.Quit")
	}
	if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Fatal("\"lqll\" does not quit")
	}
	m, _ = newModel(t, Options{})
	m, cmd = updateCmd(t, m, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("q"), Paste: true})
	if cmd != nil || m.Paused() {
		t.Fatal("pasted text was taken as keys")
	}
}

func TestOtherMessagesIgnored(t *testing.T) {
	m, _ := newModel(t, Options{Paused: true})
	before := m.View()
	m, cmd := updateCmd(t, m, key("x"))
	if cmd != nil || m.View() != before {
		t.Fatal("an unbound key changed the model")
	}
	m, cmd = updateCmd(t, m, struct{}{})
	if cmd != nil || m.View() != before {
		t.Fatal("an unknown message changed the model")
	}
}

func TestWrap(t *testing.T) {
	got := wrap("one two three four", 9)
	want := []string{"one two", "three", "four"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("wrap = %q, want %q", got, want)
	}
	if got := wrap("abcdefghijkl xy", 5); strings.Join(got, "|") != "abcdefghijkl|xy" {
		t.Fatalf("wrap long word = %q", got)
	}
}
