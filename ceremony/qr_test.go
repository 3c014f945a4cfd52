package main

import (
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
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
	// also report a spurious Codabar; see design/FINDINGS.md).
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

// shuffle FILE SEED: puts FILE's lines in a random order (a fixed one for
// SEED), different from the original.
func cmdShuffle(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 || neg {
		ts.Fatalf("usage: shuffle FILE SEED")
	}
	path := ts.MkAbs(args[0])
	data, err := os.ReadFile(path)
	ts.Check(err)
	lines := strings.SplitAfter(string(data), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	orig := slices.Clone(lines)
	seed := uint64(len(args[1]))
	for _, c := range args[1] {
		seed = seed*31 + uint64(c)
	}
	r := rand.New(rand.NewPCG(seed, 7))
	for slices.Equal(lines, orig) && len(lines) > 1 {
		r.Shuffle(len(lines), func(i, j int) { lines[i], lines[j] = lines[j], lines[i] })
	}
	ts.Check(os.WriteFile(path, []byte(strings.Join(lines, "")), 0o644))
}
