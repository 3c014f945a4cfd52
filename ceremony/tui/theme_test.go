package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/muesli/termenv"
)

// wrap terminates and keeps every line within the width, also for words
// longer than a line that carry colour codes (a styled hash), which once
// made it loop forever.
func TestWrapStyledLongWords(t *testing.T) {
	r := lipgloss.NewRenderer(nil)
	r.SetColorProfile(termenv.ANSI)
	th := newTheme(r, false)
	long := th.Bad(strings.Repeat("ab12", 20)) + " and " + th.Good("--root") + " " + strings.Repeat("x", 30)
	done := make(chan []string, 1)
	go func() { done <- wrap("lead "+long+" end", 17) }()
	select {
	case lines := <-done:
		for _, l := range lines {
			if w := ansi.StringWidth(l); w > 17 {
				t.Errorf("line %q is %d cells wide", l, w)
			}
		}
		if got := ansi.Strip(strings.Join(lines, "")); !strings.Contains(got, "--root") {
			t.Errorf("--root was split: %q", lines)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("wrap did not return")
	}
}
