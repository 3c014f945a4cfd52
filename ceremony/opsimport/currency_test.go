package opsimport_test

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha512"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/devicepki/ceremony/ceremony/opsimport"
	"github.com/devicepki/ceremony/ceremony/verify"
	"github.com/devicepki/ceremony/internal/ceremonytest"
)

// crlAt has key sign a CRL as issuer with the given dates, revoking
// certs for superseded.
func crlAt(t testing.TB, issuer *x509.Certificate, key *ecdsa.PrivateKey, thisUpdate, nextUpdate time.Time, certs ...*x509.Certificate) []byte {
	t.Helper()
	var entries []x509.RevocationListEntry
	for _, c := range certs {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: c.SerialNumber, RevocationTime: thisUpdate.UTC().Truncate(time.Second), ReasonCode: 4})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(9), ThisUpdate: thisUpdate, NextUpdate: nextUpdate, RevokedCertificateEntries: entries,
	}, issuer, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
}

// The currency rule: a CRL past its next update, or not yet valid, is
// refused, imported or given with --crl, unless a reason is given, which
// the report records; a certificate a stale CRL revokes is refused even
// then.
func TestCRLCurrency(t *testing.T) {
	p := newPKI(t)
	pin := verify.Pin{Root: p.Root}
	day := 24 * time.Hour
	berlin, _ := intermediate(t, "Example Devices Factory Berlin CA 1", p.Root, p.RootKey)
	stale := crlAt(t, p.Root, p.RootKey, now.Add(-100*day), now.Add(-10*day))
	future := crlAt(t, p.Root, p.RootKey, now.Add(2*day), now.Add(90*day))
	current := crlAt(t, p.Root, p.RootKey, now.Add(-day), now.Add(90*day))
	revokes := crlAt(t, p.Root, p.RootKey, now.Add(-100*day), now.Add(-10*day), berlin)
	dates := func(this, next time.Time) string {
		return "this update " + this.UTC().Format(time.RFC3339) + ", next update " + next.UTC().Format(time.RFC3339) + ", now " + now.UTC().Format(time.RFC3339)
	}
	staleDates, futureDates := dates(now.Add(-100*day), now.Add(-10*day)), dates(now.Add(2*day), now.Add(90*day))

	t.Run("current", func(t *testing.T) {
		r, err := opsimport.Check(stage(t, file{"root-ca.crl.pem", current}), pin, now)
		if err != nil {
			t.Fatal(err)
		}
		if it := item(t, r, "root-ca.crl.pem"); it.StaleReason != "" || anyContains(it.Notes, "ALTHOUGH") {
			t.Fatalf("a current CRL noted as stale: %q", it.Notes)
		}
	})
	for _, tc := range []struct {
		name, data, what, dates string
	}{
		{"stale", string(stale), "CRL 9 is stale", staleDates},
		{"not yet valid", string(future), "CRL 9 is not yet valid", futureDates},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := opsimport.Check(stage(t, file{"root-ca.crl.pem", []byte(tc.data)}), pin, now)
			wantRefusal(t, err, "bundle TEST: root-ca.crl.pem", tc.what, tc.dates, "--allow-stale-crl REASON")
			// Given with --crl, only to check against: refused too.
			ins := stage(t, file{"berlin.crt.pem", ceremonytest.PEM(berlin)})
			ins = append(ins, opsimport.Input{Name: "--crl/1/x.crl", Data: []byte(tc.data), Origin: "--crl x.crl", RevocationOnly: true})
			_, err = opsimport.Check(ins, pin, now)
			wantRefusal(t, err, "--crl x.crl", tc.what)
			// With a reason: imported, the reason and dates in the report.
			r, err := opsimport.CheckWith(stage(t, file{"root-ca.crl.pem", []byte(tc.data)}), pin, opsimport.Options{Now: now, AllowStaleCRL: "the 2026 CRL is late; ticket OPS-12"})
			if err != nil {
				t.Fatal(err)
			}
			it := item(t, r, "root-ca.crl.pem")
			if it.StaleReason != "the 2026 CRL is late; ticket OPS-12" || r.AllowStaleCRL != it.StaleReason || !anyContains(it.Notes, "by --allow-stale-crl, reason: the 2026 CRL is late; ticket OPS-12") || !anyContains(it.Notes, tc.dates) {
				t.Fatalf("reason %q, notes %q", it.StaleReason, it.Notes)
			}
		})
	}
	t.Run("revoked stays revoked", func(t *testing.T) {
		files := []file{{"berlin.crt.pem", ceremonytest.PEM(berlin)}, {"root-ca.crl.pem", revokes}}
		for _, reason := range []string{"", "late CRL"} {
			_, err := opsimport.CheckWith(stage(t, files...), pin, opsimport.Options{Now: now, AllowStaleCRL: reason})
			wantRefusal(t, err, "bundle TEST: berlin.crt.pem", "is revoked by CRL 9", "reason superseded")
		}
	})
	t.Run("no next update", func(t *testing.T) {
		data := withoutNextUpdate(t, crlAt(t, p.Root, p.RootKey, now.Add(-day), now.Add(90*day)), p.RootKey)
		_, err := opsimport.Check(stage(t, file{"root-ca.crl.pem", data}), pin, now)
		wantRefusal(t, err, "bundle TEST: root-ca.crl.pem", "CRL 9 gives no next update, so its currency is unknown (this update "+now.Add(-day).UTC().Format(time.RFC3339)+", next update none, now ")
		r, err := opsimport.CheckWith(stage(t, file{"root-ca.crl.pem", data}), pin, opsimport.Options{Now: now, AllowStaleCRL: "issuer gives none"})
		if err != nil || item(t, r, "root-ca.crl.pem").StaleReason != "issuer gives none" {
			t.Fatalf("%v", err)
		}
	})
	t.Run("bad reasons", func(t *testing.T) {
		for _, reason := range []string{" ", "two\nlines", "bell\a", strings.Repeat("x", opsimport.MaxStaleReason+1)} {
			_, err := opsimport.CheckWith(stage(t, file{"root-ca.crl.pem", stale}), pin, opsimport.Options{Now: now, AllowStaleCRL: reason})
			wantRefusal(t, err, "", "--allow-stale-crl: ")
		}
	})
}

