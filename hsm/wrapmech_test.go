package hsm_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/devicepki/ceremony/ceremony/keys"
	"github.com/devicepki/ceremony/ceremony/secret"
	"github.com/devicepki/ceremony/hsm"
	"github.com/devicepki/ceremony/internal/softhsmtest"
)

// SoftHSM2 2.6.1 has no CKM_AES_KEY_WRAP_KWP; its CKM_AES_KEY_WRAP_PAD
// gives RFC 5649's answers, for wrap and unwrap. The test leaves no
// object behind.
func TestRFC5649KnownAnswerOnSoftHSM(t *testing.T) {
	h := softhsmtest.New(t)
	tok, tk := initBlank(t, h, "kat")
	caps, err := tok.Capabilities()
	if err != nil {
		t.Fatal(err)
	}
	if caps.Trust != (hsm.Trust{Probed: true}) || caps.Trust.String() != "CKA_TRUSTED and CKA_WRAP_WITH_TRUSTED taken" {
		t.Errorf("trust probe %+v", caps.Trust)
	}
	if !tok.LoggedIn() {
		t.Fatal("the probe logged the user out")
	}
	const head = "RFC 5649 known-answer test (the RFC's section 6 vectors, as session objects): "
	padded := "CKM_AES_KEY_WRAP_PAD (0x210A) gives RFC 5649's answers for the key zero-padded to a multiple of 8 bytes; using CKM_AES_KEY_WRAP_PAD (0x210A)"
	for _, tc := range []struct {
		wrap, unwrap bool
		want         string
	}{
		{true, false, head + "CKM_AES_KEY_WRAP_KWP (0x210B): C_WrapKey of the 20-byte test key: pkcs11: 0x70: CKR_MECHANISM_INVALID; " + padded},
		{true, true, head + "CKM_AES_KEY_WRAP_KWP (0x210B): C_WrapKey of the 20-byte test key: pkcs11: 0x70: CKR_MECHANISM_INVALID; " + padded},
		// Its unwrap gives the RFC's own answers.
		{false, true, head + "CKM_AES_KEY_WRAP_KWP (0x210B): C_UnwrapKey of RFC 5649's 32-byte ciphertext: pkcs11: 0x70: CKR_MECHANISM_INVALID; " +
			"CKM_AES_KEY_WRAP_PAD (0x210A) gives RFC 5649's answers; using CKM_AES_KEY_WRAP_PAD (0x210A)"},
	} {
		m, report, err := tok.FindRFC5649(tc.wrap, tc.unwrap)
		t.Logf("wrap %v, unwrap %v: %s", tc.wrap, tc.unwrap, report)
		if err != nil {
			t.Fatal(err)
		}
		if m.Type != pkcs11.CKM_AES_KEY_WRAP_PAD || m.IV != nil || m.String() != "CKM_AES_KEY_WRAP_PAD (0x210A)" {
			t.Errorf("found %s", m)
		}
		if report != tc.want {
			t.Errorf("report %q\nwant   %q", report, tc.want)
		}
		if left, err := tok.SessionObjectsForTest(); err != nil || len(left) != 0 {
			t.Fatalf("session objects left: %q, %v", left, err)
		}
	}
	if _, _, err := tok.FindRFC5649(false, false); err == nil {
		t.Error("a test of nothing passed")
	}
	if objs := tk.Objects(t); len(objs) != 0 {
		t.Fatalf("token objects: %+v", objs)
	}
}

