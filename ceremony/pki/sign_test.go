package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"

	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// shippedProfile loads a template shipped in templates/.
func shippedProfile(t *testing.T, name string) *Profile {
	t.Helper()
	p, err := Load(filepath.Join("..", "..", "templates", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// csrSubject encodes a subject as a CSR would carry it.
func csrSubject(t *testing.T, rdns pkix.RDNSequence) []byte {
	t.Helper()
	der, err := asn1.Marshal(rdns)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func atv(oid []int, v string) pkix.AttributeTypeAndValue {
	return pkix.AttributeTypeAndValue{Type: oid, Value: v}
}

var (
	oidC  = []int{2, 5, 4, 6}
	oidO  = []int{2, 5, 4, 10}
	oidOU = []int{2, 5, 4, 11}
	oidCN = []int{2, 5, 4, 3}
	oidE  = []int{1, 2, 840, 113549, 1, 9, 1}
)

func TestSubjectFromCSR(t *testing.T) {
	p := shippedProfile(t, "intermediate-factory")
	cn := "Example Devices Factory Berlin Issuing CA"
	got, err := p.SubjectFromCSR(csrSubject(t, pkix.RDNSequence{{atv(oidCN, cn)}}))
	if err != nil {
		t.Fatal(err)
	}
	if want := "CN=" + cn + ",O=Example Devices GmbH,C=DE"; got.String() != want {
		t.Fatalf("subject %q, want %q", got, want)
	}
	// The fixed attributes may be repeated with the template's values.
	if _, err := p.SubjectFromCSR(csrSubject(t, pkix.RDNSequence{{atv(oidC, "DE")}, {atv(oidO, "Example Devices GmbH")}, {atv(oidCN, cn)}})); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		rdns pkix.RDNSequence
		want string
	}{
		{"no common name", pkix.RDNSequence{{atv(oidO, "Example Devices GmbH")}}, "the subject has no common_name; template intermediate-factory requires one matching"},
		{"common name off pattern", pkix.RDNSequence{{atv(oidCN, "Evil Root CA")}}, `subject common_name "Evil Root CA" does not match template intermediate-factory's pattern`},
		{"pattern anchored", pkix.RDNSequence{{atv(oidCN, cn+" and more")}}, "does not match"},
		{"other organization", pkix.RDNSequence{{atv(oidO, "Other GmbH")}, {atv(oidCN, cn)}}, `subject organization "Other GmbH" differs from template intermediate-factory's "Example Devices GmbH"`},
		{"extra OU", pkix.RDNSequence{{atv(oidOU, "Line 1")}, {atv(oidCN, cn)}}, `subject organizational_unit "Line 1" is not permitted by template intermediate-factory`},
		{"e-mail attribute", pkix.RDNSequence{{atv(oidE, "a@example.com")}, {atv(oidCN, cn)}}, "subject attribute 1.2.840.113549.1.9.1 is not permitted"},
		{"common name twice", pkix.RDNSequence{{atv(oidCN, cn)}, {atv(oidCN, cn)}}, "subject common_name appears twice"},
		{"multi-valued RDN", pkix.RDNSequence{{atv(oidO, "Example Devices GmbH"), atv(oidCN, cn)}}, "multi-valued RDN"},
		{"control character", pkix.RDNSequence{{atv(oidCN, "Example Devices Factory Berlin\nIssuing CA")}}, "non-printable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.SubjectFromCSR(csrSubject(t, tc.rdns))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := p.SubjectFromCSR([]byte{0x30, 0x03, 0x01}); err == nil {
		t.Fatal("garbage subject accepted")
	}
}

func TestSubjectFromValues(t *testing.T) {
	p := shippedProfile(t, "verification")
	code := strings.Repeat("a1", 32)
	got, err := p.SubjectFromValues(map[string]string{"common_name": code})
	if err != nil || got.CommonName != code || got.Organization[0] != "Example Devices GmbH" {
		t.Fatalf("subject %v, %v", got, err)
	}
	for _, v := range []map[string]string{{}, {"common_name": "not hex!"}, {"common_name": code, "organization": "X"}} {
		if _, err := p.SubjectFromValues(v); err == nil {
			t.Errorf("%v accepted", v)
		}
	}
}

func TestTemplateKindRules(t *testing.T) {
	read := func(name string) string {
		data, err := os.ReadFile(filepath.Join("..", "..", "templates", name+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	for _, tc := range []struct {
		template, old, new, want string
	}{
		{"intermediate-factory", "  max_path_len: 0\n", "", "basic_constraints.max_path_len: required for a intermediate-ca profile"},
		{"intermediate-factory", "  common_name: 'Example", "  common_name: '(", "requested_subject.common_name: pattern"},
		{"intermediate-factory", "requested_subject:\n", "requested_subject:\n  organization: 'X'\n", "subject.organization is fixed by the template"},
		{"intermediate-factory", "csr_extensions: ignore", "csr_extensions: copy", `csr_extensions: "copy": ignore`},
		{"intermediate-factory", "  allowed: [", "  algorithm: ecdsa-p256\n  allowed: [", "key: give algorithm"},
		{"intermediate-factory", "rsa-3072", "rsa-2048", `unsupported key algorithm "rsa-2048"`},
		{"firmware-signing", "extended_key_usage: [codeSigning]", "extended_key_usage: [codeSigning, serverAuth]", "a firmware-signing profile has exactly [codeSigning]"},
		{"firmware-signing", "  ca: false", "  ca: true", "basic_constraints.ca: must be false"},
		{"intermediate-server", "      reason: >", "      reason: ''\n      x: >", "unknown field"},
		{"intermediate-server", "    - lint: e_invalid_ca_certificate_policies", "    - lint: E_Invalid", "is not a zlint lint name"},
		{"verification", "  duration: 7d", "  duration: 2y", "validity"},
	} {
		data := read(tc.template)
		if !strings.Contains(data, tc.old) {
			t.Fatalf("%s has no %q", tc.template, tc.old)
		}
		_, err := Parse(tc.template+".yaml", []byte(strings.Replace(data, tc.old, tc.new, 1)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %q -> %q: error = %v, want %q", tc.template, tc.old, tc.new, err, tc.want)
		}
	}
}

// newRoot makes a software root CA of the shipped root template.
func newRoot(t *testing.T) (*Issued, *ecdsa.PrivateKey) {
	t.Helper()
	p := shippedProfile(t, "root-ca")
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	v, err := p.Validity.Resolve(time.Now().Truncate(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDraft(p, v, big.NewInt(1), nil, key.Public(), nil, key.Public())
	if err != nil {
		t.Fatal(err)
	}
	// The lint preview of a self-signed certificate is self-signed by the
	// throwaway key, so linters see a root.
	lc, err := x509.ParseCertificate(d.LintDER)
	if err != nil || lc.CheckSignatureFrom(lc) != nil || lc.Subject.String() != d.Preview.Subject.String() {
		t.Fatalf("lint preview of a root is not self-signed: %v", err)
	}
	root, err := d.Sign(key)
	if err != nil {
		t.Fatal(err)
	}
	return root, key
}

// tamperingSigner signs whatever it is given, but Sign swaps the digest for
// that of other content: the TBS check must notice.
type tamperingSigner struct {
	*ecdsa.PrivateKey
	digest []byte
}

func (s tamperingSigner) Sign(r io.Reader, _ []byte, o crypto.SignerOpts) ([]byte, error) {
	return s.PrivateKey.Sign(r, s.digest, o)
}

func TestDraftSignsWhatWasLinted(t *testing.T) {
	root, rootKey := newRoot(t)
	p := shippedProfile(t, "intermediate-factory")
	sub, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	subj, err := p.SubjectFromValues(map[string]string{"common_name": "Example Devices Factory Berlin Issuing CA"})
	if err != nil {
		t.Fatal(err)
	}
	v, _ := p.Validity.Resolve(time.Now().Truncate(time.Second))
	v = p.Validity.ClampToIssuer(v, root.Cert.NotAfter)
	d, err := NewDraft(p, v, big.NewInt(77), &subj, sub.Public(), root.Cert, rootKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	// The preview carries the issuer's name and key identifier but not a
	// valid signature by the root.
	if d.Preview.CheckSignatureFrom(root.Cert) == nil {
		t.Fatal("preview verifies with the root: it was signed by the root key")
	}
	if string(d.Preview.RawIssuer) != string(root.Cert.RawSubject) || string(d.Preview.AuthorityKeyId) != string(root.Cert.SubjectKeyId) {
		t.Fatal("preview's issuer differs from the root")
	}
	iss, err := d.Sign(rootKey)
	if err != nil {
		t.Fatal(err)
	}
	if string(iss.Cert.RawTBSCertificate) != string(d.TBS) || iss.Cert.CheckSignatureFrom(root.Cert) != nil {
		t.Fatal("signed certificate differs from the draft")
	}
	if !iss.Cert.IsCA || !iss.Cert.MaxPathLenZero || iss.Cert.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
		t.Fatal("signed certificate does not follow the template")
	}
	// A signer that signs other content is caught.
	other, err := NewDraft(p, v, big.NewInt(78), &subj, sub.Public(), root.Cert, rootKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Sign(rootKey); err != nil {
		t.Fatal(err)
	}
	sum := sha256Sum(other.TBS)
	if _, err := d.Sign(tamperingSigner{rootKey, sum}); err == nil {
		t.Fatal("a signature over other content was accepted")
	}
	// A different key than the draft's issuer key is refused.
	wrong, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if _, err := d.Sign(wrong); err == nil {
		t.Fatal("signed by a key that is not the issuer's")
	}
	// Keys the template does not allow.
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if _, err := NewDraft(p, v, big.NewInt(79), &subj, p224.Public(), root.Cert, rootKey.Public()); err == nil {
		t.Fatal("P-224 key accepted")
	}
}

func TestCRLDraft(t *testing.T) {
	root, rootKey := newRoot(t)
	p, err := LoadCRL(filepath.Join("..", "..", "templates", "crl.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	entries := []x509.RevocationListEntry{{SerialNumber: big.NewInt(42), RevocationTime: now, ReasonCode: Reasons["key-compromise"]}}
	d, err := NewCRLDraft(p, root.Cert, rootKey.Public(), big.NewInt(3), now, entries)
	if err != nil {
		t.Fatal(err)
	}
	crl, err := d.Sign(rootKey)
	if err != nil {
		t.Fatal(err)
	}
	if crl.CRL.Number.Int64() != 3 || crl.CRL.CheckSignatureFrom(root.Cert) != nil || len(crl.CRL.RevokedCertificateEntries) != 1 ||
		crl.CRL.RevokedCertificateEntries[0].ReasonCode != 1 || !crl.CRL.NextUpdate.Equal(now.Add(180*24*time.Hour).UTC()) {
		t.Fatalf("CRL %+v", crl.CRL)
	}
	for _, tc := range []struct {
		name    string
		number  *big.Int
		at      time.Time
		entries []x509.RevocationListEntry
		want    string
	}{
		{"number zero", big.NewInt(0), now, nil, "CRL number must be positive"},
		{"next update after the root", big.NewInt(4), root.Cert.NotAfter.Add(-24 * time.Hour), nil, "is after issuer"},
		{"before the root", big.NewInt(4), root.Cert.NotBefore.Add(-time.Hour), nil, "is before issuer"},
		{"serial twice", big.NewInt(4), now, append(entries, entries[0]), "listed twice"},
	} {
		if _, err := NewCRLDraft(p, root.Cert, rootKey.Public(), tc.number, tc.at, tc.entries); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error = %v, want %q", tc.name, err, tc.want)
		}
	}
	other, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if _, err := NewCRLDraft(p, root.Cert, other.Public(), big.NewInt(4), now, nil); err == nil {
		t.Fatal("issuer certificate of another key accepted")
	}
	if _, err := d.Sign(other); err == nil {
		t.Fatal("CRL signed by another key accepted")
	}
}

func TestLoadCRLRejects(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ yaml, want string }{
		{"profile: root-ca\nsignature_algorithm: ecdsa-with-SHA384\nnext_update: 30d\n", `must be "crl"`},
		{"profile: crl\nsignature_algorithm: ecdsa-with-SHA384\nnext_update: 2y\n", "give a duration in days or hours"},
		{"profile: crl\nsignature_algorithm: ecdsa-with-SHA384\nnext_update: 400d\n", "more than 366 days"},
		{"profile: crl\nsignature_algorithm: md5\nnext_update: 30d\n", "unknown signature algorithm"},
		{"profile: crl\nsignature_algorithm: ecdsa-with-SHA384\nnext_update: 30d\nlint: {exclude: [{lint: e_x}]}\n", "reason: required"},
	} {
		path := filepath.Join(dir, "crl.yaml")
		if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadCRL(path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error = %v, want %q", tc.yaml, err, tc.want)
		}
	}
}

func sha256Sum(b []byte) []byte {
	h := crypto.SHA384.New() // the root is P-384 with ecdsa-with-SHA384
	h.Write(b)
	return h.Sum(nil)
}
