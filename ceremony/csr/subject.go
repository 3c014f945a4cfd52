package csr

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// subjectType is an attribute type a Subject may hold.
type subjectType struct {
	oid asn1.ObjectIdentifier
	max int // upper bound in characters (RFC 5280, Appendix A)
}

var subjectTypes = map[string]subjectType{
	"C":  {oid: asn1.ObjectIdentifier{2, 5, 4, 6}, max: 2},
	"ST": {oid: asn1.ObjectIdentifier{2, 5, 4, 8}, max: 128},
	"L":  {oid: asn1.ObjectIdentifier{2, 5, 4, 7}, max: 128},
	"O":  {oid: asn1.ObjectIdentifier{2, 5, 4, 10}, max: 64},
	"OU": {oid: asn1.ObjectIdentifier{2, 5, 4, 11}, max: 64},
	"CN": {oid: asn1.ObjectIdentifier{2, 5, 4, 3}, max: 64},
}

const subjectTypeList = "C, ST, L, O, OU, CN"

// subjectAttr is one TYPE=value of a subject.
type subjectAttr struct {
	typ, value string
}

// Subject is the subject of a new CSR: a distinguished name in the order
// given, one attribute per RDN, as openssl -subj makes it.
type Subject struct {
	attrs []subjectAttr
}

// ParseSubject parses a subject in the openssl -subj form
// "/C=DE/O=Example/CN=Name": TYPE among C, ST, L, O, OU, CN, each at most
// once, CN required, no empty values, printable characters only, "\/" for
// a slash and "\\" for a backslash in a value.
func ParseSubject(s string) (*Subject, error) {
	if !utf8.ValidString(s) {
		return nil, errors.New("not valid UTF-8")
	}
	if !strings.HasPrefix(s, "/") {
		return nil, fmt.Errorf("%q must start with / (the openssl -subj form, /C=DE/O=Example Devices GmbH/CN=Name)", s)
	}
	// Split at the slashes that are not escaped.
	var (
		parts []string
		cur   strings.Builder
		rest  = s[1:]
	)
	for i := 0; i < len(rest); i++ {
		switch c := rest[i]; c {
		case '\\':
			if i+1 == len(rest) || (rest[i+1] != '/' && rest[i+1] != '\\') {
				return nil, fmt.Errorf("%q: a backslash may only escape / or \\ (component %d)", s, len(parts)+1)
			}
			i++
			cur.WriteByte(rest[i])
		case '/':
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	parts = append(parts, cur.String())

	out := &Subject{}
	seen := map[string]bool{}
	for i, p := range parts {
		n := i + 1
		if p == "" {
			return nil, fmt.Errorf("%q: component %d is empty", s, n)
		}
		typ, value, ok := strings.Cut(p, "=")
		if !ok {
			return nil, fmt.Errorf("%q: component %d %q is not TYPE=value", s, n, p)
		}
		st, known := subjectTypes[typ]
		switch {
		case !known:
			return nil, fmt.Errorf("%q: component %d: unknown attribute type %q (use %s)", s, n, typ, subjectTypeList)
		case seen[typ]:
			return nil, fmt.Errorf("%q: component %d: %s given twice (each type at most once)", s, n, typ)
		case value == "":
			return nil, fmt.Errorf("%q: component %d: %s has an empty value", s, n, typ)
		case value[0] == ' ' || value[len(value)-1] == ' ':
			return nil, fmt.Errorf("%q: component %d: %s value %q has leading or trailing spaces", s, n, typ, value)
		case typ == "C" && !isCountryCode(value):
			return nil, fmt.Errorf("%q: component %d: C value %q is not a two-letter country code such as DE", s, n, value)
		case utf8.RuneCountInString(value) > st.max:
			return nil, fmt.Errorf("%q: component %d: %s value is longer than %d characters", s, n, typ, st.max)
		}
		for _, r := range value {
			if !unicode.IsPrint(r) {
				return nil, fmt.Errorf("%q: component %d: %s value contains a non-printable character %U", s, n, typ, r)
			}
		}
		seen[typ] = true
		out.attrs = append(out.attrs, subjectAttr{typ: typ, value: value})
	}
	if !seen["CN"] {
		return nil, fmt.Errorf("%q: CN is required (the common name, such as /CN=Example Factory Berlin Issuing CA)", s)
	}
	return out, nil
}

func isCountryCode(v string) bool {
	return len(v) == 2 && v[0] >= 'A' && v[0] <= 'Z' && v[1] >= 'A' && v[1] <= 'Z'
}

// String returns the subject in the -subj form, escaped as it was parsed.
func (s *Subject) String() string {
	var b strings.Builder
	esc := strings.NewReplacer(`\`, `\\`, `/`, `\/`)
	for _, a := range s.attrs {
		b.WriteString("/" + a.typ + "=" + esc.Replace(a.value))
	}
	return b.String()
}

// DER encodes the subject as an X.501 Name, one attribute per RDN in the
// order given. Values are PrintableString where the characters allow it,
// UTF8String otherwise (as Go encodes certificate names).
func (s *Subject) DER() ([]byte, error) {
	var seq pkix.RDNSequence
	for _, a := range s.attrs {
		seq = append(seq, pkix.RelativeDistinguishedNameSET{{Type: subjectTypes[a.typ].oid, Value: a.value}})
	}
	return asn1.Marshal(seq)
}
