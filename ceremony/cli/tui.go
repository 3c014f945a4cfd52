package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/charmbracelet/x/term"

	"github.com/devicepki/ceremony/ceremony/engine"
	"github.com/devicepki/ceremony/ceremony/record"
	"github.com/devicepki/ceremony/ceremony/tui"
)

// tuiRun runs the interactive TUI on env's standard input and output,
// which must be a terminal. After it leaves the alternate screen, it
// prints what the ceremony left behind (nothing secret), so that it stays
// in the terminal's scrollback.
func tuiRun(env *Env, opts tui.Options) error {
	in, out, ok := terminal(env)
	if !ok {
		return &UsageError{asIs{errors.New("the interactive TUI needs a terminal; for a rehearsal without one use 'ceremony run SCRIPT --config HSM.yaml --answers FILE' (see 'ceremony help')")}}
	}
	opts.Tool = engine.CurrentTool(env.Version)
	o, err := tui.Run(env.Ctx, opts, in, out)
	if err != nil {
		return asIs{err}
	}
	if !o.Started {
		return nil
	}
	if o.Err != nil {
		fmt.Fprintf(env.Stderr, "ceremony: %s\n", errorLine(o.Err))
		var se *engine.StepError
		if errors.As(o.Err, &se) && !se.Discarded {
			fmt.Fprintf(env.Stderr, "ceremony: the unsealed transcript is %s\n", filepath.Join(o.Dir, "transcript.jsonl"))
		}
		return &ExitError{Code: ExitFailure}
	}
	stdout := env.Stdout
	res := o.Result
	fmt.Fprintf(stdout, "Ceremony %q completed.\n", o.Title)
	fmt.Fprintf(stdout, "  transcript:   %s (%d events)\n", res.Transcript, res.Events)
	for _, a := range res.Artifacts {
		fmt.Fprintf(stdout, "  artifact:     %s\n                sha256 %s\n", filepath.Join(res.Dir, a.Path), a.SHA256)
	}
	if res.QR != nil {
		fmt.Fprintf(stdout, "  QR frames:    %s (bundle %s, %d frames)\n", res.QR.Dir, res.QR.Bundle, len(res.QR.Frames))
	}
	fmt.Fprintf(stdout, "  final digest: %s\n", record.GroupHex(res.Head))
	return nil
}

// terminal returns env's standard input and output if both are a
// terminal.
func terminal(env *Env) (in, out *os.File, ok bool) {
	in, inOK := env.terminalIn.(*os.File)
	out, outOK := env.terminal.(*os.File)
	if !inOK || !outOK || !term.IsTerminal(in.Fd()) || !term.IsTerminal(out.Fd()) {
		return nil, nil, false
	}
	return in, out, true
}
