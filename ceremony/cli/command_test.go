package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// runMain runs Main with stdin and returns the exit status and output.
func runMain(t *testing.T, stdin io.Reader, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(args, &Env{Ctx: context.Background(), Stdin: stdin, Stdout: &out, Stderr: &errb, Version: "test"})
	return code, out.String(), errb.String()
}

func TestUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"frobnicate"}, "ceremony: unknown command \"frobnicate\" (try 'ceremony help')\n"},
		{[]string{"qr", "frob"}, "ceremony: qr: unknown command \"frob\" (export, show or import)\n"},
		{[]string{"transcript", "frob"}, "ceremony: transcript: unknown command \"frob\" (verify or show)\n"},
		{[]string{"shares", "frob"}, "ceremony: shares: unknown command \"frob\" (check)\n"},
		{[]string{"token", "frob"}, "ceremony: token: unknown command \"frob\" (inspect)\n"},
		{[]string{"run", "--colour", "blue"}, "ceremony: run: flag provided but not defined: -colour (see 'ceremony run --help')\n"},
		{[]string{"qr", "export", "--ecc", "Z", "f"}, "ceremony: qr export: invalid value \"Z\" for flag -ecc: "},
		{[]string{"close", "--frob"}, "ceremony: close: flag provided but not defined: -frob (see 'ceremony close --help')\n"},
		{[]string{"close"}, "ceremony: close: which ceremony directory? (see 'ceremony close --help')\n"},
		{[]string{"transcript", "show"}, "ceremony: transcript show: give one transcript file (OUT/transcript.jsonl)\n"},
		{[]string{"shares", "check"}, "ceremony: shares check: which shares? give share files, or - to read them from standard input\n"},
		{[]string{"token", "inspect"}, "ceremony: token inspect: --config FILE is required: it names the PKCS#11 module and the token\n"},
		{[]string{"csr", "--label", "a", "--label", "b"}, "ceremony: csr: --label given twice\n"},
		{[]string{"csr", "--pin-env", "12 34"}, "ceremony: csr: --config FILE is required"},
		{nil, "ceremony: the interactive TUI needs a terminal;"},
	} {
		code, stdout, stderr := runMain(t, strings.NewReader(""), c.args...)
		if code != ExitUsage || stdout != "" || !strings.HasPrefix(stderr, c.stderr) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and %q", c.args, code, stdout, stderr, c.stderr)
		}
	}
}

