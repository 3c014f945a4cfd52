package cli

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devicepki/ceremony/ceremony/keys"
	"github.com/devicepki/ceremony/internal/softhsmtest"
)

func TestParseSubject(t *testing.T) {
	good := []struct {
		in, str string
		attrs   []csrSubjectAttr
	}{
		{in: "/CN=Factory", str: "/CN=Factory", attrs: []csrSubjectAttr{{"CN", "Factory"}}},
		{
			in:    "/C=DE/O=Example Devices GmbH/CN=Example Factory Berlin Issuing CA",
			str:   "/C=DE/O=Example Devices GmbH/CN=Example Factory Berlin Issuing CA",
			attrs: []csrSubjectAttr{{"C", "DE"}, {"O", "Example Devices GmbH"}, {"CN", "Example Factory Berlin Issuing CA"}},
		},
		// The order given is kept.
		{in: "/CN=Line 1/OU=Berlin/C=DE", str: "/CN=Line 1/OU=Berlin/C=DE", attrs: []csrSubjectAttr{{"CN", "Line 1"}, {"OU", "Berlin"}, {"C", "DE"}}},
		{in: `/O=A\/B \\ C/CN=x=y`, str: `/O=A\/B \\ C/CN=x=y`, attrs: []csrSubjectAttr{{"O", `A/B \ C`}, {"CN", "x=y"}}},
		{in: "/ST=Bayern/L=München/CN=Werk 2", str: "/ST=Bayern/L=München/CN=Werk 2", attrs: []csrSubjectAttr{{"ST", "Bayern"}, {"L", "München"}, {"CN", "Werk 2"}}},
		{in: "/CN=" + strings.Repeat("x", 64), str: "/CN=" + strings.Repeat("x", 64), attrs: []csrSubjectAttr{{"CN", strings.Repeat("x", 64)}}},
	}
	for _, c := range good {
		s, err := parseCSRSubject(c.in)
		if err != nil {
			t.Errorf("parseCSRSubject(%q): %v", c.in, err)
			continue
		}
		if s.String() != c.str {
			t.Errorf("parseCSRSubject(%q).String() = %q, want %q", c.in, s.String(), c.str)
		}
		if len(s.attrs) != len(c.attrs) {
			t.Errorf("parseCSRSubject(%q) = %q, want %q", c.in, s.attrs, c.attrs)
			continue
		}
		for i := range s.attrs {
			if s.attrs[i] != c.attrs[i] {
				t.Errorf("parseCSRSubject(%q) = %q, want %q", c.in, s.attrs, c.attrs)
			}
		}
		// The String form parses back to the same subject.
		if again, err := parseCSRSubject(s.String()); err != nil || again.String() != s.String() {
			t.Errorf("parseCSRSubject(%q) does not round-trip: %v", c.in, err)
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
		_, err := parseCSRSubject(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseCSRSubject(%q) = %v, want an error containing %q", in, err, want)
		}
	}
}

func TestSubjectDER(t *testing.T) {
	s, err := parseCSRSubject("/C=DE/L=München/O=Example Devices GmbH/CN=Example Factory Berlin Issuing CA")
	if err != nil {
		t.Fatal(err)
	}
	der, err := s.der()
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
		if want := csrSubjectTypes[s.attrs[i].typ].oid; !set[0].Type.Equal(want) {
			t.Errorf("RDN %d: type %v, want %v", i, set[0].Type, want)
		}
		if set[0].Value.Tag != tags[i] || string(set[0].Value.Bytes) != s.attrs[i].value {
			t.Errorf("RDN %d: tag %d value %q", i, set[0].Value.Tag, set[0].Value.Bytes)
		}
	}
}

// csrEnv is a fresh SoftHSM2 token "demo" with its PIN in a file, an HSM
// config, and a directory for CSRs.
type csrEnv struct {
	tk      *softhsmtest.Token
	dir     string
	config  string
	pinFile string
}

