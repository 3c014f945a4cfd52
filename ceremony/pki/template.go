// Package pki turns certificate templates (templates/*.yaml) into validated
// profiles, and profiles into certificates signed in the HSM.
//
// A template is data: subject, key, signature algorithm, validity, basic
// constraints, key usage and the other extensions. Load decodes it strictly
// and validates every value and the profile's internal consistency, so that a
// bad template is rejected before any HSM operation. Issuing a certificate
// then verifies the result before anyone writes it.
package pki

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"maps"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/devicepki/ceremony/ceremony/durable"
	"github.com/devicepki/ceremony/ceremony/keys"
	"github.com/devicepki/ceremony/ceremony/strictyaml"
)

// template is the YAML form of a certificate profile.
type template struct {
	Profile               string            `yaml:"profile"`
	Description           string            `yaml:"description"`
	Key                   keySpec           `yaml:"key"`
	SignatureAlgorithm    string            `yaml:"signature_algorithm"`
	Subject               subject           `yaml:"subject"`
	Validity              validitySpec      `yaml:"validity"`
	BasicConstraints      *basicConstraints `yaml:"basic_constraints"`
	KeyUsage              []string          `yaml:"key_usage"`
	ExtendedKeyUsage      []string          `yaml:"extended_key_usage"`
	NameConstraints       *nameConstraints  `yaml:"name_constraints"`
	CRLDistributionPoints []string          `yaml:"crl_distribution_points"`
	AuthorityInfoAccess   *authorityInfo    `yaml:"authority_info_access"`
	Policies              []string          `yaml:"policies"`
	// RequestedSubject lists the subject attributes a CSR (or the
	// script) supplies, each with the pattern its value must match.
	RequestedSubject map[string]string `yaml:"requested_subject"`
	// CSRExtensions says what to do with extensions a CSR requests:
	// ignore (the default: the certificate's content comes from the
	// template) or refuse.
	CSRExtensions string   `yaml:"csr_extensions"`
	Lint          lintSpec `yaml:"lint"`
}

type keySpec struct {
	Algorithm string `yaml:"algorithm"`
	// Allowed lists the key algorithms a CSR may bring (instead of
	// Algorithm, for a key generated in the ceremony).
	Allowed []string `yaml:"allowed"`
}

type lintSpec struct {
	Exclude []lintExclusion `yaml:"exclude"`
}

type lintExclusion struct {
	Lint   string `yaml:"lint"`
	Reason string `yaml:"reason"`
}

type subject struct {
	Country            string `yaml:"country"`
	Province           string `yaml:"province"`
	Locality           string `yaml:"locality"`
	Organization       string `yaml:"organization"`
	OrganizationalUnit string `yaml:"organizational_unit"`
	CommonName         string `yaml:"common_name"`
}

type validitySpec struct {
	NotBefore string `yaml:"not_before"`
	NotAfter  string `yaml:"not_after"`
	Duration  string `yaml:"duration"`
	// UntilIssuer ends the certificate at its issuer's not-after when
	// that comes first (a key certified again years after its issuer).
	UntilIssuer bool `yaml:"until_issuer"`
}

type basicConstraints struct {
	CA         bool `yaml:"ca"`
	MaxPathLen *int `yaml:"max_path_len"`
}

type nameConstraints struct {
	Critical  bool    `yaml:"critical"`
	Permitted nameSet `yaml:"permitted"`
	Excluded  nameSet `yaml:"excluded"`
}

type nameSet struct {
	DNS   []string `yaml:"dns"`
	IP    []string `yaml:"ip"`
	Email []string `yaml:"email"`
	URI   []string `yaml:"uri"`
}

type authorityInfo struct {
	CAIssuers []string `yaml:"ca_issuers"`
	OCSP      []string `yaml:"ocsp"`
}

// Kind is the role a profile gives a certificate. It selects the rules the
// profile must satisfy.
type Kind string

// The kinds of certificate profile.
const (
	KindRootCA Kind = "root-ca"
	// KindTranscriptSigning is the audit key that seals ceremony
	// transcripts; the root never signs a transcript itself.
	KindTranscriptSigning Kind = "transcript-signing"
	// KindIntermediateCA is a CA below the root: one per factory or
	// production line, one for servers.
	KindIntermediateCA Kind = "intermediate-ca"
	// KindFirmwareSigning certifies the key that signs firmware images;
	// firmware is never signed by the root itself.
	KindFirmwareSigning Kind = "firmware-signing"
	// KindVerification is the proof-of-possession certificate a cloud
	// service (AWS IoT, Azure DPS) asks for when a CA is registered: its
	// common name is the registration code the service gave.
	KindVerification Kind = "verification"
)

