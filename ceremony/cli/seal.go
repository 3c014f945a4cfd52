package cli

import (
	"flag"
	"fmt"

	"github.com/devicepki/ceremony/ceremony/engine"
)

const sealUsage = `Usage: ceremony seal DIR

seal finishes the seal of a ceremony killed while sealing. The seal step
keeps the seal event's line and its signature in DIR/transcript.sig.pending
before it writes the event; seal appends the event if the transcript lacks
it (it must be the next event and chain to the last one), checks that the
signature verifies over the transcript with it, writes transcript.sig and
removes the pending file. Nothing is signed again, so no login is needed.

Exit status: 0 sealed; 1 no pending seal, or one that does not fit the
transcript (nothing changed); 2 usage.
`

var sealCmd = &Command{
	Name: "seal", Usage: sealUsage,
	Flags: func(fs *flag.FlagSet) Run {
		return func(env *Env, pos []string) error {
			if len(pos) != 1 {
				return usagef("give one ceremony directory")
			}
			text, err := engine.FinishSeal(pos[0])
			if err != nil {
				return err
			}
			fmt.Fprintln(env.Stdout, text)
			return nil
		}
	},
}
