package pki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/devicepki/ceremony/internal/fuzzcheck"
)

func addTemplateSeeds(f *testing.F, crl bool) {
	for _, dir := range []string{"templates", "examples/rsa-templates"} {
		files, _ := filepath.Glob(filepath.Join("..", "..", dir, "*.yaml"))
		for _, p := range files {
			if (filepath.Base(p) == "crl.yaml") != crl {
				continue
			}
			if data, err := os.ReadFile(p); err == nil {
				f.Add(data)
			}
		}
	}
}

// FuzzParseTemplate: a certificate template never panics the parser; an
// error is one printable line; an accepted template parses again the same.
func FuzzParseTemplate(f *testing.F) {
	addTemplateSeeds(f, false)
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("t.yaml", data)
		fuzzcheck.OneLine(t, err)
		if err != nil {
			return
		}
		if p.Text != string(data) || p.Name != "t" {
			t.Fatalf("profile keeps name %q, text %v", p.Name, p.Text == string(data))
		}
		_ = p.SelfSigned()
		_ = p.DescribeAllowedKeys()
		again, err := Parse("t.yaml", []byte(p.Text))
		if err != nil || again.Kind != p.Kind || again.SHA256 != p.SHA256 {
			t.Fatalf("accepted template does not parse again the same: %v", err)
		}
	})
}

// FuzzParseCRLTemplate: the same for CRL templates.
func FuzzParseCRLTemplate(f *testing.F) {
	addTemplateSeeds(f, true)
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseCRL("crl.yaml", data)
		fuzzcheck.OneLine(t, err)
		if err != nil {
			return
		}
		if p.NextUpdate <= 0 {
			t.Fatalf("accepted next update %v", p.NextUpdate)
		}
		_ = p.ExcludedLints()
	})
}

// testIssuer returns a self-signed certificate and a CRL it issued, made
// from fixed test values, as PEM.
func testIssuer(f *testing.F) (certPEM, crlPEM []byte) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(0x5f3a9c), Subject: pkix.Name{CommonName: "Fuzz Test Root", Organization: []string{"Test"}},
		NotBefore: at, NotAfter: at.AddDate(10, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, CRLDistributionPoints: []string{"http://crl.example/root.crl"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		f.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	crl, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(2), ThisUpdate: at, NextUpdate: at.AddDate(0, 1, 0),
		RevokedCertificateEntries: []x509.RevocationListEntry{{SerialNumber: big.NewInt(7), RevocationTime: at, ReasonCode: 1}},
	}, cert, k)
	if err != nil {
		f.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: crl})
}

// FuzzCertificatePEM: the bytes ReadCertificateFile parses (and with it
// verify's LoadRoot and revocations' certificate files): never a panic; an
// error is one printable line naming the file; an accepted certificate
// re-encodes to the same DER and can be described.
func FuzzCertificatePEM(f *testing.F) {
	cert, crl := testIssuer(f)
	f.Add(cert)
	f.Add(append(append([]byte{}, cert...), cert...))
	f.Add(crl)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseCertificatePEM("certificate", "c.pem", data)
		fuzzcheck.OneLine(t, err)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "certificate c.pem: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		again, err := parseCertificatePEM("certificate", "c.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
		if err != nil || !bytes.Equal(again.Raw, c.Raw) {
			t.Fatalf("accepted certificate does not re-encode: %v", err)
		}
		_ = DescribeCertificate(c)
	})
}

// FuzzCRLPEM: the same for ReadCRLFile (verify's ReadCRL); an accepted CRL
// has a number.
func FuzzCRLPEM(f *testing.F) {
	cert, crl := testIssuer(f)
	f.Add(crl)
	f.Add(cert)
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := parseCRLPEM("CRL", "r.pem", data)
		fuzzcheck.OneLine(t, err)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "CRL r.pem: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if l.Number == nil {
			t.Fatal("accepted a CRL without a number")
		}
		again, err := parseCRLPEM("CRL", "r.pem", pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: l.Raw}))
		if err != nil || !bytes.Equal(again.Raw, l.Raw) {
			t.Fatalf("accepted CRL does not re-encode: %v", err)
		}
		_ = DescribeCRL(l)
	})
}