// kindRules are the consistency rules for one kind of profile.
type kindRules struct {
	selfSigned       bool
	ca               bool
	requiredKU       x509.KeyUsage
	allowedKU        x509.KeyUsage
	allowEKU         bool
	maxYears         int
	allowIssuerLinks bool // CRL distribution points and AIA
	allowNameConstr  bool
	requireOrgAndC   bool
	requirePathLen   bool     // a CA below the root states its path length
	exactEKU         []string // the extended key usages (template names) required, and the only ones allowed
}

var rules = map[Kind]kindRules{
	// A root is self-issued, a CA, signs certificates and CRLs, has no EKU
	// (an EKU on a root constrains nothing it should constrain), lives at
	// most 25 years, and has nothing above it to point at.
	KindRootCA: {
		selfSigned: true, ca: true,
		requiredKU: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		allowedKU:  x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		maxYears:   25, requireOrgAndC: true,
	},
	// The transcript-signing (audit) certificate is issued by the root. It
	// only signs: not a CA, digitalSignature alone, and the one extended
	// key usage documentSigning (RFC 9336), so it cannot pass for a TLS,
	// code-signing or e-mail certificate anywhere. (No extended key usage
	// at all would mean any purpose.)
	KindTranscriptSigning: {
		ca:         false,
		requiredKU: x509.KeyUsageDigitalSignature,
		allowedKU:  x509.KeyUsageDigitalSignature,
		allowEKU:   true, exactEKU: []string{"documentSigning"},
		maxYears: 25, requireOrgAndC: true, allowIssuerLinks: true,
	},
	// An intermediate CA signs certificates and CRLs below the root. Its
	// path length is stated (0 for a factory CA that signs only device
	// certificates); it may carry name constraints and an EKU that
	// narrows what it can issue.
	KindIntermediateCA: {
		ca:         true,
		requiredKU: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		allowedKU:  x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		allowEKU:   true, maxYears: 20, requireOrgAndC: true, allowIssuerLinks: true, allowNameConstr: true,
		requirePathLen: true,
	},
	// The firmware-signing certificate: not a CA, digitalSignature
	// alone, code signing alone.
	KindFirmwareSigning: {
		requiredKU: x509.KeyUsageDigitalSignature,
		allowedKU:  x509.KeyUsageDigitalSignature,
		allowEKU:   true, exactEKU: []string{"codeSigning"},
		maxYears: 10, requireOrgAndC: true, allowIssuerLinks: true,
	},
	// A cloud CA registration (verification) certificate proves that the
	// CA key signs: short-lived, not a CA, digitalSignature alone.
	KindVerification: {
		requiredKU: x509.KeyUsageDigitalSignature,
		allowedKU:  x509.KeyUsageDigitalSignature,
		allowEKU:   true, maxYears: 1,
	},
}

func kindNames() string {
	var names []string
	for _, k := range slices.Sorted(maps.Keys(rules)) {
		names = append(names, string(k))
	}
	return strings.Join(names, ", ")
}

// Profile is a validated certificate template.
type Profile struct {
	// Name is the template's file name without ".yaml"; scripts refer to it.
	Name string
	// Path is the file the profile was loaded from.
	Path string
	// SHA256 is the hex SHA-256 of the template file's bytes.
	SHA256 string
	// Text is the template file's content, recorded in the transcript.
	Text string

	Kind        Kind
	Description string
	// Key is the algorithm of a key generated in the ceremony; empty when
	// the template lists AllowedKeys for keys brought in a CSR.
	Key keys.Algorithm
	// AllowedKeys are the key algorithms a certificate of this profile
	// may certify: Key alone, or the template's key.allowed list.
	AllowedKeys []keys.Algorithm
	// SignatureAlgorithm is the template's signature algorithm; zero when
	// SignatureFromIssuer (signature_algorithm: issuer-default), which
	// SignatureAlgorithmFor resolves once the issuer's key is known.
	SignatureAlgorithm  x509.SignatureAlgorithm
	SignatureFromIssuer bool
	Subject             pkix.Name
	Validity            ValidityRule

	IsCA           bool
	MaxPathLen     int
	MaxPathLenZero bool
	KeyUsage       x509.KeyUsage
	ExtKeyUsage    []x509.ExtKeyUsage
	UnknownEKU     []asn1.ObjectIdentifier

	NameConstraints *NameConstraints

	CRLDistributionPoints []string
	IssuingCertificateURL []string
	OCSPServer            []string
	Policies              []x509.OID

	// RequestedSubject are the subject attributes supplied by a CSR or
	// the script, with the patterns they must match (see SubjectFor).
	RequestedSubject []RequestedAttribute
	// RefuseCSRExtensions refuses a CSR that requests any extension;
	// otherwise requested extensions are ignored (and recorded).
	RefuseCSRExtensions bool
	// LintExclusions are the zlint lints the template excludes, with why.
	LintExclusions []LintExclusion

	doc *strictyaml.Document
}

