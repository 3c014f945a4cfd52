package pki

import (
	"bytes"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// RequestedAttribute is a subject attribute whose value a CSR (or the
// script, for a certificate without a CSR) supplies, and the pattern the
// value must match in full.
type RequestedAttribute struct {
	// Name is the template's name for the attribute (common_name, ...).
	Name    string
	Pattern *regexp.Regexp
	// Source is the pattern as the template wrote it.
	Source string
}

// subjectOIDs are the attribute types a subject may hold, by template name.
var subjectOIDs = map[string]asn1.ObjectIdentifier{
	"country":             {2, 5, 4, 6},
	"province":            {2, 5, 4, 8},
	"locality":            {2, 5, 4, 7},
	"organization":        {2, 5, 4, 10},
	"organizational_unit": {2, 5, 4, 11},
	"common_name":         {2, 5, 4, 3},
}

// attributeName returns the template name of an attribute type, or "".
func attributeName(oid asn1.ObjectIdentifier) string {
	for n, o := range subjectOIDs {
		if o.Equal(oid) {
			return n
		}
	}
	return ""
}

func (p *Profile) requests(name string) bool {
	for _, a := range p.RequestedSubject {
		if a.Name == name {
			return true
		}
	}
	return false
}

// fillRequested reads requested_subject: attribute name -> pattern. An
// attribute is either fixed by the template or requested, not both.
func (p *Profile) fillRequested(s subject, requested map[string]string) error {
	names := make([]string, 0, len(requested))
	for n := range requested {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		path := "requested_subject." + n
		if _, ok := subjectOIDs[n]; !ok {
			return p.errorf(path, "unknown subject attribute %q (known: %s)", n, strings.Join(slices.Sorted(maps.Keys(subjectOIDs)), ", "))
		}
		for _, f := range subjectFields {
			if f.path == n && f.value(s) != "" {
				return p.errorf(path, "subject.%s is fixed by the template; an attribute is fixed or requested, not both", n)
			}
		}
		src := requested[n]
		if strings.TrimSpace(src) == "" {
			return p.errorf(path, "give the pattern the requested value must match, such as '^Example Factory [A-Z][a-z]+ CA$'")
		}
		re, err := regexp.Compile(`^(?:` + src + `)$`)
		if err != nil {
			return p.errorf(path, "pattern %q: %v", src, err)
		}
		p.RequestedSubject = append(p.RequestedSubject, RequestedAttribute{Name: n, Pattern: re, Source: src})
	}
	return nil
}

// maxOf returns the RFC 5280 length limit of the attribute called name.
func maxOf(name string) int {
	for _, f := range subjectFields {
		if f.path == name {
			return f.max
		}
	}
	return 0
}

// setSubjectField sets the attribute called name in n.
func setSubjectField(n *pkix.Name, name, v string) {
	switch name {
	case "country":
		n.Country = []string{v}
	case "province":
		n.Province = []string{v}
	case "locality":
		n.Locality = []string{v}
	case "organization":
		n.Organization = []string{v}
	case "organizational_unit":
		n.OrganizationalUnit = []string{v}
	case "common_name":
		n.CommonName = v
	}
}

// fixedValue returns the template's fixed value of the attribute called
// name, or "".
func (p *Profile) fixedValue(name string) string {
	for _, atv := range p.Subject.ToRDNSequence() {
		for _, a := range atv {
			if attributeName(a.Type) == name {
				s, _ := a.Value.(string)
				return s
			}
		}
	}
	return ""
}

// SubjectFromCSR returns the subject of a certificate of this profile for a
// CSR whose subject is rawSubject (DER): the template's fixed attributes
// plus the requested ones from the CSR. The CSR's subject is permitted only
// if it holds nothing else: each attribute once, in its own RDN, a fixed
// attribute with the template's very value, a requested one matching its
// pattern, every requested one present.
func (p *Profile) SubjectFromCSR(rawSubject []byte) (pkix.Name, error) {
	var rdns pkix.RDNSequence
	rest, err := asn1.Unmarshal(rawSubject, &rdns)
	if err != nil || len(rest) > 0 {
		return pkix.Name{}, errors.New("the subject is not a valid distinguished name")
	}
	values := map[string]string{}
	for _, rdn := range rdns {
		if len(rdn) != 1 {
			return pkix.Name{}, fmt.Errorf("the subject has a multi-valued RDN (%d attributes in one); template %s permits one attribute per RDN", len(rdn), p.Name)
		}
		atv := rdn[0]
		name := attributeName(atv.Type)
		if name == "" {
			return pkix.Name{}, fmt.Errorf("subject attribute %s is not permitted by template %s (permitted: %s)", atv.Type, p.Name, p.permittedNames())
		}
		v, ok := atv.Value.(string)
		if !ok {
			return pkix.Name{}, fmt.Errorf("subject %s is not a string", name)
		}
		if _, dup := values[name]; dup {
			return pkix.Name{}, fmt.Errorf("subject %s appears twice; template %s permits it once", name, p.Name)
		}
		values[name] = v
	}
	for name, v := range values {
		fixed := p.fixedValue(name)
		switch {
		case p.requests(name):
		case fixed == "":
			return pkix.Name{}, fmt.Errorf("subject %s %q is not permitted by template %s (permitted: %s)", name, v, p.Name, p.permittedNames())
		case v != fixed:
			return pkix.Name{}, fmt.Errorf("subject %s %q differs from template %s's %q", name, v, p.Name, fixed)
		}
	}
	requested := map[string]string{}
	for _, a := range p.RequestedSubject {
		requested[a.Name] = values[a.Name]
	}
	return p.SubjectFromValues(requested)
}

// SubjectFromValues returns the subject of a certificate of this profile
// whose requested attributes have the given values (a certificate made
// without a CSR: the script supplies them). Every requested attribute must
// be given and match its pattern; nothing else may be given.
func (p *Profile) SubjectFromValues(values map[string]string) (pkix.Name, error) {
	for name := range values {
		if !p.requests(name) {
			return pkix.Name{}, fmt.Errorf("subject %s is not requested by template %s (it requests: %s)", name, p.Name, p.requestedNames())
		}
	}
	subj := p.Subject
	subj.Country, subj.Province, subj.Locality = clone(subj.Country), clone(subj.Province), clone(subj.Locality)
	subj.Organization, subj.OrganizationalUnit = clone(subj.Organization), clone(subj.OrganizationalUnit)
	for _, a := range p.RequestedSubject {
		v, ok := values[a.Name]
		if !ok || v == "" {
			return pkix.Name{}, fmt.Errorf("the subject has no %s; template %s requires one matching %s", a.Name, p.Name, a.Source)
		}
		if err := checkSubjectValue(v, maxOf(a.Name)); err != nil {
			return pkix.Name{}, fmt.Errorf("subject %s: %v", a.Name, err)
		}
		if !a.Pattern.MatchString(v) {
			return pkix.Name{}, fmt.Errorf("subject %s %q does not match template %s's pattern %s", a.Name, v, p.Name, a.Source)
		}
		setSubjectField(&subj, a.Name, v)
	}
	return subj, nil
}

// SameSubject reports whether two names encode to the same DER.
func SameSubject(a, b pkix.Name) bool {
	da, err1 := asn1.Marshal(a.ToRDNSequence())
	db, err2 := asn1.Marshal(b.ToRDNSequence())
	return err1 == nil && err2 == nil && bytes.Equal(da, db)
}

func clone(s []string) []string { return append([]string(nil), s...) }

func (p *Profile) requestedNames() string {
	var out []string
	for _, a := range p.RequestedSubject {
		out = append(out, a.Name)
	}
	if len(out) == 0 {
		return "nothing"
	}
	return strings.Join(out, ", ")
}

func (p *Profile) permittedNames() string {
	var out []string
	for _, f := range subjectFields {
		if p.fixedValue(f.path) != "" || p.requests(f.path) {
			out = append(out, f.path)
		}
	}
	return strings.Join(out, ", ")
}
