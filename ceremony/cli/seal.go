package cli

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/devicepki/ceremony/ceremony/engine"
	"github.com/devicepki/ceremony/ceremony/outdir"
)

const sealUsage = `Usage:
  ceremony seal DIR
  ceremony seal DIR --config HSM.yaml (SHARE-FILE... | - | --pin-file FILE | --pin-env VAR)

seal finishes the seal of a ceremony killed while sealing.

The seal step first records which audit key will sign (a
transcript-sealing event), then keeps the seal event's line and its
signature in DIR/transcript.sig.pending before it writes the event.

  - Killed once the signature was kept: seal appends the event if the
    transcript lacks it (it must be the next event and chain to the last
    one), checks that the signature verifies over the transcript with
    it, writes transcript.sig and removes the pending file. Nothing is
    signed again, so no login is needed.
  - Killed before: the transcript ends with transcript-sealing. Given the
    token's config and a login (a quorum of activation shares, or the
    user PIN), the audit key that event names (checked by label, id and
    certificate) signs the transcript now, as the seal step would have.

Exit status: 0 sealed; 1 not killed while sealing, or the seal does not
fit the transcript (nothing changed); 2 usage.
`

var sealCmd = &Command{
	Name: "seal", Usage: sealUsage,
	Flags: func(fs *flag.FlagSet) Run {
		var o loginFlags
		o.flags(fs, "the token with the audit key")
		return func(env *Env, pos []string) error {
			if len(pos) == 0 {
				return usagef("which ceremony directory? (see 'ceremony seal --help')")
			}
			if err := ceremonyDirExists(pos[0]); err != nil {
				return err
			}
			cfg, login, wipe, err := o.build(env, pos[0], pos[1:])
			defer wipe()
			if err != nil {
				return err
			}
			text, err := engine.Seal(engine.SealOptions{Dir: pos[0], HSM: cfg, Login: login})
			if err != nil {
				return err
			}
			fmt.Fprintln(env.Stdout, text)
			return nil
		}
	},
}

// ceremonyDirExists says, in words, that dir is no ceremony directory when
// it or its transcript does not exist; other problems are left to the
// engine, which names them.
func ceremonyDirExists(dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no ceremony directory at %s: give the directory the ceremony wrote (its --out)", dir)
	}
	if st, err := os.Stat(dir); err == nil && st.IsDir() {
		if _, err := os.Lstat(filepath.Join(dir, outdir.TranscriptFile)); errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s is not a ceremony directory: it holds no %s; give the directory the ceremony wrote (its --out)", dir, outdir.TranscriptFile)
		}
	}
	return nil
}
