package csr

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"reflect"
	"strings"
	"testing"

	"github.com/devicepki/ceremony/internal/fuzzcheck"
)

// FuzzParseCSR: a CSR file, PEM or DER, never panics Parse; an error is
// one printable line naming the file; an accepted request does not alias
// the input and parses again from its DER to the same request.
func FuzzParseCSR(f *testing.F) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{Country: []string{"DE"}, Organization: []string{"Test"}, CommonName: "Fuzz Test Factory CA"},
	}, k)
	if err != nil {
		f.Fatal(err)
	}
	p := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	f.Add(der)
	f.Add(p)
	f.Add(append([]byte("\xef\xbb\xbf\n"), p...))
	f.Add(append(append([]byte{}, p...), p...))
	f.Add(bytes.Replace(p, []byte("CERTIFICATE REQUEST"), []byte("CERTIFICATE"), 2))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse("in.csr", data)
		fuzzcheck.OneLine(t, err)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "in.csr: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if len(r.DER) > 0 && len(data) > 0 && &r.DER[0] == &data[0] {
			t.Fatal("the request aliases the input")
		}
		again, err := Parse("in.csr", r.DER)
		if err != nil || again.SHA256 != r.SHA256 || !bytes.Equal(again.CSR.Raw, r.CSR.Raw) {
			t.Fatalf("accepted request does not parse again from its DER: %v", err)
		}
	})
}

// FuzzParseSubject: a -subj value never panics ParseSubject; an error is
// one printable line; an accepted subject prints back to a string that
// parses to the same subject, and encodes to DER.
func FuzzParseSubject(f *testing.F) {
	f.Add("/C=DE/O=Example Devices GmbH/CN=Example Factory Berlin Issuing CA")
	f.Add(`/CN=a\/b\\c/OU=x`)
	f.Add("/ST=Bayern/L=München/CN=Ünïcödé")
	f.Add("CN=x")
	f.Fuzz(func(t *testing.T, s string) {
		sub, err := ParseSubject(s)
		fuzzcheck.OneLine(t, err)
		if err != nil {
			return
		}
		again, err := ParseSubject(sub.String())
		if err != nil || !reflect.DeepEqual(again, sub) {
			t.Fatalf("subject %q prints as %q, which parses to %v (%v)", s, sub.String(), again, err)
		}
		der, err := sub.DER()
		if err != nil {
			t.Fatalf("accepted subject does not encode: %v", err)
		}
		var seq pkix.RDNSequence
		if rest, err := asn1.Unmarshal(der, &seq); err != nil || len(rest) > 0 || len(seq) != len(sub.attrs) {
			t.Fatalf("subject DER does not decode: %v", err)
		}
	})
}
