package hsm_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/devicepki/ceremony/ceremony/keys"
	"github.com/devicepki/ceremony/ceremony/secret"
	"github.com/devicepki/ceremony/hsm"
	"github.com/devicepki/ceremony/internal/softhsmtest"
)

// initBlank initialises a blank token of h labelled label with
// Blank.Initialize and random PINs, and returns it open and logged in as the
// user, and its description for pkcs11-tool.
func initBlank(t *testing.T, h *softhsmtest.HSM, label string) (*hsm.Token, *softhsmtest.Token) {
	t.Helper()
	b, err := hsm.OpenBlank(h.Config(label))
	if err != nil {
		t.Fatalf("OpenBlank(%q): %v", label, err)
	}
	tk := &softhsmtest.Token{HSM: h, Label: label, PIN: softhsmtest.RandomPIN(t), SOPIN: softhsmtest.RandomPIN(t)}
	tok, err := b.Initialize(secret.FromString(tk.SOPIN), secret.FromString(tk.PIN))
	if err != nil {
		t.Fatalf("Initialize(%q): %v", label, err)
	}
	t.Cleanup(func() { _ = tok.Close() })
	if err := tok.Login(secret.FromString(tk.PIN)); err != nil {
		t.Fatalf("Login after Initialize: %v", err)
	}
	return tok, tk
}

// noPIN fails the test if err mentions any of the PINs.
func noPIN(t *testing.T, err error, pins ...string) {
	t.Helper()
	if err == nil {
		return
	}
	for _, p := range pins {
		if p != "" && strings.Contains(err.Error(), p) {
			t.Fatalf("error leaks a PIN: %v", err)
		}
	}
}

