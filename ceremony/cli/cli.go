// Package cli is the ceremony command line: it parses arguments, builds the
// engine's options, and turns every failure into one line on stderr and a
// non-zero exit status. The command in ../main.go only calls Main.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/devicepki/ceremony/ceremony/answers"
	"github.com/devicepki/ceremony/ceremony/engine"
	"github.com/devicepki/ceremony/ceremony/record"
	"github.com/devicepki/ceremony/ceremony/script"
	"github.com/devicepki/ceremony/ceremony/tui"
	"github.com/devicepki/ceremony/hsm"
)

// Exit statuses.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

const usage = `ceremony runs offline root-key ceremonies on a PKCS#11 HSM.

Usage:
  ceremony                       (the interactive TUI: choose a script, or look at an interrupted one)
  ceremony run SCRIPT [--config HSM.yaml] [--rehearsal] [--out DIR] [--input NAME=VALUE]...   (in the TUI)
  ceremony run SCRIPT --config HSM.yaml --answers FILE [--rehearsal] [--out DIR] [--input NAME=VALUE]...
  ceremony shares check [--transcript OUT/transcript.jsonl] (SHARE-FILE... | -)
  ceremony token inspect --config HSM.yaml [SHARE-FILE... | -]
  ceremony close DIR [--confirm --config HSM.yaml (SHARE-FILE... | - | --pin-file FILE | --pin-env VAR)]
  ceremony csr --config HSM.yaml --label KEY-LABEL [--generate ALGORITHM] --subject /C=../O=../CN=..
               (--pin-file FILE | --pin-env VAR) --out FILE.csr.pem
  ceremony transcript verify OUT/transcript.jsonl (--root ROOT.pem | --root-fingerprint SHA256)
  ceremony transcript show OUT/transcript.jsonl
  ceremony qr export FILE... --out DIR [--frame-bytes N] [--ecc L|M|Q|H]
  ceremony qr show FILE... [--frame-bytes N] [--ecc L|M|Q|H] [--rate FPS]
  ceremony qr import --out DIR [--bundle ID] (IMAGE... | -)
  ceremony import (--root ROOT.pem | --root-fingerprint SHA256) --out DIR INPUT...
  ceremony version
  ceremony help

Commands:
  (none)   Open the TUI, which walks the people in the room through a
           ceremony: choose the script, the HSM config and the output
           directory, then every step on screen.
  run      Run a ceremony script (scripts/*.yaml), in the TUI, or from an
           answers file for rehearsals and tests. Every step is recorded in
           OUT/transcript.jsonl; certificates and public keys go to
           OUT/artifacts/. The last step seals the transcript
           (OUT/transcript.sig) and writes the printable OUT/transcript.md.
  shares check
           Check Shamir shares: each share's checksums, and with the
           transcript that recorded the split, each share against the
           split's manifest and (given enough shares) the rebuilt secret
           against its commitment. The secret is never printed.
  token inspect
           List the objects on a token and each key's protection
           attributes as the HSM reports them; with a quorum of officers'
           activation shares, logged in (the PIN is derived, never shown),
           private keys included. Changes nothing.
  close    End an interrupted ceremony: destroy the keys it left on the
           token, withdraw the files it left, and record both and the
           closing in its transcript.
  csr      Make a certificate signing request with a key pair in a token
           (a factory's or build system's HSM), generated there with
           --generate or already there, for a root ceremony to certify.
  transcript verify
           Check a transcript, its seal against the root you pin, and its
           artifacts. Exit 0 verified, 1 broken, 3 unsealed but intact,
           4 sealed but no root pinned.
  transcript show
           Print the printable record of a transcript.
  qr export, qr show, qr import
           Carry files off the air gap as QR codes: write them as numbered
           frames (PNG) with a printable sheet, cycle them full-screen in
           this terminal, or reassemble them from images or scanned lines.
  import   Check what was carried out of a ceremony (QR frames, files or a
           ceremony directory) against the root you pin, say what each
           file is, and write it all, or nothing if anything is refused.
  version  Print the version of this program.

Run 'ceremony run --help' for the flags of run, 'ceremony csr --help' for
csr, 'ceremony qr help' for qr, 'ceremony import --help' for import.
`

// Main runs the command line with args (without the program name) and
// returns the exit status.
func Main(ctx context.Context, args []string, version string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		return tuiCommand(ctx, tui.Options{}, version, stdout, stderr)
	}
	switch args[0] {
	case "run":
		return runCommand(ctx, args[1:], version, stdout, stderr)
	case "transcript":
		return transcriptCommand(args[1:], stdout, stderr)
	case "shares":
		return sharesCommand(args[1:], os.Stdin, stdout, stderr)
	case "close":
		return closeCommand(args[1:], os.Stdin, stdout, stderr)
	case "token":
		return tokenCommand(args[1:], os.Stdin, stdout, stderr)
	case "csr":
		return csrCommand(ctx, args[1:], stdout, stderr)
	case "qr":
		return qrCommand(ctx, args[1:], os.Stdin, stdout, stderr)
	case "import":
		return importCommand(args[1:], os.Stdin, stdout, stderr)
	case "version", "--version":
		fmt.Fprintf(stdout, "ceremony %s\n", version)
		t := engine.CurrentTool(version)
		fmt.Fprintf(stdout, "go: %s\n", t.GoVersion)
		if t.Revision != "" {
			fmt.Fprintf(stdout, "revision: %s%s\n", t.Revision, map[bool]string{true: " (modified)"}[t.Modified])
		}
		return ExitOK
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return ExitOK
	default:
		fmt.Fprintf(stderr, "ceremony: unknown command %q (try 'ceremony help')\n", args[0])
		return ExitUsage
	}
}