// withoutNextUpdate re-signs the PEM CRL crlPEM with key, its nextUpdate
// removed (Go's x509 always writes one; RFC 5280 makes it optional in the
// syntax).
func withoutNextUpdate(t testing.TB, crlPEM []byte, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	b, _ := pem.Decode(crlPEM)
	var outer struct {
		TBS, Alg asn1.RawValue
		Sig      asn1.BitString
	}
	if _, err := asn1.Unmarshal(b.Bytes, &outer); err != nil {
		t.Fatal(err)
	}
	var fields []byte
	rest, n := outer.TBS.Bytes, 0
	for len(rest) > 0 {
		var v asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &v); err != nil {
			t.Fatal(err)
		}
		n++
		// version, signature, issuer, thisUpdate, nextUpdate, ...
		if n == 5 && (v.Tag == asn1.TagUTCTime || v.Tag == asn1.TagGeneralizedTime) {
			continue
		}
		fields = append(fields, v.FullBytes...)
	}
	tbs, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: fields})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha512.Sum384(tbs) // the P-384 root signs with ECDSA-SHA384
	sig, err := ecdsa.SignASN1(rand.Reader, key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	der, err := asn1.Marshal(struct {
		TBS, Alg asn1.RawValue
		Sig      asn1.BitString
	}{asn1.RawValue{FullBytes: tbs}, outer.Alg, asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}})
	if err != nil {
		t.Fatal(err)
	}
	if l, err := x509.ParseRevocationList(der); err != nil || !l.NextUpdate.IsZero() {
		t.Fatalf("re-signed CRL: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
}
