package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/devicepki/ceremony/ceremony/record"
)

// Env is what a command runs with. Main's caller gives it (the ceremony
// command gives the process's own), so that nothing below reads os.Stdin
// or writes os.Stdout by itself.
type Env struct {
	// Ctx is cancelled on SIGINT or SIGTERM: commands stop at their next
	// step.
	Ctx context.Context
	// Stdin is where shares, scanned QR frames and TUI keys come from. The
	// TUI and qr show need it to be a terminal (an *os.File).
	Stdin io.Reader
	// Stdout and Stderr take the output and the one-line errors. The TUI
	// and qr show draw on Stdout, which must then be a terminal too.
	Stdout, Stderr io.Writer
	// Version is this program's version, stamped at build time.
	Version string
	// terminal is Stdout as given, for the TUI and qr show to draw on;
	// Main passes Stdout and Stderr through record.TextWriter.
	terminal io.Writer
	// terminalIn is Stdin as given, for the TUI and qr show.
	terminalIn io.Reader
}

// cancelReader reads r until ctx is done: a read that waits on a
// terminal or pipe with no input ends with an error when the command is
// interrupted or terminated, instead of holding the process.
type cancelReader struct {
	ctx context.Context
	r   io.Reader
}

func (c cancelReader) Read(p []byte) (int, error) {
	if c.r == nil {
		return 0, io.EOF
	}
	if err := c.ctx.Err(); err != nil {
		return 0, errStopped
	}
	type result struct {
		n   int
		err error
	}
	buf := make([]byte, len(p))
	done := make(chan result, 1)
	go func() {
		n, err := c.r.Read(buf)
		done <- result{n, err}
	}()
	select {
	case res := <-done:
		return copy(p, buf[:res.n]), res.err
	case <-c.ctx.Done():
		// The read goes on in its goroutine; the process is ending.
		return 0, errStopped
	}
}

// errStopped ends a read of standard input when the command is stopped.
var errStopped = errors.New("stopped by a signal (interrupt or terminate) while reading standard input; nothing was changed")

// binaryOut is standard output as given, for bytes that are not text
// (a PDF written to "-").
func (e *Env) binaryOut() io.Writer {
	if e.terminal != nil {
		return e.terminal
	}
	return e.Stdout
}

// Command is one command of the command line, as typed after "ceremony":
// a leaf with flags and a run function, or a group of subcommands (qr,
// transcript, shares, token). Main finds the command, parses its flags,
// runs it and turns what it returns into an exit status.
type Command struct {
	// Name is the word that selects the command ("export" in
	// "ceremony qr export").
	Name string
	// Aliases select the command too ("--version" for "version").
	Aliases []string
	// Usage is what --help prints: the usage lines and what the command
	// does. A group prints it, to stderr, when given no subcommand.
	Usage string
	// ListFlags makes --help list the flags after Usage.
	ListFlags bool
	// Flags defines the command's flags on fs (a fresh set for every run)
	// and returns the function that runs the command once they are parsed,
	// with the arguments that are not flags. Flags may come before or after
	// them.
	Flags func(fs *flag.FlagSet) Run
	// Bare commands print their errors without their name ("ceremony: ..."
	// rather than "ceremony: run: ..."): those of run are the engine's own
	// lines, which name the script or the step.
	Bare bool
	// Commands are a group's subcommands; a group has no Flags.
	Commands []*Command

	path string // "qr export", set by setPaths
}

// setPaths sets the path of every command in cmds under parent.
func setPaths(cmds []*Command, parent string) {
	for _, c := range cmds {
		c.path = strings.TrimSpace(parent + " " + c.Name)
		setPaths(c.Commands, c.path)
	}
}

// Run runs a command with its flags parsed. It returns nil for exit status
// 0, a *UsageError for 2, an *ExitError for another status, or any other
// error for 1; Main prints the error on one line.
type Run func(env *Env, args []string) error

// UsageError is a command used wrongly: a flag or an argument missing,
// unknown, given twice or malformed. Main prints it and exits with
// ExitUsage, having changed nothing.
type UsageError struct{ Err error }

// Error returns the message, without the command's name.
func (e *UsageError) Error() string { return e.Err.Error() }

// Unwrap returns the error inside.
func (e *UsageError) Unwrap() error { return e.Err }

// usagef returns a *UsageError with the message format makes.
func usagef(format string, a ...any) error {
	return &UsageError{fmt.Errorf(format, a...)}
}

// ExitError ends a command with Code, after Err (if not nil) is printed.
// Commands that reported on stdout already (shares check) or whose status
// says more than failed (transcript verify) return one.
type ExitError struct {
	Code int
	Err  error
}

// Error returns Err's message, or the status if Err is nil.
func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

