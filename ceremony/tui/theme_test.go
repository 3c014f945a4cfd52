package tui

import (
	"io"
	"regexp"
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

// env is an environment for termenv: the variables a terminal session has.
type env map[string]string

func (e env) Getenv(k string) string { return e[k] }
func (e env) Environ() []string {
	var out []string
	for k, v := range e {
		out = append(out, k+"="+v)
	}
	return out
}

// The theme's styles as a terminal receives them, for an environment.
func styled(e env, tty, noColor bool) map[string]string {
	r := lipgloss.NewRenderer(io.Discard, termenv.WithTTY(tty), termenv.WithEnvironment(e))
	th := newTheme(r, noColor)
	return map[string]string{
		"title": th.Title("x"), "bold": th.Bold("x"), "faint": th.Faint("x"), "cursor": th.Cursor("x"),
		"good": th.Good("x"), "bad": th.Bad("x"), "warn": th.Warn("x"),
	}
}

// sgr reports whether s sets the SGR attribute code (1 bold, 2 faint, 7
// reverse, 3x a colour), alone or among others.
func sgr(s, code string) bool {
	return regexp.MustCompile(`\x1b\[(?:[0-9]+;)*` + code + `(?:;[0-9]+)*m`).MatchString(s)
}

// colour reports whether s sets a foreground or background colour.
func colour(s string) bool {
	return regexp.MustCompile(`\x1b\[(?:[0-9]+;)*(?:3[0-9]|4[0-9]|9[0-7]|10[0-7])(?:;[0-9]+)*m`).MatchString(s)
}

// NO_COLOR (no-color.org) is about colour only: in a terminal the theme
// keeps bold, faint and reverse video, and draws no colour. termenv alone
// drops every style when NO_COLOR is set.
func TestNoColorKeepsAttributes(t *testing.T) {
	term := env{"TERM": "xterm-256color", "NO_COLOR": "1"}
	got := styled(term, true, true)
	for name, code := range map[string]string{"title": "7", "bold": "1", "faint": "2", "cursor": "7", "bad": "1", "warn": "1"} {
		if !sgr(got[name], code) {
			t.Errorf("NO_COLOR: %s is %q, without its attribute (SGR %s)", name, got[name], code)
		}
	}
	if !sgr(got["title"], "1") {
		t.Errorf("NO_COLOR: the title is %q, not bold", got["title"])
	}
	for name, s := range got {
		if colour(s) {
			t.Errorf("NO_COLOR: %s is %q, with a colour", name, s)
		}
	}

	// Without NO_COLOR the marks have their colours.
	delete(term, "NO_COLOR")
	got = styled(term, true, false)
	for _, name := range []string{"good", "bad", "warn"} {
		if !colour(got[name]) {
			t.Errorf("colours on: %s is %q, without a colour", name, got[name])
		}
	}

	// Output that is not a terminal, or a dumb one, gets no escape codes
	// at all, NO_COLOR or not.
	for _, c := range []struct {
		e   env
		tty bool
	}{{env{"TERM": "xterm-256color", "NO_COLOR": "1"}, false}, {env{"TERM": "dumb", "NO_COLOR": "1"}, true}} {
		for name, s := range styled(c.e, c.tty, true) {
			if strings.Contains(s, "\x1b") {
				t.Errorf("TERM=%s, terminal %v: %s is %q, with an escape code", c.e["TERM"], c.tty, name, s)
			}
		}
	}
}
