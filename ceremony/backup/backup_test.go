package backup

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/devicepki/ceremony/ceremony/keys"
	"github.com/devicepki/ceremony/ceremony/secret"
	"github.com/devicepki/ceremony/ceremony/shares"
	"github.com/devicepki/ceremony/hsm"
	"github.com/miekg/pkcs11"
)

func sample(t *testing.T) (*Backup, []byte) {
	t.Helper()
	return sampleWith(t, hsm.WrapMechanism{Type: pkcs11.CKM_AES_KEY_WRAP_PAD}, bytes.Repeat([]byte{0xab}, 88))
}

// sampleWith is a backup of a fresh key wrapped with m, ciphertext wrapped.
func sampleWith(t *testing.T, m hsm.WrapMechanism, wrapped []byte) (*Backup, []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, man, err := shares.Split(rand.Reader, secret.New(bytes.Repeat([]byte{9}, 32)), shares.Backup, 3, 5)
	if err != nil {
		t.Fatal(err)
	}
	b := &Backup{Label: "root-ca", Algorithm: keys.Algorithm("ecdsa-p384"), PublicKey: &k.PublicKey, Manifest: man, Mechanism: m, Wrapped: wrapped}
	data, err := Encode(b)
	if err != nil {
		t.Fatal(err)
	}
	return b, data
}

func TestRoundTrip(t *testing.T) {
	b, data := sample(t)
	got, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	fp, _ := keys.Fingerprint(b.PublicKey)
	switch {
	case got.Label != "root-ca" || got.Algorithm != b.Algorithm || got.PublicKeySHA256 != fp:
		t.Fatalf("header: %+v", got)
	case !keys.SamePublicKey(got.PublicKey, b.PublicKey) || !bytes.Equal(got.Wrapped, b.Wrapped):
		t.Fatal("key or ciphertext differ")
	case got.Manifest.Commitment != b.Manifest.Commitment || got.Manifest.Split != b.Manifest.Split ||
		got.Manifest.Threshold != 3 || got.Manifest.Count != 5 || strings.Join(got.Manifest.ShareHashes, ",") != strings.Join(b.Manifest.ShareHashes, ","):
		t.Fatalf("manifest: %+v", got.Manifest)
	}
	if !strings.HasPrefix(string(data), "-----BEGIN CEREMONY KEY BACKUP-----\n") || !strings.Contains(string(data), "\nWrap-Mechanism: CKM_AES_KEY_WRAP_PAD (0x210A), RFC 5649\n") ||
		got.Mechanism.Type != pkcs11.CKM_AES_KEY_WRAP_PAD || got.Mechanism.IV != nil || strings.Contains(string(data), "Wrap-IV") {
		t.Fatalf("file:\n%s", data)
	}
}

func TestDecodeRejects(t *testing.T) {
	_, data := sample(t)
	good := string(data)
	other, _ := sample(t)
	for name, tc := range map[string]struct{ edit func(string) string }{
		"not PEM":          {func(string) string { return "hello" }},
		"other type":       {func(s string) string { return strings.ReplaceAll(s, "CEREMONY KEY BACKUP", "PRIVATE KEY") }},
		"text before":      {func(s string) string { return "note\n" + s }},
		"text after":       {func(s string) string { return s + "more\n" }},
		"format 2":         {func(s string) string { return strings.Replace(s, "Backup-Format: 1", "Backup-Format: 2", 1) }},
		"mechanism":        {func(s string) string { return strings.Replace(s, "CKM_AES_KEY_WRAP_PAD", "CKM_AES_KEY_WRAP", 1) }},
		"mechanism number": {func(s string) string { return strings.Replace(s, "(0x210A)", "(0x210B)", 1) }},
		"no RFC":           {func(s string) string { return strings.Replace(s, ", RFC 5649", "", 1) }},
		"cbc without iv": {func(s string) string {
			return strings.Replace(s, "CKM_AES_KEY_WRAP_PAD (0x210A), RFC 5649", "CKM_AES_CBC_PAD (0x1085)", 1)
		}},
		"missing header": {func(s string) string { return strings.Replace(s, "Key-Label: root-ca\n", "", 1) }},
		"unknown header": {func(s string) string {
			return strings.Replace(s, "Key-Label: root-ca\n", "Key-Label: root-ca\nComment: x\n", 1)
		}},
		"key type":    {func(s string) string { return strings.Replace(s, "Key-Type: ecdsa-p384", "Key-Type: ecdsa-p256", 1) }},
		"fingerprint": {func(s string) string { return strings.Replace(s, "Public-Key-SHA256: ", "Public-Key-SHA256: 00", 1) }},
		"shares": {func(s string) string {
			return strings.Replace(s, "Backup-Key-Shares: 3 of 5", "Backup-Key-Shares: 3/5", 1)
		}},
		"threshold above": {func(s string) string {
			return strings.Replace(s, "Backup-Key-Shares: 3 of 5", "Backup-Key-Shares: 6 of 5", 1)
		}},
		"short hash": {func(s string) string {
			return strings.Replace(s, "Backup-Key-Commitment: ", "Backup-Key-Commitment: 0", 1)
		}},
		"other public key": {func(s string) string {
			o, _ := Encode(other)
			pk := func(x string) string {
				i := strings.Index(x, "Public-Key: ")
				return x[i : i+strings.Index(x[i:], "\n")]
			}
			return strings.Replace(s, pk(s), pk(string(o)), 1)
		}},
	} {
		if _, err := Decode([]byte(tc.edit(good))); err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error spans lines: %q", name, err)
		}
	}
}

