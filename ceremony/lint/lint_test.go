package lint

import (
	"crypto/elliptic"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3"
)

// checkReport checks the invariants every report keeps.
func checkReport(t *testing.T, r *Report) {
	t.Helper()
	byName := func(a, b Finding) int { return strings.Compare(a.Lint, b.Lint) }
	if !slices.IsSortedFunc(r.Findings, byName) || !slices.IsSortedFunc(r.Notices, byName) {
		t.Errorf("findings or notices not sorted by lint name: %v %v", names(r.Findings), names(r.Notices))
	}
	if !slices.IsSorted(r.Excluded) {
		t.Errorf("excluded not sorted: %v", r.Excluded)
	}
	if r.Findings == nil || r.Notices == nil || r.Excluded == nil {
		t.Errorf("nil slice in report (JSON would say null): %+v", r)
	}
	if got := r.Passed + len(r.Findings) + len(r.Notices); got != r.Ran {
		t.Errorf("passed %d + findings %d + notices %d != ran %d", r.Passed, len(r.Findings), len(r.Notices), r.Ran)
	}
	for _, f := range append(slices.Clone(r.Findings), r.Notices...) {
		if f.Lint == "" || f.Status == "" || f.Source == "" || f.Description == "" {
			t.Errorf("incomplete finding %+v", f)
		}
	}
	for _, f := range r.Findings {
		if !slices.Contains([]string{"fatal", "error", "warn"}, f.Status) {
			t.Errorf("finding %s has status %q", f.Lint, f.Status)
		}
	}
	for _, f := range r.Notices {
		if f.Status != "info" {
			t.Errorf("notice %s has status %q", f.Lint, f.Status)
		}
	}
	if r.Version != "v3" && !strings.HasPrefix(r.Version, "v3.") {
		t.Errorf("version %q", r.Version)
	}
	if err := r.Err(); (err == nil) != (len(r.Findings) == 0) {
		t.Errorf("Err() = %v with %d findings", err, len(r.Findings))
	}
}

func lintCert(t *testing.T, der []byte, exclude ...string) *Report {
	t.Helper()
	r, err := Certificate(der, exclude)
	if err != nil {
		t.Fatal(err)
	}
	checkReport(t, r)
	return r
}

func lintCRL(t *testing.T, der []byte, exclude ...string) *Report {
	t.Helper()
	r, err := RevocationList(der, exclude)
	if err != nil {
		t.Fatal(err)
	}
	checkReport(t, r)
	return r
}

func TestRootIsClean(t *testing.T) {
	_, der := newRoot(t)
	r := lintCert(t, der)
	if len(r.Findings) > 0 {
		t.Fatalf("well-formed root has findings: %v", r.Err())
	}
	// A sanity floor: zlint really ran its RFC 5280 and CABF lints.
	if r.Ran < 50 {
		t.Errorf("only %d lints ran", r.Ran)
	}
	if len(r.Excluded) != 0 {
		t.Errorf("excluded %v", r.Excluded)
	}
}

