package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/devicepki/ceremony/internal/p11test"
)

// The ceremonies run end to end, each in its own process as a user runs
// them, on the PKCS#11 modules Debian ships beside SoftHSM2: the stories
// in testdata/modules/<module>/ run with $MODULE and the module's
// environment set, in a $WORK holding copies of scripts/, templates/ and
// examples/, and an HSM config hsm.yaml for a token labelled "root".

func TestCeremoniesOnOpenCryptoki(t *testing.T) {
	m := p11test.OpenCryptoki(t)
	runModuleStories(t, m, "opencryptoki")
}

func TestCeremoniesOnTPM2(t *testing.T) {
	m := p11test.TPM2(t)
	runModuleStories(t, m, "tpm2")
}

func runModuleStories(t *testing.T, m *p11test.Module, dir string) {
	testscript.Run(t, testscript.Params{
		Dir: filepath.Join("testdata", "modules", dir),
		Setup: func(env *testscript.Env) error {
			for _, d := range []string{"scripts", "templates", "examples"} {
				if err := copyMissing(filepath.Join("..", d), filepath.Join(env.WorkDir, d)); err != nil {
					return err
				}
			}
			for _, kv := range m.Env {
				k, v, _ := strings.Cut(kv, "=")
				env.Setenv(k, v)
			}
			env.Setenv("MODULE", m.Path)
			env.Setenv("DEFAULT_SO_PIN", m.DefaultSOPIN)
			// nosecret looks for the typed SO PIN too.
			env.Setenv("TEST_SO_PIN", m.DefaultSOPIN)
			return os.WriteFile(filepath.Join(env.WorkDir, "hsm.yaml"),
				[]byte("module: "+m.Path+"\ntoken:\n  label: root\n"), 0o644)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"nosecret":    cmdNoSecret,
			"fingerprint": cmdFingerprint,
			"subst":       cmdSubst,
			"derivepin":   cmdDerivePIN,
			// resetmodule puts the module back to one blank token, as a
			// replacement HSM from its vendor.
			"resetmodule": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 0 {
					ts.Fatalf("usage: resetmodule")
				}
				m.Reset(scriptTB{TB: t, ts: ts})
			},
		},
	})
}

// scriptTB reports a harness failure to the story that asked for it.
type scriptTB struct {
	testing.TB
	ts *testscript.TestScript
}

func (s scriptTB) Helper()                           {}
func (s scriptTB) Fatal(args ...any)                 { s.ts.Fatalf("%s", fmt.Sprint(args...)) }
func (s scriptTB) Fatalf(format string, args ...any) { s.ts.Fatalf(format, args...) }
