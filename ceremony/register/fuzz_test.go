package register

import (
	"bytes"
	"testing"

	"github.com/devicepki/ceremony/internal/fuzzcheck"
)

// FuzzParseRegister: an issuance register never panics Parse; an error is
// one printable line; an accepted register marshals to one that parses to
// the same bytes.
func FuzzParseRegister(f *testing.F) {
	r := New()
	is := r.Issuer("5d0202b12d747c55080f6b4f7eed0ec2a826ab7110f2845eb838f12dacdc256c", "CN=Fuzz Test Root")
	is.Issued = append(is.Issued, Certificate{Serial: "0a", Subject: "CN=A"})
	is.Revoked = append(is.Revoked, Revocation{Serial: "ff", Reason: "superseded", CRLNumber: 1}, Revocation{Serial: "0b", Reason: "key-compromise", CRLNumber: 2})
	is.CRLNumber = 2
	data, err := r.Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte(`{"version":1,"issuers":{}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse(data)
		if err != nil {
			fuzzcheck.OneLine(t, err)
			return
		}
		out, err := r.Marshal()
		if err != nil {
			t.Fatalf("accepted register does not marshal: %v", err)
		}
		back, err := Parse(out)
		if err != nil {
			t.Fatalf("accepted register does not round-trip: %v", err)
		}
		if again, _ := back.Marshal(); !bytes.Equal(again, out) {
			t.Fatalf("register changes on a round trip:\n%s\n%s", out, again)
		}
	})
}