// LintExclusion is a zlint lint a template excludes, and the reason.
type LintExclusion struct {
	Lint   string `json:"lint"`
	Reason string `json:"reason"`
}

// ExcludedLints returns the names of the excluded lints.
func (p *Profile) ExcludedLints() []string {
	out := make([]string, len(p.LintExclusions))
	for i, e := range p.LintExclusions {
		out[i] = e.Lint
	}
	return out
}

// AllowsKey reports whether the profile certifies keys of algorithm a.
func (p *Profile) AllowsKey(a keys.Algorithm) bool { return slices.Contains(p.AllowedKeys, a) }

// DescribeAllowedKeys lists the allowed key algorithms for messages.
func (p *Profile) DescribeAllowedKeys() string {
	var out []string
	for _, a := range p.AllowedKeys {
		out = append(out, a.Describe())
	}
	return strings.Join(out, ", ")
}

// NameConstraints is a profile's name constraints extension.
type NameConstraints struct {
	Critical                      bool
	PermittedDNS, ExcludedDNS     []string
	PermittedIP, ExcludedIP       []*net.IPNet
	PermittedEmail, ExcludedEmail []string
	PermittedURI, ExcludedURI     []string
}

// SelfSigned reports whether certificates of this profile sign themselves.
func (p *Profile) SelfSigned() bool { return rules[p.Kind].selfSigned }

// Load reads, decodes and validates the template at path.
func Load(path string) (*Profile, error) {
	data, err := durable.ReadFile(durable.Template, path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse decodes and validates a template read from path.
func Parse(path string, data []byte) (*Profile, error) {
	var t template
	doc, err := strictyaml.Decode(path, data, &t)
	if err != nil {
		return nil, err
	}
	p := &Profile{
		Name:   strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)),
		Path:   path,
		SHA256: sha256Hex(data),
		Text:   string(data),
		doc:    doc,
	}
	if err := p.fill(&t); err != nil {
		return nil, err
	}
	return p, nil
}

// errorf reports a problem with the value at a YAML path of the template.
func (p *Profile) errorf(path, format string, args ...any) error {
	return p.doc.Errorf(path, format, args...)
}