// Each mechanism a backup can be made with encodes to its own header and
// decodes back to the same mechanism, IV and ciphertext.
func TestEachMethodRoundTrips(t *testing.T) {
	iv := bytes.Repeat([]byte{0x5c}, 16)
	for _, tc := range []struct {
		m       hsm.WrapMechanism
		wrapped []byte
		header  string
	}{
		{hsm.WrapMechanism{Type: pkcs11.CKM_AES_KEY_WRAP_PAD}, bytes.Repeat([]byte{1}, 88), "Wrap-Mechanism: CKM_AES_KEY_WRAP_PAD (0x210A), RFC 5649\n"},
		{hsm.WrapMechanism{Type: hsm.CKM_AES_KEY_WRAP_KWP}, bytes.Repeat([]byte{2}, 88), "Wrap-Mechanism: CKM_AES_KEY_WRAP_KWP (0x210B), RFC 5649\n"},
		{hsm.WrapMechanism{Type: pkcs11.CKM_AES_CBC_PAD, IV: iv}, bytes.Repeat([]byte{3}, 96), "Wrap-Mechanism: CKM_AES_CBC_PAD (0x1085)\n"},
	} {
		b, data := sampleWith(t, tc.m, tc.wrapped)
		got, err := Decode(data)
		if err != nil {
			t.Fatalf("%s: %v", tc.m, err)
		}
		if !strings.Contains(string(data), "\n"+tc.header) || got.Mechanism.Type != tc.m.Type || !bytes.Equal(got.Mechanism.IV, tc.m.IV) ||
			!bytes.Equal(got.Wrapped, b.Wrapped) || got.Method() != tc.m.Method() {
			t.Errorf("%s: decoded %+v from\n%s", tc.m, got.Mechanism, data)
		}
		sum := sha256.Sum256(tc.wrapped)
		hasCBC := strings.Contains(string(data), "\nWrap-IV: "+hex.EncodeToString(iv)+"\n") &&
			strings.Contains(string(data), "\nCiphertext-SHA256: "+hex.EncodeToString(sum[:])+"\n")
		if hasCBC != (tc.m.Method() == hsm.MethodAESCBCPad) {
			t.Errorf("%s: CBC headers %v:\n%s", tc.m, hasCBC, data)
		}
	}
	// A mechanism that is no backup method, a CBC_PAD backup without an
	// IV and an RFC 5649 one with an IV are not written.
	for _, m := range []hsm.WrapMechanism{{Type: pkcs11.CKM_AES_KEY_WRAP}, {Type: pkcs11.CKM_AES_CBC_PAD}, {Type: pkcs11.CKM_AES_KEY_WRAP_PAD, IV: iv}} {
		b, _ := sample(t)
		b.Mechanism = m
		if _, err := Encode(b); err == nil {
			t.Errorf("%s (IV %x) encoded", m, m.IV)
		}
	}
}

