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
	so, user, err := PINs(sec, id, hex32)
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
	so2, user2, _ := PINs(sec, id, hex32)
	if !bytes.Equal(so.Bytes(), so2.Bytes()) || !bytes.Equal(user.Bytes(), user2.Bytes()) {
		t.Fatal("derivation is not deterministic")
	}
	// Another split id (salt) gives other PINs.
	_, user3, _ := PINs(sec, shares.SplitID{9}, hex32)
	if bytes.Equal(user.Bytes(), user3.Bytes()) {
		t.Fatal("the split id does not enter the derivation")
	}
	if _, _, err := PINs(secret.New([]byte("short")), id, hex32); err == nil {
		t.Fatal("a short secret was accepted")
	}
}

var hex32 = PINFormat{Derivation: Derivation, Length: 32}

func TestChoosePIN(t *testing.T) {
	for _, tc := range []struct {
		lo, hi, bits int
		want         PINFormat
		wantBits     int
	}{
		{4, 255, 64, hex32, 128},
		{0, 0, 64, hex32, 128},
		{6, 16, 64, PINFormat{Derivation, 16}, 64},
		{40, 255, 64, PINFormat{Derivation, 40}, 160},
		{4, 100, 64, hex32, 128},
		// Too short for 64 bits of hex: letters and digits, as long
		// as the token allows.
		{6, 12, 64, PINFormat{DerivationAlnum, 12}, 71},
		{4, 8, 47, PINFormat{DerivationAlnum, 8}, 47},
		{6, 16, 80, PINFormat{DerivationAlnum, 16}, 95},
	} {
		got, err := ChoosePIN(tc.lo, tc.hi, tc.bits)
		if err != nil || got != tc.want || got.Bits() != tc.wantBits {
			t.Errorf("ChoosePIN(%d, %d, %d) = %+v (%d bits), %v; want %+v (%d bits)", tc.lo, tc.hi, tc.bits, got, got.Bits(), err, tc.want, tc.wantBits)
		}
	}
	for _, tc := range []struct {
		lo, hi, bits int
		want         string
	}{
		{4, 8, 64, "the token accepts PINs of 4 to 8 characters: at most 47 bits from letters and digits, below the 64 bits asked (min_pin_bits)"},
		{70, 255, 64, "at most"},
		{4, 8, 39, "below the 40 bits"},
	} {
		if _, err := ChoosePIN(tc.lo, tc.hi, tc.bits); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ChoosePIN(%d, %d, %d): %v; want %q", tc.lo, tc.hi, tc.bits, err, tc.want)
		}
	}
}

// Letters-and-digits PINs: deterministic, distinct, of the alphabet, and
// every character about equally likely.
func TestAlnumPINs(t *testing.T) {
	f := PINFormat{Derivation: DerivationAlnum, Length: 8}
	counts := map[byte]int{}
	for i := range 400 {
		sec := secret.New(bytes.Repeat([]byte{byte(i), byte(i >> 8)}, SecretLen/2))
		so, user, err := PINs(sec, shares.SplitID{1}, f)
		if err != nil {
			t.Fatal(err)
		}
		if so.Len() != 8 || user.Len() != 8 || bytes.Equal(so.Bytes(), user.Bytes()) {
			t.Fatalf("PINs %d and %d characters, equal %t", so.Len(), user.Len(), bytes.Equal(so.Bytes(), user.Bytes()))
		}
		so2, _, _ := PINs(sec, shares.SplitID{1}, f)
		if !bytes.Equal(so.Bytes(), so2.Bytes()) {
			t.Fatal("not deterministic")
		}
		hexSO, _, _ := PINs(sec, shares.SplitID{1}, PINFormat{Derivation: Derivation, Length: 16})
		if bytes.HasPrefix(hexSO.Bytes(), so.Bytes()) {
			t.Fatal("the alphanumeric PIN is a prefix of the hex one")
		}
		for _, c := range append(so.Bytes(), user.Bytes()...) {
			if !strings.ContainsRune(alnum, rune(c)) {
				t.Fatalf("character %q outside the alphabet", c)
			}
			counts[c]++
		}
	}
	// 6400 characters over 62: about 103 each.
	if len(counts) != len(alnum) {
		t.Errorf("%d of %d characters ever appear", len(counts), len(alnum))
	}
	for c, n := range counts {
		if n < 50 || n > 170 {
			t.Errorf("character %q appears %d times of 6400", c, n)
		}
	}
	if _, _, err := PINs(secret.New(make([]byte, SecretLen)), shares.SplitID{1}, PINFormat{Derivation: DerivationAlnum, Length: 3}); err == nil {
		t.Error("a 3-character PIN was derived")
	}
	if _, _, err := PINs(secret.New(make([]byte, SecretLen)), shares.SplitID{1}, PINFormat{Derivation: "md5", Length: 8}); err == nil {
		t.Error("an unknown derivation was accepted")
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
		"long":       func(s string) string { return strings.Replace(s, `"pin_length":32`, `"pin_length":65`, 1) },
		"purpose":    func(s string) string { return strings.Replace(s, `"purpose":"activation"`, `"purpose":"backup"`, 1) },
		"no json":    func(string) string { return "{" },
	} {
		if _, err := ParseRecord([]byte(edit(string(data)))); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
