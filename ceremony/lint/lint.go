// Package lint runs zlint over the certificates and CRLs the root key is
// about to sign, so that a malformed or non-conforming artifact stops the
// ceremony before the root signature exists.
//
// The caller builds the exact to-be-signed content, signs it with a
// throwaway key of the same type as the root (zlint looks at encodings and
// algorithms, never at whether the signature verifies), and passes the DER
// to [Certificate] or [RevocationList]. Any result with status error, warn
// or fatal is a [Finding] and [Report.Err] turns it into the one-line error
// that stops the ceremony; notices are recorded but do not stop it.
//
// Which lints run: every lint in zlint's global registry (RFC 5280 and
// friends, the CA/Browser Forum baseline requirements, Mozilla, Apple, ETSI
// and community lints) minus the names a template excludes. zlint itself
// decides which lints apply to a certificate: CA/Browser Forum TLS lints
// apply to certificates that can authenticate TLS servers, which includes
// every certificate without an extended key usage, so roots, intermediates
// and EKU-less end-entity certificates get the strict TLS checks. There is
// no source- or profile-level filtering: in a private device PKI no public
// program applies as a whole, and excluding lints one by one, each with a
// reason in the template, keeps every relaxation visible in the transcript.
// [CheckExclusions] validates the names.
//
// One lint is configured rather than left at zlint's default:
// e_crl_next_update_invalid judges CRLs as covering CA certificates
// (nextUpdate at most 12 months after thisUpdate) instead of subscriber
// certificates (10 days). Every CRL this tool lints is signed by the
// offline root, which issues intermediates and is only brought out a few
// times a year; a 10-day root CRL could not be kept current.
//
// This package does not sign, choose exclusions or decide whether a
// certificate fits its profile; the pki package does that.
package lint

import (
	"encoding/asn1"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"sync"

	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3"
	zl "github.com/zmap/zlint/v3/lint"
)

// Finding is the result of one lint that did not pass.
type Finding struct {
	// Lint is the zlint name, e.g. "e_ca_country_name_missing".
	Lint string `json:"lint"`
	// Status is zlint's label for the result: "fatal", "error", "warn"
	// or, for notices, "info" (the labels zlint's own JSON output uses,
	// so an auditor can compare against the zlint command).
	Status string `json:"status"`
	// Details is what the lint said about this certificate; may be empty.
	Details string `json:"details,omitempty"`
	// Source is where the rule comes from, e.g. "RFC5280", "CABF_BR".
	Source string `json:"source"`
	// Description says what the lint checks.
	Description string `json:"description"`
	// Citation points into the source document, e.g. "BRs: 7.1.2.10.2".
	Citation string `json:"citation,omitempty"`
}

// Report is the outcome of linting one certificate or CRL.
type Report struct {
	// Ran is the number of lints that applied and were in effect (status
	// other than not-applicable and not-effective).
	Ran int `json:"ran"`
	// Passed is the number of lints that passed.
	Passed int `json:"passed"`
	// Findings are the results with status fatal, error or warn, sorted
	// by lint name. Any finding stops a ceremony.
	Findings []Finding `json:"findings"`
	// Notices are the results with status notice ("info"), sorted by lint
	// name. They are recorded and do not stop a ceremony.
	Notices []Finding `json:"notices"`
	// Excluded are the lint names excluded from this run, sorted.
	Excluded []string `json:"excluded"`
	// Version is the zlint module version, from the binary's build
	// information, or "v3" when that is not available.
	Version string `json:"version"`
}

// Err returns nil if the report has no findings, and otherwise one line
// naming each finding, e.g.
//
//	zlint: 2 problems: e_x (error: details); w_y (warn: details)
//
// Where a lint gave no details its description is shown instead.
func (r *Report) Err() error {
	if r == nil || len(r.Findings) == 0 {
		return nil
	}
	parts := make([]string, len(r.Findings))
	for i, f := range r.Findings {
		what := f.Details
		if what == "" {
			what = f.Description
		}
		if what = oneLine(what); what == "" {
			parts[i] = fmt.Sprintf("%s (%s)", f.Lint, f.Status)
		} else {
			parts[i] = fmt.Sprintf("%s (%s: %s)", f.Lint, f.Status, what)
		}
	}
	noun := "problems"
	if len(parts) == 1 {
		noun = "problem"
	}
	return fmt.Errorf("zlint: %d %s: %s", len(parts), noun, strings.Join(parts, "; "))
}

// oneLine collapses runs of white space, including line breaks, to one space.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// Certificate lints a DER-encoded certificate with every registered lint
// except those named in exclude. The names are checked with
// [CheckExclusions] first. It returns an error if the names are invalid or
// the DER is not one certificate; problems zlint finds are in the report
// (see [Report.Err]).
func Certificate(der []byte, exclude []string) (*Report, error) {
	reg, err := registry(exclude)
	if err != nil {
		return nil, err
	}
	if err := oneElement(der); err != nil {
		return nil, fmt.Errorf("parse certificate for linting: %w", err)
	}
	c, err := zx509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse certificate for linting: %w", err)
	}
	rs, err := run("certificate", func() *zlint.ResultSet { return zlint.LintCertificateEx(c, reg) })
	if err != nil {
		return nil, err
	}
	return newReport(rs, exclude), nil
}

