package pki

import (
	"crypto/x509"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/devicepki/ceremony/ceremony/keys"
)

const baseRoot = `profile: root-ca
description: test root
key:
  algorithm: ecdsa-p384
signature_algorithm: ecdsa-with-SHA384
subject:
  country: DE
  organization: Example Devices GmbH
  common_name: Example Root
validity:
  not_before: ceremony-start
  duration: 20y
basic_constraints:
  ca: true
  max_path_len: 1
key_usage: [keyCertSign, cRLSign]
`

var start = time.Date(2026, 11, 21, 10, 30, 15, 0, time.UTC)

func TestShippedRootTemplate(t *testing.T) {
	p, err := Load("../../templates/root-ca.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "root-ca" || p.Kind != KindRootCA || p.Key != keys.ECDSAP384 || p.SignatureAlgorithm != x509.ECDSAWithSHA384 {
		t.Fatalf("profile = %+v", p)
	}
	if !p.IsCA || p.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign || len(p.ExtKeyUsage) != 0 {
		t.Fatalf("root constraints wrong: %+v", p)
	}
	v, err := p.Validity.Resolve(start)
	if err != nil {
		t.Fatal(err)
	}
	if !v.NotBefore.Equal(start) || !v.NotAfter.Equal(start.AddDate(20, 0, 0)) {
		t.Fatalf("validity %v", v)
	}
	if len(p.SHA256) != 64 {
		t.Fatalf("SHA256 %q", p.SHA256)
	}
}

func TestTemplateRejects(t *testing.T) {
	for _, tc := range []struct {
		name     string
		old, new string // replace old with new in baseRoot
		want     string
	}{
		{"unknown field", "description: test root\n", "description: test root\ncolour: blue\n", `t.yaml:3:1: unknown field "colour"`},
		{"unknown nested field", "  common_name: Example Root\n", "  common_name: Example Root\n  email: x@example.com\n", `t.yaml:10:3: unknown field "email"`},
		{"30-year root", "duration: 20y", "duration: 30y", "t.yaml:12: validity.duration: 30y is longer than the 25-year limit for this profile"},
		{"30-year root by dates", "  not_before: ceremony-start\n  duration: 20y", "  not_before: 2026-11-21T00:00:00Z\n  not_after: 2056-11-21T00:00:00Z", "t.yaml:11: validity: validity from 2026-11-21 to 2056-11-21 is longer than the 25-year limit"},
		{"RSA 2048", "algorithm: ecdsa-p384", "algorithm: rsa-2048", `t.yaml:4: key.algorithm: unsupported key algorithm "rsa-2048"`},
		{"P-224", "algorithm: ecdsa-p384", "algorithm: ecdsa-p224", `key.algorithm: unsupported key algorithm "ecdsa-p224"`},
		{"no key", "key:\n  algorithm: ecdsa-p384\n", "", "key.algorithm: required"},
		{"mismatched hash", "ecdsa-with-SHA384", "ecdsa-with-SHA256", "t.yaml:5: signature_algorithm: ecdsa-with-SHA256 does not suit key.algorithm ecdsa-p384 (use ecdsa-with-SHA384)"},
		{"RSA hash on EC", "ecdsa-with-SHA384", "sha256WithRSAEncryption", "does not suit key.algorithm ecdsa-p384"},
		{"EC hash on RSA", "algorithm: ecdsa-p384\nsignature_algorithm: ecdsa-with-SHA384", "algorithm: rsa-3072\nsignature_algorithm: ecdsa-with-SHA256", "does not suit key.algorithm rsa-3072"},
		{"unknown hash", "ecdsa-with-SHA384", "md5WithRSAEncryption", `unknown signature algorithm "md5WithRSAEncryption"`},
		{"root not CA", "  ca: true\n  max_path_len: 1", "  ca: false", "basic_constraints.ca: must be true for a root-ca profile"},
		{"no basic constraints", "basic_constraints:\n  ca: true\n  max_path_len: 1\n", "", "basic_constraints: required"},
		{"negative path length", "max_path_len: 1", "max_path_len: -1", "basic_constraints.max_path_len: must be 0 or more"},
		{"no cRLSign", "[keyCertSign, cRLSign]", "[keyCertSign]", "t.yaml:16: key_usage: a root-ca profile must include cRLSign"},
		{"no keyCertSign", "[keyCertSign, cRLSign]", "[cRLSign, digitalSignature]", "must include keyCertSign"},
		{"key encipherment on root", "[keyCertSign, cRLSign]", "[keyCertSign, cRLSign, keyEncipherment]", "key_usage: keyEncipherment not allowed in a root-ca profile"},
		{"unknown key usage", "[keyCertSign, cRLSign]", "[keyCertSign, cRLSign, certSign]", `unknown key usage "certSign"`},
		{"duplicate key usage", "[keyCertSign, cRLSign]", "[keyCertSign, cRLSign, cRLSign]", "cRLSign listed twice"},
		{"EKU on root", "key_usage: [keyCertSign, cRLSign]\n", "key_usage: [keyCertSign, cRLSign]\nextended_key_usage: [serverAuth]\n", "t.yaml:17: extended_key_usage: not allowed in a root-ca profile"},
		{"CRL DP on root", "key_usage: [keyCertSign, cRLSign]\n", "key_usage: [keyCertSign, cRLSign]\ncrl_distribution_points: [http://crl.example.com/root.crl]\n", "crl_distribution_points: not allowed in a root-ca profile"},
		{"AIA on root", "key_usage: [keyCertSign, cRLSign]\n", "key_usage: [keyCertSign, cRLSign]\nauthority_info_access:\n  ocsp: [http://ocsp.example.com]\n", "authority_info_access: not allowed"},
		{"name constraints on root", "key_usage: [keyCertSign, cRLSign]\n", "key_usage: [keyCertSign, cRLSign]\nname_constraints:\n  permitted:\n    dns: [example.com]\n", "name_constraints: not allowed in a root-ca profile"},
		{"bad policy", "key_usage: [keyCertSign, cRLSign]\n", "key_usage: [keyCertSign, cRLSign]\npolicies: [1.2.3, banana]\n", `t.yaml:17: policies[1]: "banana" is not a dotted object identifier`},
		{"no common name", "  common_name: Example Root\n", "", "subject.common_name: required"},
		{"no organization", "  organization: Example Devices GmbH\n", "", "subject.organization: required for a root-ca certificate"},
		{"lower-case country", "country: DE", "country: de", `subject.country: "de" is not a two-letter ISO 3166 code`},
		{"long common name", "common_name: Example Root", "common_name: " + strings.Repeat("x", 65), "longer than 64 characters"},
		{"no validity start", "  not_before: ceremony-start\n", "", "validity.not_before: required"},
		{"both end and duration", "  duration: 20y", "  duration: 20y\n  not_after: 2040-01-01T00:00:00Z", "give not_after or duration, not both"},
		{"neither end nor duration", "  duration: 20y\n", "", "give not_after or duration"},
		{"bad duration", "duration: 20y", "duration: twenty years", `validity.duration: "twenty years" is not a duration`},
		{"zero duration", "duration: 20y", "duration: 0d", "is not a duration"},
		{"bad time", "not_before: ceremony-start", "not_before: 2026-11-21", `"2026-11-21" is not a time`},
		{"fractional time", "not_before: ceremony-start", "not_before: 2026-11-21T00:00:00.5Z", "fractions of a second"},
		{"end before start", "  not_before: ceremony-start\n  duration: 20y", "  not_before: 2026-11-21T00:00:00Z\n  not_after: 2026-11-20T00:00:00Z", "is not after not_before"},
		{"unknown profile", "profile: root-ca", "profile: leaf", `profile: unknown profile "leaf" (known: firmware-signing, intermediate-ca, root-ca, transcript-signing, verification)`},
		{"duplicate key", "description: test root\n", "description: test root\ndescription: again\n", `mapping key "description" already defined`},
		{"two documents", "key_usage: [keyCertSign, cRLSign]\n", "key_usage: [keyCertSign, cRLSign]\n---\nprofile: root-ca\n", "holds 2 YAML documents"},
		{"type mismatch", "max_path_len: 1", "max_path_len: one", "expected an integer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(baseRoot, tc.old) {
				t.Fatalf("test case does not apply: %q not in base", tc.old)
			}
			_, err := Parse("t.yaml", []byte(strings.Replace(baseRoot, tc.old, tc.new, 1)))
			if err == nil {
				t.Fatal("template accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %q\nwant it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error has several lines: %q", err)
			}
		})
	}
}

