package cli

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/devicepki/ceremony/ceremony/activation"
	"github.com/devicepki/ceremony/ceremony/engine"
	"github.com/devicepki/ceremony/hsm"
)

const closeUsage = `Usage:
  ceremony close DIR                      (lists what closing would do)
  ceremony close DIR --confirm [--config HSM.yaml (SHARE-FILE... | - | --pin-file FILE | --pin-env VAR)]
  ceremony close DIR --confirm --token-gone REASON --config HSM.yaml

close ends a ceremony that was interrupted (a crash, a power loss, a
rollback that could not finish): it destroys on the token the key pairs
its transcript says it generated and did not destroy, each checked by
label, id and public key first; removes the artifacts it wrote and did
not withdraw, each checked by SHA-256 first; and appends each of these,
then a ceremony-closed event, to DIR/transcript.jsonl, which stays
unsealed (transcript verify: UNSEALED, intact). If anything is not what
the transcript recorded, nothing is changed.

It also removes the temporary files of writes a kill cut short (never
a complete file) and, for a ceremony that already ended (sealed, closed)
or never recorded an event, writes a missing printable record: this
tidying changes no transcript.

A token can be gone: reset, destroyed, or lost by its module (SoftHSM2's
file store rewrites a token's own file in place, so a kill at that
moment leaves the token uninitialised and its keys unreadable). With
--token-gone REASON and --config naming it, close checks that the
module lists no initialised token with that label and records the keys
on it as destroyed with it, and the reason, without a login. A token
merely unplugged, or a config naming the wrong module or store, is not
gone: the module cannot tell, so the listing without --confirm says what
would be recorded, for the people to check first.

The transcript of an unsealed ceremony is not authenticated: without
--confirm, close only lists what it would destroy and withdraw, and the
people closing it read that list (is every key one the interrupted
ceremony made?) before running it again with --confirm.

Keys are destroyed under a login: a quorum of the token's officers'
activation shares (files, or - for shares typed on standard input), or
the user PIN of a token that has one (--pin-file, --pin-env). Without
leftover keys no login, and no --config, is needed.

Exit status: 0 closed; 1 refused, nothing changed; 2 usage.
`

var closeCmd = &Command{
	Name: "close", Usage: closeUsage,
	Flags: func(fs *flag.FlagSet) Run {
		var o closeOptions
		o.login.flags(fs, "the token the leftover keys are on")
		fs.BoolVar(&o.confirm, "confirm", false, "do it (without: list what closing would do)")
		fs.StringVar(&o.tokenGone, "token-gone", "", "the token the keys are on is gone for good (its module lost it, it was reset): record them destroyed with it, without a login, and `REASON` why")
		return func(env *Env, pos []string) error { return closeRun(env, &o, pos) }
	},
}

// closeOptions are the flags of close.
type closeOptions struct {
	login     loginFlags
	confirm   bool
	tokenGone string
}

// loginFlags are the flags with which close and seal log in to a token:
// its config, and the user PIN (the activation shares are arguments).
type loginFlags struct {
	configPath, pinFile, pinEnv string
}

func (o *loginFlags) flags(fs *flag.FlagSet, which string) {
	fs.StringVar(&o.configPath, "config", "", "HSM config `FILE` naming "+which)
	fs.StringVar(&o.pinFile, "pin-file", "", "user PIN `FILE`, for a token with a PIN")
	fs.StringVar(&o.pinEnv, "pin-env", "", "environment `VARIABLE` holding the user PIN")
}

