package cli

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/devicepki/ceremony/ceremony/activation"
	"github.com/devicepki/ceremony/ceremony/engine"
	"github.com/devicepki/ceremony/ceremony/secret"
	"github.com/devicepki/ceremony/hsm"
)

const hsmUsage = `Usage: ceremony hsm check --config HSM.yaml [--input NAME=VALUE]...
           [--share FILE... | --pin-file FILE | --pin-env VAR] [SCRIPT...]

Lists what the token's PKCS#11 module offers (its mechanisms, with key sizes
and flags, the PIN lengths the token takes, whether it takes trusted
wrapping keys, and which mechanism passes the RFC 5649 known-answer test),
and checks each SCRIPT against it: every step that could not finish on this
module is named with what it lacks. A ceremony runs the same check before
anyone acts and refuses a script that fails it. The token is the config's;
a blank slot is used when no token has that label yet (as for a script that
initialises one). Give the inputs a script needs (files it reads are
checked as for a run).

Given a way to log in to an initialised token (a quorum of activation
shares with --share, repeatable, or the user PIN with --pin-file or
--pin-env), it also rehearses each script's key templates, backups (the
wrapping key's import, the wrap and the unwrap check; a trusted import
needs the security officer, whose PIN shares give) and data objects with
session objects (token objects labelled ceremony-rehearsal, destroyed at
once, where the module makes no session key pairs). Use a spare token of
the model the ceremony will use.

Nothing is changed on the token. Exit status 1 if a script cannot finish.
`

var hsmCmd = &Command{
	Name: "hsm", Usage: hsmUsage,
	Commands: []*Command{{
		Name: "check", Usage: hsmUsage,
		Flags: func(fs *flag.FlagSet) Run {
			o := hsmCheckOptions{inputs: inputFlags{}}
			fs.StringVar(&o.configPath, "config", "", "HSM config `FILE`: PKCS#11 module path and token label or serial")
			fs.StringVar(&o.templates, "templates", "", "certificate templates `DIR` (default: templates/ beside the scripts directory)")
			fs.Var(o.inputs, "input", "script input `NAME=VALUE` (repeatable)")
			fs.Func("share", "activation share `FILE` to log in and rehearse (repeatable; - for standard input)", func(v string) error {
				o.shares = append(o.shares, v)
				return nil
			})
			fs.StringVar(&o.pinFile, "pin-file", "", "user PIN `FILE`, to log in and rehearse")
			fs.StringVar(&o.pinEnv, "pin-env", "", "environment `VARIABLE` holding the user PIN, to log in and rehearse")
			return func(env *Env, pos []string) error {
				return hsmCheck(env, o, pos)
			}
		},
	}},
}

type hsmCheckOptions struct {
	configPath, templates string
	inputs                inputFlags
	shares                []string
	pinFile, pinEnv       string
}

func hsmCheck(env *Env, o hsmCheckOptions, scripts []string) error {
	if o.configPath == "" {
		return usagef("--config FILE is required: it names the PKCS#11 module and the token")
	}
	usePIN := o.pinFile != "" || o.pinEnv != ""
	switch {
	case o.pinFile != "" && o.pinEnv != "":
		return usagef("give one of --pin-file and --pin-env, not both")
	case usePIN && len(o.shares) > 0:
		return usagef("give activation shares or a PIN, not both")
	}
	cfg, err := hsm.LoadConfig(o.configPath)
	if err != nil {
		return err
	}
	// The activation record the config names is read at every login with
	// shares: a wrong one is said now, before a ceremony needs it.
	if cfg.ActivationRecord != "" {
		if _, err := activation.ReadRecordFile(cfg.ActivationRecord); err != nil {
			return fmt.Errorf("%s: activation_record: %w", o.configPath, err)
		}
	}
	rehearse := usePIN || len(o.shares) > 0
	tok, caps, kat, err := readCapabilities(cfg, rehearse)
	if err != nil {
		return err
	}
	if tok != nil {
		defer tok.Close()
	}
	var so, user *secret.Secret
	login := ""
	if rehearse {
		if so, user, login, err = hsmCheckLogin(env, tok, cfg, o, usePIN); err != nil {
			return err
		}
		defer so.Wipe()
		defer user.Wipe()
	}
	w := env.Stdout
	fmt.Fprintf(w, "Module %s, token %q: PINs of %d to %d characters; %d mechanisms:\n", caps.Module, caps.Token, caps.MinPIN, caps.MaxPIN, len(caps.Mechanisms))
	for _, m := range caps.Mechanisms {
		fmt.Fprintf(w, "  %-28s 0x%08X  keys %d..%d  %s\n", m.Name, m.Type, m.MinKeySize, m.MaxKeySize, hsm.FlagNames(m.Flags))
	}
	fmt.Fprintf(w, "Trusted wrapping: %s\n", caps.Trust)
	fmt.Fprintf(w, "RFC 5649: %s\n", kat)
	if rehearse {
		fmt.Fprintf(w, "Rehearsing with session objects, logged in with %s.\n", login)
	}
	failed := 0
	for _, s := range scripts {
		plan, err := engine.Prepare(engine.Options{
			ScriptPath: resolveScript(s), TemplatesDir: o.templates, Inputs: o.inputs, HSM: cfg,
			OutDir: filepath.Join(os.TempDir(), "ceremony-hsm-check-not-written"),
		})
		if err != nil {
			return err
		}
		problems := plan.CheckHSM(caps)
		var notes []engine.HSMProblem
		if rehearse && len(problems) == 0 {
			problems, notes = plan.Rehearse(tok, caps, so, user)
		}
		switch {
		case len(problems) == 0 && rehearse:
			fmt.Fprintf(w, "\n%s: every step can run on this module, and its key templates, backups and data objects rehearsed on the token.\n", s)
		case len(problems) == 0:
			fmt.Fprintf(w, "\n%s: every step can run on this module.\n", s)
		default:
			failed++
			fmt.Fprintf(w, "\n%s: cannot finish on this module:\n", s)
		}
		for _, p := range problems {
			fmt.Fprintf(w, "  %s\n", p)
		}
		for _, n := range notes {
			fmt.Fprintf(w, "  note: %s\n", n)
		}
	}
	fmt.Fprintln(w, "\nNothing was changed on the token.")
	if failed > 0 {
		return &ExitError{Code: 1, Err: fmt.Errorf("%d of %d script(s) cannot finish on token %q of %s", failed, len(scripts), caps.Token, caps.Module)}
	}
	return nil
}

