package tui

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/devicepki/ceremony/ceremony/engine"
	"github.com/devicepki/ceremony/ceremony/record"
	"github.com/devicepki/ceremony/ceremony/transcript"
	"github.com/devicepki/ceremony/ceremony/words"
)

// endModel is the summary at the end of the ceremony: what it made and
// what to carry out, or why it failed.
type endModel struct {
	*frame
	title  string // the script's
	outDir string
	done   engineDoneMsg
}

// endKeys are the keys of the summary: q shows the QR frames (when the
// ceremony exported some), Enter (or ctrl+c) leaves.
var endKeys = struct {
	qr, exit key.Binding
}{
	qr:   bind("q", "show the QR frames", "q"),
	exit: bind("Enter/ctrl+c", "exit", "enter", "x", "esc", "ctrl+c"),
}

// hasQR reports whether the ceremony exported QR frames.
func (e *endModel) hasQR() bool {
	d := e.done
	return d.err == nil && d.res != nil && d.res.QR != nil && len(d.res.QR.Frames) > 0
}

func (e *endModel) keys() []key.Binding {
	return []key.Binding{enabled(endKeys.qr, e.hasQR()), endKeys.exit}
}

// Update handles a key: showQR is true when the QR frames are asked for.
func (e *endModel) Update(k tea.KeyMsg) (cmd tea.Cmd, showQR bool) {
	switch {
	case key.Matches(k, enabled(endKeys.qr, e.hasQR())):
		return nil, true
	case key.Matches(k, endKeys.exit):
		return tea.Quit, false
	}
	return nil, false
}

// View draws the summary at the end of the ceremony.
func (e *endModel) View() string {
	th, w := e.th, e.width
	d := e.done
	var lines []string
	if d.err == nil {
		res := d.res
		lines = append(lines, th.Title(fit(" CEREMONY COMPLETE · "+e.title, w)), "")
		lines = append(lines, indent(fmt.Sprintf("Transcript sealed: %s (%d events)", res.Transcript, res.Events), 1, w)...)
		lines = append(lines, " Final digest (SHA-256 of the last event), to read aloud:")
		lines = append(lines, indent(record.GroupHex(res.Head), 3, w)...)
		if ws, err := words.FromHex(res.Head); err == nil {
			lines = append(lines, indent(strings.Join(ws, " "), 3, w)...)
		}
		// The certificates' fingerprints, as the paper record and
		// openssl print them (the other artifacts are in the record).
		for _, a := range res.Artifacts {
			if fp := res.Fingerprints[a.Path]; fp != "" {
				lines = append(lines, cut(" Certificate SHA-256 (fingerprint) of "+a.Path+":", w))
				// Two lines of 16 bytes each, never broken inside a byte.
				if c := record.ColonHex(fp); len(c) == 95 {
					lines = append(lines, cut("   "+c[:48], w), cut("   "+c[48:], w))
				} else {
					lines = append(lines, indent(c, 3, w)...)
				}
			}
		}
		lines = append(lines, " Carry out:")
		if res.QR != nil {
			lines = append(lines, indent(fmt.Sprintf("QR bundle %s: %d frames in qr/; q shows them here, or print qr/sheet.html.", res.QR.Bundle, len(res.QR.Frames)), 3, w)...)
			lines = append(lines, indent("Bundle SHA-256 as words, as on the sheet and at import: "+strings.Join(res.QR.Words, " "), 3, w)...)
		}
		lines = append(lines, indent("Or the directory on removable media, without *.backup (it stays here).", 3, w)...)
		lines = append(lines, indent("Print transcript.pdf (every page); every participant signs it.", 3, w)...)
	} else {
		title := " CEREMONY FAILED"
		var se *engine.StepError
		if errors.As(d.err, &se) && se.Aborted {
			title = " CEREMONY ABORTED"
		}
		lines = append(lines, th.Title(fit(title+" · "+e.title, w)), "")
		lines = append(lines, indent(th.Bad(d.err.Error()), 1, w)...)
		lines = append(lines, "")
		path := filepath.Join(e.outDir, "transcript.jsonl")
		if se != nil && se.Discarded {
			lines = append(lines, indent("Nothing had changed: the ceremony directory was removed.", 1, w)...)
		} else if c, err := transcript.ReadFile(path); err == nil {
			lines = append(lines, indent(fmt.Sprintf("The transcript %s is not sealed; it holds %d events, the last one recording how the ceremony ended. Check it with 'ceremony transcript verify %s'.", path, len(c.Events), path), 1, w)...)
		}
	}
	if len(lines) > e.height-1 {
		// Too long for the terminal: the end is kept (what to carry
		// out), the blank line under the title goes first.
		lines = append(lines[:1], lines[len(lines)-(e.height-2):]...)
	}
	for len(lines) < e.height-1 {
		lines = append(lines, "")
	}
	lines = append(lines[:e.height-1], th.Faint(cut(" "+helpText(e.keys()), w)))
	return screen(lines, w, e.height)
}