func TestInitializeBlankToken(t *testing.T) {
	h := softhsmtest.New(t) // no token initialised: SoftHSM2 offers one free slot
	b, err := hsm.OpenBlank(h.Config("fresh"))
	if err != nil {
		t.Fatal(err)
	}
	info := b.Info()
	if info.Label != "fresh" || info.Manufacturer != "SoftHSM project" || info.Model != "SoftHSM v2" {
		t.Fatalf("blank info = %+v", info)
	}
	if min, max := b.PINLengths(); min < 1 || max < min {
		t.Fatalf("PINLengths = %d, %d", min, max)
	} else {
		t.Logf("blank token: %+v, PIN lengths %d..%d", info, min, max)
	}
	// The module is the Blank's while it is open.
	if b2, err := hsm.OpenBlank(h.Config("other")); err == nil {
		b2.Close()
		t.Fatal("second OpenBlank while the first is open succeeded")
	} else if !strings.Contains(err.Error(), "already in use") {
		t.Fatalf("second OpenBlank: %v", err)
	}

	so, user := softhsmtest.RandomPIN(t), softhsmtest.RandomPIN(t)
	tok, err := b.Initialize(secret.FromString(so), secret.FromString(user))
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	if err := b.Close(); err != nil {
		t.Fatalf("Close after Initialize: %v", err)
	}
	if tok.LoggedIn() || tok.Info().Label != "fresh" || tok.Info().Serial == "" {
		t.Fatalf("initialised token: logged in %v, info %+v", tok.LoggedIn(), tok.Info())
	}

	// Neither PIN works for the other role, and errors never show a PIN.
	err = tok.Login(secret.FromString(so))
	if !errors.Is(err, hsm.ErrPINIncorrect) {
		t.Fatalf("user login with the SO PIN: %v", err)
	}
	noPIN(t, err, so, user)
	err = tok.LoginSO(secret.FromString(user))
	if !errors.Is(err, hsm.ErrPINIncorrect) || !strings.Contains(err.Error(), "security officer") {
		t.Fatalf("SO login with the user PIN: %v", err)
	}
	noPIN(t, err, so, user)

	if err := tok.Login(secret.FromString(user)); err != nil {
		t.Fatalf("user login: %v", err)
	}
	if err := tok.LoginSO(secret.FromString(so)); err == nil || !strings.Contains(err.Error(), "log out first") {
		t.Fatalf("SO login while the user is logged in: %v", err)
	}
	if err := tok.Logout(); err != nil {
		t.Fatal(err)
	}
	if err := tok.LoginSO(secret.FromString(so)); err != nil {
		t.Fatalf("SO login: %v", err)
	}
	if tok.LoggedIn() {
		t.Fatal("LoggedIn reports the SO as the user")
	}
	if _, err := tok.GenerateKeyPair("k", keys.ECDSAP256); !errors.Is(err, hsm.ErrNotLoggedIn) || !strings.Contains(err.Error(), "security officer") {
		t.Fatalf("generate as SO: %v", err)
	}
	if err := tok.Logout(); err != nil {
		t.Fatal(err)
	}
	if err := tok.Close(); err != nil {
		t.Fatal(err)
	}

	// Other tools see the token with its label and take the user PIN.
	out, err := h.Run("pkcs11-tool", "--module", h.Module, "--list-token-slots")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "token label        : fresh") {
		t.Fatalf("pkcs11-tool --list-token-slots:\n%s", out)
	}
	tk := &softhsmtest.Token{HSM: h, Label: "fresh", PIN: user, SOPIN: so}
	if objs := tk.Objects(t); len(objs) != 0 {
		t.Fatalf("objects on a new token: %+v", objs)
	}

	// The label is taken now; a serial selector never selects a blank token.
	_, err = hsm.OpenBlank(h.Config("fresh"))
	if err == nil || !strings.Contains(err.Error(), `token "fresh" is already initialised`) {
		t.Fatalf("OpenBlank for an initialised label: %v", err)
	}
	_, err = hsm.OpenBlank(hsm.Config{Module: h.Module, Token: hsm.TokenSelector{Serial: tok.Info().Serial}})
	if err == nil || !strings.Contains(err.Error(), "no serial") {
		t.Fatalf("OpenBlank by serial: %v", err)
	}
	// SoftHSM2 offers a new free slot for the next token.
	b, err = hsm.OpenBlank(h.Config("second"))
	if err != nil {
		t.Fatalf("OpenBlank after one initialisation: %v", err)
	}
	b.Close()
}

