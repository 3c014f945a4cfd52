package hsm

import (
	"strings"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/devicepki/ceremony/ceremony/keys"
)

func TestCapabilitiesCheck(t *testing.T) {
	c := &Capabilities{Mechanisms: []Mechanism{
		{Type: pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN, Name: "CKM_RSA_PKCS_KEY_PAIR_GEN", MinKeySize: 512, MaxKeySize: 4096, Flags: pkcs11.CKF_GENERATE_KEY_PAIR},
		{Type: pkcs11.CKM_RSA_PKCS, Name: "CKM_RSA_PKCS", MinKeySize: 512, MaxKeySize: 4096, Flags: pkcs11.CKF_SIGN | pkcs11.CKF_VERIFY},
		{Type: pkcs11.CKM_EC_KEY_PAIR_GEN, Name: "CKM_EC_KEY_PAIR_GEN", MinKeySize: 32, MaxKeySize: 66, Flags: pkcs11.CKF_GENERATE_KEY_PAIR},
		{Type: pkcs11.CKM_ECDSA, Name: "CKM_ECDSA", Flags: pkcs11.CKF_VERIFY},
	}}
	if p := c.Check(KeyNeeds(keys.RSA3072)...); len(p) != 0 {
		t.Errorf("rsa-3072: %v", p)
	}
	// EC sizes given in bytes (32..66) are taken for bits too.
	p := c.Check(KeyNeeds(keys.ECDSAP384)...)
	if len(p) != 1 || p[0] != "the module offers CKM_ECDSA without CKF_SIGN, needed to sign with ecdsa-p384 keys" {
		t.Errorf("ecdsa-p384: %q", p)
	}
	p = c.Check(BackupNeeds(MethodRFC5649)...)
	if len(p) != 1 || !strings.HasPrefix(p[0], "the module offers no CKM_AES_KEY_WRAP_PAD or CKM_AES_KEY_WRAP_KWP, needed to wrap the key") {
		t.Errorf("backup: %q", p)
	}
	c.Mechanisms[0].MaxKeySize = 2048
	if p := c.Check(KeyNeeds(keys.RSA4096)...); len(p) != 1 || !strings.Contains(p[0], "takes keys of 512 to 2048 bits, not 4096") {
		t.Errorf("rsa-4096: %q", p)
	}
	if got := MechanismName(0x8000_1234); got != "mechanism 0x80001234" {
		t.Errorf("unknown mechanism named %q", got)
	}
}

func TestTokenStringsAndResetHints(t *testing.T) {
	if got := tokenString("tpm2-token\x00\x00\x00  "); got != "tpm2-token" {
		t.Errorf("tokenString = %q", got)
	}
	for module, want := range map[string]string{
		"/usr/lib/softhsm/libsofthsm2.so":                      `softhsm2-util --delete-token --token "root"`,
		"/usr/lib/x86_64-linux-gnu/pkcs11/libopencryptoki.so":  "with pkcsslotd stopped, empty the soft token's store",
		"/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so.1": `tpm2_ptool rmtoken --label "root"`,
		"/opt/vendor/lib/libCryptoki2_64.so":                   "the vendor's reset",
	} {
		if got := ResetHint(module, "root"); !strings.HasPrefix(got, want) {
			t.Errorf("ResetHint(%s) = %q, want %q", module, got, want)
		}
	}
}