func TestValidityResolve(t *testing.T) {
	parse := func(t *testing.T, validity string) *Profile {
		t.Helper()
		i := strings.Index(baseRoot, "validity:")
		j := strings.Index(baseRoot, "basic_constraints:")
		p, err := Parse("t.yaml", []byte(baseRoot[:i]+validity+baseRoot[j:]))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Run("exactly 25 years", func(t *testing.T) {
		p := parse(t, "validity:\n  not_before: ceremony-start\n  duration: 25y\n")
		if _, err := p.Validity.Resolve(start); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("25 years and a day", func(t *testing.T) {
		p := parse(t, "validity:\n  not_before: ceremony-start\n  not_after: 2051-11-22T10:30:15Z\n")
		if _, err := p.Validity.Resolve(start); err == nil || !strings.Contains(err.Error(), "25-year limit") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("fixed dates", func(t *testing.T) {
		p := parse(t, "validity:\n  not_before: 2026-11-21T00:00:00+01:00\n  not_after: 2046-11-21T00:00:00Z\n")
		v, err := p.Validity.Resolve(start)
		if err != nil {
			t.Fatal(err)
		}
		if !v.NotBefore.Equal(time.Date(2026, 11, 20, 23, 0, 0, 0, time.UTC)) || v.NotBefore.Location() != time.UTC {
			t.Fatalf("not before %v", v.NotBefore)
		}
	})
	t.Run("backdated more than 48 hours", func(t *testing.T) {
		p := parse(t, "validity:\n  not_before: 2026-11-01T00:00:00Z\n  duration: 20y\n")
		if _, err := p.Validity.Resolve(start); err == nil || !strings.Contains(err.Error(), "is 20 days before the ceremony starts (at most 2 days of backdating)") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("more than a year ahead", func(t *testing.T) {
		p := parse(t, "validity:\n  not_before: 2028-01-01T00:00:00Z\n  duration: 20y\n")
		if _, err := p.Validity.Resolve(start); err == nil || !strings.Contains(err.Error(), "more than a year after") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("start truncated to seconds", func(t *testing.T) {
		p := parse(t, "validity:\n  not_before: ceremony-start\n  duration: 10d\n")
		v, err := p.Validity.Resolve(start.Add(987 * time.Millisecond))
		if err != nil || !v.NotBefore.Equal(start) || !v.NotAfter.Equal(start.AddDate(0, 0, 10)) {
			t.Fatalf("%v %v", v, err)
		}
	})
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("does-not-exist.yaml")
	if err == nil || !strings.Contains(err.Error(), "does-not-exist.yaml") {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat("does-not-exist.yaml"); err == nil {
		t.Fatal("file exists")
	}
}
