package hsm_test

import (
	"errors"
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
