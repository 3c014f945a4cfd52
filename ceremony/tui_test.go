package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// tuidrive SOCKET CONFIG OUT [abort-at=REGEX]: drives the TUI running in
// the only pane of the tmux server at SOCKET, as the people in the room
// would, through a root key generation rehearsal: it picks the script,
// fills in the settings (HSM config CONFIG, output directory OUT, a
// rehearsal), records attendance, confirms, overrides the network check if
// asked, reads every share hand-out (checking the text and the QR code on
// screen against the rehearsal share file), types each share back (the
// first one with a typo first, which must be flagged at its group before
// submission), approves what is signed after scrolling through it, and at
// the end looks at the QR frames and leaves. With abort-at it presses
// ctrl+c and confirms the abort at the first screen matching REGEX.
//
// On every screen but a share's own hand-out it checks that no share
// characters are visible (typed or otherwise). It writes every distinct
// screen to OUT.panes.txt for the story to inspect.
func cmdTUIDrive(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 || len(args) > 4 {
		ts.Fatalf("usage: tuidrive SOCKET CONFIG OUT [abort-at=REGEX]")
	}
	d := &tuiDriver{ts: ts, sock: ts.MkAbs(args[0]), config: args[1], out: args[2]}
	if len(args) == 4 {
		re, ok := strings.CutPrefix(args[3], "abort-at=")
		if !ok {
			ts.Fatalf("tuidrive: unknown option %q", args[3])
		}
		d.abortAt = regexp.MustCompile(re)
	}
	d.run()
	ts.Check(os.WriteFile(ts.MkAbs(d.out+".panes.txt"), []byte(strings.Join(d.log, "\n\f\n")), 0o644))
}

type tuiDriver struct {
	ts      *testscript.TestScript
	sock    string
	config  string
	out     string
	abortAt *regexp.Regexp
	log     []string
	typo    bool // the typo test ran
	qr      int  // share QR codes checked
	shown   int  // share texts checked
}

// volatile is what changes on screen without anyone acting: the clock and
// the spinner's line.
var volatile = regexp.MustCompile(`\d\d:\d\d:\d\d UTC|[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏].*`)

// fail writes the screens seen so far to OUT.panes.txt and fails.
func (d *tuiDriver) fail(format string, args ...any) {
	_ = os.WriteFile(d.ts.MkAbs(d.out+".panes.txt"), []byte(strings.Join(d.log, "\n\f\n")), 0o644)
	d.ts.Fatalf(format, args...)
}

func (d *tuiDriver) capture() string {
	out, err := exec.Command("tmux", "-S", d.sock, "capture-pane", "-p").Output()
	if err != nil {
		d.fail("tmux capture-pane: %v", err)
	}
	return string(out)
}

func (d *tuiDriver) keys(keys ...string) {
	if err := exec.Command("tmux", append([]string{"-S", d.sock, "send-keys"}, keys...)...).Run(); err != nil {
		d.fail("tmux send-keys %v: %v", keys, err)
	}
}

func (d *tuiDriver) text(s string) { d.keys("-l", s) }

// next waits until the screen differs from prev (clock and spinner aside)
// and returns it.
func (d *tuiDriver) next(prev string) string {
	p := volatile.ReplaceAllString(prev, "")
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		pane := d.capture()
		if volatile.ReplaceAllString(pane, "") != p {
			return pane
		}
	}
	d.fail("the screen did not change after 30s:\n%s", prev)
	return ""
}

// gone waits until marker is no longer on screen, keeping the screens
// seen meanwhile, and returns the screen.
func (d *tuiDriver) gone(pane, marker string) string {
	for strings.Contains(pane, marker) {
		pane = d.next(pane)
		d.log = append(d.log, pane)
	}
	return pane
}

// shareData returns the share characters of every rehearsal share file
// written so far, by file name ("officer-1.share"), without separators.
func (d *tuiDriver) shareData() map[string]string {
	files, _ := filepath.Glob(filepath.Join(d.ts.MkAbs(d.out), "shares", "*.share"))
	out := map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		d.ts.Check(err)
		var b strings.Builder
		for _, l := range strings.Split(string(data), "\n") {
			if !strings.HasPrefix(l, "#") {
				b.WriteString(strings.Join(strings.Fields(l), ""))
			}
		}
		out[filepath.Base(f)] = b.String()
	}
	return out
}

