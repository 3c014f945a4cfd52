// Package cli is the ceremony command line: a table of commands (name,
// usage, flags, run; see Command), each of which parses its flags, builds
// what the packages below need and prints their results. Main finds the
// command, runs it in an Env (context, standard streams, version) and turns
// every failure into one line on stderr and a non-zero exit status: 2 for
// a *UsageError, 1 for other errors, an *ExitError's own status. The
// command in ../main.go only builds the Env and calls Main.
package cli

import (
	"context"
	"flag"
	"fmt"
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
  ceremony transcript verify OUT/transcript.jsonl (--root ROOT.pem | --root-fingerprint SHA256) [--crl CRL.pem]...
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
           (OUT/transcript.sig) and writes the printable record,
           OUT/transcript.md and OUT/transcript.pdf.
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
  hsm check
           List what the token's PKCS#11 module offers (mechanisms, key
           sizes, PIN lengths) and check scripts against it: each step it
           could not run is named with what is missing. Changes nothing.
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

// commands is the command line: every command, in the order of the help.
var commands = []*Command{
	runCmd, sharesCmd, tokenCmd, hsmCmd, closeCmd, sealCmd, csrCmd, transcriptCmd, qrCmd, importCmd,
	{
		Name: "version", Aliases: []string{"--version"}, Usage: "Usage: ceremony version\n",
		Flags: func(*flag.FlagSet) Run { return versionRun },
	},
	{
		Name: "help", Aliases: []string{"-h", "-help", "--help"}, Usage: usage,
		Flags: func(*flag.FlagSet) Run {
			return func(env *Env, _ []string) error {
				fmt.Fprint(env.Stdout, usage)
				return nil
			}
		},
	},
}

func init() { setPaths(commands, "") }

// Main runs the command line with args (without the program name) in env
// and returns the exit status. Without arguments it opens the TUI.
func Main(args []string, env *Env) int {
	// Everything printed goes through one sanitiser: text from files and
	// tokens cannot drive the terminal. The TUI and qr show draw on the
	// terminal itself (env.terminal).
	e := *env
	e.terminal, e.Stdout, e.Stderr = env.Stdout, record.TextWriter(env.Stdout), record.TextWriter(env.Stderr)
	// A command reading standard input (shares, scanned frames) stops
	// on SIGINT or SIGTERM even while no input comes.
	if e.Ctx == nil {
		e.Ctx = context.Background()
	}
	e.terminalIn, e.Stdin = env.Stdin, cancelReader{ctx: e.Ctx, r: env.Stdin}
	env = &e
	if len(args) == 0 {
		return report(env, "", true, tuiRun(env, tui.Options{}))
	}
	cmd, rest, err := find(commands, args, env)
	switch {
	case err != nil:
		return report(env, "", true, err)
	case cmd == nil:
		return report(env, "", true, usagef("unknown command %q (try 'ceremony help')", args[0]))
	}
	return report(env, cmd.path, cmd.Bare, cmd.run(env, rest))
}

func versionRun(env *Env, _ []string) error {
	fmt.Fprintf(env.Stdout, "ceremony %s\n", env.Version)
	t := engine.CurrentTool(env.Version)
	fmt.Fprintf(env.Stdout, "go: %s\n", t.GoVersion)
	if t.Revision != "" {
		fmt.Fprintf(env.Stdout, "revision: %s%s\n", t.Revision, map[bool]string{true: " (modified)"}[t.Modified])
	}
	return nil
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

var runCmd = &Command{
	Name: "run",
	Usage: `Usage: ceremony run SCRIPT [--config HSM.yaml] [--answers FILE] [--rehearsal] [--out DIR] [--input NAME=VALUE]...
Without --answers the ceremony runs in the TUI, which asks for what the flags do not give.
`,
	ListFlags: true,
	Bare:      true,
	Flags: func(fs *flag.FlagSet) Run {
		var (
			answersPath = fs.String("answers", "", "answers `FILE` for a rehearsal (attendance, confirmations, PIN sources)")
			configPath  = fs.String("config", "", "HSM config `FILE`: PKCS#11 module path and token label or serial")
			out         = fs.String("out", "", "ceremony output `DIR` (default transcripts/SCRIPT-TIMESTAMP)")
			templates   = fs.String("templates", "", "certificate templates `DIR` (default: templates/ beside the scripts directory)")
			rehearsal   = fs.Bool("rehearsal", false, "a rehearsal: recorded as one, and shares handed out are also written to OUT/shares/")
			inputs      = inputFlags{}
		)
		fs.Var(inputs, "input", "script input `NAME=VALUE` (repeatable)")
		return func(env *Env, pos []string) error {
			switch {
			case len(pos) == 0:
				return usagef("run: which script? (for example scripts/root-key-generation.yaml)")
			case len(pos) > 1:
				return usagef("run: one script at a time (got %s)", strings.Join(pos, ", "))
			}
			scriptPath := resolveScript(pos[0])
			if *answersPath == "" {
				return tuiRun(env, tui.Options{
					ScriptsDir: filepath.Dir(scriptPath), Script: scriptPath, ConfigPath: *configPath, OutDir: *out,
					Inputs: inputs, Rehearsal: *rehearsal, TemplatesDir: *templates,
				})
			}
			if *configPath == "" {
				return usagef("run: --config FILE is required: it names the PKCS#11 module and the token")
			}
			return runAnswers(env, engine.Options{
				ScriptPath: scriptPath, TemplatesDir: *templates, Inputs: inputs,
				OutDir: *out, Tool: engine.CurrentTool(env.Version), Rehearsal: *rehearsal,
			}, *configPath, *answersPath)
		}
	},
}

// runAnswers runs a ceremony from an answers file, for rehearsals and
// tests.
func runAnswers(env *Env, opts engine.Options, configPath, answersPath string) error {
	stdout := env.Stdout
	cfg, err := hsm.LoadConfig(configPath)
	if err != nil {
		return err
	}
	opts.HSM = cfg
	if opts.OutDir == "" {
		name := strings.TrimSuffix(filepath.Base(opts.ScriptPath), filepath.Ext(opts.ScriptPath))
		opts.OutDir = filepath.Join("transcripts", name+"-"+time.Now().UTC().Format("20060102T150405Z"))
	}
	plan, err := engine.Prepare(opts)
	if err != nil {
		return err
	}
	s := plan.Script()
	face, err := answers.Load(answersPath, s, stdout, opts.Rehearsal)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Ceremony: %s (%s)\nOutput:   %s\n", s.Title, s.Path, plan.OutDir())
	if opts.Rehearsal {
		fmt.Fprintf(stdout, "REHEARSAL: shares handed out are also written to %s\n", filepath.Join(plan.OutDir(), "shares"))
	}
	fmt.Fprintln(stdout)
	res, err := plan.Run(env.Ctx, face)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nCeremony %s completed.\n", s.Name)
	fmt.Fprintf(stdout, "  transcript:   %s (%d events)\n", res.Transcript, res.Events)
	for _, a := range res.Artifacts {
		fmt.Fprintf(stdout, "  artifact:     %s\n                sha256 %s\n", filepath.Join(res.Dir, a.Path), a.SHA256)
	}
	fmt.Fprintf(stdout, "  final digest: %s\n", record.GroupHex(res.Head))
	return nil
}

// resolveScript accepts a path, or a bare name looked up as
// scripts/NAME.yaml.
func resolveScript(arg string) string {
	if _, err := os.Stat(arg); err == nil || strings.ContainsAny(arg, `/\`) || strings.HasSuffix(arg, ".yaml") {
		return arg
	}
	return filepath.Join("scripts", arg+".yaml")
}
