package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/devicepki/ceremony/ceremony/qrimage"
)

// zbarimg DIR FILE: decodes every PNG in DIR with zbarimg (Debian
// zbar-tools), the independent QR reader ops may use, and writes what it
// prints (one "QR-Code:TEXT" line per code) to FILE. Every image must give
// exactly one code.
func cmdZbarimg(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 || neg {
		ts.Fatalf("usage: zbarimg DIR FILE")
	}
	if _, err := exec.LookPath("zbarimg"); err != nil {
		ts.Fatalf("zbarimg (Debian zbar-tools) is needed to read the QR frames independently: %v", err)
	}
	pngs, err := filepath.Glob(filepath.Join(ts.MkAbs(args[0]), "*.png"))
	ts.Check(err)
	if len(pngs) == 0 {
		ts.Fatalf("no PNG in %s", args[0])
	}
	// -Sdisable -Sqrcode.enable: QR codes only (zbarimg otherwise may
	// also report a spurious Codabar; see docs/findings.md, "zbarimg").
	cmd := exec.Command("zbarimg", append([]string{"-q", "-Sdisable", "-Sqrcode.enable"}, pngs...)...)
	out, err := cmd.Output()
	if err != nil {
		ts.Fatalf("zbarimg: %v", err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) != len(pngs) {
		ts.Fatalf("zbarimg read %d codes from %d images", len(lines), len(pngs))
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "QR-Code:") {
			ts.Fatalf("zbarimg printed %q", l)
		}
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), out, 0o644))
}

// tmuxwait SOCKET REGEX FILE: captures the only pane of the tmux server at
// SOCKET until its text matches REGEX (for up to 20 seconds), and writes
// the last capture to FILE.
func cmdTmuxWait(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 || neg {
		ts.Fatalf("usage: tmuxwait SOCKET REGEX FILE")
	}
	re, err := regexp.Compile(args[1])
	ts.Check(err)
	var pane []byte
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		pane, err = exec.Command("tmux", "-S", ts.MkAbs(args[0]), "capture-pane", "-p").Output()
		if err == nil && re.Match(pane) {
			ts.Check(os.WriteFile(ts.MkAbs(args[2]), pane, 0o644))
			return
		}
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[2]), pane, 0o644))
	ts.Fatalf("the pane never matched %q; last capture:\n%s", args[1], pane)
}

// panedecode PANE FILE: reads the QR code drawn in half blocks in a
// captured pane (blocks are light modules, as qr show draws them on a dark
// terminal by default), the way a camera would see it, and writes its text
// as one line to FILE.
func cmdPaneDecode(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 || neg {
		ts.Fatalf("usage: panedecode PANE FILE")
	}
	data, err := os.ReadFile(ts.MkAbs(args[0]))
	ts.Check(err)
	text, err := decodePane(string(data))
	if err != nil {
		ts.Fatalf("%v", err)
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(text+"\n"), 0o644))
}

// decodePane reads the QR code drawn in half blocks (blocks are light
// modules) in a captured pane, as a camera would.
func decodePane(pane string) (string, error) {
	var rows [][]rune
	for _, l := range strings.Split(pane, "\n") {
		rows = append(rows, []rune(l))
	}
	isBlock := func(r rune) bool { return r == '█' || r == '▀' || r == '▄' }
	// The code is the bounding box of the block characters (its quiet
	// zone is drawn as blocks).
	top, bottom, left, right := -1, -1, -1, -1
	for y, row := range rows {
		for x, r := range row {
			if !isBlock(r) {
				continue
			}
			if top < 0 {
				top = y
			}
			bottom = y
			if left < 0 || x < left {
				left = x
			}
			right = max(right, x)
		}
	}
	if top < 0 {
		return "", errors.New("no QR code in the pane")
	}
	// The bounding box as the terminal drew it; anything but a block is a
	// dark module.
	box := make([]string, 0, bottom-top+1)
	for y := top; y <= bottom; y++ {
		var b strings.Builder
		for x := left; x <= right; x++ {
			r := ' '
			if x < len(rows[y]) && isBlock(rows[y][x]) {
				r = rows[y][x]
			}
			b.WriteRune(r)
		}
		box = append(box, b.String())
	}
	img, err := qrimage.TerminalImage(strings.Join(box, "\n"), true, 4)
	if err != nil {
		return "", err
	}
	text, err := qrimage.Decode(img)
	if err != nil {
		return "", fmt.Errorf("the QR code on the screen does not scan: %v", err)
	}
	return text, nil
}
