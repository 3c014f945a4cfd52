package verify_test

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/devicepki/ceremony/ceremony/verify"
	"github.com/devicepki/ceremony/internal/ceremonytest"
)

// A CRL the ceremony recorded as an artifact: one issued by the seal
// verifies, and whether it is current now is noted, never failed (an old
// sealed transcript stays verified when its CRL goes stale); one whose
// thisUpdate is after the seal fails. An auditor's --crl past its next
// update is still checked, with a note.
func TestArtifactCRL(t *testing.T) {
	p := newPKI(t, "CRL Artifact Root")
	// ceremonytest.Clock: the events are on 2026-11-21 from 08:00 UTC.
	sealed := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	crlPEM := func(this, next time.Time) []byte {
		der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(3), ThisUpdate: this, NextUpdate: next}, p.root, p.rootKey)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
	}
	const path = "artifacts/root-ca.crl.pem"
	good := crlPEM(sealed.Add(-time.Hour), sealed.Add(90*24*time.Hour))
	c := ceremonytest.NewCeremony(t, p.shared(), ceremonytest.Artifact{Path: path, Data: good})
	for _, tc := range []struct {
		name string
		at   time.Time
		note string
	}{
		{"current", sealed.Add(24 * time.Hour), ""},
		{"stale years later", sealed.AddDate(3, 0, 0), "stale now (next update " + sealed.Add(90*24*time.Hour).Format(time.RFC3339) + ", now "},
		{"clock behind", sealed.Add(-48 * time.Hour), "not yet valid now"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			verify.SetNow(t, tc.at)
			res, err := verify.Ceremony(c.Path(), verify.Pin{Root: p.root})
			if err != nil || res.Status != verify.Verified {
				t.Fatalf("%v", err)
			}
			if len(res.CRLs) != 1 || res.CRLs[0].Path != path || res.CRLs[0].List.Number.Int64() != 3 {
				t.Fatalf("CRLs %+v", res.CRLs)
			}
			if n := res.CRLs[0].Note; (tc.note == "") != (n == "") || !strings.Contains(n, tc.note) {
				t.Fatalf("note %q, want %q", n, tc.note)
			}
		})
	}

	t.Run("issued after the seal", func(t *testing.T) {
		late := ceremonytest.NewCeremony(t, p.shared(), ceremonytest.Artifact{Path: path, Data: crlPEM(sealed.Add(24*time.Hour), sealed.Add(90*24*time.Hour))})
		_, err := verify.Ceremony(late.Path(), verify.Pin{Root: p.root})
		var f *verify.Failure
		if !errors.As(err, &f) || f.File != path || !strings.Contains(f.Msg, "CRL 3 has this update 2026-11-22T08:00:00Z, after the seal (event ") || !strings.Contains(f.Msg, "not valid when the transcript was sealed") {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("auditor's stale CRL", func(t *testing.T) {
		verify.SetNow(t, sealed.AddDate(1, 0, 0))
		res, err := verify.Ceremony(c.Path(), verify.Pin{Root: p.root})
		if err != nil {
			t.Fatal(err)
		}
		l, err := x509.ParseRevocationList(mustDER(t, crlPEM(sealed.Add(time.Hour), sealed.Add(48*time.Hour))))
		if err != nil {
			t.Fatal(err)
		}
		got, err := res.CheckCRLs(p.root, []verify.CRL{{File: "old.crl.pem", List: l}})
		if err != nil || len(got) != 1 || !strings.Contains(got[0].Note, "stale now") {
			t.Fatalf("%v %+v", err, got)
		}
	})
}

func mustDER(t testing.TB, pemData []byte) []byte {
	t.Helper()
	b, _ := pem.Decode(pemData)
	if b == nil {
		t.Fatal("no PEM block")
	}
	return b.Bytes
}

// Artifacts are read as artifacts (up to 64 MiB), and only a CRL among
// them is held to a CRL's 4 MiB: a large artifact that is no CRL
// verifies; a CRL past the limit, in PEM or DER, fails without its
// entries being parsed.
func TestArtifactCRLSize(t *testing.T) {
	p := newPKI(t, "CRL Size Root")
	sealed := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	big5 := bytes.Repeat([]byte("firmware "), 5<<20/9+1)
	c := ceremonytest.NewCeremony(t, p.shared(), ceremonytest.Artifact{Path: "artifacts/firmware.bin", Data: big5})
	if res, err := verify.Ceremony(c.Path(), verify.Pin{Root: p.root}); err != nil || res.Status != verify.Verified {
		t.Fatalf("a 5 MiB artifact that is no CRL: %v", err)
	}

	// A CRL of 4 MiB and a bit: many entries of the smallest size.
	var entries []x509.RevocationListEntry
	for range 4 << 20 / 20 {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: big.NewInt(1), RevocationTime: sealed.Add(-time.Hour)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(4), ThisUpdate: sealed.Add(-time.Hour), NextUpdate: sealed.AddDate(0, 1, 0), RevokedCertificateEntries: entries}, p.root, p.rootKey)
	if err != nil {
		t.Fatal(err)
	}
	if len(der) <= 4<<20 {
		t.Fatalf("the CRL is %d bytes, not past the limit", len(der))
	}
	if !verify.LooksLikeDERCRL(der) || verify.LooksLikeDERCRL(p.root.Raw) || verify.LooksLikeDERCRL(big5) {
		t.Fatal("looksLikeDERCRL tells a CRL from a certificate and from other bytes wrongly")
	}
	for name, data := range map[string][]byte{"root-ca.crl.pem": pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), "root-ca.crl": der} {
		c := ceremonytest.NewCeremony(t, p.shared(), ceremonytest.Artifact{Path: "artifacts/" + name, Data: data})
		_, err := verify.Ceremony(c.Path(), verify.Pin{Root: p.root})
		var f *verify.Failure
		if !errors.As(err, &f) || f.File != "artifacts/"+name || !strings.Contains(f.Msg, "larger than 4194304 bytes, the limit for a CRL") {
			t.Fatalf("%s: got %v", name, err)
		}
	}
}