// hsmCheckLogin logs in to the token for a rehearsal: with activation
// shares (which give the security officer's PIN too) or the user PIN.
// The caller wipes the PINs it returns (so may be nil).
func hsmCheckLogin(env *Env, tok *hsm.Token, cfg hsm.Config, o hsmCheckOptions, usePIN bool) (so, user *secret.Secret, how string, err error) {
	if usePIN {
		pin, err := readPINFlag(o.pinFile, o.pinEnv)
		if err != nil {
			return nil, nil, "", err
		}
		if err := tok.Login(pin); err != nil {
			pin.Wipe()
			return nil, nil, "", err
		}
		return nil, pin, "the user PIN (the security officer's steps are not rehearsed)", nil
	}
	inputs, err := readAllShares(o.shares, env.Stdin)
	defer wipeShares(inputs)
	if err != nil {
		return nil, nil, "", err
	}
	so, user, split, err := activationPINs(tok, cfg.ActivationRecord, inputs)
	if err != nil {
		return nil, nil, "", err
	}
	if err := tok.Login(user); err != nil {
		so.Wipe()
		user.Wipe()
		return nil, nil, "", fmt.Errorf("the shares match the activation record, but the token rejects the PIN derived from them: %w", err)
	}
	return so, user, fmt.Sprintf("the PINs derived from %d activation shares (%s)", len(inputs), split), nil
}

// readCapabilities reads what the configured token's module offers, from
// the token, or from a blank slot when no token has the label yet. On a
// token it also runs the RFC 5649 known-answer test (public session
// objects only) and says what it found. With keep, the token stays open
// and is returned (a rehearsal needs it; a blank slot is then refused).
func readCapabilities(cfg hsm.Config, keep bool) (*hsm.Token, *hsm.Capabilities, string, error) {
	tok, err := hsm.Open(cfg)
	if err == nil {
		caps, err := tok.Capabilities()
		if err != nil {
			tok.Close()
			return nil, nil, "", err
		}
		_, kat, kerr := tok.FindRFC5649(true, true)
		if kerr != nil {
			kat = kerr.Error()
		}
		if !keep {
			tok.Close()
			tok = nil
		}
		return tok, caps, kat, nil
	}
	if !errors.Is(err, hsm.ErrTokenNotFound) {
		return nil, nil, "", err
	}
	blank, berr := hsm.OpenBlank(cfg)
	if berr != nil {
		return nil, nil, "", fmt.Errorf("%v; and %v", err, strings.TrimPrefix(berr.Error(), "hsm: "))
	}
	defer blank.Close()
	if keep {
		return nil, nil, "", fmt.Errorf("token %q is not initialised yet: a rehearsal logs in to an initialised token (a spare of the same model); without --share or a PIN, the check reads the blank slot", cfg.Token.Label)
	}
	caps, err := blank.Capabilities()
	return nil, caps, "known-answer test not run: the slot has no token yet (the backup step runs it)", err
}