func (p *Profile) fill(t *template) error {
	kind := Kind(t.Profile)
	r, ok := rules[kind]
	switch {
	case t.Profile == "":
		return p.errorf("profile", "required (one of: %s)", kindNames())
	case !ok:
		return p.errorf("profile", "unknown profile %q (known: %s)", t.Profile, kindNames())
	}
	p.Kind, p.Description = kind, strings.TrimSpace(t.Description)

	if err := p.fillKey(t.Key, r); err != nil {
		return err
	}
	var err error
	// A self-signed certificate is signed by its own key; any other by
	// its issuer's, which is checked when the issuer is known, or whose
	// type selects it (issuer-default).
	switch {
	case r.selfSigned && t.SignatureAlgorithm == IssuerDefault:
		err = fmt.Errorf("%s: a self-signed %s is signed by its own key: give the algorithm (for %s: %s)",
			IssuerDefault, kind, p.Key, suitableSignatures(p.Key))
	case r.selfSigned:
		p.SignatureAlgorithm, err = signatureAlgorithmFor(p.Key, t.SignatureAlgorithm)
	case t.SignatureAlgorithm == IssuerDefault:
		p.SignatureFromIssuer = true
	default:
		p.SignatureAlgorithm, err = parseSignatureAlgorithm(t.SignatureAlgorithm)
		if err != nil {
			err = fmt.Errorf("%v, or %s (the one the issuer's key type calls for)", err, IssuerDefault)
		}
	}
	if err != nil {
		return p.errorf("signature_algorithm", "%v", err)
	}

	if err := p.fillSubject(t.Subject, t.RequestedSubject, r); err != nil {
		return err
	}
	if p.Validity, err = parseValidity(t.Validity, r.maxYears, p.errorf); err != nil {
		return err
	}

	bc := t.BasicConstraints
	if bc == nil {
		return p.errorf("basic_constraints", "required (ca: true or false)")
	}
	if bc.CA != r.ca {
		return p.errorf("basic_constraints.ca", "must be %t for a %s profile", r.ca, kind)
	}
	p.IsCA, p.MaxPathLen = bc.CA, -1
	if bc.MaxPathLen != nil {
		switch {
		case !bc.CA:
			return p.errorf("basic_constraints.max_path_len", "only a CA certificate can have a path length")
		case *bc.MaxPathLen < 0:
			return p.errorf("basic_constraints.max_path_len", "must be 0 or more (omit it for no limit)")
		case *bc.MaxPathLen > 8:
			return p.errorf("basic_constraints.max_path_len", "%d is more than a device PKI needs (at most 8)", *bc.MaxPathLen)
		}
		p.MaxPathLen = *bc.MaxPathLen
		// Go's x509 treats MaxPathLen 0 as "unset" unless MaxPathLenZero.
		p.MaxPathLenZero = *bc.MaxPathLen == 0
	} else if r.requirePathLen {
		return p.errorf("basic_constraints.max_path_len", "required for a %s profile (0 for a CA that issues only end-entity certificates)", kind)
	}

	if p.KeyUsage, err = parseKeyUsage(t.KeyUsage); err != nil {
		return p.errorf("key_usage", "%v", err)
	}
	if missing := r.requiredKU &^ p.KeyUsage; missing != 0 {
		return p.errorf("key_usage", "a %s profile must include %s", kind, strings.Join(keyUsageNames(missing), " and "))
	}
	if extra := p.KeyUsage &^ r.allowedKU; extra != 0 {
		return p.errorf("key_usage", "%s not allowed in a %s profile", strings.Join(keyUsageNames(extra), " and "), kind)
	}
	if p.KeyUsage&x509.KeyUsageCertSign != 0 && !p.IsCA {
		return p.errorf("key_usage", "keyCertSign requires basic_constraints.ca: true")
	}

	if len(t.ExtendedKeyUsage) > 0 && !r.allowEKU {
		return p.errorf("extended_key_usage", "not allowed in a %s profile", kind)
	}
	if p.ExtKeyUsage, p.UnknownEKU, err = parseEKU(t.ExtendedKeyUsage); err != nil {
		return p.errorf("extended_key_usage", "%v", err)
	}
	if r.exactEKU != nil && !slices.Equal(slices.Sorted(slices.Values(t.ExtendedKeyUsage)), r.exactEKU) {
		return p.errorf("extended_key_usage", "a %s profile has exactly [%s]", kind, strings.Join(r.exactEKU, ", "))
	}

	if t.NameConstraints != nil {
		if !r.allowNameConstr {
			return p.errorf("name_constraints", "not allowed in a %s profile", kind)
		}
		if p.NameConstraints, err = parseNameConstraints(t.NameConstraints, p.errorf); err != nil {
			return err
		}
	}

	if (len(t.CRLDistributionPoints) > 0 || t.AuthorityInfoAccess != nil) && !r.allowIssuerLinks {
		path := "crl_distribution_points"
		if len(t.CRLDistributionPoints) == 0 {
			path = "authority_info_access"
		}
		return p.errorf(path, "not allowed in a %s profile (a self-signed root has no issuer to point at)", kind)
	}
	for i, u := range t.CRLDistributionPoints {
		if err := checkURL(u); err != nil {
			return p.errorf(fmt.Sprintf("crl_distribution_points[%d]", i), "%v", err)
		}
	}
	p.CRLDistributionPoints = t.CRLDistributionPoints
	if a := t.AuthorityInfoAccess; a != nil {
		for i, u := range a.CAIssuers {
			if err := checkURL(u); err != nil {
				return p.errorf(fmt.Sprintf("authority_info_access.ca_issuers[%d]", i), "%v", err)
			}
		}
		for i, u := range a.OCSP {
			if err := checkURL(u); err != nil {
				return p.errorf(fmt.Sprintf("authority_info_access.ocsp[%d]", i), "%v", err)
			}
		}
		p.IssuingCertificateURL, p.OCSPServer = a.CAIssuers, a.OCSP
	}

	seen := map[string]bool{}
	for i, s := range t.Policies {
		oid, err := x509.ParseOID(s)
		if err != nil || !dottedOID.MatchString(s) {
			return p.errorf(fmt.Sprintf("policies[%d]", i), "%q is not a dotted object identifier such as 1.3.6.1.4.1.99999.1", s)
		}
		if seen[s] {
			return p.errorf(fmt.Sprintf("policies[%d]", i), "%s listed twice", s)
		}
		seen[s] = true
		p.Policies = append(p.Policies, oid)
	}

	switch t.CSRExtensions {
	case "", "ignore":
	case "refuse":
		p.RefuseCSRExtensions = true
	default:
		return p.errorf("csr_extensions", "%q: ignore (the certificate's content comes from the template) or refuse", t.CSRExtensions)
	}
	return p.fillLint(t.Lint)
}

