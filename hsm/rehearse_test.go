package hsm_test

import (
	"strings"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/devicepki/ceremony/ceremony/keys"
	"github.com/devicepki/ceremony/ceremony/secret"
	"github.com/devicepki/ceremony/hsm"
	"github.com/devicepki/ceremony/internal/p11test"
	"github.com/devicepki/ceremony/internal/softhsmtest"
)

// On SoftHSM2 every rehearsal passes (key pairs as the ceremony makes
// them, for backup or not, with the end of extraction; a public data
// object), and nothing is left on the token.
func TestRehearseOnSoftHSM(t *testing.T) {
	h := softhsmtest.New(t)
	tk := h.InitToken(t, "rehearse")
	tok, err := hsm.Open(h.Config("rehearse"))
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	if err := tok.RehearseKeyPair(keys.ECDSAP384, hsm.KeyOptions{}); err == nil || !strings.Contains(err.Error(), "not logged in") {
		t.Fatalf("rehearsal without login: %v", err)
	}
	if err := tok.Login(secret.FromString(tk.PIN)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		alg  keys.Algorithm
		opts hsm.KeyOptions
	}{
		{keys.ECDSAP384, hsm.KeyOptions{}},
		{keys.ECDSAP384, hsm.KeyOptions{Backup: true}},
		{keys.ECDSAP256, hsm.KeyOptions{UsageDefaults: true}},
		{keys.RSA3072, hsm.KeyOptions{Backup: true, AllowUntrustedWrap: true}},
	} {
		if err := tok.RehearseKeyPair(tc.alg, tc.opts); err != nil {
			t.Errorf("%s %+v: %v", tc.alg, tc.opts, err)
		}
	}
	if err := tok.RehearseDataObject(); err != nil {
		t.Errorf("data object: %v", err)
	}
	mech, _, err := tok.FindRFC5649(true, true)
	if err != nil {
		t.Fatal(err)
	}
	so, user := secret.FromString(tk.SOPIN), secret.FromString(tk.PIN)
	if err := tok.RehearseBackup(so, user, keys.ECDSAP384, hsm.KeyOptions{}, mech, false); err != nil {
		t.Errorf("trusted RFC 5649 backup: %v", err)
	}
	if !tok.LoggedIn() {
		t.Error("the backup rehearsal left the user logged out")
	}
	// An untrusted wrapping key cannot wrap a key restricted to trusted
	// ones: the rehearsal says so, as the ceremony would.
	if err := tok.RehearseBackup(nil, nil, keys.ECDSAP384, hsm.KeyOptions{}, mech, true); err == nil || !strings.Contains(err.Error(), "trusted") {
		t.Errorf("untrusted wrap of a wrap-with-trusted key: %v", err)
	}
	if err := tok.RehearseBackup(so, user, keys.ECDSAP256, hsm.KeyOptions{}, hsm.WrapMechanism{Type: pkcs11.CKM_AES_CBC_PAD, IV: make([]byte, 16)}, false); err == nil || !strings.Contains(err.Error(), "CKM_AES_CBC_PAD") {
		t.Errorf("CBC-PAD on SoftHSM2: %v", err)
	}
	if objs := tk.Objects(t); len(objs) != 0 {
		t.Errorf("the rehearsals left %d objects: %+v", len(objs), objs)
	}
}

// On tpm2-pkcs11 the rehearsal finds what a ceremony would meet: a
// sign-only key refused, naming the attribute; the module's default
// usages accepted; a key for backup refused; no public data object.
// Nothing is left on the token.
func TestRehearseOnTPM2(t *testing.T) {
	m := p11test.TPM2(t)
	m.Setenv(t)
	tk := m.InitToken(t, "tpm-rehearse")
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
	err = tok.RehearseKeyPair(keys.ECDSAP256, hsm.KeyOptions{})
	t.Logf("sign-only: %v", err)
	if err == nil || !strings.Contains(err.Error(), "CKA_DECRYPT=false on the private key") {
		t.Errorf("sign-only key: %v", err)
	}
	if err := tok.RehearseKeyPair(keys.ECDSAP256, hsm.KeyOptions{UsageDefaults: true}); err != nil {
		t.Errorf("module's default usages: %v", err)
	}
	err = tok.RehearseKeyPair(keys.ECDSAP256, hsm.KeyOptions{Backup: true, UsageDefaults: true})
	t.Logf("for backup: %v", err)
	if err == nil || !strings.Contains(err.Error(), "CKA_EXTRACTABLE=true with CKA_SENSITIVE=true") {
		t.Errorf("key for backup: %v", err)
	}
	err = tok.RehearseDataObject()
	t.Logf("data object: %v", err)
	if err == nil || !strings.Contains(err.Error(), "CKA_PRIVATE=false") {
		t.Errorf("public data object: %v", err)
	}
	after, err := tok.Inventory()
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Errorf("%d objects before, %d after", len(before), len(after))
	}
}

// On opencryptoki a backup with AES-CBC-PAD under an untrusted key
// rehearses, an RSA key as the ceremony makes it; nothing is left.
func TestRehearseBackupOnOpenCryptoki(t *testing.T) {
	m := p11test.OpenCryptoki(t)
	m.Setenv(t)
	tk := m.InitToken(t, "rehearse")
	tok, err := hsm.Open(hsm.Config{Module: m.Path, Token: hsm.TokenSelector{Label: tk.Label}})
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	if err := tok.Login(secret.FromString(tk.PIN)); err != nil {
		t.Fatal(err)
	}
	iv := make([]byte, 16)
	err = tok.RehearseBackup(nil, nil, keys.RSA3072, hsm.KeyOptions{AllowUntrustedWrap: true}, hsm.WrapMechanism{Type: pkcs11.CKM_AES_CBC_PAD, IV: iv}, true)
	if err != nil {
		t.Fatalf("CBC-PAD backup: %v", err)
	}
	if err := tok.RehearseKeyPair(keys.ECDSAP384, hsm.KeyOptions{}); err == nil || !strings.Contains(err.Error(), "CKM_EC_KEY_PAIR_GEN") {
		t.Errorf("EC key on opencryptoki: %v", err)
	}
	inv, err := tok.Inventory()
	if err != nil || len(inv) != 0 {
		t.Errorf("left %d objects: %v", len(inv), err)
	}
}
