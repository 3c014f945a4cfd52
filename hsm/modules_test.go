package hsm_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/devicepki/ceremony/ceremony/keys"
	"github.com/devicepki/ceremony/ceremony/secret"
	"github.com/devicepki/ceremony/hsm"
	"github.com/devicepki/ceremony/internal/p11test"
)

// tpm2-pkcs11 refuses parts of a signing key's template. The error names
// the part it refuses, found by generating session key pairs without one
// part at a time, and blames CKA_WRAP_WITH_TRUSTED only when a key pair
// without it could be generated. Nothing is left on the token.
func TestRefusedTemplateNamedOnTPM2(t *testing.T) {
	m := p11test.TPM2(t)
	m.Setenv(t)
	tk := m.InitToken(t, "tpm-keys")
	tok, err := hsm.Open(hsm.Config{Module: m.Path, Token: hsm.TokenSelector{Label: tk.Label}})
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	if err := tok.Login(secret.FromString(tk.PIN)); err != nil {
		t.Fatal(err)
	}
	before, err := tok.Inventory()
	if err != nil {
		t.Fatal(err)
	}

	_, err = tok.GenerateKeyPairWith("sign-only", keys.ECDSAP256, hsm.KeyOptions{})
	t.Logf("sign-only: %v", err)
	if err == nil || !strings.Contains(err.Error(), "(CKM_EC_KEY_PAIR_GEN)") || !strings.Contains(err.Error(), "the module refuses CKA_DECRYPT=false on the private key") ||
		!strings.Contains(err.Error(), "a trial key pair without it was generated") {
		t.Errorf("sign-only key: %v", err)
	}

	_, err = tok.GenerateKeyPairWith("for-backup", keys.ECDSAP256, hsm.KeyOptions{Backup: true})
	t.Logf("for backup: %v", err)
	if err == nil || errors.Is(err, hsm.ErrTrustedWrapUnsupported) || strings.Contains(err.Error(), "WRAP_WITH_TRUSTED") {
		t.Errorf("backup key: blamed trusted wrapping: %v", err)
	}

	after, err := tok.Inventory()
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Errorf("%d objects before, %d after: %+v", len(before), len(after), after)
	}
}

// opencryptoki: a soft token set up with its tools (SO PIN changed from
// the default) is taken over with that PIN, and the derived PINs of 8
// characters work; a blank one is taken over with the default SO PIN,
// which C_InitToken checks.
func TestTakeOwnershipOnOpenCryptoki(t *testing.T) {
	m := p11test.OpenCryptoki(t)
	m.Setenv(t)
	cfg := hsm.Config{Module: m.Path, Token: hsm.TokenSelector{Label: "owned"}}
	takeOver := func(current string) (string, string) {
		t.Helper()
		b, err := hsm.OpenToTakeOver(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		if _, err := b.TakeOwnership(secret.FromString("bad"+current), secret.FromString("Abcdefg1"), secret.FromString("Hijklmn2")); !errors.Is(err, hsm.ErrPINIncorrect) {
			t.Fatalf("a wrong SO PIN: %v", err)
		}
		so, user := p11test.RandomPIN(8), p11test.RandomPIN(8)
		tok, err := b.TakeOwnership(secret.FromString(current), secret.FromString(so), secret.FromString(user))
		if err != nil {
			t.Fatal(err)
		}
		defer tok.Close()
		if err := tok.Login(secret.FromString(user)); err != nil {
			t.Fatalf("the new user PIN: %v", err)
		}
		return so, user
	}
	// Blank, with the default SO PIN.
	takeOver(m.DefaultSOPIN)
	m.Reset(t)
	// Set up with the vendor's tools, SO PIN changed.
	tk := m.InitTokenPINs(t, "owned", "12345678", "87651234")
	takeOver(tk.SOPIN)
}

// opencryptoki counts failed security officer logins on a token it
// initialised: SOPINState reports the count low and the final try, and a
// token whose SO PIN is locked is refused before anything is typed.
func TestSOPINLockoutOnOpenCryptoki(t *testing.T) {
	m := p11test.OpenCryptoki(t)
	m.Setenv(t)
	cfg := hsm.Config{Module: m.Path, Token: hsm.TokenSelector{Label: "owned"}}
	m.InitTokenPINs(t, "owned", "12345678", "87651234")
	b, err := hsm.OpenToTakeOver(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var states []string
	for i := 0; i < 3 && b.SOPINState() != "locked"; i++ {
		_, err := b.TakeOwnership(secret.FromString("bad12345"), secret.FromString("Abcdefg1"), secret.FromString("Hijklmn2"))
		if !errors.Is(err, hsm.ErrPINIncorrect) || !strings.Contains(err.Error(), "counted a failed security officer login") {
			t.Fatalf("wrong PIN %d: %v", i+1, err)
		}
		states = append(states, b.SOPINState())
	}
	b.Close()
	t.Logf("SO PIN states after each wrong PIN: %q", states)
	if !slices.Contains(states, "final try") && !slices.Contains(states, "count low") {
		t.Errorf("no warning state before the lock: %q", states)
	}
	if states[len(states)-1] == "locked" {
		if _, err := hsm.OpenToTakeOver(cfg); err == nil || !strings.Contains(err.Error(), "CKF_SO_PIN_LOCKED") {
			t.Errorf("a locked token was opened to take over: %v", err)
		}
	}
}