// fillKey reads key.algorithm (a key generated in the ceremony) or
// key.allowed (the algorithms a CSR may bring).
func (p *Profile) fillKey(k keySpec, r kindRules) error {
	switch {
	case k.Algorithm != "" && len(k.Allowed) > 0:
		return p.errorf("key", "give algorithm (a key generated in the ceremony) or allowed (keys brought in a CSR), not both")
	case k.Algorithm != "":
		alg, err := keys.ParseAlgorithm(k.Algorithm)
		if err != nil {
			return p.errorf("key.algorithm", "%v", err)
		}
		p.Key, p.AllowedKeys = alg, []keys.Algorithm{alg}
		return nil
	case len(k.Allowed) > 0:
		if r.selfSigned {
			return p.errorf("key.allowed", "a self-signed %s certifies the key generated in the ceremony: give key.algorithm", p.Kind)
		}
		for i, n := range k.Allowed {
			alg, err := keys.ParseAlgorithm(n)
			if err != nil {
				return p.errorf(fmt.Sprintf("key.allowed[%d]", i), "%v", err)
			}
			if p.AllowsKey(alg) {
				return p.errorf(fmt.Sprintf("key.allowed[%d]", i), "%s listed twice", n)
			}
			p.AllowedKeys = append(p.AllowedKeys, alg)
		}
		return nil
	}
	return p.errorf("key.algorithm", "required (one of: %s), or key.allowed for keys brought in a CSR", algorithmNames())
}

// fillLint reads the lint exclusions. Each needs a reason, which the
// transcript records; whether the lint exists is checked by the engine
// against the linter.
func (p *Profile) fillLint(l lintSpec) error {
	seen := map[string]bool{}
	for i, e := range l.Exclude {
		path := fmt.Sprintf("lint.exclude[%d]", i)
		switch {
		case !lintNameRE.MatchString(e.Lint):
			return p.errorf(path+".lint", "%q is not a zlint lint name such as w_ext_subject_key_identifier_missing_sub_cert", e.Lint)
		case seen[e.Lint]:
			return p.errorf(path+".lint", "%s excluded twice", e.Lint)
		case strings.TrimSpace(e.Reason) == "":
			return p.errorf(path+".reason", "required: why %s does not apply (the transcript records it)", e.Lint)
		}
		seen[e.Lint] = true
		p.LintExclusions = append(p.LintExclusions, LintExclusion{Lint: e.Lint, Reason: strings.TrimSpace(e.Reason)})
	}
	return nil
}

var lintNameRE = regexp.MustCompile(`^[enwi]_[a-z0-9_]+$`)

var dottedOID = regexp.MustCompile(`^[0-2](\.(0|[1-9][0-9]*))+$`)

func algorithmNames() string {
	var names []string
	for _, a := range keys.Algorithms() {
		names = append(names, string(a))
	}
	return strings.Join(names, ", ")
}

// subject attribute upper bounds from RFC 5280 appendix A.
var subjectFields = []struct {
	path  string
	max   int
	value func(s subject) string
}{
	{"country", 2, func(s subject) string { return s.Country }},
	{"province", 128, func(s subject) string { return s.Province }},
	{"locality", 128, func(s subject) string { return s.Locality }},
	{"organization", 64, func(s subject) string { return s.Organization }},
	{"organizational_unit", 64, func(s subject) string { return s.OrganizationalUnit }},
	{"common_name", 64, func(s subject) string { return s.CommonName }},
}