// TestWhatFires records exactly which lints fire on each kind of
// certificate a device PKI's root signs. The templates' exclusions are
// chosen from these lists; a zlint upgrade that changes them fails here,
// so the templates are reviewed again.
func TestWhatFires(t *testing.T) {
	root, _ := newRoot(t)
	p256 := newKey(t, elliptic.P256()).Public()
	p384 := newKey(t, elliptic.P384()).Public()

	// Anything without an extended key usage counts as a TLS server
	// certificate for zlint (util.IsServerAuthCert), so the CA/Browser
	// Forum TLS baseline requirements apply to it.
	tlsSubscriber := []string{
		"e_ext_san_missing",
		"e_sub_cert_aia_missing",
		"e_sub_cert_cert_policy_empty",
		"e_sub_cert_certificate_policies_missing",
		"e_sub_cert_eku_missing",
		"e_subject_common_name_not_exactly_from_san",
		"w_ext_subject_key_identifier_not_recommended_subscriber",
		"w_sub_cert_aia_does_not_contain_issuing_ca_url",
		"w_subject_common_name_included",
	}
	sorted := func(ss ...[]string) []string { return slices.Sorted(slices.Values(slices.Concat(ss...))) }

	for _, tc := range []struct {
		name     string
		der      func() []byte
		findings []string
		notices  []string
	}{{
		name: "root without path length",
		der: func() []byte {
			_, der := newRoot(t)
			return der
		},
		findings: []string{},
		notices:  []string{"n_ca_digital_signature_not_set"},
	}, {
		name: "root with path length 1 (templates/root-ca.yaml)",
		der: func() []byte {
			k := newKey(t, elliptic.P384())
			tmpl := rootTemplate()
			tmpl.MaxPathLen = 1
			return create(t, tmpl, k.Public(), &issuer{key: k})
		},
		findings: []string{"w_root_ca_basic_constraints_path_len_constraint_field_present"},
		notices:  []string{"n_ca_digital_signature_not_set"},
	}, {
		name: "intermediate CA, pathlen 0, no EKU",
		der:  func() []byte { return create(t, intermediateTemplate(), p384, root) },
		findings: []string{
			"e_invalid_ca_certificate_policies",
			"e_sub_ca_certificate_policies_missing",
			"e_sub_ca_crl_distribution_points_missing",
			"w_sub_ca_aia_missing",
		},
		notices: []string{"n_ca_digital_signature_not_set", "n_mp_allowed_eku", "n_sub_ca_eku_missing"},
	}, {
		// The EKU takes the intermediate out of the TLS server rules.
		name: "intermediate CA, pathlen 0, EKU clientAuth",
		der: func() []byte {
			tmpl := intermediateTemplate()
			tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
			return create(t, tmpl, p384, root)
		},
		findings: []string{},
		notices:  []string{},
	}, {
		name:     "firmware code signing",
		der:      func() []byte { return create(t, codeSigningTemplate(), p256, root) },
		findings: []string{},
		notices:  []string{"n_ct_sct_policy_count_unsatisfied"},
	}, {
		name: "firmware code signing without subject key identifier",
		der: func() []byte {
			tmpl := codeSigningTemplate()
			tmpl.SubjectKeyId = []byte{}
			return create(t, tmpl, p256, root)
		},
		findings: []string{"w_ext_subject_key_identifier_missing_sub_cert"},
		notices:  []string{"n_ct_sct_policy_count_unsatisfied"},
	}, {
		// zlint reads the CN as a DNS name: 64 characters is one label
		// too long, and "4c1b…6f70" is no TLD.
		name: "AWS IoT verification certificate, no EKU",
		der:  func() []byte { return create(t, verificationTemplate(), p256, root) },
		findings: sorted(tlsSubscriber, []string{
			"e_dnsname_label_too_long",
			"e_dnsname_not_valid_tld",
		}),
		notices: []string{"n_ct_sct_policy_count_unsatisfied"},
	}, {
		name: "AWS IoT verification certificate, EKU clientAuth",
		der: func() []byte {
			tmpl := verificationTemplate()
			tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
			return create(t, tmpl, p256, root)
		},
		findings: []string{},
		notices:  []string{"n_ct_sct_policy_count_unsatisfied"},
	}, {
		name: "transcript signing, no EKU (templates/transcript-signing.yaml)",
		der:  func() []byte { return create(t, transcriptSigningTemplate(), p256, root) },
		findings: sorted(tlsSubscriber, []string{
			"e_dnsname_bad_character_in_label",
			"e_dnsname_not_valid_tld",
			"e_missing_crl_distrib_point",
			"e_organizational_unit_name_prohibited",
			"e_server_cert_valid_time_longer_than_200_days",
			"e_sub_cert_locality_name_must_appear",
			"e_sub_cert_province_must_appear",
			"e_sub_cert_valid_time_longer_than_39_months",
			"e_sub_cert_valid_time_longer_than_825_days",
			"e_tls_server_cert_valid_time_longer_than_398_days",
			"w_server_cert_valid_time_longer_than_199_days",
			"w_tls_server_cert_valid_time_longer_than_397_days",
		}),
		notices: []string{"n_ct_sct_policy_count_unsatisfied"},
	}, {
		name: "transcript signing, EKU documentSigning",
		der: func() []byte {
			tmpl := transcriptSigningTemplate()
			tmpl.UnknownExtKeyUsage = []asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 36}}
			return create(t, tmpl, p256, root)
		},
		findings: []string{},
		notices:  []string{"n_ct_sct_policy_count_unsatisfied"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			r := lintCert(t, tc.der())
			if got := names(r.Findings); !slices.Equal(got, tc.findings) {
				t.Errorf("findings:\n got %q\nwant %q", got, tc.findings)
			}
			if got := names(r.Notices); !slices.Equal(got, tc.notices) {
				t.Errorf("notices:\n got %q\nwant %q", got, tc.notices)
			}
			// Excluding exactly what fired leaves a clean report.
			if len(r.Findings) > 0 {
				again := lintCert(t, tc.der(), names(r.Findings)...)
				if err := again.Err(); err != nil {
					t.Errorf("with the findings excluded: %v", err)
				}
				if again.Ran != r.Ran-len(r.Findings) {
					t.Errorf("ran %d with %d excluded, %d without", again.Ran, len(r.Findings), r.Ran)
				}
			}
		})
	}
}

