package tui

import (
	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/x/ansi"
)

// Every screen and prompt keeps its keys as key bindings, each with its
// help: what a key does and what the help line says about it are one
// value. A binding that does not apply now is disabled, so it neither
// matches a key nor shows in the help.

// bind returns a binding of keys, shown in the help as "k desc".
func bind(k, desc string, keys ...string) key.Binding {
	return key.NewBinding(key.WithKeys(keys...), key.WithHelp(k, desc))
}

// typing returns the help of a text field, "what desc": it is bound to no
// key (every printable key types), so it matches none, but it is enabled
// and shows in the help.
func typing(what, desc string) key.Binding {
	return key.NewBinding(key.WithKeys([]string{}...), key.WithHelp(what, desc))
}

// enabled returns b enabled or disabled.
func enabled(b key.Binding, on bool) key.Binding {
	b.SetEnabled(on)
	return b
}

// The keys every list shares: the pickers and the start screen's list.
var (
	listUp     = bind("↑/↓", "move", "up", "k", "shift+tab")
	listDown   = bind("↓", "move", "down", "j", "tab")
	listHome   = bind("Home", "first", "home")
	listEnd    = bind("End", "last", "end")
	listChoose = bind("Enter", "choose", "enter")
)

// listHelp is the help of a list: "↑/↓ move · Enter choose".
func listHelp() []key.Binding { return []key.Binding{listUp, listChoose} }

// The keys of the ceremony screen, besides its prompt's.
var (
	// sayScroll scrolls the text to read aloud, when it does not fit.
	sayUp   = bind("PgUp/PgDn", "step text", "pgup")
	sayDown = bind("PgDn", "step text", "pgdown")
	// exceptionKey opens the form that records an exception.
	exceptionKey = bind("ctrl+e", "exception", "ctrl+e")
	// abortKey asks whether to stop the ceremony; it always works.
	abortKey = bind("ctrl+c", "abort", "ctrl+c")
	// refuseKey refuses at a prompt that can be refused: the ceremony
	// screen then asks whether to stop the ceremony.
	refuseKey = bind("n", "refuse", "n", "N")
)

// helpSep separates the keys of a help line.
const helpSep = " · "

// helpModel draws the help from the bindings: unstyled (the screens fade
// whole help lines), never cut (helpLines breaks them between keys).
var helpModel = help.Model{ShortSeparator: helpSep}

// helpText is the help of the enabled bindings on one line.
func helpText(bindings []key.Binding) string {
	return helpModel.ShortHelpView(bindings)
}

// helpLines lays out the help of the enabled bindings in lines of at most
// width cells, each starting with a space: one line if it fits, else as
// many as it needs, broken between keys, never inside one, so that every
// key stays readable.
func helpLines(bindings []key.Binding, width int) []string {
	var out []string
	var line []key.Binding
	for _, b := range bindings {
		if !b.Enabled() {
			continue
		}
		if len(line) > 0 && ansi.StringWidth(" "+helpText(append(line, b))) > width {
			out = append(out, " "+helpText(line))
			line = nil
		}
		line = append(line, b)
	}
	out = append(out, " "+helpText(line))
	for i, l := range out {
		out[i] = cut(l, width)
	}
	return out
}