func (p *Profile) fillSubject(s subject, requested map[string]string, r kindRules) error {
	for _, f := range subjectFields {
		if err := checkSubjectValue(f.value(s), f.max); err != nil {
			return p.errorf("subject."+f.path, "%v", err)
		}
	}
	if err := p.fillRequested(s, requested); err != nil {
		return err
	}
	if s.CommonName == "" && !p.requests("common_name") {
		return p.errorf("subject.common_name", "required (or requested_subject.common_name, to take it from the CSR)")
	}
	if s.Country != "" && !regexp.MustCompile(`^[A-Z]{2}$`).MatchString(s.Country) {
		return p.errorf("subject.country", "%q is not a two-letter ISO 3166 code such as DE", s.Country)
	}
	if r.requireOrgAndC {
		if s.Country == "" {
			return p.errorf("subject.country", "required for a %s certificate (fixed by the template)", p.Kind)
		}
		if s.Organization == "" {
			return p.errorf("subject.organization", "required for a %s certificate (fixed by the template)", p.Kind)
		}
	}
	p.Subject = pkix.Name{}
	for _, f := range subjectFields {
		if v := f.value(s); v != "" {
			setSubjectField(&p.Subject, f.path, v)
		}
	}
	return nil
}

// checkSubjectValue checks one subject attribute value: no surrounding
// spaces, within the RFC 5280 length, printable.
func checkSubjectValue(v string, max int) error {
	switch {
	case v != strings.TrimSpace(v):
		return fmt.Errorf("%q has leading or trailing spaces", v)
	case utf8.RuneCountInString(v) > max:
		return fmt.Errorf("%q is longer than %d characters (RFC 5280 limit)", v, max)
	case strings.IndexFunc(v, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
		return fmt.Errorf("%q contains a non-printable character", v)
	}
	return nil
}

var signatureAlgorithms = map[string]x509.SignatureAlgorithm{
	"ecdsa-with-SHA256":       x509.ECDSAWithSHA256,
	"ecdsa-with-SHA384":       x509.ECDSAWithSHA384,
	"ecdsa-with-SHA512":       x509.ECDSAWithSHA512,
	"sha256WithRSAEncryption": x509.SHA256WithRSA,
	"sha384WithRSAEncryption": x509.SHA384WithRSA,
	"sha512WithRSAEncryption": x509.SHA512WithRSA,
}

// signatureName returns the template name of sa, or "" if templates do
// not name it.
func signatureName(sa x509.SignatureAlgorithm) string {
	for n, a := range signatureAlgorithms {
		if a == sa {
			return n
		}
	}
	return ""
}

// IssuerDefault is the signature_algorithm of a template whose
// certificates are signed with the algorithm the issuer's key type calls
// for (IssuerDefaultSignature): a verification certificate signed by a
// P-384 root or a P-256 factory intermediate.
const IssuerDefault = "issuer-default"

// IssuerDefaultSignature returns the signature algorithm a key of
// algorithm alg signs with by default: ECDSA with the hash matching the
// curve (P-256/SHA-256, P-384/SHA-384, P-521/SHA-512), RSA PKCS #1 v1.5
// with SHA-256 (as ceremony csr signs).
func IssuerDefaultSignature(alg keys.Algorithm) x509.SignatureAlgorithm {
	if !alg.IsECDSA() {
		return x509.SHA256WithRSA
	}
	return alg.SignatureAlgorithm()
}

// SignatureAlgorithmFor returns the algorithm a certificate of this
// profile is signed with by an issuer whose key is of algorithm issuer:
// the template's, or for issuer-default the one the issuer's key calls
// for.
func (p *Profile) SignatureAlgorithmFor(issuer keys.Algorithm) x509.SignatureAlgorithm {
	if p.SignatureFromIssuer {
		return IssuerDefaultSignature(issuer)
	}
	return p.SignatureAlgorithm
}

// signatureAlgorithmFor parses the signature algorithm name and checks that
// a key of algorithm alg can make such signatures.
func signatureAlgorithmFor(alg keys.Algorithm, name string) (x509.SignatureAlgorithm, error) {
	if name == "" {
		return 0, fmt.Errorf("required (for %s: %s)", alg, suitableSignatures(alg))
	}
	sa, err := parseSignatureAlgorithm(name)
	if err != nil {
		return 0, err
	}
	return sa, checkSignatureSuits(alg, sa, "key.algorithm "+string(alg))
}

func parseSignatureAlgorithm(name string) (x509.SignatureAlgorithm, error) {
	if name == "" {
		return 0, fmt.Errorf("required (one of: %s)", strings.Join(slices.Sorted(maps.Keys(signatureAlgorithms)), ", "))
	}
	sa, ok := signatureAlgorithms[name]
	if !ok {
		return 0, fmt.Errorf("unknown signature algorithm %q (known: %s)", name, strings.Join(slices.Sorted(maps.Keys(signatureAlgorithms)), ", "))
	}
	return sa, nil
}

func suitableSignatures(alg keys.Algorithm) string {
	if alg.IsECDSA() {
		return signatureName(alg.SignatureAlgorithm())
	}
	return "sha256WithRSAEncryption, sha384WithRSAEncryption or sha512WithRSAEncryption"
}

// checkSignatureSuits checks that a key of algorithm alg (the signer's,
// described as what) can make signatures of algorithm sa: ECDSA keys with
// the hash matching their curve, RSA keys with PKCS#1 v1.5 and SHA-2.
func checkSignatureSuits(alg keys.Algorithm, sa x509.SignatureAlgorithm, what string) error {
	name := signatureName(sa)
	if alg.IsECDSA() && sa != alg.SignatureAlgorithm() || !alg.IsECDSA() && !strings.HasSuffix(name, "WithRSAEncryption") {
		return fmt.Errorf("%s does not suit %s (use %s)", name, what, suitableSignatures(alg))
	}
	return nil
}

var keyUsages = []struct {
	name string
	ku   x509.KeyUsage
}{
	{"digitalSignature", x509.KeyUsageDigitalSignature},
	{"contentCommitment", x509.KeyUsageContentCommitment},
	{"keyEncipherment", x509.KeyUsageKeyEncipherment},
	{"dataEncipherment", x509.KeyUsageDataEncipherment},
	{"keyAgreement", x509.KeyUsageKeyAgreement},
	{"keyCertSign", x509.KeyUsageCertSign},
	{"cRLSign", x509.KeyUsageCRLSign},
	{"encipherOnly", x509.KeyUsageEncipherOnly},
	{"decipherOnly", x509.KeyUsageDecipherOnly},
}

func parseKeyUsage(names []string) (x509.KeyUsage, error) {
	if len(names) == 0 {
		return 0, fmt.Errorf("required (RFC 5280 names such as keyCertSign, cRLSign, digitalSignature)")
	}
	var ku x509.KeyUsage
next:
	for _, n := range names {
		for _, k := range keyUsages {
			if k.name == n {
				if ku&k.ku != 0 {
					return 0, fmt.Errorf("%s listed twice", n)
				}
				ku |= k.ku
				continue next
			}
		}
		var known []string
		for _, k := range keyUsages {
			known = append(known, k.name)
		}
		return 0, fmt.Errorf("unknown key usage %q (known: %s)", n, strings.Join(known, ", "))
	}
	return ku, nil
}

// keyUsageNames returns the RFC 5280 names of the bits set in ku.
func keyUsageNames(ku x509.KeyUsage) []string {
	var out []string
	for _, k := range keyUsages {
		if ku&k.ku != 0 {
			out = append(out, k.name)
		}
	}
	return out
}

var extKeyUsages = map[string]x509.ExtKeyUsage{
	"serverAuth":      x509.ExtKeyUsageServerAuth,
	"clientAuth":      x509.ExtKeyUsageClientAuth,
	"codeSigning":     x509.ExtKeyUsageCodeSigning,
	"emailProtection": x509.ExtKeyUsageEmailProtection,
	"timeStamping":    x509.ExtKeyUsageTimeStamping,
	"OCSPSigning":     x509.ExtKeyUsageOCSPSigning,
}

// DocumentSigningOID is the documentSigning extended key usage (RFC 9336)
// that transcript-signing certificates carry.
var DocumentSigningOID = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 36}