// caWithoutCountry is a self-signed CA certificate with no countryName.
func caWithoutCountry(t *testing.T) []byte {
	k := newKey(t, elliptic.P384())
	tmpl := rootTemplate()
	tmpl.Subject = pkix.Name{Organization: []string{"Example Devices GmbH"}, CommonName: "Example Devices Root CA R1"}
	return create(t, tmpl, k.Public(), &issuer{key: k})
}

func TestCountryMissing(t *testing.T) {
	r := lintCert(t, caWithoutCountry(t))
	if got := names(r.Findings); !slices.Equal(got, []string{"e_ca_country_name_missing"}) {
		t.Fatalf("findings %q", got)
	}
	f := r.Findings[0]
	if f.Status != "error" || f.Source != "CABF_BR" || !strings.Contains(f.Description, "countryName") {
		t.Errorf("finding %+v", f)
	}
	err := r.Err()
	if err == nil {
		t.Fatal("Err() = nil")
	}
	msg := err.Error()
	want := "zlint: 1 problem: e_ca_country_name_missing (error: Root and Subordinate CA certificates MUST have a countryName present in subject information)"
	if msg != want {
		t.Errorf("Err() =\n %s\nwant\n %s", msg, want)
	}
}

func TestCountryMissingExcluded(t *testing.T) {
	der := caWithoutCountry(t)
	all := lintCert(t, der)
	r := lintCert(t, der, "e_ca_country_name_missing")
	if err := r.Err(); err != nil {
		t.Fatalf("Err() = %v", err)
	}
	if !slices.Equal(r.Excluded, []string{"e_ca_country_name_missing"}) {
		t.Errorf("excluded %q", r.Excluded)
	}
	if r.Ran != all.Ran-1 {
		t.Errorf("ran %d with the lint excluded, %d without", r.Ran, all.Ran)
	}
}

func TestExcludedIsSortedCopy(t *testing.T) {
	_, der := newRoot(t)
	exclude := []string{"w_sub_ca_aia_missing", "e_ca_country_name_missing", "e_crl_missing_crl_number"}
	in := slices.Clone(exclude)
	r := lintCert(t, der, exclude...)
	if want := slices.Sorted(slices.Values(in)); !slices.Equal(r.Excluded, want) {
		t.Errorf("excluded %q, want %q", r.Excluded, want)
	}
	if !slices.Equal(exclude, in) {
		t.Errorf("caller's slice changed to %q", exclude)
	}
}