// inputFlags collects repeated --input NAME=VALUE flags.
type inputFlags map[string]string

func (f inputFlags) String() string { return "" }

func (f inputFlags) Set(kv string) error {
	name, value, err := script.ParseInputFlag(kv)
	if err != nil {
		return err
	}
	if _, dup := f[name]; dup {
		return fmt.Errorf("--input %s given twice", name)
	}
	f[name] = value
	return nil
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

func runCommand(ctx context.Context, args []string, version string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ceremony run", flag.ContinueOnError)
	// The flag package would print the error and the whole usage; we print
	// one line instead, and the usage only when asked.
	fs.SetOutput(io.Discard)
	var (
		answersPath = fs.String("answers", "", "answers `FILE` for a rehearsal (attendance, confirmations, PIN sources)")
		configPath  = fs.String("config", "", "HSM config `FILE`: PKCS#11 module path and token label or serial")
		out         = fs.String("out", "", "ceremony output `DIR` (default transcripts/SCRIPT-TIMESTAMP)")
		templates   = fs.String("templates", "", "certificate templates `DIR` (default: templates/ beside the scripts directory)")
		rehearsal   = fs.Bool("rehearsal", false, "a rehearsal: recorded as one, and shares handed out are also written to OUT/shares/")
		inputs      = inputFlags{}
	)
	fs.Var(inputs, "input", "script input `NAME=VALUE` (repeatable)")
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "ceremony: "+format+"\n", a...)
		return code
	}
	pos, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(stdout, "Usage: ceremony run SCRIPT [--config HSM.yaml] [--answers FILE] [--rehearsal] [--out DIR] [--input NAME=VALUE]...")
		fmt.Fprintln(stdout, "Without --answers the ceremony runs in the TUI, which asks for what the flags do not give.")
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return ExitOK
	}
	if err != nil {
		return fail(ExitUsage, "run: %v (see 'ceremony run --help')", err)
	}
	switch {
	case len(pos) == 0:
		return fail(ExitUsage, "run: which script? (for example scripts/root-key-generation.yaml)")
	case len(pos) > 1:
		return fail(ExitUsage, "run: one script at a time (got %s)", strings.Join(pos, ", "))
	}
	scriptPath := resolveScript(pos[0])
	if *answersPath == "" {
		return tuiCommand(ctx, tui.Options{
			ScriptsDir: filepath.Dir(scriptPath), Script: scriptPath, ConfigPath: *configPath, OutDir: *out,
			Inputs: inputs, Rehearsal: *rehearsal, TemplatesDir: *templates,
		}, version, stdout, stderr)
	}
	if *configPath == "" {
		return fail(ExitUsage, "run: --config FILE is required: it names the PKCS#11 module and the token")
	}

	cfg, err := hsm.LoadConfig(*configPath)
	if err != nil {
		return fail(ExitFailure, "%v", err)
	}
	if *out == "" {
		name := strings.TrimSuffix(filepath.Base(scriptPath), filepath.Ext(scriptPath))
		*out = filepath.Join("transcripts", name+"-"+time.Now().UTC().Format("20060102T150405Z"))
	}
	plan, err := engine.Prepare(engine.Options{
		ScriptPath: scriptPath, TemplatesDir: *templates, Inputs: inputs, HSM: cfg,
		OutDir: *out, Tool: engine.CurrentTool(version), Rehearsal: *rehearsal,
	})
	if err != nil {
		return fail(ExitFailure, "%v", err)
	}
	s := plan.Script()
	face, err := answers.Load(*answersPath, s, stdout, *rehearsal)
	if err != nil {
		return fail(ExitFailure, "%v", err)
	}
	fmt.Fprintf(stdout, "Ceremony: %s (%s)\nOutput:   %s\n", s.Title, s.Path, plan.OutDir())
	if *rehearsal {
		fmt.Fprintf(stdout, "REHEARSAL: shares handed out are also written to %s\n", filepath.Join(plan.OutDir(), "shares"))
	}
	fmt.Fprintln(stdout)
	res, err := plan.Run(ctx, face)
	if err != nil {
		return fail(ExitFailure, "%v", err)
	}
	fmt.Fprintf(stdout, "\nCeremony %s completed.\n", s.Name)
	fmt.Fprintf(stdout, "  transcript:   %s (%d events)\n", res.Transcript, res.Events)
	for _, a := range res.Artifacts {
		fmt.Fprintf(stdout, "  artifact:     %s\n                sha256 %s\n", filepath.Join(res.Dir, a.Path), a.SHA256)
	}
	fmt.Fprintf(stdout, "  final digest: %s\n", record.GroupHex(res.Head))
	return ExitOK
}

// resolveScript accepts a path, or a bare name looked up as
// scripts/NAME.yaml.
func resolveScript(arg string) string {
	if _, err := os.Stat(arg); err == nil || strings.ContainsAny(arg, `/\`) || strings.HasSuffix(arg, ".yaml") {
		return arg
	}
	return filepath.Join("scripts", arg+".yaml")
}
