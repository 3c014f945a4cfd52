package csr

import (
	"encoding/asn1"
	"strings"
	"testing"
)

func TestParseSubject(t *testing.T) {
	good := []struct {
		in, str string
		attrs   []subjectAttr
	}{
		{in: "/CN=Factory", str: "/CN=Factory", attrs: []subjectAttr{{"CN", "Factory"}}},
		{
			in:    "/C=DE/O=Example Devices GmbH/CN=Example Factory Berlin Issuing CA",
			str:   "/C=DE/O=Example Devices GmbH/CN=Example Factory Berlin Issuing CA",
			attrs: []subjectAttr{{"C", "DE"}, {"O", "Example Devices GmbH"}, {"CN", "Example Factory Berlin Issuing CA"}},
		},
		// The order given is kept.
		{in: "/CN=Line 1/OU=Berlin/C=DE", str: "/CN=Line 1/OU=Berlin/C=DE", attrs: []subjectAttr{{"CN", "Line 1"}, {"OU", "Berlin"}, {"C", "DE"}}},
		{in: `/O=A\/B \\ C/CN=x=y`, str: `/O=A\/B \\ C/CN=x=y`, attrs: []subjectAttr{{"O", `A/B \ C`}, {"CN", "x=y"}}},
		{in: "/ST=Bayern/L=München/CN=Werk 2", str: "/ST=Bayern/L=München/CN=Werk 2", attrs: []subjectAttr{{"ST", "Bayern"}, {"L", "München"}, {"CN", "Werk 2"}}},
		{in: "/CN=" + strings.Repeat("x", 64), str: "/CN=" + strings.Repeat("x", 64), attrs: []subjectAttr{{"CN", strings.Repeat("x", 64)}}},
	}
	for _, c := range good {
		s, err := ParseSubject(c.in)
		if err != nil {
			t.Errorf("ParseSubject(%q): %v", c.in, err)
			continue
		}
		if s.String() != c.str {
			t.Errorf("ParseSubject(%q).String() = %q, want %q", c.in, s.String(), c.str)
		}
		if len(s.attrs) != len(c.attrs) {
			t.Errorf("ParseSubject(%q) = %q, want %q", c.in, s.attrs, c.attrs)
			continue
		}
		for i := range s.attrs {
			if s.attrs[i] != c.attrs[i] {
				t.Errorf("ParseSubject(%q) = %q, want %q", c.in, s.attrs, c.attrs)
			}
		}
		// The String form parses back to the same subject.
		if again, err := ParseSubject(s.String()); err != nil || again.String() != s.String() {
			t.Errorf("ParseSubject(%q) does not round-trip: %v", c.in, err)
		}
	}

	bad := map[string]string{
		"":                               "must start with /",
		"CN=x":                           "must start with /",
		"/":                              "component 1 is empty",
		"/CN=x//O=y":                     "component 2 is empty",
		"/CN=x/":                         "component 2 is empty",
		"/O=Example":                     "CN is required",
		"/CN":                            `component 1 "CN" is not TYPE=value`,
		"/CN=":                           "CN has an empty value",
		"/OTHER=x/CN=y":                  `unknown attribute type "OTHER"`,
		"/cn=x":                          `unknown attribute type "cn"`,
		"/commonName=x":                  `unknown attribute type "commonName"`,
		"/emailAddress=a@b/CN=x":         `unknown attribute type "emailAddress"`,
		"/CN=x/CN=y":                     "CN given twice",
		"/OU=a/OU=b/CN=x":                "OU given twice",
		"/C=de/CN=x":                     "not a two-letter country code",
		"/C=DEU/CN=x":                    "not a two-letter country code",
		"/CN= x":                         "leading or trailing spaces",
		"/CN=x ":                         "leading or trailing spaces",
		"/CN=a\tb":                       "non-printable character U+0009",
		"/CN=a\nb":                       "non-printable character U+000A",
		"/CN=a\u202eb":                   "non-printable character U+202E",
		"/CN=\xff":                       "not valid UTF-8",
		`/CN=a\b`:                        "a backslash may only escape",
		`/CN=a\`:                         "a backslash may only escape",
		"/CN=" + strings.Repeat("x", 65): "longer than 64 characters",
	}
	for in, want := range bad {
		_, err := ParseSubject(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseSubject(%q) = %v, want an error containing %q", in, err, want)
		}
	}
}

func TestSubjectDER(t *testing.T) {
	s, err := ParseSubject("/C=DE/L=München/O=Example Devices GmbH/CN=Example Factory Berlin Issuing CA")
	if err != nil {
		t.Fatal(err)
	}
	der, err := s.DER()
	if err != nil {
		t.Fatal(err)
	}
	// One attribute per RDN, in the order given; PrintableString where
	// possible, UTF8String for München.
	var seq []asn1.RawValue
	if rest, err := asn1.Unmarshal(der, &seq); err != nil || len(rest) != 0 || len(seq) != 4 {
		t.Fatalf("subject is not a sequence of 4 RDNs: %v", err)
	}
	tags := []int{asn1.TagPrintableString, asn1.TagUTF8String, asn1.TagPrintableString, asn1.TagPrintableString}
	for i, rdn := range seq {
		var set []struct {
			Type  asn1.ObjectIdentifier
			Value asn1.RawValue
		}
		if _, err := asn1.UnmarshalWithParams(rdn.FullBytes, &set, "set"); err != nil || len(set) != 1 {
			t.Fatalf("RDN %d: %v (%d attributes)", i, err, len(set))
		}
		if want := subjectTypes[s.attrs[i].typ].oid; !set[0].Type.Equal(want) {
			t.Errorf("RDN %d: type %v, want %v", i, set[0].Type, want)
		}
		if set[0].Value.Tag != tags[i] || string(set[0].Value.Bytes) != s.attrs[i].value {
			t.Errorf("RDN %d: tag %d value %q", i, set[0].Value.Tag, set[0].Value.Bytes)
		}
	}
}
