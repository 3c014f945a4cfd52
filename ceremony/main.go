// Command ceremony runs offline root-key ceremonies on a PKCS#11 HSM: it
// generates the company root CA key, issues certificates, and records every
// step in a hash-chained transcript. See README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/devicepki/ceremony/ceremony/cli"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

// memoryLimit is the heap size the garbage collector keeps under while it
// can (runtime/debug.SetMemoryLimit). Every input is bounded (the
// reference's "Files the program reads"), so the live heap stays well
// below it; the limit stops the collector's default slack (it lets the
// heap grow to twice what is live) from taking the process past 256 MiB
// on the largest inputs. GOMEMLIMIT, if set, overrides it.
const memoryLimit = 192 << 20

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
	// SIGINT/SIGTERM abort the ceremony at the next prompt or step, with an
	// abort event in the transcript.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(os.Args[1:], &cli.Env{Ctx: ctx, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Version: version})
	stop()
	os.Exit(code)
}
