package register

import (
	"strings"
	"testing"
	"time"
)

func TestRoundTripAndQueries(t *testing.T) {
	r := New()
	is := r.Issuer("fp", "CN=Root")
	is.Issued = append(is.Issued, Certificate{Serial: "0a", Subject: "CN=A"})
	is.Revoked = append(is.Revoked, Revocation{Serial: "ff", Reason: "superseded", CRLNumber: 1}, Revocation{Serial: "0b", Reason: "key-compromise", CRLNumber: 2})
	is.CRLNumber = 2
	data, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	b := back.Issuer("fp", "ignored")
	if b.Subject != "CN=Root" || b.Find("0a") == nil || b.Find("0b") != nil || b.FindRevoked("0b") == nil {
		t.Fatalf("%+v", b)
	}
	if s := b.SortedRevoked(); s[0].Serial != "0b" || s[1].Serial != "ff" {
		t.Fatalf("sorted %+v", s)
	}
}

// CRL numbers are the issue time, YYYYMMDDhhmmss, unless the register is
// ahead of it (the same second, a clock set back): then one more than the
// last. Two tokens given the same previous CRL (the root token and one
// restored from its backup) thus never issue the same number at
// different times.
func TestNextCRLNumber(t *testing.T) {
	at := time.Date(2026, 11, 22, 14, 30, 5, 999, time.FixedZone("CET", 3600))
	if got := CRLNumberAt(at); got != 20261122133005 {
		t.Fatalf("CRLNumberAt(%v) = %d, want 20261122133005 (UTC)", at, got)
	}
	is := New().Issuer("fp", "CN=Root")
	if got := is.NextCRLNumber(at).Int64(); got != 20261122133005 {
		t.Fatalf("first CRL: %d", got)
	}
	is.CRLNumber = 20261122133005 // issued this second
	if got := is.NextCRLNumber(at).Int64(); got != 20261122133006 {
		t.Fatalf("a second CRL in the same second: %d", got)
	}
	if got := is.NextCRLNumber(at.Add(-time.Hour)).Int64(); got != 20261122133006 {
		t.Fatalf("a clock set back: %d", got)
	}
	if got := is.NextCRLNumber(at.Add(24 * time.Hour)).Int64(); got != 20261123133005 {
		t.Fatalf("a day later: %d", got)
	}
	is.CRLNumber = 7 // a register from before time-based numbers
	if got := is.NextCRLNumber(at).Int64(); got != 20261122133005 {
		t.Fatalf("after CRL 7: %d", got)
	}
	// Two tokens, each given the same previous CRL, issue CRLs an hour
	// apart: the later one has the higher number.
	a, b := New().Issuer("fp", "CN=Root"), New().Issuer("fp", "CN=Root")
	a.CRLNumber, b.CRLNumber = 20261122133005, 20261122133005
	if na, nb := a.NextCRLNumber(at.Add(time.Minute)), b.NextCRLNumber(at.Add(time.Hour)); na.Cmp(nb) >= 0 {
		t.Fatalf("token A %s, then token B %s", na, nb)
	}
}

func TestParseRejects(t *testing.T) {
	for _, tc := range []struct{ data, want string }{
		{`{"version":2,"issuers":{}}`, "version 2"},
		{`{"version":1,"issuers":{},"x":1}`, "unknown field"},
		{`{"version":1,"issuers":{"fp":null}}`, "damaged"},
		{`{"version":1,"issuers":{"fp":{"crl_number":-1}}}`, "damaged"},
		{`{"version":1,"issuers":{}} {}`, "trailing"},
		{`not json`, "issuance register"},
	} {
		if _, err := Parse([]byte(tc.data)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error = %v, want %q", tc.data, err, tc.want)
		}
	}
}

func TestKeyUse(t *testing.T) {
	r := New()
	a := r.Issuer("root-a", "CN=Root")
	a.Issued = append(a.Issued, Certificate{Serial: "01", Subject: "CN=A", PublicKeySHA256: "k1", Profile: "intermediate-ca"},
		Certificate{Serial: "02", Subject: "CN=B", PublicKeySHA256: "k2"})
	// Revoked by serial (key known from the issued entry) and by a
	// certificate file issued before the register recorded keys.
	a.Revoked = append(a.Revoked, Revocation{Serial: "02"}, Revocation{Serial: "09", PublicKeySHA256: "k3"})
	if u := r.Key("k1"); len(u.Issued) != 1 || len(u.Revoked) != 0 {
		t.Fatalf("k1: %+v", u)
	}
	if u := r.Key("k2"); len(u.Issued) != 1 || len(u.Revoked) != 1 || u.Revoked[0].Serial != "02" {
		t.Fatalf("k2: %+v", u)
	}
	if u := r.Key("k3"); len(u.Issued) != 0 || len(u.Revoked) != 1 {
		t.Fatalf("k3: %+v", u)
	}
	if u := r.Key("k4"); len(u.Issued)+len(u.Revoked) != 0 {
		t.Fatalf("k4: %+v", u)
	}
}
