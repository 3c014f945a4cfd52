package tui

import (
	"fmt"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

// abortModel is the question "abort the ceremony?", shown over the
// ceremony screen when ctrl+c is pressed or someone refuses.
type abortModel struct {
	*frame
	why string // "ctrl+c", or who refuses ("Olga Officer (officer) refuses")
}

// abortKeys are the answers to the question; they are also its help.
var abortKeys = struct {
	yes, no key.Binding
}{
	yes: bind("y", "abort the ceremony", "y", "Y"),
	no:  bind("n", "go back to the step", "n", "N", "esc"),
}

// abortAnswer is what a key answered to the question.
type abortAnswer int

const (
	abortNone abortAnswer = iota // not an answer: the question stays
	abortYes                     // stop the ceremony
	abortNo                      // go back to the step
)

// Update returns the answer a key gives.
func (a *abortModel) Update(k tea.KeyMsg) abortAnswer {
	switch {
	case key.Matches(k, abortKeys.yes):
		return abortYes
	case key.Matches(k, abortKeys.no):
		return abortNo
	}
	return abortNone
}

// View draws the question under the ceremony's header.
func (a *abortModel) View(header string) string {
	th := a.th
	lines := []string{header, ""}
	why := "Stop the ceremony now?"
	if a.why != "ctrl+c" {
		why = a.why + ". Stop the ceremony?"
	}
	lines = append(lines, indent(th.Bad("ABORT? ")+why, 2, a.width)...)
	lines = append(lines, "")
	lines = append(lines, indent("The transcript records the abort and stays unsealed; keys generated in this ceremony are destroyed and the artifacts it wrote are withdrawn. This cannot be undone.", 2, a.width)...)
	lines = append(lines, "")
	for _, b := range []key.Binding{abortKeys.yes, abortKeys.no} {
		lines = append(lines, fmt.Sprintf("  %s  %s", b.Help().Key, b.Help().Desc))
	}
	return screen(lines, a.width, a.height)
}
