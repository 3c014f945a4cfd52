package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devicepki/ceremony/ceremony/engine"
	"github.com/devicepki/ceremony/hsm"
	"github.com/devicepki/ceremony/internal/p11test"
)

// noFace fails the test if the engine asks the room anything: a script
// the module cannot run must be refused before anyone acts.
type noFace struct {
	engine.Face // nil: any question panics
	t           *testing.T
}

func (noFace) Name() string { return "none" }

func (f noFace) Report(r engine.Report) { f.t.Errorf("the engine reported %q before refusing", r.Text) }

// refusedBeforeAnyoneActs runs the root key generation ceremony on a
// module and checks that it is refused before anything happens: one line
// naming each step that could not run, no output directory, the blank
// token still blank.
func refusedBeforeAnyoneActs(t *testing.T, m *p11test.Module, want ...string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out")
	plan, err := engine.Prepare(engine.Options{
		ScriptPath: "../../scripts/root-key-generation.yaml", TemplatesDir: "../../templates",
		Inputs: map[string]string{"place": "Test lab"}, HSM: hsm.Config{Module: m.Path, Token: hsm.TokenSelector{Label: "root"}},
		OutDir: out, Tool: engine.CurrentTool("test"),
		Interfaces: func() ([]engine.NetInterface, error) { return nil, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = plan.Run(context.Background(), noFace{t: t})
	t.Logf("%s: %v", m.Name, err)
	if err == nil {
		t.Fatalf("%s: the root ceremony ran", m.Name)
	}
	msg := err.Error()
	for _, w := range append([]string{"cannot finish on token \"root\"", "nothing was changed"}, want...) {
		if !strings.Contains(msg, w) {
			t.Errorf("%s: error lacks %q:\n%s", m.Name, w, msg)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("%s: error spans lines: %q", m.Name, msg)
	}
	if _, err := os.Lstat(out); !os.IsNotExist(err) {
		t.Errorf("%s: the output directory was created (%v)", m.Name, err)
	}
	for _, s := range m.Slots(t) {
		if s.Initialized && s.Label == "root" {
			t.Errorf("%s: slot %d was initialised as %q", m.Name, s.ID, s.Label)
		}
	}
}

// On opencryptoki's soft token (no EC at all, no AES key wrap, PINs of 4
// to 8 characters) the root ceremony is refused before anyone acts.
func TestRootCeremonyOnOpenCryptoki(t *testing.T) {
	m := p11test.OpenCryptoki(t)
	m.Setenv(t)
	refusedBeforeAnyoneActs(t, m,
		"step initialise-hsm (steps[6], init-token): the token accepts PINs of 4 to 8 characters",
		"step generate-root-key (steps[8], generate-key): the module offers no CKM_EC_KEY_PAIR_GEN, needed to generate ecdsa-p384 keys",
		"step back-up-root-key (steps[13], backup-key): the module offers no CKM_AES_KEY_WRAP_PAD",
		"step back-up-root-key (steps[13], backup-key): the module refuses CKA_TRUSTED on a wrapping key (C_CreateObject: pkcs11: 0xD1: CKR_TEMPLATE_INCONSISTENT) and CKA_WRAP_WITH_TRUSTED (C_CreateObject: pkcs11: 0x12: CKR_ATTRIBUTE_TYPE_INVALID)")
}

// On tpm2-pkcs11 (EC, but no AES key wrap) the ceremony is refused at
// its backup, before anyone acts.
func TestRootCeremonyOnTPM2(t *testing.T) {
	m := p11test.TPM2(t)
	m.Setenv(t)
	refusedBeforeAnyoneActs(t, m, "step back-up-root-key (steps[13], backup-key): the module offers no CKM_AES_KEY_WRAP_PAD")
}
