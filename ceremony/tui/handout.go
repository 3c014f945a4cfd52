package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/devicepki/ceremony/ceremony/engine"
	"github.com/devicepki/ceremony/ceremony/qrimage"
)

// handOut phases: the others turn away, the keyholder copies the share, the
// screen is cleared and they type it back, then optionally name removable
// media and a passphrase for an encrypted copy.
type handOutPhase int

const (
	phaseLookAway handOutPhase = iota
	phaseShow
	phaseTypeBack
	phaseMediaAsk
	phaseMediaDir
	phasePass1
	phasePass2
)

type handOutPrompt struct {
	req   engine.HandOutRequest
	phase handOutPhase
	qrTab bool // the QR page is shown instead of the text (small screens)
	entry shareEntry
	dir   lineInput
	pass1 maskedInput
	pass2 maskedInput
	prob  string
}

func newHandOutPrompt(req engine.HandOutRequest) *handOutPrompt {
	return &handOutPrompt{req: req}
}

// handOutKeys are the keys of the hand-out, phase by phase.
var handOutKeys = struct {
	show, tab, copied, yes, no, next, noCopy key.Binding
}{
	show:   bind("Enter:", "the others have turned away, show the share", "enter"),
	tab:    bind("Tab", "text/QR", "tab"),
	copied: bind("Enter:", "copied, clear the screen", "enter"),
	yes:    bind("y", "write an encrypted copy", "y", "Y"),
	// Not Enter: a stray Enter must not pass the next holder's
	// look-away screen.
	no:     bind("n", "no", "n", "N"),
	next:   bind("Enter", "next", "enter"),
	noCopy: bind("Esc", "no copy", "esc"),
}

func (p *handOutPrompt) keys() []key.Binding {
	km := handOutKeys
	switch p.phase {
	case phaseLookAway:
		return []key.Binding{km.show}
	case phaseShow:
		return []key.Binding{km.tab, km.copied}
	case phaseTypeBack:
		return []key.Binding{typing("type your share back", "(hidden)"), submitKey}
	case phaseMediaAsk:
		return []key.Binding{km.yes, km.no}
	case phaseMediaDir:
		return []key.Binding{typing("type", "the directory"), km.next, km.noCopy}
	}
	return []key.Binding{typing("type", "the passphrase (hidden)"), km.next, km.noCopy}
}

func (p *handOutPrompt) key(k tea.KeyMsg) *reply {
	km := handOutKeys
	switch p.phase {
	case phaseLookAway:
		if key.Matches(k, km.show) {
			p.phase = phaseShow
		}
	case phaseShow:
		switch {
		case key.Matches(k, km.tab):
			p.qrTab = !p.qrTab
		case key.Matches(k, km.copied):
			p.phase = phaseTypeBack
		}
	case phaseTypeBack:
		if p.entry.key(k) {
			p.phase = phaseMediaAsk
		}
	case phaseMediaAsk:
		switch {
		case key.Matches(k, km.yes):
			p.phase = phaseMediaDir
		case key.Matches(k, km.no):
			return p.answer(false)
		}
	case phaseMediaDir:
		switch {
		case key.Matches(k, km.noCopy):
			return p.answer(false)
		case key.Matches(k, km.next):
			if strings.TrimSpace(p.dir.String()) == "" {
				p.prob = "name the directory on the removable media"
				return nil
			}
			p.prob, p.phase = "", phasePass1
		default:
			p.dir.key(k)
		}
	case phasePass1, phasePass2:
		in := &p.pass1
		if p.phase == phasePass2 {
			in = &p.pass2
		}
		switch {
		case key.Matches(k, km.noCopy):
			p.pass1.wipe()
			p.pass2.wipe()
			return p.answer(false)
		case key.Matches(k, km.next):
			if p.phase == phasePass1 {
				if p.pass1.len() < 12 {
					p.prob = "use a passphrase of at least 12 characters"
					return nil
				}
				p.prob, p.phase = "", phasePass2
				return nil
			}
			if string(p.pass1.buf) != string(p.pass2.buf) {
				p.pass1.wipe()
				p.pass2.wipe()
				p.prob, p.phase = "the two passphrases differ: type it again", phasePass1
				return nil
			}
			return p.answer(true)
		default:
			in.key(k)
		}
	}
	return nil
}

// answer returns the typed-back share, and the media copy if asked for.
func (p *handOutPrompt) answer(media bool) *reply {
	a := engine.HandOutAnswer{TypedBack: p.entry.in.take()}
	if media {
		a.MediaDir = strings.TrimSpace(p.dir.String())
		a.Passphrase = p.pass1.take()
		p.pass2.wipe()
	}
	return &reply{val: a}
}

func (p *handOutPrompt) view(th theme, width int) []string { return nil }

