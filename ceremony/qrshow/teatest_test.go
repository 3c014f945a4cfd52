package qrshow

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/teatest"
)

// TestProgramStepAndQuit runs the model as a program: it shows frame 1, steps
// to frame 2 with →, and quits with q.
func TestProgramStepAndQuit(t *testing.T) {
	frames := []string{"CEREMONY-FRAME-1", "CEREMONY-FRAME-2", "CEREMONY-FRAME-3"}
	m, err := New(Options{Frames: frames, BundleID: "ABCD2345", Render: qrRender, Paused: true})
	if err != nil {
		t.Fatal(err)
	}
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(100, 40))
	wait := func(s string) {
		t.Helper()
		teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
			return bytes.Contains(b, []byte(s))
		}, teatest.WithDuration(10*time.Second), teatest.WithCheckInterval(20*time.Millisecond))
	}
	wait("frame 1 of 3 · bundle ABCD2345 · 2.0 frames/s · paused")
	tm.Send(tea.KeyMsg{Type: tea.KeyRight})
	wait("frame 2 of 3 · bundle ABCD2345 · 2.0 frames/s · paused")
	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("q")})

	fm, ok := tm.FinalModel(t, teatest.WithFinalTimeout(10*time.Second)).(Model)
	if !ok {
		t.Fatalf("final model is %T, want Model", fm)
	}
	if fm.Current() != 1 || !fm.Paused() {
		t.Fatalf("final model: frame index %d, paused %v; want 1, paused", fm.Current(), fm.Paused())
	}
	want, err := qrRender(frames[1], false)
	if err != nil {
		t.Fatal(err)
	}
	v := fm.View()
	for _, l := range strings.Split(strings.TrimRight(want, "\n"), "\n") {
		if !strings.Contains(v, l) {
			t.Fatalf("final view does not show frame 2's QR; missing line %q in:\n%s", l, v)
		}
	}
}

// TestRunCancelled checks that Run returns when its context is cancelled and
// reports why.
func TestRunCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	in, inw := io.Pipe()
	defer inw.Close()
	err := Run(ctx, Options{Frames: []string{"CEREMONY-FRAME-1"}, Render: qrRender}, in, io.Discard)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run with a cancelled context: %v, want context.Canceled", err)
	}
}

// TestRunQuits checks that Run returns nil when the user presses q.
func TestRunQuits(t *testing.T) {
	err := Run(context.Background(), Options{Frames: []string{"CEREMONY-FRAME-1"}, Render: qrRender}, strings.NewReader("q"), io.Discard)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// TestRunRejectsBadOptions checks that Run reports invalid options before
// touching the terminal.
func TestRunRejectsBadOptions(t *testing.T) {
	var out bytes.Buffer
	err := Run(context.Background(), Options{Render: qrRender}, strings.NewReader(""), &out)
	if err == nil || !strings.Contains(err.Error(), "no frames") {
		t.Fatalf("Run: %v, want a no-frames error", err)
	}
	if out.Len() != 0 {
		t.Fatalf("Run wrote %q before failing", out.String())
	}
}