// noShareOnScreen fails if any 8 consecutive characters of a share are on
// screen.
func (d *tuiDriver) noShareOnScreen(pane string) {
	flat := strings.Join(strings.Fields(pane), "")
	for name, s := range d.shareData() {
		for i := 4; i+8 <= len(s); i++ {
			if strings.Contains(flat, s[i:i+8]) {
				d.fail("share characters of %s are on a screen that is not its hand-out:\n%s", name, pane)
			}
		}
	}
}

var handOutTitle = regexp.MustCompile(`SHARE HAND-OUT · (\d+) of \d+ · .* \((\w+)\)`)

func (d *tuiDriver) run() {
	pane := d.capture()
	names := []string{"Ada Admin", "", "Wanda Witness", "", "Olga Officer", "Omar Officer", "Otto Officer", "Oona Officer", "Oscar Officer", "",
		"Carla Custodian", "Chen Custodian", "Cyril Custodian", "Cleo Custodian", "Cosmo Custodian", ""}
	deadline := time.Now().Add(4 * time.Minute)
	for time.Now().Before(deadline) {
		d.log = append(d.log, pane)
		showing := strings.Contains(pane, "Copy it exactly onto your share card") || strings.Contains(pane, "Tab text/QR")
		if !showing {
			d.noShareOnScreen(pane)
		}
		if d.abortAt != nil && d.abortAt.MatchString(pane) {
			d.keys("C-c")
			pane = d.next(pane)
			if !strings.Contains(pane, "ABORT?") {
				d.fail("ctrl+c did not ask to confirm the abort:\n%s", pane)
			}
			d.log = append(d.log, pane)
			d.keys("y")
			for !strings.Contains(pane, "CEREMONY ABORTED") {
				pane = d.next(pane)
			}
			d.log = append(d.log, pane)
			d.keys("Enter")
			return
		}
		switch {
		case strings.Contains(pane, "Choose the ceremony to run:"):
			if strings.Contains(pane, "steps · scripts/root-key-generation.yaml") {
				d.keys("Enter")
			} else {
				d.keys("Down")
			}
		case strings.Contains(pane, "[ Start the ceremony ]") && strings.Contains(pane, "HSM config"):
			d.text(d.config)
			d.keys("Down", "C-u")
			d.text(d.out)
			d.keys("Down", "Space", "Down")
			d.text("Rehearsal room, TUI test")
			d.keys("Down", "Down", "Down", "Enter")
			pane = d.gone(pane, "[ Start the ceremony ]")
			continue
		case strings.Contains(pane, "Who is present?"):
			for _, n := range names {
				if n != "" {
					d.text(n)
				}
				d.keys("Enter")
			}
			pane = d.gone(pane, "Who is present?")
			continue
		case strings.Contains(pane, "CONFIRM:"):
			d.keys("y")
		case strings.Contains(pane, "SAFETY CHECK FAILED") && strings.Contains(pane, "Press o"):
			d.keys("o")
		case strings.Contains(pane, "why may the ceremony go"):
			d.text("rehearsal on a lab machine")
			d.keys("Enter")
		case strings.Contains(pane, "CHOOSE:"), strings.Contains(pane, "(↑/↓, Enter)"): // a choice, or who acts
			d.keys("Enter")
		case strings.Contains(pane, "LOOK AWAY"):
			d.keys("Enter")
		case strings.Contains(pane, "Copy it exactly onto your share card"):
			d.checkShown(pane)
			d.keys("Tab")
		case strings.Contains(pane, "Tab text/QR"):
			d.checkQR(pane)
			d.keys("Enter")
		case strings.Contains(pane, "The screen has been cleared."):
			pane = d.typeBack(pane)
			continue
		case strings.Contains(pane, "Also write it to your removable media"):
			d.keys("n")
		case strings.Contains(pane, "APPROVE the"):
			if strings.Contains(pane, "press y to approve") {
				d.keys("y")
			} else {
				d.keys("PageDown")
			}
		case strings.Contains(pane, "CEREMONY COMPLETE"):
			if d.typo == false || d.qr != 10 || d.shown != 10 {
				d.fail("ceremony complete, but typo test %v, %d share QR codes and %d share texts checked (want 10)", d.typo, d.qr, d.shown)
			}
			d.keys("q")
			pane = d.next(pane)
			d.log = append(d.log, pane)
			if !strings.Contains(pane, "does not fit") && !strings.Contains(pane, "frame 1 of") {
				d.fail("q did not show the QR frames:\n%s", pane)
			}
			d.keys("q")
			pane = d.next(pane)
			d.log = append(d.log, pane)
			d.keys("Enter")
			return
		case strings.Contains(pane, "CEREMONY FAILED"), strings.Contains(pane, "CEREMONY ABORTED"):
			d.fail("the ceremony did not complete:\n%s", pane)
		case strings.Contains(pane, "exited "):
			d.fail("the TUI exited:\n%s", pane)
		}
		pane = d.next(pane)
	}
	d.fail("the ceremony did not complete in time; last screen:\n%s", pane)
}