// viewFull draws the hand-out on the whole screen.
func (p *handOutPrompt) viewFull(th theme, width, height int) string {
	r := p.req
	title := fmt.Sprintf(" SHARE HAND-OUT · %d of %d · %s ", r.Number, r.Count, who(r.Holder))
	var out []string
	body := func(lines ...string) { out = append(out, lines...) }
	top := th.Title(fit(title, width))
	switch p.phase {
	case phaseLookAway:
		body(top, "")
		body(indent(th.Warn("EVERYONE EXCEPT "+strings.ToUpper(r.Holder.Name)+": LOOK AWAY FROM THE SCREEN NOW."), 2, width)...)
		body("")
		body(indent(fmt.Sprintf("%s, this is %s. Only you may see it. When the others have turned away, press Enter to show it.", r.Holder.Name, r.Describe), 2, width)...)
		if r.Problem != "" {
			body("")
			body(indent(th.Bad("! The copy typed back did not match: "+r.Problem+". The share is shown again."), 2, width)...)
		}
		if r.Rehearsal {
			body("")
			body(indent(th.Warn("REHEARSAL: this share is also written to "+r.RehearsalFile), 2, width)...)
		}
	case phaseShow:
		return p.viewShare(th, width, height, top)
	case phaseTypeBack:
		body(top, "")
		body(indent("The screen has been cleared. "+r.Holder.Name+", type your share back from your card to prove the copy is right. It is not shown.", 2, width)...)
		body("")
		body(p.entry.view(th, width-2)...)
	case phaseMediaAsk:
		body(top, "")
		body(indent("Your copy is correct. Also write it to your removable media, encrypted with a passphrase only you know? (y/n)", 2, width)...)
	case phaseMediaDir:
		body(top, "")
		body(indent("Directory on your removable media (mounted now):", 2, width)...)
		body("  > " + p.dir.view(width-6))
	case phasePass1, phasePass2:
		body(top, "")
		what, in := "Passphrase for the encrypted copy (at least 12 characters; not shown):", &p.pass1
		if p.phase == phasePass2 {
			what, in = "The same passphrase again:", &p.pass2
		}
		body(indent(what, 2, width)...)
		body("  " + dots(in.len(), width-4) + "█")
	}
	if p.prob != "" {
		body("", "  "+th.Bad("! "+p.prob))
	}
	return withHelp(out, p.helpLines(th, width), height, width)
}

// helpLines lays out the hand-out's keys at the bottom of the screen: its
// own, and ctrl+c (the hand-out hides the ceremony screen's other keys).
func (p *handOutPrompt) helpLines(th theme, width int) []string {
	lines := helpLines(append(p.keys(), abortKey), width)
	for i, l := range lines {
		lines[i] = th.Faint(l)
	}
	return lines
}

// withHelp draws lines above the help, which takes the last lines of the
// screen.
func withHelp(lines, help []string, height, width int) string {
	body := max(height-len(help), 0)
	lines = lines[:min(len(lines), body)]
	for len(lines) < body {
		lines = append(lines, "")
	}
	return screen(append(lines, help...), width, height)
}

// viewShare draws the share: its text groups and its QR code side by side
// when they fit, else one of them with Tab switching.
func (p *handOutPrompt) viewShare(th theme, width, height int, top string) string {
	r := p.req
	text := strings.Split(strings.TrimRight(string(r.Text.Bytes()), "\n"), "\n")
	textLines := []string{}
	comment := ""
	for _, l := range text {
		if strings.HasPrefix(l, "#") {
			comment = l
			continue
		}
		textLines = append(textLines, th.Bold(strings.ReplaceAll(l, " ", "  ")))
	}
	textW := 0
	for _, l := range textLines {
		textW = max(textW, ansi.StringWidth(l))
	}
	help := p.helpLines(th, width)
	qr, qrW, qrH := p.qr(width, height-1-len(help)) // under the title, above the help
	copyNote := "Copy it exactly onto your share card, then press Enter: the screen is cleared and you type it back."

	var lines []string
	lines = append(lines, top)
	if comment != "" && !p.qrTab {
		lines = append(lines, "", "  "+th.Faint(cut(comment, width-2)))
	}
	switch {
	case qr != "" && textW+qrW+4 <= width && max(len(textLines)+len(wrap(copyNote, width-qrW-6))+2, qrH)+3+len(help) <= height: // title, comment, help
		left := []string{""}
		left = append(left, textLines...)
		left = append(left, "")
		left = append(left, wrap(copyNote, width-qrW-6)...)
		right := strings.Split(qr, "\n")
		for i := 0; i < max(len(left), len(right)); i++ {
			l, rr := "", ""
			if i < len(left) {
				l = left[i]
			}
			if i < len(right) {
				rr = right[i]
			}
			lines = append(lines, "  "+fit(l, width-qrW-4)+rr)
		}
	case p.qrTab && qr != "":
		lines = append(lines, strings.Split(qr, "\n")...)
	case p.qrTab:
		lines = append(lines, "", "  The QR code does not fit this terminal: enlarge it, or copy the text (Tab).")
	default:
		for _, l := range textLines {
			lines = append(lines, "  "+l)
		}
		lines = append(lines, "")
		lines = append(lines, indent(copyNote, 2, width)...)
		if qr != "" {
			lines = append(lines, "  Tab shows the share's QR code.")
		}
	}
	return withHelp(lines, help, height, width)
}

// qr renders the share's QR code as large as fits in width×height: the
// compact form, or without its dashes (a smaller code; both parse the
// same), at error correction M or L. It returns "" if none fits.
func (p *handOutPrompt) qr(width, height int) (string, int, int) {
	compact := string(p.req.Compact.Bytes())
	for _, text := range []string{compact, strings.ReplaceAll(compact, "-", "")} {
		for _, lvl := range []qrimage.Level{qrimage.Medium, qrimage.Low} {
			cols, rows, err := qrimage.TerminalSize(text, lvl)
			if err != nil || cols > width || rows > height {
				continue
			}
			s, cols, rows, err := qrimage.Terminal(text, lvl, true)
			if err == nil {
				return s, cols, rows
			}
		}
	}
	return "", 0, 0
}