func TestCheckExclusions(t *testing.T) {
	for _, tc := range []struct {
		names   []string
		wantErr []string // substrings; nil means no error
	}{
		{names: nil},
		{names: []string{}},
		// Certificate and CRL lints are both known names.
		{names: []string{"e_ca_country_name_missing", "e_crl_next_update_invalid", "w_sub_ca_aia_missing"}},
		{
			names:   []string{"e_ca_country_missing"},
			wantErr: []string{"e_ca_country_missing", "no lint of that name", "did you mean e_ca_country_name_missing"},
		},
		{
			names:   []string{"w_ca_country_name_missing"},
			wantErr: []string{"w_ca_country_name_missing", "did you mean e_ca_country_name_missing"},
		},
		{
			names:   []string{"e_sub_ca_aia_mising"},
			wantErr: []string{"e_sub_ca_aia_mising", "w_sub_ca_aia_missing"},
		},
		{
			names:   []string{"e_no_such_thing_at_all_zz"},
			wantErr: []string{"e_no_such_thing_at_all_zz: zlint v3"},
		},
		{
			names:   []string{"w_sub_ca_aia_missing", "e_ca_country_name_missing", "w_sub_ca_aia_missing"},
			wantErr: []string{"w_sub_ca_aia_missing: excluded twice"},
		},
		{names: []string{""}, wantErr: []string{"empty lint name"}},
		{names: []string{" e_ca_country_name_missing"}, wantErr: []string{"white space"}},
	} {
		err := CheckExclusions(tc.names)
		if tc.wantErr == nil {
			if err != nil {
				t.Errorf("CheckExclusions(%q) = %v", tc.names, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("CheckExclusions(%q) = nil, want an error", tc.names)
			continue
		}
		for _, w := range tc.wantErr {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("CheckExclusions(%q) = %q, want it to contain %q", tc.names, err, w)
			}
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("multi-line error %q", err)
		}
		// Linting refuses the same names.
		if _, err := Certificate(nil, tc.names); err == nil || !strings.Contains(err.Error(), "lint exclusion") {
			t.Errorf("Certificate with exclusions %q: %v", tc.names, err)
		}
		if _, err := RevocationList(nil, tc.names); err == nil || !strings.Contains(err.Error(), "lint exclusion") {
			t.Errorf("RevocationList with exclusions %q: %v", tc.names, err)
		}
	}
}

func TestCRLIsClean(t *testing.T) {
	root, _ := newRoot(t)
	r := lintCRL(t, createCRL(t, crlTemplate(), root))
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if len(r.Notices) != 0 {
		t.Errorf("notices %q", names(r.Notices))
	}
	if r.Ran < 15 {
		t.Errorf("only %d CRL lints ran", r.Ran)
	}
	// A CRL with no revoked certificates is clean too.
	tmpl := crlTemplate()
	tmpl.RevokedCertificateEntries = nil
	if err := lintCRL(t, createCRL(t, tmpl, root)).Err(); err != nil {
		t.Errorf("empty CRL: %v", err)
	}
}

func TestCRLFindings(t *testing.T) {
	root, _ := newRoot(t)
	crlNumber := asn1.ObjectIdentifier{2, 5, 29, 20}
	for _, tc := range []struct {
		name     string
		der      func() []byte
		findings []string
	}{{
		name: "nextUpdate 13 months after thisUpdate",
		der: func() []byte {
			tmpl := crlTemplate()
			tmpl.NextUpdate = tmpl.ThisUpdate.AddDate(0, 13, 0)
			return createCRL(t, tmpl, root)
		},
		findings: []string{"e_crl_next_update_invalid"},
	}, {
		name: "nextUpdate 12 months after thisUpdate is allowed",
		der: func() []byte {
			tmpl := crlTemplate()
			tmpl.NextUpdate = tmpl.ThisUpdate.AddDate(0, 12, 0)
			return createCRL(t, tmpl, root)
		},
		findings: []string{},
	}, {
		name: "revocation after thisUpdate",
		der: func() []byte {
			tmpl := crlTemplate()
			tmpl.RevokedCertificateEntries[0].RevocationTime = tmpl.ThisUpdate.Add(time.Hour)
			return createCRL(t, tmpl, root)
		},
		findings: []string{"e_crl_revocation_time_after_this_update"},
	}, {
		name: "reason code 7 (not defined)",
		der: func() []byte {
			tmpl := crlTemplate()
			tmpl.RevokedCertificateEntries[0].ReasonCode = 7
			return createCRL(t, tmpl, root)
		},
		findings: []string{"e_cab_crl_has_valid_reason_code", "e_crl_has_valid_reason_code"},
	}, {
		name: "same serial revoked twice",
		der: func() []byte {
			tmpl := crlTemplate()
			tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, tmpl.RevokedCertificateEntries[0])
			return createCRL(t, tmpl, root)
		},
		findings: []string{"e_crl_unique_revoked_certificate"},
	}, {
		// Go always writes a CRL number; this one is re-signed without.
		name:     "no CRL number",
		der:      func() []byte { return withoutExtension(t, createCRL(t, crlTemplate(), root), crlNumber, root) },
		findings: []string{"e_crl_missing_crl_number", "e_crl_number_out_of_range"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			r := lintCRL(t, tc.der())
			if got := names(r.Findings); !slices.Equal(got, tc.findings) {
				t.Errorf("findings:\n got %q\nwant %q", got, tc.findings)
			}
		})
	}
}