func newCSREnv(t *testing.T) *csrEnv {
	t.Helper()
	h := softhsmtest.New(t)
	tk := h.InitToken(t, "demo")
	dir := t.TempDir()
	e := &csrEnv{tk: tk, dir: dir, config: filepath.Join(dir, "hsm.yaml"), pinFile: filepath.Join(dir, "user.pin")}
	if err := os.WriteFile(e.config, []byte("module: "+h.Module+"\ntoken:\n  label: demo\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.pinFile, []byte(tk.PIN+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

// run runs ceremony csr with the env's config and PIN file and args, and
// checks that no output holds the PIN.
func (e *csrEnv) run(t *testing.T, ctx context.Context, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(ctx, append([]string{"csr", "--config", e.config, "--pin-file", e.pinFile}, args...), "test", &out, &errb)
	if strings.Contains(out.String()+errb.String(), e.tk.PIN) {
		t.Fatalf("the PIN is in the output")
	}
	return code, out.String(), errb.String()
}

func readCSR(t *testing.T, path string) *x509.CertificateRequest {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, rest := pem.Decode(data)
	if b == nil || b.Type != "CERTIFICATE REQUEST" || len(b.Headers) != 0 || len(rest) != 0 {
		t.Fatalf("%s: not one plain CERTIFICATE REQUEST PEM block", path)
	}
	csr, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := csr.CheckSignature(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return csr
}

func TestCSREveryAlgorithm(t *testing.T) {
	e := newCSREnv(t)
	want := map[keys.Algorithm]x509.SignatureAlgorithm{
		keys.ECDSAP256: x509.ECDSAWithSHA256,
		keys.ECDSAP384: x509.ECDSAWithSHA384,
		keys.ECDSAP521: x509.ECDSAWithSHA512,
		keys.RSA3072:   x509.SHA256WithRSA,
	}
	for alg, sigAlg := range want {
		label := "key-" + string(alg)
		out := filepath.Join(e.dir, label+".csr.pem")
		code, stdout, stderr := e.run(t, context.Background(), "--label", label, "--generate", string(alg), "--subject", "/O=Example Devices GmbH/CN="+label, "--out", out)
		if code != ExitOK || stderr != "" {
			t.Fatalf("%s: exit %d: %s", alg, code, stderr)
		}
		csr := readCSR(t, out)
		if csr.SignatureAlgorithm != sigAlg {
			t.Errorf("%s: signed with %s, want %s", alg, csr.SignatureAlgorithm, sigAlg)
		}
		if csr.Subject.CommonName != label || len(csr.Subject.Organization) != 1 || csr.Subject.Organization[0] != "Example Devices GmbH" {
			t.Errorf("%s: subject %s", alg, csr.Subject)
		}
		// The public key is the one pkcs11-tool reads from the token.
		if alg.IsECDSA() {
			point := ""
			for _, o := range e.tk.Objects(t) {
				if o.Class == "Public Key" && o.Label == label {
					point = o.ECPoint
				}
			}
			if point == "" || point != softhsmtest.ECPointHex(t, csr.PublicKey) {
				t.Errorf("%s: the CSR's key is not the token's (EC point %q)", alg, point)
			}
		} else {
			der, _ := x509.MarshalPKIXPublicKey(csr.PublicKey)
			if !bytes.Equal(e.tk.ReadObject(t, "pubkey", label), der) {
				t.Errorf("%s: the CSR's key is not the token's", alg)
			}
		}
		fp, _ := keys.Fingerprint(csr.PublicKey)
		if !strings.Contains(stdout, "  public key: sha256 "+fp+"\n") || !strings.Contains(stdout, string(alg)) {
			t.Errorf("%s: output does not name the key's fingerprint %s:\n%s", alg, fp, stdout)
		}
	}
	if n := len(e.tk.Objects(t)); n != 2*len(want) {
		t.Fatalf("token holds %d objects, want %d", n, 2*len(want))
	}
}

// A failure after --generate made a key pair destroys it again; a key pair
// that was there before is left alone.
func TestCSRFailureAfterGenerateDestroysKey(t *testing.T) {
	e := newCSREnv(t)
	t.Cleanup(func() { writeCSR = writeCSRDefault })
	writeCSR = func(path string, data []byte, perm fs.FileMode) error {
		return errors.New(path + ": disk full")
	}
	out := filepath.Join(e.dir, "x.csr.pem")
	code, stdout, stderr := e.run(t, context.Background(), "--label", "factory", "--generate", "ecdsa-p256", "--subject", "/CN=Factory", "--out", out)
	if code != ExitFailure || stdout != "" || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if want := `ceremony: csr: write CSR: ` + out + `: disk full (the key pair "factory" generated for this CSR was destroyed again; nothing was changed)` + "\n"; stderr != want {
		t.Fatalf("stderr %q, want %q", stderr, want)
	}
	if objs := e.tk.Objects(t); len(objs) != 0 {
		t.Fatalf("token holds %+v after the failure", objs)
	}

	// An existing key pair is not destroyed by a failure.
	writeCSR = writeCSRDefault
	if code, _, stderr := e.run(t, context.Background(), "--label", "factory", "--generate", "ecdsa-p256", "--subject", "/CN=Factory", "--out", out); code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	writeCSR = func(string, []byte, fs.FileMode) error { return errors.New("disk full") }
	code, _, stderr = e.run(t, context.Background(), "--label", "factory", "--subject", "/CN=Factory", "--out", filepath.Join(e.dir, "y.csr.pem"))
	if code != ExitFailure || strings.Contains(stderr, "destroyed") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if objs := e.tk.Objects(t); len(objs) != 2 {
		t.Fatalf("token holds %+v, want the key pair", objs)
	}
}

// An interrupt before the HSM is opened changes nothing.
func TestCSRInterrupted(t *testing.T) {
	e := newCSREnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := filepath.Join(e.dir, "x.csr.pem")
	code, _, stderr := e.run(t, ctx, "--label", "factory", "--generate", "ecdsa-p256", "--subject", "/CN=Factory", "--out", out)
	if code != ExitFailure || !strings.Contains(stderr, "interrupted") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if objs := e.tk.Objects(t); len(objs) != 0 {
		t.Fatalf("token holds %+v", objs)
	}
	if _, err := os.Lstat(out); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("%s: %v", out, err)
	}
}

var writeCSRDefault = writeCSR