// Files written before the backup methods name the mechanism without its
// number; they still decode, as RFC 5649 under CKM_AES_KEY_WRAP_PAD.
func TestOldHeaderFormDecodes(t *testing.T) {
	_, data := sample(t)
	old := strings.Replace(string(data), "Wrap-Mechanism: CKM_AES_KEY_WRAP_PAD (0x210A), RFC 5649\n", "Wrap-Mechanism: CKM_AES_KEY_WRAP_PAD\n", 1)
	if old == string(data) {
		t.Fatal("no header to replace")
	}
	b, err := Decode([]byte(old))
	if err != nil {
		t.Fatal(err)
	}
	if b.Mechanism.Type != pkcs11.CKM_AES_KEY_WRAP_PAD || b.Method() != hsm.MethodRFC5649 {
		t.Errorf("old header read as %s", b.Mechanism)
	}
}

// A CBC_PAD backup whose ciphertext, IV header or hash header was altered
// is refused when it is read, saying which.
func TestCBCPadTamperRefused(t *testing.T) {
	iv := bytes.Repeat([]byte{0x5c}, 16)
	_, data := sampleWith(t, hsm.WrapMechanism{Type: pkcs11.CKM_AES_CBC_PAD, IV: iv}, bytes.Repeat([]byte{3}, 96))
	block, _ := pem.Decode(data)
	flipped := append([]byte(nil), block.Bytes...)
	flipped[40] ^= 1
	block.Bytes = flipped
	tampered := pem.EncodeToMemory(block)
	if _, err := Decode(tampered); err == nil || !strings.Contains(err.Error(), "altered or damaged") || strings.Contains(err.Error(), "\n") {
		t.Errorf("tampered ciphertext: %v", err)
	}
	good := string(data)
	for name, edit := range map[string]func(string) string{
		"no IV":      func(s string) string { return strings.Replace(s, "Wrap-IV: ", "Wrap-Iv: ", 1) },
		"short IV":   func(s string) string { return strings.Replace(s, "Wrap-IV: 5c", "Wrap-IV: ", 1) },
		"IV not hex": func(s string) string { return strings.Replace(s, "Wrap-IV: 5c", "Wrap-IV: zz", 1) },
		"no hash":    func(s string) string { return strings.Replace(s, "Ciphertext-SHA256: ", "Ciphertext-Sha: ", 1) },
		"short hash": func(s string) string { return strings.Replace(s, "Ciphertext-SHA256: ", "Ciphertext-SHA256: 0", 1) },
		"other method": func(s string) string {
			return strings.Replace(s, "CKM_AES_CBC_PAD (0x1085)", "CKM_AES_KEY_WRAP_PAD (0x210A), RFC 5649", 1)
		},
	} {
		if _, err := Decode([]byte(edit(good))); err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error spans lines: %q", name, err)
		}
	}
}

// FuzzDecode: whatever the bytes, Decode does not panic, and its errors
// are one line.
func FuzzDecode(f *testing.F) {
	for _, m := range []hsm.WrapMechanism{{Type: pkcs11.CKM_AES_KEY_WRAP_PAD}, {Type: pkcs11.CKM_AES_CBC_PAD, IV: make([]byte, 16)}} {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		_, man, _ := shares.Split(rand.Reader, secret.New(bytes.Repeat([]byte{9}, 32)), shares.Backup, 2, 3)
		data, err := Encode(&Backup{Label: "k", Algorithm: keys.ECDSAP256, PublicKey: &k.PublicKey, Manifest: man, Mechanism: m, Wrapped: make([]byte, 48)})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		f.Add([]byte(strings.Replace(string(data), "Wrap-Mechanism: ", "Wrap-Mechanism: \x00", 1)))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := Decode(data); err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("error spans lines: %q", err)
		}
	})
}

