package cli

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/devicepki/ceremony/ceremony/engine"
	"github.com/devicepki/ceremony/hsm"
)

const hsmUsage = `Usage: ceremony hsm check --config HSM.yaml [--input NAME=VALUE]... [SCRIPT...]

Lists what the token's PKCS#11 module offers (its mechanisms, with key sizes
and flags, and the PIN lengths the token takes), without logging in or
changing anything, and checks each SCRIPT against it: every step that could
not finish on this module is named with what it lacks. A ceremony runs the
same check before anyone acts and refuses a script that fails it. The token
is the config's; a blank slot is used when no token has that label yet (as
for a script that initialises one). Give the inputs a script needs (files
it reads are checked as for a run). Exit status 1 if a script cannot finish.
`

var hsmCmd = &Command{
	Name: "hsm", Usage: hsmUsage,
	Commands: []*Command{{
		Name: "check", Usage: hsmUsage,
		Flags: func(fs *flag.FlagSet) Run {
			configPath := fs.String("config", "", "HSM config `FILE`: PKCS#11 module path and token label or serial")
			templates := fs.String("templates", "", "certificate templates `DIR` (default: templates/ beside the scripts directory)")
			inputs := inputFlags{}
			fs.Var(inputs, "input", "script input `NAME=VALUE` (repeatable)")
			return func(env *Env, pos []string) error {
				return hsmCheck(env, *configPath, *templates, inputs, pos)
			}
		},
	}},
}

func hsmCheck(env *Env, configPath, templates string, inputs map[string]string, scripts []string) error {
	if configPath == "" {
		return usagef("--config FILE is required: it names the PKCS#11 module and the token")
	}
	cfg, err := hsm.LoadConfig(configPath)
	if err != nil {
		return err
	}
	caps, kat, err := readCapabilities(cfg)
	if err != nil {
		return err
	}
	w := env.Stdout
	fmt.Fprintf(w, "Module %s, token %q: PINs of %d to %d characters; %d mechanisms:\n", caps.Module, caps.Token, caps.MinPIN, caps.MaxPIN, len(caps.Mechanisms))
	for _, m := range caps.Mechanisms {
		fmt.Fprintf(w, "  %-28s 0x%08X  keys %d..%d  %s\n", m.Name, m.Type, m.MinKeySize, m.MaxKeySize, hsm.FlagNames(m.Flags))
	}
	fmt.Fprintf(w, "Trusted wrapping: %s\n", caps.Trust)
	fmt.Fprintf(w, "RFC 5649: %s\n", kat)
	failed := 0
	for _, s := range scripts {
		plan, err := engine.Prepare(engine.Options{
			ScriptPath: resolveScript(s), TemplatesDir: templates, Inputs: inputs, HSM: cfg,
			OutDir: filepath.Join(os.TempDir(), "ceremony-hsm-check-not-written"),
		})
		if err != nil {
			return err
		}
		problems := plan.CheckHSM(caps)
		if len(problems) == 0 {
			fmt.Fprintf(w, "\n%s: every step can run on this module.\n", s)
			continue
		}
		failed++
		fmt.Fprintf(w, "\n%s: cannot finish on this module:\n", s)
		for _, p := range problems {
			fmt.Fprintf(w, "  %s\n", p)
		}
	}
	fmt.Fprintln(w, "\nNothing was changed on the token.")
	if failed > 0 {
		return &ExitError{Code: 1, Err: fmt.Errorf("%d of %d script(s) cannot finish on token %q of %s", failed, len(scripts), caps.Token, caps.Module)}
	}
	return nil
}

// readCapabilities reads what the configured token's module offers, from
// the token, or from a blank slot when no token has the label yet. On a
// token it also runs the RFC 5649 known-answer test (public session
// objects only) and says what it found.
func readCapabilities(cfg hsm.Config) (*hsm.Capabilities, string, error) {
	tok, err := hsm.Open(cfg)
	if err == nil {
		defer tok.Close()
		caps, err := tok.Capabilities()
		if err != nil {
			return nil, "", err
		}
		_, kat, kerr := tok.FindRFC5649(true, true)
		if kerr != nil {
			kat = kerr.Error()
		}
		return caps, kat, nil
	}
	if !errors.Is(err, hsm.ErrTokenNotFound) {
		return nil, "", err
	}
	blank, berr := hsm.OpenBlank(cfg)
	if berr != nil {
		return nil, "", fmt.Errorf("%v; and %v", err, strings.TrimPrefix(berr.Error(), "hsm: "))
	}
	defer blank.Close()
	caps, err := blank.Capabilities()
	return caps, "known-answer test not run: the slot has no token yet (the backup step runs it)", err
}