// SoftHSM2 2.6.1 does not wrap with CKM_AES_CBC_PAD; the error names the
// call, the mechanism and the module's CKR_ code.
func TestCBCPadRefusedBySoftHSM(t *testing.T) {
	h := softhsmtest.New(t)
	tok, tk := initBlank(t, h, "a")
	if _, err := tok.GenerateKeyPairWith("root", keys.RSA3072, hsm.KeyOptions{Backup: true}); err != nil {
		t.Fatal(err)
	}
	m := hsm.WrapMechanism{Type: pkcs11.CKM_AES_CBC_PAD, IV: make([]byte, 16)}
	w, err := tok.ImportAESKey(secret.FromString(tk.SOPIN), secret.FromString(tk.PIN), aesKey(t), hsm.AESKeyOptions{Usage: hsm.UsageWrap, Label: "wrap", Mechanism: m})
	if err != nil {
		t.Fatal(err)
	}
	kp, err := tok.FindKeyPair("root")
	if err != nil {
		t.Fatal(err)
	}
	_, err = tok.WrapKeyPair(w, kp)
	t.Logf("CBC_PAD wrap on SoftHSM2: %v", err)
	if err == nil || !strings.Contains(err.Error(), "C_WrapKey with CKM_AES_CBC_PAD (0x1085)") || !strings.Contains(err.Error(), "CKR_") {
		t.Fatalf("CBC_PAD wrap: %v", err)
	}
}

