package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/devicepki/ceremony/ceremony/engine"
	"github.com/devicepki/ceremony/ceremony/verify"
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

// BenchmarkVerifyCeremony measures transcript verify on a sealed root
// ceremony directory: chain, seal against the pinned root, artifacts.
func BenchmarkVerifyCeremony(b *testing.B) {
	r := newRig(b)
	plan, err := engine.Prepare(r.options(b))
	if err != nil {
		b.Fatal(err)
	}
	res, err := plan.Run(context.Background(), &scriptedFace{pins: []string{r.tok.PIN}})
	if err != nil {
		b.Fatal(err)
	}
	root, err := verify.LoadRoot(filepath.Join(r.out, "artifacts", "root-ca.crt.pem"))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if v, err := verify.Ceremony(res.Transcript, verify.Pin{Root: root}); err != nil || v.Status != verify.Verified {
			b.Fatal(err)
		}
	}
}
