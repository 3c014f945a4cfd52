package backup

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"

	"github.com/devicepki/ceremony/internal/fuzzcheck"

	"github.com/devicepki/ceremony/ceremony/keys"
	"github.com/devicepki/ceremony/ceremony/secret"
	"github.com/devicepki/ceremony/ceremony/shares"
	"github.com/devicepki/ceremony/hsm"
	"github.com/miekg/pkcs11"
)

// FuzzDecodeRoundTrip adds to FuzzDecode (which checks that errors are one
// line): no error holds a control character, and an accepted backup file
// encodes to one that decodes to the same bytes and the same public key.
// The seeds are backups of fresh keys with made-up wrapped bytes and
// shares of fixed test bytes: they protect nothing.
func FuzzDecodeRoundTrip(f *testing.F) {
	for _, m := range []hsm.WrapMechanism{{Type: pkcs11.CKM_AES_KEY_WRAP_PAD}, {Type: pkcs11.CKM_AES_CBC_PAD, IV: make([]byte, 16)}} {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			f.Fatal(err)
		}
		_, man, err := shares.Split(bytes.NewReader(bytes.Repeat([]byte{7}, 64)), secret.New(bytes.Repeat([]byte{9}, 32)), shares.Backup, 2, 3)
		if err != nil {
			f.Fatal(err)
		}
		b := &Backup{Label: "root-ca", Algorithm: keys.ECDSAP256, PublicKey: &k.PublicKey, Manifest: man, Mechanism: m, Wrapped: make([]byte, 48)}
		b.Holders = []shares.Holder{{Share: 1, Name: "Carla Custodian", Role: "custodian"}, {Share: 2, Name: "Chen Custodian", Role: "custodian"}, {Share: 3, Name: "Cleo Custodian", Role: "custodian"}}
		data, err := Encode(b)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Decode(data)
		if err != nil {
			fuzzcheck.OneLine(t, err)
			return
		}
		out, err := Encode(b)
		if err != nil {
			t.Fatalf("accepted backup does not encode: %v", err)
		}
		back, err := Decode(out)
		if err != nil {
			t.Fatalf("accepted backup does not round-trip: %v", err)
		}
		fp, _ := keys.Fingerprint(b.PublicKey)
		backFP, _ := keys.Fingerprint(back.PublicKey)
		if again, _ := Encode(back); !bytes.Equal(again, out) || fp != backFP {
			t.Fatal("backup changes on a round trip")
		}
	})
}
