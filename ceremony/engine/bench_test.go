package engine_test

import (
	"context"
	"os"
	"testing"

	"github.com/devicepki/ceremony/ceremony/engine"
)

// BenchmarkRootCeremony measures a whole root key generation ceremony on a
// fresh SoftHSM2 token: preparation, every step, fsync'ed transcript,
// artifacts. (Token set-up is outside the timer.)
func BenchmarkRootCeremony(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		r := newRig(b)
		b.StartTimer()
		plan, err := engine.Prepare(r.options(b))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := plan.Run(context.Background(), &scriptedFace{pins: []string{r.tok.PIN}}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.RemoveAll(r.dir)
		b.StartTimer()
	}
}
