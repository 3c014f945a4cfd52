package activation

import (
	"bytes"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/devicepki/ceremony/ceremony/secret"
	"github.com/devicepki/ceremony/ceremony/shares"
)

func TestPINsAreDistinctDeterministicHex(t *testing.T) {
	sec := secret.New(bytes.Repeat([]byte{7}, SecretLen))
	id := shares.SplitID{1, 2, 3, 4, 5, 6}
	so, user, err := PINs(sec, id, 32)
	if err != nil {
		t.Fatal(err)
	}
	if so.Len() != 32 || user.Len() != 32 || bytes.Equal(so.Bytes(), user.Bytes()) {
		t.Fatalf("PINs: %d and %d characters, equal %t", so.Len(), user.Len(), bytes.Equal(so.Bytes(), user.Bytes()))
	}
	// Independently: HKDF-SHA256, salt the split id, the user label.
	k, _ := hkdf.Key(sha256.New, sec.Bytes(), id[:], "ceremony token user PIN v1", 32)
	if want := hex.EncodeToString(k)[:32]; string(user.Bytes()) != want {
		t.Fatalf("user PIN is not HKDF-SHA256 of the secret")
	}
	so2, user2, _ := PINs(sec, id, 32)
	if !bytes.Equal(so.Bytes(), so2.Bytes()) || !bytes.Equal(user.Bytes(), user2.Bytes()) {
		t.Fatal("derivation is not deterministic")
	}
	// Another split id (salt) gives other PINs.
	_, user3, _ := PINs(sec, shares.SplitID{9}, 32)
	if bytes.Equal(user.Bytes(), user3.Bytes()) {
		t.Fatal("the split id does not enter the derivation")
	}
	if _, _, err := PINs(secret.New([]byte("short")), id, 32); err == nil {
		t.Fatal("a short secret was accepted")
	}
}

func TestPINLength(t *testing.T) {
	for _, tc := range []struct{ min, max, want int }{
		{4, 255, 32}, {0, 0, 32}, {6, 16, 16}, {40, 255, 40}, {4, 100, 32},
	} {
		if got, err := PINLength(tc.min, tc.max); err != nil || got != tc.want {
			t.Errorf("PINLength(%d, %d) = %d, %v; want %d", tc.min, tc.max, got, err, tc.want)
		}
	}
	if _, err := PINLength(4, 8); err == nil || !strings.Contains(err.Error(), "at least 16") {
		t.Errorf("a token with 8-character PINs: %v", err)
	}
	if _, err := PINLength(70, 255); err == nil {
		t.Error("a token wanting 70-character PINs was accepted")
	}
}

func TestRecordRoundTripAndRejects(t *testing.T) {
	sec := secret.New(bytes.Repeat([]byte{3}, SecretLen))
	_, man, err := shares.Split(bytes.NewReader(bytes.Repeat([]byte{5}, 64)), sec, shares.Activation, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	r := &Record{Version: 1, Derivation: Derivation, PINLength: 32, Token: "t", Manifest: man}
	data, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, sec.Bytes()) || bytes.Contains(data, []byte(hex.EncodeToString(sec.Bytes()))) {
		t.Fatal("the record holds the secret")
	}
	got, err := ParseRecord(data)
	if err != nil || got.Manifest.Commitment != man.Commitment {
		t.Fatalf("round trip: %v", err)
	}
	for name, edit := range map[string]func(string) string{
		"version":    func(s string) string { return strings.Replace(s, `"version":1,"pin`, `"version":2,"pin`, 1) },
		"derivation": func(s string) string { return strings.Replace(s, Derivation, "md5", 1) },
		"length":     func(s string) string { return strings.Replace(s, `"pin_length":32`, `"pin_length":4`, 1) },
		"purpose":    func(s string) string { return strings.Replace(s, `"purpose":"activation"`, `"purpose":"backup"`, 1) },
		"no json":    func(string) string { return "{" },
	} {
		if _, err := ParseRecord([]byte(edit(string(data)))); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
