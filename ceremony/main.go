// Command ceremony runs offline root-key ceremonies on a PKCS#11 HSM: it
// generates the company root CA key, issues certificates, and records every
// step in a hash-chained transcript. See README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/devicepki/ceremony/ceremony/cli"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	// SIGINT/SIGTERM abort the ceremony at the next prompt or step, with an
	// abort event in the transcript.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(os.Args[1:], &cli.Env{Ctx: ctx, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Version: version})
	stop()
	os.Exit(code)
}