// RevocationList lints a DER-encoded CRL with every registered CRL lint
// except those named in exclude, like [Certificate].
func RevocationList(der []byte, exclude []string) (*Report, error) {
	reg, err := registry(exclude)
	if err != nil {
		return nil, err
	}
	if err := oneElement(der); err != nil {
		return nil, fmt.Errorf("parse crl for linting: %w", err)
	}
	rl, err := zx509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("parse crl for linting: %w", err)
	}
	rs, err := run("crl", func() *zlint.ResultSet { return zlint.LintRevocationListEx(rl, reg) })
	if err != nil {
		return nil, err
	}
	return newReport(rs, exclude), nil
}

// oneElement checks that der is exactly one DER element: zcrypto's CRL
// parser ignores bytes after the CRL, and the ceremony must lint exactly
// what it signs.
func oneElement(der []byte) error {
	if len(der) == 0 {
		return errors.New("empty input")
	}
	var v asn1.RawValue
	rest, err := asn1.Unmarshal(der, &v)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("%d bytes of trailing data", len(rest))
	}
	return nil
}

// run calls lint, turning a panic into an error. zlint recovers from
// panicking certificate lints (reporting them as fatal) but not from
// panicking CRL lints; either way the ceremony must stop, not crash.
func run(what string, lint func() *zlint.ResultSet) (rs *zlint.ResultSet, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("zlint panicked linting the %s: %v", what, p)
		}
	}()
	rs = lint()
	if rs == nil {
		return nil, fmt.Errorf("zlint returned no result for the %s", what)
	}
	return rs, nil
}

// newReport sorts a zlint result set into a Report.
func newReport(rs *zlint.ResultSet, exclude []string) *Report {
	r := &Report{
		Findings: []Finding{},
		Notices:  []Finding{},
		Excluded: slices.Sorted(slices.Values(exclude)),
		Version:  zlintVersion(),
	}
	if r.Excluded == nil {
		r.Excluded = []string{}
	}
	for name, res := range rs.Results {
		switch res.Status {
		case zl.NA, zl.NE:
			continue
		case zl.Pass:
			r.Ran++
			r.Passed++
			continue
		}
		r.Ran++
		meta := res.LintMetadata
		f := Finding{
			Lint:        name,
			Status:      res.Status.String(),
			Details:     res.Details,
			Source:      string(meta.Source),
			Description: meta.Description,
			Citation:    meta.Citation,
		}
		if f.Status == "" {
			f.Status = fmt.Sprintf("status %d", int(res.Status))
		}
		if res.Status == zl.Notice {
			r.Notices = append(r.Notices, f)
		} else {
			// Error, warn, fatal, and anything zlint may add later:
			// an unknown status stops the ceremony rather than pass.
			r.Findings = append(r.Findings, f)
		}
	}
	byName := func(a, b Finding) int { return strings.Compare(a.Lint, b.Lint) }
	slices.SortFunc(r.Findings, byName)
	slices.SortFunc(r.Notices, byName)
	return r
}

// config is the zlint configuration every run uses; see the package
// documentation.
const config = `
[e_crl_next_update_invalid]
SubscriberCRL = false
`

var parsedConfig = sync.OnceValues(func() (zl.Configuration, error) {
	return zl.NewConfigFromString(config)
})

// registry returns a fresh registry with every registered lint except the
// excluded ones, configured with config. It is never the global registry
// itself, so the configuration cannot leak into other users of zlint.
func registry(exclude []string) (zl.Registry, error) {
	if err := CheckExclusions(exclude); err != nil {
		return nil, err
	}
	cfg, err := parsedConfig()
	if err != nil {
		return nil, fmt.Errorf("zlint configuration: %w", err)
	}
	global := zl.GlobalRegistry()
	// IncludeNames is never empty, so Filter always builds a new registry
	// (it returns the global one for empty options); exclusion wins.
	reg, err := global.Filter(zl.FilterOptions{
		IncludeNames: global.Names(),
		ExcludeNames: exclude,
	})
	if err != nil {
		return nil, fmt.Errorf("zlint exclusions: %w", err)
	}
	reg.SetConfiguration(cfg)
	return reg, nil
}

const zlintModule = "github.com/zmap/zlint/v3"

// zlintVersion reads the zlint module version from the build information.
var zlintVersion = sync.OnceValue(func() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path != zlintModule {
				continue
			}
			if d.Replace != nil && d.Replace.Version != "" {
				return d.Replace.Version
			}
			if d.Version != "" && d.Version != "(devel)" {
				return d.Version
			}
		}
	}
	return "v3"
})