// A backup names who holds each share of its backup key, so that a
// restore can ask why someone else enters one; a backup without the
// header (written before it existed) still decodes, and a header that
// is malformed, short, out of order or carries control characters is
// refused.
func TestHolders(t *testing.T) {
	b, _ := sample(t)
	for i, n := range []string{"Carla Custodian", "Chen Custodian", "Cyril Custodian", "Cleo Custodian", "Çoşkun Kuştepe"} {
		b.Holders = append(b.Holders, shares.Holder{Share: i + 1, Name: n, Role: "custodian"})
	}
	data, err := Encode(b)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if got.HolderOf(2) != "Chen Custodian" || got.HolderOf(5) != "Çoşkun Kuştepe" || got.HolderOf(6) != "" || len(got.Holders) != 5 {
		t.Fatalf("holders %+v", got.Holders)
	}
	_, old := sample(t)
	if b, err := Decode(old); err != nil || b.Holders != nil || b.HolderOf(1) != "" {
		t.Fatalf("a backup without holders: %v %+v", err, b)
	}
	line := regexp.MustCompile(`(?m)^Backup-Key-Holders: .*$`).FindString(string(data))
	for name, bad := range map[string]string{
		"not json":       "Backup-Key-Holders: Carla, Chen",
		"short":          `Backup-Key-Holders: [{"share":1,"name":"Carla","role":"custodian"}]`,
		"unknown field":  strings.Replace(line, `"role":"custodian"}`, `"role":"custodian","pin":"1"}`, 1),
		"order":          strings.Replace(strings.Replace(line, `"share":1,`, `"share":9,`, 1), `"share":2,`, `"share":1,`, 1),
		"control":        strings.Replace(line, "Chen Custodian", `Chen\u001b[2J`, 1),
		"empty name":     strings.Replace(line, "Chen Custodian", " ", 1),
		"trailing value": line + ` []`,
	} {
		_, err := Decode([]byte(strings.Replace(string(data), line, bad, 1)))
		if err == nil || !strings.Contains(err.Error(), "Backup-Key-Holders") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v", name, err)
		}
	}
	b.Holders = b.Holders[:2]
	if _, err := Encode(b); err == nil {
		t.Error("encoded 2 holders for 5 shares")
	}
}

// A backup written with EncodeSealed carries a MAC under a key derived
// from the backup key: the key rebuilt from the custodians' shares checks
// it on the host, so a changed ciphertext, key or holder list is found
// before a token is touched.
func TestMAC(t *testing.T) {
	b, plain := sample(t)
	for i, n := range []string{"A", "B", "C", "D", "E"} {
		b.Holders = append(b.Holders, shares.Holder{Share: i + 1, Name: n, Role: "custodian"})
	}
	key := bytes.Repeat([]byte{9}, 32)
	data, err := EncodeSealed(b, key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if !got.HasMAC() || got.CheckMAC(key) != nil {
		t.Fatalf("the sealed file does not check: %v", got.CheckMAC(key))
	}
	if err := got.CheckMAC(bytes.Repeat([]byte{8}, 32)); !errors.Is(err, ErrMACMismatch) {
		t.Fatalf("another key: %v", err)
	}
	if p, err := Decode(plain); err != nil || p.HasMAC() || p.CheckMAC(key) != nil {
		t.Fatalf("a file without a MAC: %v", err)
	}
	block, _ := pem.Decode(data)
	flipped := bytes.Clone(block.Bytes)
	flipped[10] ^= 1
	for name, changed := range map[string][]byte{
		"ciphertext": pem.EncodeToMemory(&pem.Block{Type: block.Type, Headers: block.Headers, Bytes: flipped}),
		"holders":    []byte(strings.Replace(string(data), `"name":"B"`, `"name":"Mallory"`, 1)),
		"label":      []byte(strings.Replace(string(data), "Key-Label: root-ca", "Key-Label: root-cb", 1)),
	} {
		d, err := Decode(changed)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := d.CheckMAC(key); !errors.Is(err, ErrMACMismatch) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s changed: %v", name, err)
		}
	}
	if _, err := Decode([]byte(strings.Replace(string(data), "Backup-MAC: ", "Backup-MAC: zz", 1))); err == nil || !strings.Contains(err.Error(), "Backup-MAC") {
		t.Errorf("a malformed MAC: %v", err)
	}
	if _, err := EncodeSealed(b, nil); err == nil {
		t.Error("sealed without a key")
	}
}