// cbcPadRoundTrip backs up an RSA key pair generated for backup on tok
// with CKM_AES_CBC_PAD under a random IV and keys imported as the given
// options say, checks the backup in the HSM, refuses it damaged and under
// another IV, and restores it under another label.
func cbcPadRoundTrip(t *testing.T, tok *hsm.Token, so, user *secret.Secret, untrusted bool) {
	t.Helper()
	kp, err := tok.GenerateKeyPairWith("root", keys.RSA3072, hsm.KeyOptions{Backup: true, AllowUntrustedWrap: untrusted})
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := tok.KeyAttributes(kp)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("generated for backup: %+v", attrs)
	iv := make([]byte, 16)
	if _, err := rand.Read(iv); err != nil {
		t.Fatal(err)
	}
	m := hsm.WrapMechanism{Type: pkcs11.CKM_AES_CBC_PAD, IV: iv}
	kek := aesKey(t)
	imp := func(usage hsm.KeyUsage, label string, m hsm.WrapMechanism) *hsm.SecretKey {
		t.Helper()
		k, err := tok.ImportAESKey(so, user, kek, hsm.AESKeyOptions{Usage: usage, Label: label, Mechanism: m, Untrusted: untrusted})
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	w := imp(hsm.UsageWrap, "wrap", m)
	if kp, err = tok.FindKeyPair("root"); err != nil {
		t.Fatal(err)
	}
	wrapped, err := tok.WrapKeyPair(w, kp)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d bytes wrapped with %s", len(wrapped), m)
	if len(wrapped)%16 != 0 {
		t.Fatalf("%d bytes", len(wrapped))
	}
	if err := tok.DestroySecretKey(w); err != nil {
		t.Fatal(err)
	}
	u := imp(hsm.UsageUnwrap, "unwrap", m)
	if err := tok.CheckWrapped(u, wrapped, kp.Public()); err != nil {
		t.Fatalf("CheckWrapped: %v", err)
	}
	// CBC has no integrity check of its own. Damage to the first block
	// (where the key's encoding starts) is caught by the unwrap failing.
	// Damage elsewhere may not be caught here at all: opencryptoki 3.8
	// accepts a damaged last block, and an RSA key signs with its CRT
	// values, so other fields may decrypt wrong unnoticed. That is why
	// callers keep the ciphertext's SHA-256 and check it before a restore.
	for _, at := range []int{0, len(wrapped) - 17, len(wrapped) - 1, len(wrapped) / 2} {
		damaged := append([]byte(nil), wrapped...)
		damaged[at] ^= 0x80
		err = tok.CheckWrapped(u, damaged, kp.Public())
		t.Logf("damaged at byte %d of %d: %v", at, len(wrapped), err)
		if at == 0 && (err == nil || !(errors.Is(err, hsm.ErrUnwrapFailed) || errors.Is(err, hsm.ErrBackupMismatch))) {
			t.Fatalf("backup damaged at byte %d: %v", at, err)
		}
	}
	u2 := imp(hsm.UsageUnwrap, "unwrap-other-iv", hsm.WrapMechanism{Type: pkcs11.CKM_AES_CBC_PAD, IV: bytes.Repeat([]byte{0x42}, 16)})
	err = tok.CheckWrapped(u2, wrapped, kp.Public())
	t.Logf("other IV: %v", err)
	if err == nil {
		t.Fatal("a backup checked under another IV")
	}
	restored, err := tok.UnwrapKeyPair(u, wrapped, "restored", kp.Public())
	if err != nil {
		t.Fatalf("UnwrapKeyPair: %v", err)
	}
	verifySignature(t, restored, hashFor[keys.RSA3072])
	for _, k := range []*hsm.SecretKey{u, u2} {
		if err := tok.DestroySecretKey(k); err != nil {
			t.Fatal(err)
		}
	}
	if left, err := tok.SessionObjectsForTest(); err != nil || len(left) != 0 {
		t.Fatalf("session objects left: %q, %v", left, err)
	}
}

// An untrusted wrapping key is made by the user without any PIN and
// without CKA_TRUSTED; on SoftHSM2 it cannot wrap a key restricted to
// trusted keys, and it can wrap one generated without the restriction.
func TestUntrustedImport(t *testing.T) {
	h := softhsmtest.New(t)
	tok, _ := initBlank(t, h, "a")
	m := hsm.WrapMechanism{Type: pkcs11.CKM_AES_KEY_WRAP_PAD}
	w, err := tok.ImportAESKey(nil, nil, aesKey(t), hsm.AESKeyOptions{Usage: hsm.UsageWrap, Label: "wrap", Mechanism: m, Untrusted: true})
	if err != nil {
		t.Fatal(err)
	}
	if w.Trusted || !tok.LoggedIn() {
		t.Fatalf("key %+v, logged in %v", w, tok.LoggedIn())
	}
	restricted, err := tok.GenerateKeyPairWith("restricted", keys.ECDSAP256, hsm.KeyOptions{Backup: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tok.WrapKeyPair(w, restricted); err == nil || !strings.Contains(err.Error(), "C_WrapKey with CKM_AES_KEY_WRAP_PAD (0x210A)") || !strings.Contains(err.Error(), "CKR_KEY_NOT_WRAPPABLE") {
		t.Fatalf("untrusted wrap of a restricted key: %v", err)
	}
	defer hsm.ReplaceTrustedWrapAttrForTest(hsm.VendorAttributeForTest)()
	free, err := tok.GenerateKeyPairWith("free", keys.ECDSAP256, hsm.KeyOptions{Backup: true, AllowUntrustedWrap: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tok.WrapKeyPair(w, free); err != nil {
		t.Fatalf("untrusted wrap of an unrestricted key: %v", err)
	}
	// A trusted import still needs both PINs; a mechanism that is no
	// backup method, or an IV where none belongs, is refused.
	for _, opts := range []hsm.AESKeyOptions{
		{Usage: hsm.UsageWrap, Label: "x1", Mechanism: m},
		{Usage: hsm.UsageWrap, Label: "x2", Mechanism: hsm.WrapMechanism{Type: pkcs11.CKM_AES_KEY_WRAP}, Untrusted: true},
		{Usage: hsm.UsageWrap, Label: "x3", Mechanism: hsm.WrapMechanism{Type: pkcs11.CKM_AES_CBC_PAD, IV: make([]byte, 8)}, Untrusted: true},
		{Usage: hsm.UsageWrap, Label: "x4", Mechanism: hsm.WrapMechanism{Type: pkcs11.CKM_AES_KEY_WRAP_PAD, IV: make([]byte, 16)}, Untrusted: true},
	} {
		if _, err := tok.ImportAESKey(nil, nil, aesKey(t), opts); err == nil {
			t.Errorf("%+v imported", opts)
		} else {
			t.Logf("%s: %v", opts.Label, err)
		}
	}
}