func TestInitializeRefusesBadPINs(t *testing.T) {
	h := softhsmtest.New(t)
	good := softhsmtest.RandomPIN(t)
	for name, pins := range map[string][2]string{
		"short SO PIN":   {"12", good},
		"short user PIN": {good, "123"},
		"empty user PIN": {good, ""},
		"long SO PIN":    {strings.Repeat("9", 256), good},
	} {
		t.Run(name, func(t *testing.T) {
			b, err := hsm.OpenBlank(h.Config("pins"))
			if err != nil {
				t.Fatal(err)
			}
			tok, err := b.Initialize(secret.FromString(pins[0]), secret.FromString(pins[1]))
			if err == nil {
				tok.Close()
				t.Fatal("Initialize succeeded")
			}
			if !strings.Contains(err.Error(), `token "pins"`) || !strings.Contains(err.Error(), "bytes") {
				t.Fatalf("error = %v", err)
			}
			noPIN(t, err, pins[0], pins[1])
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
	// Nothing was initialised.
	out, err := h.Run("pkcs11-tool", "--module", h.Module, "--list-token-slots")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "pins") {
		t.Fatalf("a token was initialised:\n%s", out)
	}
	if _, err := hsm.Open(h.Config("pins")); !errors.Is(err, hsm.ErrTokenNotFound) {
		t.Fatalf("Open: %v", err)
	}
}

// A token its vendor's tools set up (initialised, with an SO PIN and
// objects) is taken over with its current SO PIN: a wrong one changes
// nothing; the right one sets the new SO and user PINs without
// initialising the token again (its objects stay), and the old PINs no
// longer work.
func TestTakeOwnershipOfInitialisedToken(t *testing.T) {
	h := softhsmtest.New(t)
	vendor := h.InitToken(t, "owned")
	vendorTok, err := hsm.Open(h.Config("owned"))
	if err != nil {
		t.Fatal(err)
	}
	if err := vendorTok.Login(secret.FromString(vendor.PIN)); err != nil {
		t.Fatal(err)
	}
	if _, err := vendorTok.GenerateKeyPair("vendor-key", keys.ECDSAP256); err != nil {
		t.Fatal(err)
	}
	vendorTok.Close()

	// OpenBlank refuses the label; OpenToTakeOver takes that token.
	if b, err := hsm.OpenBlank(h.Config("owned")); err == nil {
		b.Close()
		t.Fatal("OpenBlank took an initialised token")
	}
	b, err := hsm.OpenToTakeOver(h.Config("owned"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !b.WasInitialised() {
		t.Error("WasInitialised is false for an initialised token")
	}
	so, user := softhsmtest.RandomPIN(t), softhsmtest.RandomPIN(t)
	wrong := softhsmtest.RandomPIN(t)
	_, err = b.TakeOwnership(secret.FromString(wrong), secret.FromString(so), secret.FromString(user))
	if !errors.Is(err, hsm.ErrPINIncorrect) || !strings.Contains(err.Error(), "C_Login") || !strings.Contains(err.Error(), "the token counted a failed security officer login and is otherwise unchanged") {
		t.Fatalf("wrong current SO PIN: %v", err)
	}
	noPIN(t, err, wrong, so, user, vendor.SOPIN)

	tok, err := b.TakeOwnership(secret.FromString(vendor.SOPIN), secret.FromString(so), secret.FromString(user))
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	if err := tok.LoginSO(secret.FromString(vendor.SOPIN)); !errors.Is(err, hsm.ErrPINIncorrect) {
		t.Fatalf("the vendor's SO PIN still works: %v", err)
	}
	if err := tok.Login(secret.FromString(vendor.PIN)); !errors.Is(err, hsm.ErrPINIncorrect) {
		t.Fatalf("the vendor's user PIN still works: %v", err)
	}
	if err := tok.Login(secret.FromString(user)); err != nil {
		t.Fatalf("the new user PIN: %v", err)
	}
	if _, err := tok.FindKeyPair("vendor-key"); err != nil {
		t.Errorf("the vendor's key is gone: %v", err)
	}
	if err := tok.Logout(); err != nil {
		t.Fatal(err)
	}
	if err := tok.LoginSO(secret.FromString(so)); err != nil {
		t.Fatalf("the new SO PIN: %v", err)
	}
}

// A blank token with no SO PIN yet is taken over too: C_InitToken sets
// the typed PIN, which is then changed to the new one.
func TestTakeOwnershipOfBlankToken(t *testing.T) {
	h := softhsmtest.New(t)
	b, err := hsm.OpenToTakeOver(h.Config("fresh"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.WasInitialised() {
		t.Error("WasInitialised is true for a blank token")
	}
	current, so, user := softhsmtest.RandomPIN(t), softhsmtest.RandomPIN(t), softhsmtest.RandomPIN(t)
	if _, err := b.TakeOwnership(nil, secret.FromString(so), secret.FromString(user)); err == nil {
		t.Fatal("TakeOwnership without a current PIN")
	}
	tok, err := b.TakeOwnership(secret.FromString(current), secret.FromString(so), secret.FromString(user))
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	if err := tok.LoginSO(secret.FromString(current)); !errors.Is(err, hsm.ErrPINIncorrect) {
		t.Fatalf("the typed PIN is still the SO PIN: %v", err)
	}
	if err := tok.LoginSO(secret.FromString(so)); err != nil {
		t.Fatalf("the new SO PIN: %v", err)
	}
}
