package verify_test

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/devicepki/ceremony/ceremony/verify"
)

// The time rule of CheckCRLs, on a sealed ceremony under a software root:
// a compromise or unspecified revocation refuses the seal whatever its
// date; another reason only at or before the seal's second; a CRL not the
// pinned root's is a *CRLError, not a failure of the transcript.
func TestCheckCRLs(t *testing.T) {
	p := newPKI(t, "CRL Test Root")
	c := newCeremony(t, p)
	res, err := verify.Ceremony(c.path(), verify.Pin{Root: p.root})
	if err != nil || res.Status != verify.Verified {
		t.Fatalf("the fixture does not verify: %v", err)
	}
	last := res.Chain.Events[len(res.Chain.Events)-1]
	sealAt, err := time.Parse(time.RFC3339Nano, last.Time)
	if err != nil {
		t.Fatal(err)
	}
	sec := sealAt.Truncate(time.Second) // CRL times have whole seconds
	crl := func(issuer *x509.Certificate, key crypto.Signer, entries ...x509.RevocationListEntry) verify.CRL {
		der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: sealAt.Add(time.Hour),
			NextUpdate: sealAt.Add(48 * time.Hour), RevokedCertificateEntries: entries}, issuer, key)
		if err != nil {
			t.Fatal(err)
		}
		l, err := x509.ParseRevocationList(der)
		if err != nil {
			t.Fatal(err)
		}
		return verify.CRL{File: "test.crl.pem", List: l}
	}
	audit := func(reason int, at time.Time) x509.RevocationListEntry {
		return x509.RevocationListEntry{SerialNumber: p.audit.SerialNumber, RevocationTime: at, ReasonCode: reason}
	}
	serial := hex.EncodeToString(p.audit.SerialNumber.Bytes())
	year := 365 * 24 * time.Hour
	for _, tc := range []struct {
		name    string
		entries []x509.RevocationListEntry
		refuse  string // in the failure; "" if it passes
		later   int    // revocations that stand
	}{
		{"none", nil, "", 0},
		{"another serial", []x509.RevocationListEntry{{SerialNumber: big.NewInt(99), RevocationTime: sec.Add(-year), ReasonCode: 1}}, "", 0},
		{"key compromise a year later", []x509.RevocationListEntry{audit(1, sec.Add(year))}, "reason key-compromise, on " + sec.Add(year).UTC().Format(time.RFC3339) + ": a revocation for this reason refuses the seal whatever its date", 0},
		{"unspecified later", []x509.RevocationListEntry{audit(0, sec.Add(year))}, "reason unspecified", 0},
		{"ca compromise later", []x509.RevocationListEntry{audit(2, sec.Add(year))}, "reason ca-compromise", 0},
		{"aa compromise later", []x509.RevocationListEntry{audit(10, sec.Add(year))}, "reason aa-compromise", 0},
		{"superseded in the seal's second", []x509.RevocationListEntry{audit(4, sec)}, "reason superseded, on " + sec.UTC().Format(time.RFC3339) + ": at or before the seal (event " + strconv.Itoa(last.Seq), 0},
		{"superseded the second after", []x509.RevocationListEntry{audit(4, sec.Add(time.Second))}, "", 1},
		{"cessation of operation before", []x509.RevocationListEntry{audit(5, sec.Add(-time.Hour))}, "reason cessation-of-operation", 0},
		{"certificate hold later", []x509.RevocationListEntry{audit(6, sec.Add(time.Hour))}, "", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := res.CheckCRLs(p.root, []verify.CRL{crl(p.root, p.rootKey, tc.entries...)})
			if tc.refuse == "" {
				if err != nil || len(got) != 1 || got[0].Checked != 1 || len(got[0].Later) != tc.later {
					t.Fatalf("refused or miscounted: %v %+v", err, got)
				}
				return
			}
			var f *verify.Failure
			if !errors.As(err, &f) || f.File != "test.crl.pem" || !strings.Contains(f.Msg, "(serial "+serial+")") || !strings.Contains(f.Msg, tc.refuse) {
				t.Fatalf("got %v, want a failure saying %q", err, tc.refuse)
			}
		})
	}

	// Not the pinned root's CRL: another root's, or one by another key
	// in the pinned root's name.
	other := newPKI(t, "Another Root")
	lookalike := newPKI(t, "CRL Test Root")
	for name, l := range map[string]verify.CRL{
		"was issued by":                      crl(other.root, other.rootKey),
		"another key with the same name did": crl(lookalike.root, lookalike.rootKey),
	} {
		_, err := res.CheckCRLs(p.root, []verify.CRL{l})
		var ce *verify.CRLError
		if !errors.As(err, &ce) || !strings.Contains(ce.Msg, name) {
			t.Errorf("got %v, want a CRLError saying %q", err, name)
		}
	}
}
