package main

import (
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/devicepki/ceremony/ceremony/secret"
	"github.com/devicepki/ceremony/ceremony/shares"
)

// tuidrive SOCKET CONFIG OUT [abort-at=REGEX] [shares=DIR]: drives the
// TUI running in the only pane of the tmux server at SOCKET, as the people
// in the room would.
//
// Without shares=DIR it runs a root key generation rehearsal started with
// no arguments: it picks the script, fills in the settings (HSM config
// CONFIG, output directory OUT, a rehearsal), records attendance,
// confirms, overrides the network check if asked, reads every share
// hand-out (checking the text and the QR code on screen against the
// rehearsal share file), types each share back (the first one with a typo
// first, which must be flagged at its group before submission), approves
// what is signed after scrolling through it, and at the end looks at the
// QR frames and leaves.
//
// With shares=DIR it runs a ceremony that activates the HSM with a quorum
// of the officers' shares of the rehearsal in DIR (DIR/shares), started as
// 'ceremony run SCRIPT --config CONFIG --out OUT --input ...': it checks
// that the settings form holds CONFIG and OUT, starts, and at the login the
// officers come forward (the second one listed first, then the first, then
// the last) and type their shares: the first with a typo in group 3 first,
// which must be flagged there before submission; the second first types
// the share already entered, then a custodian's backup share; the third
// first types an officer's share of another ceremony (a split the driver
// makes). The engine must reject each wrong share, saying why on screen,
// and the officer then types their own.
//
// The people present are those the attendance screen asks for: every role
// it shows gets its maximum, or its minimum if it has none, of a fixed list
// of names (officer N holds share N of DIR). With abort-at it presses
// ctrl+c and confirms the abort at the first screen matching REGEX.
//
// On every screen but a share's own hand-out it checks that no share
// characters are visible (typed or otherwise). It writes every distinct
// screen to OUT.panes.txt for the story to inspect.
func cmdTUIDrive(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 || len(args) > 5 {
		ts.Fatalf("usage: tuidrive SOCKET CONFIG OUT [abort-at=REGEX] [shares=DIR]")
	}
	d := &tuiDriver{ts: ts, sock: ts.MkAbs(args[0]), config: args[1], out: args[2], entries: map[int]int{},
		qrSeen: map[string]bool{}, shownSeen: map[string]bool{}}
	for _, opt := range args[3:] {
		if re, ok := strings.CutPrefix(opt, "abort-at="); ok {
			d.abortAt = regexp.MustCompile(re)
		} else if dir, ok := strings.CutPrefix(opt, "shares="); ok {
			d.sharesDir = dir
		} else {
			ts.Fatalf("tuidrive: unknown option %q", opt)
		}
	}
	if d.sharesDir != "" {
		d.makeForeign()
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
	// announced counts the steps that waited for the room before the
	// machine acted.
	announced int
	qr        int // share QR codes checked
	qrSeen    map[string]bool
	shownSeen map[string]bool
	shown     int // share texts checked

	// With shares=DIR: the ceremony whose shares the keyholders bring.
	sharesDir string
	needed    int         // shares the login needs
	entries   map[int]int // shares typed (accepted or not) for each share the engine asked for
	accepted  []string    // the share files accepted, in order
	rejected  int         // wrong shares the engine rejected on screen
	// foreign holds a share of another ceremony (by the name shareData
	// gives it), of the split foreignSplit.
	foreign      map[string]string
	foreignSplit string
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
// written so far (in OUT/shares, or DIR/shares with shares=DIR), by file
// name ("officer-1.share"), without separators.
func (d *tuiDriver) shareData() map[string]string {
	dir := d.out
	if d.sharesDir != "" {
		dir = d.sharesDir
	}
	files, _ := filepath.Glob(filepath.Join(d.ts.MkAbs(dir), "shares", "*.share"))
	out := map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		d.ts.Check(err)
		out[filepath.Base(f)] = shareChars(data)
	}
	for name, s := range d.foreign {
		out[name] = s
	}
	return out
}

// shareChars returns the characters of a share's text, without its
// comment lines and separators.
func shareChars(text []byte) string {
	var b strings.Builder
	for _, l := range strings.Split(string(text), "\n") {
		if !strings.HasPrefix(l, "#") {
			b.WriteString(strings.Join(strings.Fields(l), ""))
		}
	}
	return b.String()
}

// foreignShare is the name of the share of another ceremony the driver
// makes, as shareData lists it.
const foreignShare = "another ceremony's officer-5.share"

// makeForeign splits a new random activation secret, 3 of 5, as another
// ceremony would, and keeps share 5: a well-formed officer's share that
// belongs to no split of the ceremony on screen.
func (d *tuiDriver) makeForeign() {
	raw := make([]byte, 32)
	_, err := rand.Read(raw)
	d.ts.Check(err)
	list, man, err := shares.Split(nil, secret.New(raw), shares.Activation, 3, 5)
	d.ts.Check(err)
	d.foreign = map[string]string{foreignShare: shareChars(list[4].Text().Bytes())}
	d.foreignSplit = man.Split
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
		case strings.Contains(pane, "[ Start the ceremony ]") && strings.Contains(pane, "HSM config") && d.sharesDir != "":
			// 'ceremony run SCRIPT --config ... --out ...': the settings
			// are filled in from the command line.
			for _, want := range []string{"HSM config         " + d.config, "Output directory   " + d.out} {
				if !strings.Contains(pane, want) {
					d.fail("the settings do not show %q:\n%s", want, pane)
				}
			}
			d.keys(slices.Repeat([]string{"Down"}, 20)...)
			for !strings.Contains(pane, "▶ [ Start the ceremony ]") {
				pane = d.next(pane)
			}
			d.log = append(d.log, pane)
			d.keys("Enter")
			pane = d.gone(pane, "[ Start the ceremony ]")
			continue
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
			for _, n := range d.attendance(pane) {
				if n != "" {
					d.text(n)
				}
				d.keys("Enter")
			}
			pane = d.gone(pane, "Who is present?")
			continue
		case strings.Contains(pane, "CONFIRM:"):
			d.keys("y")
		case strings.Contains(pane, "INVENTORY:"):
			// Each item read out and typed; Enter goes to the next.
			d.text("TEB-100234")
			d.keys("Enter")
		case strings.Contains(pane, "READ ALOUD:"):
			// A machine step waits for the room to hear its text.
			d.announced++
			d.keys("Enter")
		case strings.Contains(pane, "SAFETY CHECK FAILED") && strings.Contains(pane, "Press o"):
			d.keys("o")
		case strings.Contains(pane, "why may the ceremony go"):
			d.text("rehearsal on a lab machine")
			d.keys("Enter")
		case strings.Contains(pane, "Which keyholder comes forward?"):
			d.comeForward(pane)
			pane = d.gone(pane, "Which keyholder comes forward?")
			continue
		case strings.Contains(pane, "), type your share"):
			pane = d.enterShare(pane)
			continue
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
			switch {
			case d.sharesDir != "" && (!d.typo || d.needed < 3 || len(d.accepted) != d.needed || d.rejected != 3):
				d.fail("ceremony complete, but typo test %v, %d shares accepted (%d needed, at least 3), %d rejected on screen (want 3)", d.typo, len(d.accepted), d.needed, d.rejected)
			case d.sharesDir == "" && (!d.typo || d.qr != 10 || d.shown != 10):
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
	if !d.shownSeen[name] {
		d.shownSeen[name] = true
		d.shown++
	}
}

// checkQR decodes the share's QR code on screen.
func (d *tuiDriver) checkQR(pane string) {
	name := d.handOutFile(pane)
	text, err := decodePane(pane)
	// The pane may have been captured while the terminal was still
	// drawing the code (a loaded machine): look again for a moment.
	for deadline := time.Now().Add(3 * time.Second); err != nil && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		pane = d.capture()
		text, err = decodePane(pane)
	}
	if err != nil {
		d.fail("share %s: %v\n%s", name, err, pane)
	}
	if got, want := strings.ReplaceAll(text, "-", ""), d.shareData()[name]; got != want {
		d.fail("the QR code of share %s reads %q, want %q", name, got, want)
	}
	// A screen captured again before the key that leaves it took effect
	// (a loaded machine) is the same share: each is counted once.
	if !d.qrSeen[name] {
		d.qrSeen[name] = true
		d.qr++
	}
}

// typeBack types the share of the hand-out on screen back; the first time
// with a wrong character in group 3 first, which must be flagged there
// before anything is submitted.
func (d *tuiDriver) typeBack(pane string) string {
	share := d.shareData()[d.handOutFile(pane)]
	if !d.typo {
		d.typoTest(pane, share)
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

// typoTest types share with a wrong character in group 3, checks that the
// field marks that group (and shows no share characters), that Enter is
// refused, and clears the field.
func (d *tuiDriver) typoTest(pane, share string) {
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
	for strings.Contains(p, "group 3 does not match") {
		p = d.next(p)
	}
	d.typo = true
}

// people are the names the driver gives, by role; officer N holds share N.
var people = map[string][]string{
	"administrator": {"Ada Admin"},
	"witness":       {"Wanda Witness"},
	"officer":       {"Olga Officer", "Omar Officer", "Otto Officer", "Oona Officer", "Oscar Officer"},
	"custodian":     {"Carla Custodian", "Chen Custodian", "Cyril Custodian", "Cleo Custodian", "Cosmo Custodian"},
}

// attendanceRole is a role's line on the attendance screen, before anyone
// is recorded: "officer        0 of 5" or "witness        0 (≥1)".
var attendanceRole = regexp.MustCompile(`│ (?:▶ |  )(\w+) +0 (?:of (\d+)|\(≥(\d+)\))`)

// attendance returns what to type on the attendance screen: for each role
// it shows, in order, its maximum (or else its minimum) of names, then an
// empty line.
func (d *tuiDriver) attendance(pane string) []string {
	var out []string
	for _, m := range attendanceRole.FindAllStringSubmatch(pane, -1) {
		n, _ := strconv.Atoi(m[2] + m[3])
		if n > len(people[m[1]]) {
			d.fail("the driver has %d names for role %s, %d are asked for:\n%s", len(people[m[1]]), m[1], n, pane)
		}
		out = append(append(out, people[m[1]][:n]...), "")
	}
	if len(out) == 0 {
		d.fail("no roles on the attendance screen:\n%s", pane)
	}
	return out
}

var (
	shareAsked = regexp.MustCompile(`SHARE (\d+) of (\d+) needed`)
	shareBy    = regexp.MustCompile(`│ (\w+ \w+) \((\w+)\), type your share`)
)

// shareNumber returns which of the needed shares the engine asks for.
func (d *tuiDriver) shareNumber(pane string) int {
	m := shareAsked.FindStringSubmatch(pane)
	if m == nil {
		d.fail("no share number on screen:\n%s", pane)
	}
	n, _ := strconv.Atoi(m[1])
	d.needed, _ = strconv.Atoi(m[2])
	return n
}

// comeForward picks the keyholder who enters share 1 (the second listed),
// share 2 (the first) and share 3 (the last).
func (d *tuiDriver) comeForward(pane string) {
	switch d.shareNumber(pane) {
	case 1:
		d.keys("Down", "Enter")
	case 2:
		d.keys("Enter")
	default:
		d.keys("End", "Enter")
	}
}

// enterShare types a share for the keyholder on screen. For share 1 a typo
// is flagged first. For share 2 the keyholder first types the share
// already entered, then a custodian's backup share; for share 3 first a
// share of another ceremony: the engine must show why each is rejected,
// and ask again. Then they type their own.
func (d *tuiDriver) enterShare(pane string) string {
	m := shareBy.FindStringSubmatch(pane)
	if m == nil {
		d.fail("who types the share?\n%s", pane)
	}
	n := slices.Index(people[m[2]], m[1])
	if n < 0 {
		d.fail("%s is not a %s the driver named", m[1], m[2])
	}
	k := d.shareNumber(pane)
	file, wantProblem := fmt.Sprintf("%s-%d.share", m[2], n+1), ""
	switch {
	case k == 2 && d.entries[k] == 0:
		file = d.accepted[0]
		wantProblem = fmt.Sprintf("The last share was rejected: the activation share entered by %s: share %s was already entered", m[1], strings.TrimSuffix(strings.TrimPrefix(file, m[2]+"-"), ".share"))
	case k == 2 && d.entries[k] == 1:
		file = "custodian-1.share"
		wantProblem = fmt.Sprintf("The last share was rejected: the activation share entered by %s: share 1 is a backup share; activation shares are needed", m[1])
	case k == 3 && d.entries[k] == 0:
		file = foreignShare
		wantProblem = fmt.Sprintf("The last share was rejected: the activation share entered by %s: share 5 belongs to split %s, not ", m[1], d.foreignSplit)
	}
	d.entries[k]++
	share, ok := d.shareData()[file]
	if !ok {
		d.fail("no share file %s in %s/shares", file, d.sharesDir)
	}
	if !d.typo {
		d.typoTest(pane, share)
	}
	d.text(share)
	for !strings.Contains(pane, "complete: press Enter") {
		pane = d.next(pane)
	}
	d.log = append(d.log, pane)
	d.noShareOnScreen(pane)
	d.keys("Enter")
	pane = d.gone(pane, "complete: press Enter")
	if wantProblem == "" {
		d.accepted = append(d.accepted, file)
		return pane
	}
	// The problem is wrapped on screen: compare it as one line.
	flat := func(p string) string {
		var b strings.Builder
		for _, l := range strings.Split(p, "\n") {
			if _, r, ok := strings.Cut(l, "│ "); ok {
				b.WriteString(strings.TrimSpace(r) + " ")
			}
		}
		return b.String()
	}
	for !strings.Contains(flat(pane), wantProblem) {
		if strings.Contains(pane, "SHARE "+strconv.Itoa(k+1)+" of") || strings.Contains(pane, "CEREMONY") {
			d.fail("the engine did not reject %s with %q:\n%s", file, wantProblem, pane)
		}
		pane = d.next(pane)
		d.log = append(d.log, pane)
	}
	d.rejected++
	return pane
}