// Every command answers --help on stdout with exit 0, and a group without
// a subcommand prints its usage on stderr with exit 2.
func TestEveryCommandHasHelp(t *testing.T) {
	var walk func(cmds []*Command, parent []string)
	walk = func(cmds []*Command, parent []string) {
		for _, c := range cmds {
			args := append(append([]string{}, parent...), c.Name)
			if c.Usage == "" {
				t.Errorf("%q: no usage", args)
			}
			if len(c.Commands) > 0 {
				if c.Flags != nil {
					t.Errorf("%q: a group with flags", args)
				}
				code, stdout, stderr := runMain(t, strings.NewReader(""), args...)
				if code != ExitUsage || stdout != "" || stderr != c.Usage {
					t.Errorf("%q: exit %d, stdout %q, stderr %q; want the usage on stderr and exit 2", args, code, stdout, stderr)
				}
				code, stdout, stderr = runMain(t, strings.NewReader(""), append(args, "help")...)
				if code != ExitOK || stdout != c.Usage || stderr != "" {
					t.Errorf("%q help: exit %d, stdout %q, stderr %q", args, code, stdout, stderr)
				}
				walk(c.Commands, args)
				continue
			}
			if c.Flags == nil {
				t.Errorf("%q: neither flags nor subcommands", args)
				continue
			}
			code, stdout, stderr := runMain(t, strings.NewReader(""), append(args, "--help")...)
			if code != ExitOK || !strings.HasPrefix(stdout, c.Usage) || stderr != "" {
				t.Errorf("%q --help: exit %d, stdout %q, stderr %q", args, code, stdout, stderr)
			}
		}
	}
	walk(commands, nil)
	code, stdout, _ := runMain(t, nil, "run", "--help")
	if code != ExitOK || !strings.Contains(stdout, "-input NAME=VALUE") {
		t.Errorf("run --help does not list the flags: %q", stdout)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("the reader given as stdin") }

// Shares given as - come from Env.Stdin, not from the process's own.
func TestStdinIsInjected(t *testing.T) {
	code, stdout, stderr := runMain(t, failingReader{}, "shares", "check", "-")
	if code != ExitFailure || stdout != "" || stderr != "ceremony: shares check: -: the reader given as stdin\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, stdout, stderr = runMain(t, strings.NewReader("not a share\n"), "shares", "check", "-")
	// The report on standard output, and the one error line naming the
	// share on standard error, as every refusal has.
	if code != ExitFailure || !strings.HasPrefix(stdout, "share 1 on standard input (line 1): ") ||
		!strings.HasPrefix(stderr, "ceremony: shares check: share 1 on standard input (line 1): ") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestReport(t *testing.T) {
	for _, c := range []struct {
		path   string
		bare   bool
		err    error
		code   int
		stderr string
	}{
		{"close", false, nil, ExitOK, ""},
		{"close", false, errors.New("refused"), ExitFailure, "ceremony: close: refused\n"},
		{"run", true, errors.New("script x.yaml:3: bad"), ExitFailure, "ceremony: script x.yaml:3: bad\n"},
		{"close", false, usagef("which?"), ExitUsage, "ceremony: close: which?\n"},
		{"transcript verify", false, &ExitError{ExitUnsealed, errors.New("unsealed")}, ExitUnsealed, "ceremony: transcript verify: unsealed\n"},
		{"shares check", false, &ExitError{Code: ExitFailure}, ExitFailure, ""},
		{"qr show", false, asIs{errors.New("as it is")}, ExitFailure, "ceremony: as it is\n"},
	} {
		var errb bytes.Buffer
		code := report(&Env{Stderr: &errb}, c.path, c.bare, c.err)
		if code != c.code || errb.String() != c.stderr {
			t.Errorf("report(%q, %v): %d %q, want %d %q", c.path, c.err, code, errb.String(), c.code, c.stderr)
		}
	}
}

// What a command prints passes through one sanitiser: a file name (or
// any text from an input) holding escape sequences, a NUL or a
// direction override reaches the terminal as U+FFFD, on standard output
// and in the one-line error alike.
func TestOutputIsPrintable(t *testing.T) {
	dir := t.TempDir()
	hostile := filepath.Join(dir, "t\x1b[2J\x00\u202e.jsonl")
	for _, args := range [][]string{
		{"transcript", "verify", hostile},
		{"transcript", "show", hostile},
		{"shares", "check", hostile},
		{"run", hostile, "--answers", hostile, "--config", hostile},
	} {
		code, stdout, stderr := runMain(t, strings.NewReader(""), args...)
		if code == 0 {
			t.Errorf("%v: exit 0", args)
		}
		for _, out := range []string{stdout, stderr} {
			if strings.ContainsAny(out, "\x1b\x00\u202e") {
				t.Errorf("%v printed a control character: %q", args, out)
			}
		}
		if !strings.Contains(stderr, "t\uFFFD[2J\uFFFD\uFFFD.jsonl") {
			t.Errorf("%v: the error does not name the file: %q", args, stderr)
		}
	}
	// Help keeps its layout: the flag package aligns with tabs, which the
	// sanitiser lets through.
	_, stdout, stderr := runMain(t, strings.NewReader(""), "run", "--help")
	if out := stdout + stderr; strings.Contains(out, "\uFFFD") || !strings.Contains(out, "\t") {
		t.Errorf("run --help: %q", out)
	}
}

// A command waiting on standard input stops when it is interrupted or
// terminated: the read ends, the command fails in one line, and nothing
// is written.
func TestStdinReadStopsOnSignal(t *testing.T) {
	qOut := filepath.Join(t.TempDir(), "q")
	for _, args := range [][]string{
		{"shares", "check", "-"},
		{"qr", "import", "--out", qOut, "-"},
	} {
		r, w := io.Pipe() // no input ever comes
		ctx, cancel := context.WithCancel(context.Background())
		var out, errb strings.Builder
		done := make(chan int, 1)
		go func() {
			done <- Main(args, &Env{Ctx: ctx, Stdin: r, Stdout: &out, Stderr: &errb, Version: "test"})
		}()
		time.Sleep(100 * time.Millisecond)
		cancel()
		select {
		case code := <-done:
			if code == 0 || !strings.Contains(errb.String(), "stopped by a signal (interrupt or terminate) while reading standard input") || strings.Count(errb.String(), "\n") != 1 {
				t.Errorf("%v: exit %d, %q", args, code, errb.String())
			}
		case <-time.After(5 * time.Second):
			t.Errorf("%v: still reading standard input after the signal", args)
		}
		w.Close()
	}
	if _, err := os.Stat(qOut); err == nil {
		t.Error("qr import wrote its output")
	}
}

// Every numeric option is checked against its range before anything is
// read or written; NaN and infinities included.
func TestOptionRanges(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a.txt")
	if err := os.WriteFile(file, []byte("public\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"qr", "show", file, "--rate", "NaN"}, "--rate NaN: choose 0.5 to 10 frames per second"},
		{[]string{"qr", "show", file, "--rate", "0"}, "--rate 0: choose"},
		{[]string{"qr", "show", file, "--rate", "-Inf"}, "--rate -Inf: choose"},
		{[]string{"qr", "show", file, "--rate", "1e9"}, "choose 0.5 to 10"},
		{[]string{"qr", "export", file, "--out", out, "--frame-bytes", "-5"}, "--frame-bytes -5: choose 16 to"},
		{[]string{"qr", "export", file, "--out", out, "--frame-bytes", "99999999999"}, "--frame-bytes 99999999999: choose 16 to"},
		{[]string{"qr", "export", file, "--out", out, "--frame-bytes", "1"}, "--frame-bytes 1: choose 16 to"},
		{[]string{"qr", "show", file, "--frame-bytes", "100000"}, "--frame-bytes 100000: choose 16 to"},
		{[]string{"qr", "export", file, "--out", out, "--ecc", "Z"}, `unknown QR error-correction level "Z"`},
		{[]string{"qr", "export", file, "--out", out, "--title", "A\x1b]0;x\aB"}, "--title: holds the control character U+001B; give printable text"},
		{[]string{"qr", "export", file, "--out", out, "--title", "A\u202eB"}, "--title: holds the control character U+202E"},
		{[]string{"qr", "export", file, "--out", out, "--title", strings.Repeat("t", 201)}, "--title: 201 characters; give at most 200"},
	} {
		code, _, stderr := runMain(t, strings.NewReader(""), tc.args...)
		if code != ExitUsage || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, %q; want %q", tc.args, code, stderr, tc.want)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("an output directory was made")
	}
}

// An error is one printable line whatever it repeats: a file name with a
// newline in it cannot start a second line, and a 100,000-character input
// quoted in an error is cut in the middle, keeping the start and the end
// (where what to do is said).
func TestErrorIsOneBoundedLine(t *testing.T) {
	var stderr strings.Builder
	env := &Env{Stderr: &stderr}
	for _, tc := range []struct {
		name string
		err  error
		want []string
	}{
		{"newline in a path", errors.New("/tmp/x\ny.jsonl: not a regular file"), []string{"/tmp/x\uFFFDy.jsonl: not a regular file"}},
		{"huge input", fmt.Errorf("name %q: too long; use at most 64 characters", strings.Repeat("W", 100000)),
			[]string{`name "WWW`, "characters left out", `WWW": too long; use at most 64 characters`}},
	} {
		stderr.Reset()
		if code := report(env, "qr import", false, tc.err); code != ExitFailure {
			t.Fatalf("%s: exit %d", tc.name, code)
		}
		out := stderr.String()
		if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") || utf8.RuneCountInString(out) > maxErrorLine+100 {
			t.Fatalf("%s: not one bounded line (%d characters):\n%.300s", tc.name, utf8.RuneCountInString(out), out)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: %q lacks %q", tc.name, out[:min(len(out), 300)], w)
			}
		}
	}
}

// A text flag given empty is a usage error, not the default: 'run --out
// ""' ran a whole ceremony into the default directory.
func TestEmptyFlagRefused(t *testing.T) {
	for _, args := range [][]string{
		{"run", "scripts/root-key-generation.yaml", "--out", "", "--answers", "a.yaml", "--config", "hsm.yaml"},
		{"transcript", "show", "--pdf", "", "t.jsonl"},
		{"qr", "export", "f", "--out", ""},
		{"import", "--root", "", "--out", "o", "f"},
	} {
		code, stdout, stderr := runMain(t, strings.NewReader(""), args...)
		if code != ExitUsage || stdout != "" || !strings.Contains(stderr, " is empty: give a value, or leave the flag out") || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%q: exit %d, %q %q", args, code, stdout, stderr)
		}
	}
}
