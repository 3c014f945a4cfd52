package backup

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/devicepki/ceremony/ceremony/keys"
	"github.com/devicepki/ceremony/ceremony/secret"
	"github.com/devicepki/ceremony/ceremony/shares"
)

func sample(t *testing.T) (*Backup, []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, man, err := shares.Split(rand.Reader, secret.New(bytes.Repeat([]byte{9}, 32)), shares.Backup, 3, 5)
	if err != nil {
		t.Fatal(err)
	}
	b := &Backup{Label: "root-ca", Algorithm: keys.Algorithm("ecdsa-p384"), PublicKey: &k.PublicKey, Manifest: man, Wrapped: bytes.Repeat([]byte{0xab}, 88)}
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
	if !strings.HasPrefix(string(data), "-----BEGIN CEREMONY KEY BACKUP-----\n") || !strings.Contains(string(data), "\nWrap-Mechanism: CKM_AES_KEY_WRAP_PAD\n") {
		t.Fatalf("file:\n%s", data)
	}
}

func TestDecodeRejects(t *testing.T) {
	_, data := sample(t)
	good := string(data)
	other, _ := sample(t)
	for name, tc := range map[string]struct{ edit func(string) string }{
		"not PEM":        {func(string) string { return "hello" }},
		"other type":     {func(s string) string { return strings.ReplaceAll(s, "CEREMONY KEY BACKUP", "PRIVATE KEY") }},
		"text before":    {func(s string) string { return "note\n" + s }},
		"text after":     {func(s string) string { return s + "more\n" }},
		"format 2":       {func(s string) string { return strings.Replace(s, "Backup-Format: 1", "Backup-Format: 2", 1) }},
		"mechanism":      {func(s string) string { return strings.Replace(s, "CKM_AES_KEY_WRAP_PAD", "CKM_AES_KEY_WRAP", 1) }},
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
