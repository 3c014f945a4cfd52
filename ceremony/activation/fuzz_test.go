package activation

import (
	"bytes"
	"testing"

	"github.com/devicepki/ceremony/internal/fuzzcheck"

	"github.com/devicepki/ceremony/ceremony/secret"
	"github.com/devicepki/ceremony/ceremony/shares"
)

// FuzzParseRecord: an activation record (JSON, read from the token or the
// artifacts) never panics ParseRecord; an error is one printable line; an
// accepted record marshals to a record that parses to the same bytes.
func FuzzParseRecord(f *testing.F) {
	// Split of fixed test bytes: test data, protecting nothing.
	_, man, err := shares.Split(bytes.NewReader(bytes.Repeat([]byte{5}, 64)), secret.New(bytes.Repeat([]byte{3}, SecretLen)), shares.Activation, 2, 3)
	if err != nil {
		f.Fatal(err)
	}
	for _, r := range []*Record{
		{Version: 1, Derivation: Derivation, PINLength: 32, Token: "t", Manifest: man},
		{Version: 1, Derivation: DerivationAlnum, PINLength: 8, Token: "root", Manifest: man},
	} {
		data, err := r.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseRecord(data)
		if err != nil {
			fuzzcheck.OneLine(t, err)
			return
		}
		out, err := r.Marshal()
		if err != nil {
			t.Fatalf("accepted record does not marshal: %v", err)
		}
		back, err := ParseRecord(out)
		if err != nil {
			t.Fatalf("accepted record does not round-trip: %v", err)
		}
		if again, _ := back.Marshal(); !bytes.Equal(again, out) {
			t.Fatalf("record changes on a round trip:\n%s\n%s", out, again)
		}
	})
}
