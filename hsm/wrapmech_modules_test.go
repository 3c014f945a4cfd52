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

// openModuleToken opens and logs in to a token the harness initialised.
func openModuleToken(t *testing.T, m *p11test.Module, label string) (*hsm.Token, *p11test.Token) {
	t.Helper()
	tk := m.InitToken(t, label)
	tok, err := hsm.Open(hsm.Config{Module: m.Path, Token: hsm.TokenSelector{Label: tk.Label}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tok.Close() })
	if err := tok.Login(secret.FromString(tk.PIN)); err != nil {
		t.Fatal(err)
	}
	return tok, tk
}

// opencryptoki's soft token has no RFC 5649 under either constant, and
// refuses CKA_TRUSTED and CKA_WRAP_WITH_TRUSTED; with allow_untrusted_wrap
// an RSA key is backed up with CKM_AES_CBC_PAD under a key the user
// imports without CKA_TRUSTED, checked and restored.
func TestBackupMethodsOnOpenCryptoki(t *testing.T) {
	m := p11test.OpenCryptoki(t)
	m.Setenv(t)
	tok, tk := openModuleToken(t, m, "ock-backup")
	caps, err := tok.Capabilities()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("trust probe: %s", caps.Trust)
	if want := (hsm.Trust{Probed: true, Trusted: "C_CreateObject: pkcs11: 0xD1: CKR_TEMPLATE_INCONSISTENT", WrapWithTrusted: "C_CreateObject: pkcs11: 0x12: CKR_ATTRIBUTE_TYPE_INVALID"}); caps.Trust != want {
		t.Errorf("trust probe %+v", caps.Trust)
	}

	_, report, err := tok.FindRFC5649(true, true)
	t.Logf("RFC 5649 on opencryptoki: %v", err)
	if !errors.Is(err, hsm.ErrNoRFC5649) || report != "" || !strings.Contains(err.Error(), "CKM_AES_KEY_WRAP_KWP (0x210B): C_") ||
		!strings.Contains(err.Error(), "CKM_AES_KEY_WRAP_PAD (0x210A): C_") || !strings.Contains(err.Error(), "CKR_") {
		t.Errorf("KAT: %v", err)
	}

	// A trusted import is refused, naming the call, the attribute and the
	// module's code.
	_, err = tok.ImportAESKey(secret.FromString(tk.SOPIN), secret.FromString(tk.PIN), aesKey(t),
		hsm.AESKeyOptions{Usage: hsm.UsageWrap, Label: "trusted", Mechanism: hsm.WrapMechanism{Type: 0x1085, IV: make([]byte, 16)}})
	t.Logf("trusted import: %v", err)
	if err == nil || !strings.Contains(err.Error(), "C_CreateObject of trusted (CKA_TRUSTED) AES key") || !strings.Contains(err.Error(), "CKR_") {
		t.Errorf("trusted import: %v", err)
	}
	if !tok.LoggedIn() {
		t.Fatal("not logged in as the user after a refused trusted import")
	}
	// Without allow_untrusted_wrap a key for backup cannot be made.
	if _, err := tok.GenerateKeyPairWith("strict", keys.RSA3072, hsm.KeyOptions{Backup: true}); !errors.Is(err, hsm.ErrTrustedWrapUnsupported) {
		t.Errorf("backup key without allow_untrusted_wrap: %v", err)
	}
	cbcPadRoundTrip(t, tok, nil, secret.FromString(tk.PIN), true)
}

// tpm2-pkcs11 has no RFC 5649 under either constant: its known-answer
// test fails, saying what each did.
func TestRFC5649KnownAnswerOnTPM2(t *testing.T) {
	m := p11test.TPM2(t)
	m.Setenv(t)
	tok, _ := openModuleToken(t, m, "tpm-kat")
	_, _, err := tok.FindRFC5649(true, true)
	t.Logf("RFC 5649 on tpm2-pkcs11: %v", err)
	if !errors.Is(err, hsm.ErrNoRFC5649) || !strings.Contains(err.Error(), "CKR_") {
		t.Errorf("KAT: %v", err)
	}
}