// TestCRLNextUpdateForCACertificates shows the configuration matters:
// zlint's default judges a root CRL valid for 6 months as a subscriber CRL
// (10 days at most), this package as a CRL covering CA certificates. It
// also shows the configuration does not leak into zlint's global registry.
func TestCRLNextUpdateForCACertificates(t *testing.T) {
	root, _ := newRoot(t)
	der := createCRL(t, crlTemplate(), root) // nextUpdate: 6 months
	if err := lintCRL(t, der).Err(); err != nil {
		t.Fatal(err)
	}
	rl, err := zx509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	res := zlint.LintRevocationList(rl).Results["e_crl_next_update_invalid"]
	if res == nil || res.Status.String() != "error" {
		t.Fatalf("zlint defaults: e_crl_next_update_invalid = %+v, want error", res)
	}
}

func TestGarbage(t *testing.T) {
	root, rootDER := newRoot(t)
	crlDER := createCRL(t, crlTemplate(), root)
	rootPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rootDER})
	for _, tc := range []struct {
		name string
		der  []byte
	}{
		{"nil", nil},
		{"empty", []byte{}},
		{"text", []byte("not a certificate")},
		{"PEM instead of DER", rootPEM},
		{"truncated", rootDER[:len(rootDER)/2]},
		{"empty sequence", []byte{0x30, 0x00}},
		{"trailing byte", append(slices.Clone(rootDER), 0)},
		{"two certificates", slices.Concat(rootDER, rootDER)},
		{"a CRL", crlDER},
	} {
		if r, err := Certificate(tc.der, nil); err == nil {
			t.Errorf("Certificate(%s) = %+v, nil; want an error", tc.name, r)
		} else if !strings.HasPrefix(err.Error(), "parse certificate for linting: ") {
			t.Errorf("Certificate(%s): %v", tc.name, err)
		}
	}
	for _, tc := range []struct {
		name string
		der  []byte
	}{
		{"nil", nil},
		{"text", []byte("not a crl")},
		{"truncated", crlDER[:len(crlDER)/2]},
		{"empty sequence", []byte{0x30, 0x00}},
		{"trailing byte", append(slices.Clone(crlDER), 0)},
		{"a certificate", rootDER},
	} {
		if r, err := RevocationList(tc.der, nil); err == nil {
			t.Errorf("RevocationList(%s) = %+v, nil; want an error", tc.name, r)
		} else if !strings.HasPrefix(err.Error(), "parse crl for linting: ") {
			t.Errorf("RevocationList(%s): %v", tc.name, err)
		}
	}
}

func TestDeterministic(t *testing.T) {
	root, _ := newRoot(t)
	der := create(t, verificationTemplate(), newKey(t, elliptic.P256()).Public(), root)
	first := lintCert(t, der)
	for range 3 {
		if again := lintCert(t, der); !reflect.DeepEqual(again, first) {
			t.Fatalf("reports differ:\n%+v\n%+v", first, again)
		}
	}
}

func TestErr(t *testing.T) {
	var nilReport *Report
	if err := nilReport.Err(); err != nil {
		t.Errorf("nil report: %v", err)
	}
	if err := (&Report{Notices: []Finding{{Lint: "n_x", Status: "info"}}}).Err(); err != nil {
		t.Errorf("notices only: %v", err)
	}
	r := &Report{Findings: []Finding{
		{Lint: "e_x", Status: "error", Details: "line one\n  line two", Description: "unused"},
		{Lint: "f_y", Status: "fatal"},
		{Lint: "w_z", Status: "warn", Description: "says what it checks"},
	}}
	want := "zlint: 3 problems: e_x (error: line one line two); f_y (fatal); w_z (warn: says what it checks)"
	if err := r.Err(); err == nil || err.Error() != want {
		t.Errorf("Err() =\n %v\nwant\n %s", err, want)
	}
}
