package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/charmbracelet/x/term"

	"github.com/devicepki/ceremony/ceremony/engine"
	"github.com/devicepki/ceremony/ceremony/record"
	"github.com/devicepki/ceremony/ceremony/tui"
)

// tuiCommand runs the interactive TUI. After it leaves the alternate
// screen, it prints what the ceremony left behind (nothing secret), so that
// it stays in the terminal's scrollback.
func tuiCommand(ctx context.Context, opts tui.Options, version string, stdout, stderr io.Writer) int {
	in, out := os.Stdin, os.Stdout
	if !term.IsTerminal(in.Fd()) || !term.IsTerminal(out.Fd()) {
		fmt.Fprintln(stderr, "ceremony: the interactive TUI needs a terminal; for a rehearsal without one use 'ceremony run SCRIPT --config HSM.yaml --answers FILE' (see 'ceremony help')")
		return ExitUsage
	}
	opts.Tool = engine.CurrentTool(version)
	o, err := tui.Run(ctx, opts, in, out)
	if err != nil {
		fmt.Fprintf(stderr, "ceremony: %v\n", err)
		return ExitFailure
	}
	if !o.Started {
		return ExitOK
	}
	if o.Err != nil {
		fmt.Fprintf(stderr, "ceremony: %v\n", o.Err)
		var se *engine.StepError
		if errors.As(o.Err, &se) && !se.Discarded {
			fmt.Fprintf(stderr, "ceremony: the unsealed transcript is %s\n", filepath.Join(o.Dir, "transcript.jsonl"))
		}
		return ExitFailure
	}
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
	return ExitOK
}
