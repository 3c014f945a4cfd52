package cli

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/devicepki/ceremony/internal/ceremonytest"
)

// transcript verify on a sealed ceremony whose own CRL has gone stale
// since: still verified, with a CRL NOTE line; an auditor's --crl past its
// next update is still checked, with a CRL NOTE line.
func TestVerifyStaleCRLs(t *testing.T) {
	p := ceremonytest.NewPKI(t, "Verify CRL Root")
	// ceremonytest.Clock: the ceremony is sealed on 2026-11-21 about 08:00 UTC.
	sealed := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	crlPEM := func(number int64, this, next time.Time) []byte {
		der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(number), ThisUpdate: this, NextUpdate: next}, p.Root, p.RootKey)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
	}
	c := ceremonytest.NewCeremony(t, p, ceremonytest.Artifact{Path: "artifacts/root-ca.crl.pem", Data: crlPEM(1, sealed.Add(-time.Hour), sealed.Add(24*time.Hour))})
	old := filepath.Join(t.TempDir(), "old.crl.pem")
	if err := os.WriteFile(old, crlPEM(2, sealed.Add(-time.Hour), sealed.Add(48*time.Hour)), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runMain(t, strings.NewReader(""), "transcript", "verify", c.Path(), "--root", c.RootPEM, "--crl", old)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, stdout, stderr)
	}
	for _, re := range []string{
		`(?m)^VERIFIED: `,
		`(?m)^CRL OK: .*old.crl.pem: CRL 2 \(this update 2026-11-21T07:00:00Z\), signed by the pinned root, revokes none of the certificates the transcript relies on \(1 checked\)$`,
		`(?m)^CRL NOTE: .*old.crl.pem: CRL 2 is stale now \(next update 2026-11-23T08:00:00Z, now [0-9TZ:-]+\): a newer CRL should exist: it answers for what it revokes, but a newer CRL may revoke more; check against the current one$`,
		`(?m)^CRL NOTE: artifacts/root-ca.crl.pem: CRL 1 \(this update 2026-11-21T07:00:00Z, next update 2026-11-22T08:00:00Z\) was issued by the seal, and is stale now \(next update 2026-11-22T08:00:00Z, now [0-9TZ:-]+\): a newer CRL should exist; the sealed transcript is not at fault$`,
	} {
		if !regexp.MustCompile(re).MatchString(stdout) {
			t.Errorf("stdout does not match %s:\n%s", re, stdout)
		}
	}
}
