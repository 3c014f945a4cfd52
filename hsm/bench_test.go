package hsm_test

import (
	"crypto"
	"crypto/sha512"
	"fmt"
	"testing"

	"github.com/devicepki/ceremony/ceremony/keys"
	"github.com/devicepki/ceremony/ceremony/secret"
	"github.com/devicepki/ceremony/hsm"
	"github.com/devicepki/ceremony/internal/softhsmtest"
)

func benchToken(b *testing.B) *hsm.Token {
	b.Helper()
	h := softhsmtest.New(b)
	tk := h.InitToken(b, "bench")
	tok, err := hsm.Open(h.Config("bench"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { tok.Close() })
	if err := tok.Login(secret.FromString(tk.PIN)); err != nil {
		b.Fatal(err)
	}
	return tok
}

// BenchmarkGenerateKeyPair measures key generation on SoftHSM2, including
// the label check and the CKA_ID drawn from the token RNG.
func BenchmarkGenerateKeyPair(b *testing.B) {
	for _, alg := range []keys.Algorithm{keys.ECDSAP256, keys.ECDSAP384, keys.RSA3072, keys.RSA4096} {
		b.Run(string(alg), func(b *testing.B) {
			tok := benchToken(b)
			i := 0
			for b.Loop() {
				i++
				if _, err := tok.GenerateKeyPair(fmt.Sprintf("k%d", i), alg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSignP384 measures one ECDSA P-384 signature in the token.
func BenchmarkSignP384(b *testing.B) {
	tok := benchToken(b)
	kp, err := tok.GenerateKeyPair("k", keys.ECDSAP384)
	if err != nil {
		b.Fatal(err)
	}
	digest := sha512.Sum384([]byte("tbs"))
	for b.Loop() {
		if _, err := kp.Sign(nil, digest[:], crypto.SHA384); err != nil {
			b.Fatal(err)
		}
	}
}
