package main

import (
	"bytes"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"math/big"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/devicepki/ceremony/ceremony/cli"
	"github.com/devicepki/ceremony/ceremony/pki"
	"github.com/devicepki/ceremony/internal/ceremonytest"
)

// TestAuditScriptArtifactCRLs runs scripts/audit/check-transcript.sh on
// sealed ceremonies whose artifacts hold a CRL: one issued before the seal
// and stale now verifies with a NOTE; one dated after the seal, which the
// ceremony cannot have issued as recorded, fails, as it does in
// 'ceremony transcript verify' (TestVerifyStaleCRLs and the verify
// package's tests).
func TestAuditScriptArtifactCRLs(t *testing.T) {
	script, err := filepath.Abs(filepath.Join("..", "scripts", "audit", "check-transcript.sh"))
	if err != nil {
		t.Fatal(err)
	}
	// The script wants what the engine's transcript-signing template
	// makes: the documentSigning EKU, valid at the seal (ceremonytest's
	// clock seals on 2026-11-21 about 08:00 UTC).
	sealed := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	rootKey := ceremonytest.NewKey(t, elliptic.P384())
	rootTmpl := ceremonytest.RootTemplate("Audit CRL Currency Root")
	rootTmpl.NotBefore = sealed.AddDate(0, -1, 0)
	root := ceremonytest.NewCert(t, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	auditKey := ceremonytest.NewKey(t, elliptic.P256())
	audit := ceremonytest.NewCert(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: "Transcript Audit"},
		NotBefore:             sealed.AddDate(0, 0, -1),
		NotAfter:              sealed.AddDate(2, 0, 0),
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		UnknownExtKeyUsage:    []asn1.ObjectIdentifier{pki.DocumentSigningOID},
	}, root, auditKey.Public(), rootKey)
	p := &ceremonytest.PKI{Root: root, RootKey: rootKey, Audit: audit, AuditKey: auditKey}

	crl := func(this, next time.Time) []byte {
		der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(7), ThisUpdate: this, NextUpdate: next}, root, rootKey)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	pemOf := func(der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}) }
	// run runs the script and 'ceremony transcript verify' on a sealed
	// ceremony with arts, and fails the test if they disagree.
	run := func(t *testing.T, arts ...ceremonytest.Artifact) (bool, string) {
		t.Helper()
		c := ceremonytest.NewCeremony(t, p, arts...)
		out, err := exec.Command("sh", script, c.Dir, c.RootPEM).CombinedOutput()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatal(err)
		}
		var vout bytes.Buffer
		code := cli.Main([]string{"transcript", "verify", c.Path(), "--root", c.RootPEM}, &cli.Env{Stdin: strings.NewReader(""), Stdout: &vout, Stderr: &vout})
		if (code == 0) != (err == nil) {
			t.Fatalf("the script and verify disagree:\n%s\nverify (exit %d):\n%s", out, code, vout.String())
		}
		return err == nil, string(out)
	}

	t.Run("issued before the seal, stale now", func(t *testing.T) {
		ok, out := run(t, ceremonytest.Artifact{Path: "artifacts/root-ca.crl.pem", Data: pemOf(crl(sealed.Add(-time.Hour), sealed.Add(24*time.Hour)))},
			ceremonytest.Artifact{Path: "artifacts/root-ca.crl.der", Data: crl(sealed.Add(-time.Hour), sealed.AddDate(50, 0, 0))})
		if !ok {
			t.Fatalf("refused:\n%s", out)
		}
		for _, re := range []string{
			`(?m)^NOTE: artifacts/root-ca.crl.pem: CRL issued by the seal \(lastUpdate Nov 21 07:00:00 2026 GMT\), stale now \(nextUpdate Nov 22 08:00:00 2026 GMT\)`,
			`(?m)^OK: artifacts/root-ca.crl.der: CRL issued by the seal \(lastUpdate Nov 21 07:00:00 2026 GMT\), current now`,
			`(?m)^VERIFIED: `,
		} {
			if !regexp.MustCompile(re).MatchString(out) {
				t.Errorf("output does not match %s:\n%s", re, out)
			}
		}
	})
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"PEM", pemOf(crl(sealed.Add(time.Hour), sealed.AddDate(50, 0, 0)))},
		{"DER", crl(sealed.Add(time.Hour), sealed.AddDate(50, 0, 0))},
	} {
		t.Run("dated after the seal, "+tc.name, func(t *testing.T) {
			ok, out := run(t, ceremonytest.Artifact{Path: "artifacts/root-ca.crl", Data: tc.data})
			want := "check-transcript: FAILED: artifacts/root-ca.crl: CRL lastUpdate Nov 21 09:00:00 2026 GMT is after the seal (event 7)"
			if ok || !strings.Contains(out, want) {
				t.Fatalf("want a failure %q, got:\n%s", want, out)
			}
		})
	}
	// A CRL after a certificate in one file: both read the CRL (openssl
	// takes the first X509 CRL block, and so does verify).
	t.Run("dated after the seal, behind a certificate", func(t *testing.T) {
		data := append(ceremonytest.PEM(root), pemOf(crl(sealed.Add(time.Hour), sealed.AddDate(50, 0, 0)))...)
		ok, out := run(t, ceremonytest.Artifact{Path: "artifacts/root-ca.crl.pem", Data: data})
		if ok || !strings.Contains(out, "FAILED: artifacts/root-ca.crl.pem: CRL lastUpdate Nov 21 09:00:00 2026 GMT is after the seal") {
			t.Fatalf("want a failure, got:\n%s", out)
		}
	})
	t.Run("a CRL block that does not parse", func(t *testing.T) {
		bad := pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: []byte("not DER")})
		ok, out := run(t, ceremonytest.Artifact{Path: "artifacts/root-ca.crl.pem", Data: bad})
		if ok || !strings.Contains(out, "FAILED: artifacts/root-ca.crl.pem: an X509 CRL that does not parse") {
			t.Fatalf("want a failure, got:\n%s", out)
		}
	})
}