// Unwrap returns the error inside.
func (e *ExitError) Unwrap() error { return e.Err }

// asIs marks an error printed as it is, without the command's name.
type asIs struct{ error }

func (e asIs) Unwrap() error { return e.error }

// find returns the command args[0] selects in cmds (nil if none does)
// and the arguments left. A group selects among its subcommands.
func find(cmds []*Command, args []string, env *Env) (*Command, []string, error) {
	for _, c := range cmds {
		if c.Name == args[0] || slices.Contains(c.Aliases, args[0]) {
			if len(c.Commands) == 0 {
				return c, args[1:], nil
			}
			return c.group(args[1:], env)
		}
	}
	return nil, nil, nil
}

// group selects a subcommand of c, or answers help or a usage error.
func (c *Command) group(args []string, env *Env) (*Command, []string, error) {
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, c.Usage)
		return nil, nil, &ExitError{Code: ExitUsage}
	}
	if isHelp(args[0]) {
		fmt.Fprint(env.Stdout, c.Usage)
		return nil, nil, &ExitError{Code: ExitOK}
	}
	sub, rest, err := find(c.Commands, args, env)
	if sub == nil && err == nil {
		var names []string
		for _, s := range c.Commands {
			names = append(names, s.Name)
		}
		list := names[len(names)-1]
		if len(names) > 1 {
			list = strings.Join(names[:len(names)-1], ", ") + " or " + list
		}
		err = usagef("%s: unknown command %q (%s)", c.path, args[0], list)
	}
	return sub, rest, err
}

func isHelp(arg string) bool {
	return arg == "help" || arg == "-h" || arg == "-help" || arg == "--help"
}

// run parses c's flags and runs it.
func (c *Command) run(env *Env, args []string) error {
	fs := flag.NewFlagSet("ceremony "+c.path, flag.ContinueOnError)
	// The flag package would print the error and the whole usage; Main
	// prints one line instead, and the usage only when asked.
	fs.SetOutput(io.Discard)
	run := c.Flags(fs)
	pos, err := parseInterleaved(fs, args)
	if err == nil {
		err = emptyFlag(fs)
	}
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(env.Stdout, c.Usage)
		if c.ListFlags {
			fs.SetOutput(env.Stdout)
			fs.PrintDefaults()
		}
		return nil
	}
	if err != nil {
		err = usagef("%v (see 'ceremony %s --help')", err, c.path)
		if c.Bare {
			err = &UsageError{fmt.Errorf("%s: %w", c.path, err)}
		}
		return err
	}
	return run(env, pos)
}

// report prints err for the command named path on one line and returns
// the exit status.
func report(env *Env, path string, bare bool, err error) int {
	if err == nil {
		return ExitOK
	}
	code := ExitFailure
	var ue *UsageError
	var ee *ExitError
	switch {
	case errors.As(err, &ue):
		code = ExitUsage
	case errors.As(err, &ee):
		code = ee.Code
		if ee.Err == nil {
			return code
		}
	}
	var ai asIs
	if path != "" && !bare && !errors.As(err, &ai) {
		fmt.Fprintf(env.Stderr, "ceremony: %s: %s\n", path, errorLine(err))
	} else {
		fmt.Fprintf(env.Stderr, "ceremony: %s\n", errorLine(err))
	}
	return code
}

// maxErrorLine is the most characters an error line shows: enough for any
// message with its paths, and a bound on what an input repeated in one (a
// name, a key, a path of 100,000 characters) can print.
const maxErrorLine = 2000

// errorLine is err's text on one printable line (a newline in a file
// name, say, becomes U+FFFD, as every other control character does), at
// most maxErrorLine characters: a longer one keeps its start and its end,
// where what to do is said, and says how much it left out.
func errorLine(err error) string {
	r := []rune(record.Printable(err.Error()))
	if len(r) <= maxErrorLine {
		return string(r)
	}
	const keep = maxErrorLine / 2
	return fmt.Sprintf("%s … (%d characters left out) … %s", string(r[:keep]), len(r)-2*keep, string(r[len(r)-keep:]))
}

// emptyFlag refuses a text flag given with an empty value (--out "",
// --pdf ""): it is a mistake (an unset shell variable, say), and taking it
// as "not given" would run with a default nobody chose.
func emptyFlag(fs *flag.FlagSet) error {
	var err error
	fs.Visit(func(f *flag.Flag) {
		if g, ok := f.Value.(flag.Getter); ok && err == nil {
			if s, isText := g.Get().(string); isText && s == "" {
				err = fmt.Errorf("--%s is empty: give a value, or leave the flag out", f.Name)
			}
		}
	})
	return err
}

// parseInterleaved parses flags that may come before or after positional
// arguments, and returns the positional arguments.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
