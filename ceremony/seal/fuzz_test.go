package seal

import (
	"crypto/elliptic"
	"crypto/x509"
	"testing"

	"github.com/devicepki/ceremony/internal/fuzzcheck"
)

// FuzzParseSeal: a transcript.sig never panics Parse, nor Verify and
// VerifyChain of what it accepts; an error is one printable line; an
// accepted seal names one of the certificates it carries as its signer
// and one of the three digests.
func FuzzParseSeal(f *testing.F) {
	p := newPKI(f, "Fuzz Test Root")
	content := transcript()
	key := mustECDSA(f, elliptic.P256())
	sig, err := Sign(content, key, p.audit(f, key, nil), []*x509.Certificate{p.root})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sig)
	f.Add(sig[:len(sig)-1])
	f.Add(append(sig, 0))
	f.Fuzz(func(t *testing.T, der []byte) {
		s, err := Parse(der)
		if err != nil {
			fuzzcheck.OneLine(t, err) // '\n' is a control character
			return
		}
		carried := false
		for _, c := range s.Certificates {
			carried = carried || c == s.Signer
		}
		if !carried || (s.Digest != "SHA-256" && s.Digest != "SHA-384" && s.Digest != "SHA-512") {
			t.Fatalf("accepted seal: signer carried %v, digest %q", carried, s.Digest)
		}
		_ = s.Verify(content)
		_ = s.VerifyChain(p.root)
	})
}