// IsTranscriptSigner reports whether c is fit to seal transcripts: not a
// CA, digitalSignature alone, and as extended key usage exactly
// documentSigning (or, as certificates issued before it was required
// have, none).
func IsTranscriptSigner(c *x509.Certificate) bool {
	if c.IsCA || c.KeyUsage != x509.KeyUsageDigitalSignature || len(c.ExtKeyUsage) > 0 {
		return false
	}
	switch len(c.UnknownExtKeyUsage) {
	case 0:
		return true
	case 1:
		return c.UnknownExtKeyUsage[0].Equal(DocumentSigningOID)
	}
	return false
}

func parseEKU(names []string) ([]x509.ExtKeyUsage, []asn1.ObjectIdentifier, error) {
	var (
		ekus  []x509.ExtKeyUsage
		oids  []asn1.ObjectIdentifier
		seen  = map[string]bool{}
		known = slices.Sorted(maps.Keys(extKeyUsages))
	)
	for _, n := range names {
		if seen[n] {
			return nil, nil, fmt.Errorf("%s listed twice", n)
		}
		seen[n] = true
		if e, ok := extKeyUsages[n]; ok {
			ekus = append(ekus, e)
			continue
		}
		if n == "documentSigning" {
			oids = append(oids, DocumentSigningOID)
			continue
		}
		if n == "anyExtendedKeyUsage" || n == "2.5.29.37.0" {
			return nil, nil, fmt.Errorf("anyExtendedKeyUsage defeats the purpose of an extended key usage")
		}
		if !dottedOID.MatchString(n) {
			return nil, nil, fmt.Errorf("unknown extended key usage %q (known: %s, or a dotted OID)", n, strings.Join(known, ", "))
		}
		var oid asn1.ObjectIdentifier
		for _, arc := range strings.Split(n, ".") {
			v, err := strconv.Atoi(arc)
			if err != nil {
				return nil, nil, fmt.Errorf("extended key usage %q: arc %q is too large", n, arc)
			}
			oid = append(oid, v)
		}
		oids = append(oids, oid)
	}
	return ekus, oids, nil
}

