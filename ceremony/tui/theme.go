package tui

import (
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/muesli/termenv"
)

// theme holds the few styles the screens use. A plain theme (a dumb
// terminal, output that is not a terminal, the golden tests) draws only
// text; with NO_COLOR the theme keeps bold, faint and reverse video and
// draws no colour. The bold, reverse and colour are never the only carrier
// of meaning: every mark is also a character (✓, ✗, ▶, !).
type theme struct {
	plain  bool
	title  lipgloss.Style // header bar
	bold   lipgloss.Style // the text read aloud, names
	faint  lipgloss.Style // steps to come, help
	good   lipgloss.Style // done, valid
	bad    lipgloss.Style // errors, bad groups
	warn   lipgloss.Style // rehearsal, look away
	cursor lipgloss.Style // selected list row
}

// newTheme returns the theme for a renderer. noColor (NO_COLOR set) keeps
// bold, faint and reverse video but drops colours.
func newTheme(r *lipgloss.Renderer, noColor bool) theme {
	if r == nil {
		return theme{plain: true}
	}
	if noColor && r.ColorProfile() == termenv.Ascii && r.Output().ColorProfile() != termenv.Ascii {
		// termenv drops every style when NO_COLOR is set, but NO_COLOR
		// (no-color.org) is about colours only: the terminal draws
		// attributes, and the theme sets no colour.
		r.SetColorProfile(termenv.ANSI)
	}
	s := r.NewStyle
	t := theme{
		title:  s().Reverse(true).Bold(true),
		bold:   s().Bold(true),
		faint:  s().Faint(true),
		good:   s(),
		bad:    s().Bold(true),
		warn:   s().Bold(true),
		cursor: s().Reverse(true),
	}
	if !noColor {
		t.good = t.good.Foreground(lipgloss.Color("2"))
		t.bad = t.bad.Foreground(lipgloss.Color("1"))
		t.warn = t.warn.Foreground(lipgloss.Color("3"))
	}
	return t
}

func (t theme) render(st lipgloss.Style, s string) string {
	if t.plain {
		return s
	}
	return st.Render(s)
}

func (t theme) Title(s string) string  { return t.render(t.title, s) }
func (t theme) Bold(s string) string   { return t.render(t.bold, s) }
func (t theme) Faint(s string) string  { return t.render(t.faint, s) }
func (t theme) Good(s string) string   { return t.render(t.good, s) }
func (t theme) Bad(s string) string    { return t.render(t.bad, s) }
func (t theme) Warn(s string) string   { return t.render(t.warn, s) }
func (t theme) Cursor(s string) string { return t.render(t.cursor, s) }

// wrap word-wraps text to width cells and returns its lines; paragraphs
// (separated by "\n") stay apart. Lines break at spaces only (never at the
// hyphens of a path or an option); a word longer than the line is cut.
func wrap(text string, width int) []string {
	if width < 1 {
		width = 1
	}
	var out []string
	for _, para := range strings.Split(text, "\n") {
		lead := para[:len(para)-len(strings.TrimLeft(para, " "))]
		line, lineW := lead, ansi.StringWidth(lead)
		empty := true // nothing but the indentation on the line yet
		for _, word := range strings.Fields(para) {
			pieces := []string{word}
			if ansi.StringWidth(word) > width {
				// Hardwrap is escape-aware: a colour code at the end
				// of the word cannot make this loop forever.
				pieces = strings.Split(ansi.Hardwrap(word, width, true), "\n")
			}
			for _, pc := range pieces {
				pw := ansi.StringWidth(pc)
				if !empty && lineW+1+pw > width {
					out = append(out, line)
					line, lineW, empty = "", 0, true
				}
				if !empty {
					line += " "
					lineW++
				}
				line += pc
				lineW += pw
				empty = false
			}
		}
		out = append(out, line)
	}
	return out
}

// indent wraps text to width-n cells and indents every line by n spaces.
func indent(text string, n, width int) []string {
	lines := wrap(text, width-n)
	pad := strings.Repeat(" ", n)
	for i, l := range lines {
		lines[i] = pad + l
	}
	return lines
}

// fit truncates or pads s to exactly width cells.
func fit(s string, width int) string {
	if width <= 0 {
		return ""
	}
	w := ansi.StringWidth(s)
	if w > width {
		return ansi.Truncate(s, width, "…")
	}
	return s + strings.Repeat(" ", width-w)
}

// cut truncates s to width cells without padding.
func cut(s string, width int) string {
	if ansi.StringWidth(s) > width {
		return ansi.Truncate(s, width, "…")
	}
	return s
}

// screen joins exactly height lines, each cut to width; missing lines are
// blank, extra lines are dropped.
func screen(lines []string, width, height int) string {
	out := make([]string, height)
	for i := range out {
		if i < len(lines) {
			out[i] = cut(lines[i], width)
		}
	}
	return strings.Join(out, "\n")
}