// handOutFile names the rehearsal share file of the hand-out on screen.
func (d *tuiDriver) handOutFile(pane string) string {
	m := handOutTitle.FindStringSubmatch(pane)
	if m == nil {
		d.fail("no hand-out title on screen:\n%s", pane)
	}
	return m[2] + "-" + m[1] + ".share"
}

// checkShown checks the share text on screen against the rehearsal file.
func (d *tuiDriver) checkShown(pane string) {
	name := d.handOutFile(pane)
	want, ok := d.shareData()[name]
	if !ok {
		d.fail("no rehearsal share file %s", name)
	}
	var b strings.Builder
	on := false
	for _, l := range strings.Split(pane, "\n") {
		t := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(t, "CS1"):
			on = true
		case strings.HasPrefix(t, "Copy it exactly"):
			on = false
		}
		if on {
			b.WriteString(strings.Join(strings.Fields(t), ""))
		}
	}
	if b.String() != want {
		d.fail("the share on screen is not %s:\nscreen %s\nfile   %s", name, b.String(), want)
	}
	d.shown++
}

// checkQR decodes the share's QR code on screen.
func (d *tuiDriver) checkQR(pane string) {
	name := d.handOutFile(pane)
	text, err := decodePane(pane)
	if err != nil {
		d.fail("share %s: %v\n%s", name, err, pane)
	}
	if got, want := strings.ReplaceAll(text, "-", ""), d.shareData()[name]; got != want {
		d.fail("the QR code of share %s reads %q, want %q", name, got, want)
	}
	d.qr++
}

// typeBack types the share of the hand-out on screen back; the first time
// with a wrong character in group 3 first, which must be flagged there
// before anything is submitted.
func (d *tuiDriver) typeBack(pane string) string {
	share := d.shareData()[d.handOutFile(pane)]
	if !d.typo {
		wrong := []byte(share)
		i := 4 + 2*5 + 1 // the second character of group 3
		if wrong[i] == '7' {
			wrong[i] = '8'
		} else {
			wrong[i] = '7'
		}
		d.text(string(wrong[:4+3*5+2]))
		p := d.next(pane)
		for !strings.Contains(p, "group 3 does not match") {
			p = d.next(p)
		}
		d.log = append(d.log, p)
		if !regexp.MustCompile(`•••••✓ •••••✓ •••••✗`).MatchString(p) {
			d.fail("the typo is not marked at group 3:\n%s", p)
		}
		d.noShareOnScreen(p)
		d.keys("Enter") // refused: the typo is flagged before submission
		p = d.next(p)
		if !strings.Contains(p, "correct the group marked ✗ first") {
			d.fail("Enter with a flagged group was not refused:\n%s", p)
		}
		d.log = append(d.log, p)
		d.keys("C-u")
		d.typo = true
	}
	d.text(share)
	for !strings.Contains(pane, "complete: press Enter") {
		pane = d.next(pane)
	}
	d.log = append(d.log, pane)
	d.noShareOnScreen(pane)
	d.keys("Enter")
	return d.next(pane)
}