func parseNameConstraints(nc *nameConstraints, errorf func(string, string, ...any) error) (*NameConstraints, error) {
	out := &NameConstraints{Critical: nc.Critical}
	for _, side := range []struct {
		path string
		set  nameSet
		dns  *[]string
		ip   *[]*net.IPNet
		mail *[]string
		uri  *[]string
	}{
		{"name_constraints.permitted", nc.Permitted, &out.PermittedDNS, &out.PermittedIP, &out.PermittedEmail, &out.PermittedURI},
		{"name_constraints.excluded", nc.Excluded, &out.ExcludedDNS, &out.ExcludedIP, &out.ExcludedEmail, &out.ExcludedURI},
	} {
		for i, d := range side.set.DNS {
			if !dnsConstraint.MatchString(d) {
				return nil, errorf(fmt.Sprintf("%s.dns[%d]", side.path, i), "%q is not a DNS name such as devices.example.com", d)
			}
		}
		for i, s := range side.set.IP {
			_, n, err := net.ParseCIDR(s)
			if err != nil {
				return nil, errorf(fmt.Sprintf("%s.ip[%d]", side.path, i), "%q is not a CIDR range such as 10.0.0.0/8", s)
			}
			*side.ip = append(*side.ip, n)
		}
		for i, m := range side.set.Email {
			if strings.ContainsAny(m, " \t") || m == "" {
				return nil, errorf(fmt.Sprintf("%s.email[%d]", side.path, i), "%q is not a mailbox or domain", m)
			}
		}
		for i, u := range side.set.URI {
			if !dnsConstraint.MatchString(strings.TrimPrefix(u, ".")) {
				return nil, errorf(fmt.Sprintf("%s.uri[%d]", side.path, i), "%q is not a host or domain such as .example.com", u)
			}
		}
		*side.dns, *side.mail, *side.uri = side.set.DNS, side.set.Email, side.set.URI
	}
	if len(out.PermittedDNS)+len(out.PermittedIP)+len(out.PermittedEmail)+len(out.PermittedURI)+
		len(out.ExcludedDNS)+len(out.ExcludedIP)+len(out.ExcludedEmail)+len(out.ExcludedURI) == 0 {
		return nil, errorf("name_constraints", "empty: list permitted or excluded names, or remove it")
	}
	return out, nil
}

var dnsConstraint = regexp.MustCompile(`^\.?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`)

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a URL", s)
	}
	if u.Scheme != "http" && u.Scheme != "ldap" {
		return fmt.Errorf("%q: use an http:// or ldap:// URL (relying parties fetch it without TLS)", s)
	}
	if u.Host == "" {
		return fmt.Errorf("%q has no host", s)
	}
	return nil
}
