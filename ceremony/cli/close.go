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

close ends a ceremony that was interrupted (a crash, a power loss, a
rollback that could not finish): it destroys on the token the key pairs
its transcript says it generated and did not destroy, each checked by
label, id and public key first; removes the artifacts it wrote and did
not withdraw, each checked by SHA-256 first; and appends each of these,
then a ceremony-closed event, to DIR/transcript.jsonl, which stays
unsealed (transcript verify: UNSEALED, intact). If anything is not what
the transcript recorded, nothing is changed.

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
		fs.StringVar(&o.configPath, "config", "", "HSM config `FILE` naming the token the leftover keys are on")
		fs.StringVar(&o.pinFile, "pin-file", "", "user PIN `FILE`, for a token with a PIN")
		fs.StringVar(&o.pinEnv, "pin-env", "", "environment `VARIABLE` holding the user PIN")
		fs.BoolVar(&o.confirm, "confirm", false, "do it (without: list what closing would do)")
		return func(env *Env, pos []string) error { return closeRun(env, &o, pos) }
	},
}

// closeOptions are the flags of close.
type closeOptions struct {
	configPath, pinFile, pinEnv string
	confirm                     bool
}

func closeRun(env *Env, o *closeOptions, pos []string) (err error) {
	stdout := env.Stdout
	if len(pos) == 0 {
		return usagef("which ceremony directory? (see 'ceremony close --help')")
	}
	dir, shareArgs := pos[0], pos[1:]
	usePIN := o.pinFile != "" || o.pinEnv != ""
	switch {
	case o.pinFile != "" && o.pinEnv != "":
		return usagef("give one of --pin-file and --pin-env, not both")
	case usePIN && len(shareArgs) > 0:
		return usagef("give activation shares or a PIN, not both")
	case (usePIN || len(shareArgs) > 0) && o.configPath == "":
		return usagef("--config FILE is required with a login: it names the token the keys are on")
	}
	inputs, err := readAllShares(shareArgs, env.Stdin)
	defer wipeShares(inputs)
	if err != nil {
		return err
	}
	opts := engine.CloseOptions{Dir: dir, Confirmed: o.confirm}
	if o.configPath != "" {
		if opts.HSM, err = hsm.LoadConfig(o.configPath); err != nil {
			return err
		}
	}
	switch {
	case len(inputs) > 0:
		opts.Login = func(tok *hsm.Token) (string, error) {
			record := opts.HSM.ActivationRecord
			if own := filepath.Join(dir, "artifacts", activation.ArtifactName); record == "" && fileExists(own) {
				// The ceremony being closed initialised the token.
				record = own
			}
			how, err := activationLogin(tok, record, inputs)
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("%d activation shares (%s)", len(inputs), how), nil
		}
	case usePIN:
		opts.Login = func(tok *hsm.Token) (string, error) {
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
	res, err := engine.CloseInterrupted(opts)
	if err != nil {
		if res != nil && (len(res.Destroyed) > 0 || len(res.Withdrawn) > 0) {
			return fmt.Errorf("%v (after destroying %d key pair(s) and withdrawing %d artifact(s), each recorded in %s)", err, len(res.Destroyed), len(res.Withdrawn), res.Transcript)
		}
		return err
	}
	if res.JournalCleared != "" {
		fmt.Fprintln(stdout, res.JournalCleared)
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
