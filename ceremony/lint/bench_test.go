package lint

import (
	"crypto/elliptic"
	"testing"
)

// BenchmarkCertificate measures linting an intermediate CA certificate in
// steady state: the first call (lint registration happens at init; this
// warms zlint's lazily built tables and the configuration) is outside the
// loop.
func BenchmarkCertificate(b *testing.B) {
	root, _ := newRoot(b)
	der := create(b, intermediateTemplate(), newKey(b, elliptic.P384()).Public(), root)
	exclude := []string{
		"e_invalid_ca_certificate_policies",
		"e_sub_ca_certificate_policies_missing",
		"e_sub_ca_crl_distribution_points_missing",
		"w_sub_ca_aia_missing",
	}
	if r, err := Certificate(der, exclude); err != nil || r.Err() != nil {
		b.Fatal(err, r.Err())
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Certificate(der, exclude); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRevocationList measures linting a root CRL with one entry.
func BenchmarkRevocationList(b *testing.B) {
	root, _ := newRoot(b)
	der := createCRL(b, crlTemplate(), root)
	if r, err := RevocationList(der, nil); err != nil || r.Err() != nil {
		b.Fatal(err, r.Err())
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := RevocationList(der, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRegistry measures building the filtered, configured registry
// that every call builds afresh.
func BenchmarkRegistry(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := registry([]string{"w_sub_ca_aia_missing"}); err != nil {
			b.Fatal(err)
		}
	}
}