// build checks the login flags with the share arguments and returns the
// token's config and a login (nil when none was given). The ceremony in
// dir may have initialised the token: its activation record is then the
// one the shares are checked against. wipe wipes the shares read; call
// it whatever the error.
func (o *loginFlags) build(env *Env, dir string, shareArgs []string) (cfg hsm.Config, login func(*hsm.Token) (string, error), wipe func(), err error) {
	wipe = func() {}
	usePIN := o.pinFile != "" || o.pinEnv != ""
	switch {
	case o.pinFile != "" && o.pinEnv != "":
		return cfg, nil, wipe, usagef("give one of --pin-file and --pin-env, not both")
	case usePIN && len(shareArgs) > 0:
		return cfg, nil, wipe, usagef("give activation shares or a PIN, not both")
	case (usePIN || len(shareArgs) > 0) && o.configPath == "":
		return cfg, nil, wipe, usagef("--config FILE is required with a login: it names the token")
	}
	inputs, err := readAllShares(shareArgs, env.Stdin)
	wipe = func() { wipeShares(inputs) }
	if err != nil {
		return cfg, nil, wipe, err
	}
	if o.configPath != "" {
		if cfg, err = hsm.LoadConfig(o.configPath); err != nil {
			return cfg, nil, wipe, err
		}
	}
	switch {
	case len(inputs) > 0:
		login = func(tok *hsm.Token) (string, error) {
			record := cfg.ActivationRecord
			if own := filepath.Join(dir, "artifacts", activation.ArtifactName); record == "" && fileExists(own) {
				// The ceremony in dir initialised the token.
				record = own
			}
			how, err := activationLogin(tok, record, inputs)
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("%d activation shares (%s)", len(inputs), how), nil
		}
	case usePIN:
		login = func(tok *hsm.Token) (string, error) {
			pin, err := readPINFlag(o.pinFile, o.pinEnv)
			if err != nil {
				return "", err
			}
			defer pin.Wipe()
			if err := tok.Login(pin); err != nil {
				return "", err
			}
			return "the user PIN", nil
		}
	}
	return cfg, login, wipe, nil
}

func closeRun(env *Env, o *closeOptions, pos []string) (err error) {
	stdout := env.Stdout
	if len(pos) == 0 {
		return usagef("which ceremony directory? (see 'ceremony close --help')")
	}
	dir, shareArgs := pos[0], pos[1:]
	opts := engine.CloseOptions{Dir: dir, Confirmed: o.confirm}
	cfg, login, wipe, err := o.login.build(env, dir, shareArgs)
	defer wipe()
	if err != nil {
		return err
	}
	opts.HSM, opts.Login, opts.TokenGone = cfg, login, o.tokenGone
	if o.tokenGone != "" && login != nil {
		return usagef("--token-gone takes no login: the token it names is gone")
	}
	if o.tokenGone != "" && o.login.configPath == "" {
		return usagef("--token-gone needs --config FILE naming the token that is gone")
	}
	res, err := engine.CloseInterrupted(opts)
	if err != nil {
		if res != nil && (len(res.Destroyed) > 0 || len(res.Withdrawn) > 0) {
			return fmt.Errorf("%v (after destroying %d key pair(s) and withdrawing %d artifact(s), each recorded in %s)", err, len(res.Destroyed), len(res.Withdrawn), res.Transcript)
		}
		return err
	}
	for _, t := range res.Tidied {
		fmt.Fprintln(stdout, t)
	}
	if res.JournalCleared != "" {
		fmt.Fprintln(stdout, res.JournalCleared)
		return nil
	}
	if res.NothingToClose != "" {
		for _, p := range res.Planned {
			fmt.Fprintf(stdout, "would %s\n", p)
		}
		if o.confirm {
			fmt.Fprintf(stdout, "There is nothing to close: %s. Tidied what the interruption left; no transcript was changed.\n", res.NothingToClose)
		} else {
			fmt.Fprintf(stdout, "There is nothing to close: %s. Nothing was changed; run again with --confirm to tidy what the interruption left.\n", res.NothingToClose)
		}
		return nil
	}
	if !o.confirm {
		for _, p := range res.Planned {
			fmt.Fprintf(stdout, "would %s\n", p)
		}
		for _, a := range res.Gone {
			fmt.Fprintf(stdout, "already gone: %s\n", a)
		}
		fmt.Fprintf(stdout, "Nothing was changed. Check that every key pair listed is one this interrupted ceremony made, then run again with --confirm.\n")
		return nil
	}
	for _, k := range res.Destroyed {
		if o.tokenGone != "" {
			fmt.Fprintf(stdout, "recorded key pair %s as destroyed with its token, which is gone\n", k)
			continue
		}
		fmt.Fprintf(stdout, "destroyed key pair %s\n", k)
	}
	for _, a := range res.Withdrawn {
		fmt.Fprintf(stdout, "withdrew %s\n", a)
	}
	for _, a := range res.Gone {
		fmt.Fprintf(stdout, "already gone: %s\n", a)
	}
	fmt.Fprintf(stdout, "Closed: %s now ends with ceremony-closed (%d events); it stays unsealed.\n", res.Transcript, res.Events)
	return nil
}

// fileExists reports whether path names a regular file.
func fileExists(path string) bool {
	fi, err := os.Lstat(path)
	return err == nil && fi.Mode().IsRegular()
}
