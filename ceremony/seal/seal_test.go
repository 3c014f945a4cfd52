package seal

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smallstep/pkcs7"
)

// testPKI is a software root CA and the means to issue audit certificates.
type testPKI struct {
	root *x509.Certificate
	key  crypto.Signer
}

var serial int64 = 1000

func newSerial() *big.Int { serial++; return big.NewInt(serial) }

func mustECDSA(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var rsaKey = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 3072) })

func mustRSA(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := rsaKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustCert(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, key crypto.Signer) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newPKI makes a self-signed P-384 root CA.
func newPKI(t testing.TB, cn string) *testPKI {
	t.Helper()
	key := mustECDSA(t, elliptic.P384())
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          newSerial(),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"Device Co"}},
		NotBefore:             now.Add(-24 * time.Hour),
		NotAfter:              now.Add(20 * 365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	return &testPKI{root: mustCert(t, tmpl, tmpl, key.Public(), key), key: key}
}

// audit issues an audit certificate for key: CA:false, key usage
// digitalSignature only, no EKU, valid from an hour ago for a year; edit may
// change the template.
func (p *testPKI) audit(t testing.TB, key crypto.Signer, edit func(*x509.Certificate)) *x509.Certificate {
	t.Helper()
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          newSerial(),
		Subject:               pkix.Name{CommonName: "Transcript Audit", Organization: []string{"Device Co"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
	}
	if edit != nil {
		edit(tmpl)
	}
	return mustCert(t, tmpl, p.root, key.Public(), p.key)
}

func transcript() []byte {
	var b bytes.Buffer
	for i := range 20 {
		fmt.Fprintf(&b, `{"seq":%d,"event":"step-done","prev":"%064x"}`+"\n", i, i*7919)
	}
	return b.Bytes()
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// opensslVerify runs the auditors' command; a missing openssl fails the test.
func opensslVerify(t *testing.T, sig, content []byte, root *x509.Certificate) error {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatalf("openssl is needed to check seals: %v", err)
	}
	dir := t.TempDir()
	out, err := exec.Command("openssl", "cms", "-verify", "-binary", "-inform", "DER",
		"-in", writeFile(t, dir, "transcript.sig", sig),
		"-content", writeFile(t, dir, "transcript.jsonl", content),
		"-CAfile", writeFile(t, dir, "root-ca.crt.pem", pemCert(root)),
		"-purpose", "any", "-out", "/dev/null").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	return nil
}

// opensslPrint returns openssl's dump of a seal's structure.
func opensslPrint(t *testing.T, sig []byte) string {
	t.Helper()
	out, err := exec.Command("openssl", "cms", "-cmsout", "-print", "-inform", "DER",
		"-in", writeFile(t, t.TempDir(), "transcript.sig", sig)).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl cms -cmsout -print: %v\n%s", err, out)
	}
	return string(out)
}

type keyType struct {
	name    string
	key     func(testing.TB) crypto.Signer
	digest  string
	openssl []string // what `openssl cms -cmsout -print` must show
}

var keyTypes = []keyType{
	{"P-256", func(t testing.TB) crypto.Signer { return mustECDSA(t, elliptic.P256()) }, "SHA-256",
		[]string{"algorithm: sha256 (2.16.840.1.101.3.4.2.1)", "algorithm: ecdsa-with-SHA256 (1.2.840.10045.4.3.2)"}},
	{"P-384", func(t testing.TB) crypto.Signer { return mustECDSA(t, elliptic.P384()) }, "SHA-384",
		[]string{"algorithm: sha384 (2.16.840.1.101.3.4.2.2)", "algorithm: ecdsa-with-SHA384 (1.2.840.10045.4.3.3)"}},
	{"P-521", func(t testing.TB) crypto.Signer { return mustECDSA(t, elliptic.P521()) }, "SHA-512",
		[]string{"algorithm: sha512 (2.16.840.1.101.3.4.2.3)", "algorithm: ecdsa-with-SHA512 (1.2.840.10045.4.3.4)"}},
	{"RSA-3072", func(t testing.TB) crypto.Signer { return mustRSA(t) }, "SHA-256",
		[]string{"algorithm: sha256 (2.16.840.1.101.3.4.2.1)", "algorithm: sha256WithRSAEncryption (1.2.840.113549.1.1.11)"}},
}

func TestSignParseVerify(t *testing.T) {
	p := newPKI(t, "Device Co Root CA")
	content := transcript()
	for _, kt := range keyTypes {
		t.Run(kt.name, func(t *testing.T) {
			key := kt.key(t)
			cert := p.audit(t, key, nil)
			before := time.Now().Truncate(time.Second)
			sig, err := Sign(content, key, cert, []*x509.Certificate{p.root})
			after := time.Now()
			if err != nil {
				t.Fatal(err)
			}
			s, err := Parse(sig)
			if err != nil {
				t.Fatal(err)
			}
			if !s.Signer.Equal(cert) {
				t.Errorf("Signer is %q, want the audit certificate", s.Signer.Subject)
			}
			if len(s.Certificates) != 2 || !s.Certificates[0].Equal(cert) || !s.Certificates[1].Equal(p.root) {
				t.Errorf("the seal carries %d certificates, want the audit certificate then the root", len(s.Certificates))
			}
			if s.Digest != kt.digest {
				t.Errorf("Digest = %q, want %q", s.Digest, kt.digest)
			}
			if s.SigningTime.Before(before) || s.SigningTime.After(after) {
				t.Errorf("SigningTime = %s, want between %s and %s", s.SigningTime, before, after)
			}
			if err := s.Verify(content); err != nil {
				t.Errorf("Verify: %v", err)
			}
			if err := s.VerifyChain(p.root); err != nil {
				t.Errorf("VerifyChain: %v", err)
			}
			if got := s.CertificateBySHA256(strings.ToUpper(Fingerprint(p.root))); got == nil || !got.Equal(p.root) {
				t.Errorf("CertificateBySHA256(root's fingerprint) = %v, want the root", got)
			}
		})
	}
}

func TestOpenSSLInterop(t *testing.T) {
	p := newPKI(t, "Device Co Root CA")
	impostor := newPKI(t, "Device Co Root CA") // same name, other key
	other := newPKI(t, "Other Root CA")
	content := transcript()
	for _, kt := range keyTypes {
		t.Run(kt.name, func(t *testing.T) {
			key := kt.key(t)
			sig, err := Sign(content, key, p.audit(t, key, nil), []*x509.Certificate{p.root})
			if err != nil {
				t.Fatal(err)
			}
			if err := opensslVerify(t, sig, content, p.root); err != nil {
				t.Fatalf("openssl refuses a good seal: %v", err)
			}
			dump := strings.Join(strings.Fields(opensslPrint(t, sig)), " ")
			for _, want := range append(kt.openssl, "object: signingTime (1.2.840.113549.1.9.5)",
				"object: contentType (1.2.840.113549.1.9.3)", "object: messageDigest (1.2.840.113549.1.9.4)",
				"eContent: <ABSENT>", "crls: <ABSENT>", "unsignedAttrs: <ABSENT>") {
				if !strings.Contains(dump, want) {
					t.Errorf("openssl's dump of the seal lacks %q:\n%s", want, dump)
				}
			}
			s, err := Parse(sig)
			if err != nil {
				t.Fatal(err)
			}

			changed := bytes.Clone(content)
			changed[len(changed)/2] ^= 0x01
			if err := opensslVerify(t, sig, changed, p.root); err == nil {
				t.Error("openssl accepts the seal for changed content")
			}
			if err := s.Verify(changed); !errors.Is(err, ErrContentChanged) {
				t.Errorf("Verify(changed content) = %v, want ErrContentChanged", err)
			}
			// One bit of the signature flipped: still a seal, but its
			// signature no longer matches, said in words.
			flipped := bytes.Clone(sig)
			flipped[len(flipped)-3] ^= 0x01
			if fs, err := Parse(flipped); err != nil {
				t.Errorf("Parse(one signature bit flipped) = %v", err)
			} else if err := fs.Verify(content); !errors.Is(err, ErrBadSignature) || strings.Contains(err.Error(), "x509:") || strings.Contains(err.Error(), "crypto/") {
				t.Errorf("Verify(one signature bit flipped) = %v, want ErrBadSignature in words", err)
			}

			for _, wrong := range []*testPKI{other, impostor} {
				if err := opensslVerify(t, sig, content, wrong.root); err == nil {
					t.Errorf("openssl accepts the seal with root %q (not its root)", wrong.root.Subject)
				}
				err := s.VerifyChain(wrong.root)
				if err == nil || !strings.Contains(err.Error(), "pinned root") || !strings.Contains(err.Error(), Fingerprint(wrong.root)) {
					t.Errorf("VerifyChain(another root) = %v, want an error naming the pinned root and its fingerprint", err)
				}
			}
		})
	}
}

// check runs everything a reader of a seal runs and names the step that failed.
func check(der, content []byte, root *x509.Certificate) (string, error) {
	s, err := Parse(der)
	if err != nil {
		return "Parse", err
	}
	if err := s.Verify(content); err != nil {
		return "Verify", err
	}
	return "VerifyChain", s.VerifyChain(root)
}

// TestEveryByteMatters flips each bit 0x01 and 0x80 of every byte of a seal
// (P-256 audit certificate, carrying the P-384 root) in turn: every such seal
// must fail Parse, Verify or VerifyChain. No position is tolerated: every
// byte is either signed by the audit key (signed attributes), signed by the
// root (the audit certificate), compared byte for byte with the pinned root
// (the carried root: VerifyChain requires every carried certificate to be on
// the verified chain), or checked by Parse against the one encoding Sign
// produces (versions, algorithm identifiers, content type, lengths and tags).
func TestEveryByteMatters(t *testing.T) {
	p := newPKI(t, "Device Co Root CA")
	key := mustECDSA(t, elliptic.P256())
	content := []byte(`{"seq":0,"event":"ceremony-started"}` + "\n")
	sig, err := Sign(content, key, p.audit(t, key, nil), []*x509.Certificate{p.root})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := check(sig, content, p.root); err != nil {
		t.Fatalf("the unchanged seal fails: %v", err)
	}
	var tolerated []string
	failed := map[string]int{} // mutations caught, by step
	for _, bit := range []byte{0x01, 0x80} {
		for i := range sig {
			m := bytes.Clone(sig)
			m[i] ^= bit
			step, err := check(m, content, p.root)
			if err == nil {
				tolerated = append(tolerated, fmt.Sprintf("offset %d bit %#02x", i, bit))
				continue
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("offset %d bit %#02x: %s error is not one line: %q", i, bit, step, err)
			}
			failed[step]++
		}
	}
	if len(tolerated) > 0 {
		t.Errorf("%d of %d single-bit changes of a %d-byte seal pass Parse, Verify and VerifyChain: %s",
			len(tolerated), 2*len(sig), len(sig), strings.Join(tolerated, ", "))
	}
	t.Logf("%d-byte seal, %d single-bit changes, caught by %v", len(sig), 2*len(sig), failed)
}

// rawSeal builds a seal with package pkcs7 directly, bypassing Sign's
// checks: SHA-256, one signer per entry of certs (keys[i] signs for certs[i]).
func rawSeal(t *testing.T, content []byte, detach bool, certs []*x509.Certificate, keys []crypto.Signer) []byte {
	t.Helper()
	sd, err := pkcs7.NewSignedData(content)
	if err != nil {
		t.Fatal(err)
	}
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	for i, c := range certs {
		if err := sd.AddSigner(c, keys[i], pkcs7.SignerInfoConfig{}); err != nil {
			t.Fatal(err)
		}
	}
	if detach {
		sd.Detach()
	}
	der, err := sd.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestParseRejects(t *testing.T) {
	p := newPKI(t, "Device Co Root CA")
	key, key2 := mustECDSA(t, elliptic.P256()), mustECDSA(t, elliptic.P256())
	cert, cert2 := p.audit(t, key, nil), p.audit(t, key2, nil)
	content := transcript()
	good, err := Sign(content, key, cert, []*x509.Certificate{p.root})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(rawSeal(t, content, true, []*x509.Certificate{cert}, []crypto.Signer{key})); err != nil {
		t.Fatalf("a plain pkcs7 seal must parse for the cases below to mean anything: %v", err)
	}

	random := make([]byte, 600)
	r := mrand.New(mrand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(r.Uint32())
	}
	// good's outer SEQUENCE has a long-form length 0x82 LL LL.
	if good[0] != 0x30 || good[1] != 0x82 {
		t.Fatalf("seal starts % x, want 30 82", good[:2])
	}
	indefinite := append(append([]byte{0x30, 0x80}, good[4:]...), 0, 0)
	nonMinimal := append([]byte{0x30, 0x83, 0x00, good[2], good[3]}, good[4:]...)
	withoutCert := *cert
	withoutCert.Raw = p.root.Raw // the signer info names cert; the seal carries the root only

	for _, tc := range []struct {
		name string
		der  []byte
		want string
	}{
		{"empty", nil, "the seal is empty"},
		{"PEM", pem.EncodeToMemory(&pem.Block{Type: "CMS", Bytes: good}), "PEM given, expected DER"},
		{"random bytes", random, "not a CMS signature this tool can read: it is damaged, or not a seal ("},
		{"truncated", good[:100], "not a CMS signature this tool can read: it is damaged, or not a seal (asn1: data truncated)"},
		{"length too large", append([]byte{0x30, 0x84, 0x7f, 0xff, 0xff, 0xff}, good[4:]...), "not a CMS signature this tool can read: it is damaged, or not a seal ("},
		{"trailing garbage", append(bytes.Clone(good), 0x00, 0x01), "2 bytes of trailing data"},
		{"BER indefinite length", indefinite, "not a CMS signature this tool can read"},
		{"BER non-minimal length", nonMinimal, "not a CMS signature this tool can read"},
		{"not detached", rawSeal(t, content, false, []*x509.Certificate{cert}, []crypto.Signer{key}), "embeds its content"},
		{"two signers", rawSeal(t, content, true, []*x509.Certificate{cert, cert2}, []crypto.Signer{key, key2}), "2 signers"},
		{"signer certificate missing", rawSeal(t, content, true, []*x509.Certificate{&withoutCert}, []crypto.Signer{key}), "does not carry the certificate of its signer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse(tc.der)
			if err == nil {
				t.Fatalf("Parse accepts it (signed by %q)", s.Signer.Subject)
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("Parse: %q, want one line containing %q", err, tc.want)
			}
			// The decoder's text, if any, only as a cause at the end.
			if msg := err.Error(); strings.Contains(msg, "error:") || strings.HasPrefix(msg, "asn1") || strings.HasPrefix(msg, "pkcs7") {
				t.Errorf("Parse: %q: a decoder's text without a sentence first", msg)
			}
		})
	}
}

func TestSignRefuses(t *testing.T) {
	p := newPKI(t, "Device Co Root CA")
	key := mustECDSA(t, elliptic.P256())
	content := transcript()
	for _, tc := range []struct {
		name string
		key  crypto.Signer
		cert *x509.Certificate
		want string
	}{
		{"key of another certificate", mustECDSA(t, elliptic.P256()), p.audit(t, key, nil), "does not belong to certificate"},
		{"expired certificate", key, p.audit(t, key, func(c *x509.Certificate) {
			c.NotBefore, c.NotAfter = time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour)
		}), "outside the validity"},
		{"P-224 key", nil, nil, "unsupported elliptic curve P-224"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.key == nil {
				tc.key = mustECDSA(t, elliptic.P224())
				tc.cert = p.audit(t, tc.key, nil)
			}
			sig, err := Sign(content, tc.key, tc.cert, []*x509.Certificate{p.root})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Sign = %d bytes, %v; want an error containing %q", len(sig), err, tc.want)
			}
		})
	}
}

func TestVerifyChainRefuses(t *testing.T) {
	p := newPKI(t, "Device Co Root CA")
	stranger := newPKI(t, "Stranger CA")
	key := mustECDSA(t, elliptic.P256())
	content := transcript()
	day := 24 * time.Hour
	signed := func(edit func(*x509.Certificate), extra ...*x509.Certificate) []byte {
		sig, err := Sign(content, key, p.audit(t, key, edit), append([]*x509.Certificate{p.root}, extra...))
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	// Sign refuses a certificate not valid now, so these are built directly.
	raw := func(edit func(*x509.Certificate)) []byte {
		return rawSeal(t, content, true, []*x509.Certificate{p.audit(t, key, edit)}, []crypto.Signer{key})
	}
	for _, tc := range []struct {
		name string
		sig  []byte
		want string
	}{
		{"CA signer", signed(func(c *x509.Certificate) {
			c.IsCA, c.KeyUsage = true, x509.KeyUsageDigitalSignature|x509.KeyUsageCertSign
		}), "a CA certificate"},
		{"no digitalSignature", signed(func(c *x509.Certificate) {
			c.KeyUsage = x509.KeyUsageContentCommitment
		}), "does not include digitalSignature"},
		{"no key usage", signed(func(c *x509.Certificate) { c.KeyUsage = 0 }), "does not include digitalSignature"},
		{"signed after the certificate expired", raw(func(c *x509.Certificate) {
			c.NotBefore, c.NotAfter = time.Now().Add(-2*day), time.Now().Add(-day)
		}), "outside the validity"},
		{"signed before the certificate was valid", raw(func(c *x509.Certificate) {
			c.NotBefore, c.NotAfter = time.Now().Add(day), time.Now().Add(2*day)
		}), "outside the validity"},
		{"carries a certificate off the chain", signed(nil, stranger.root), `not on its chain to the pinned root: "CN=Stranger CA`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse(tc.sig)
			if err != nil {
				t.Fatal(err)
			}
			err = s.VerifyChain(p.root)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("VerifyChain = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestFingerprints(t *testing.T) {
	p := newPKI(t, "Device Co Root CA")
	fp := Fingerprint(p.root)
	out, err := exec.Command("openssl", "x509", "-noout", "-fingerprint", "-sha256",
		"-in", writeFile(t, t.TempDir(), "root.pem", pemCert(p.root))).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl x509 -fingerprint: %v\n%s", err, out)
	}
	opensslForm := strings.TrimSpace(string(out[strings.IndexByte(string(out), '=')+1:]))
	// The whole line openssl prints ("sha256 Fingerprint=AB:CD:...") too.
	for _, in := range []string{fp, strings.ToUpper(fp), opensslForm, " " + strings.ToLower(opensslForm) + " ",
		strings.ReplaceAll(opensslForm, ":", " "), strings.TrimSpace(string(out))} {
		if got, err := NormalizeFingerprint(in); err != nil || got != fp {
			t.Errorf("NormalizeFingerprint(%q) = %q, %v; want %q", in, got, err, fp)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"", "has 0 hex digits, expected 64"},
		{fp[:63], "has 63 hex digits, expected 64"},
		{fp + "0", "has 65 hex digits, expected 64"},
		{fp[:10] + "g" + fp[11:], `contains 'g', which is not a hex digit`},
		{fp[:10] + "\n" + fp[11:], `contains '\n', which is not a hex digit`},
		{strings.Repeat("ab", 50000), "has 100000 hex digits, expected 64"},
		{"sha1 Fingerprint=" + opensslForm[:59], `a "sha1" fingerprint; give the SHA-256 one`},
	} {
		_, err := NormalizeFingerprint(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) || len(err.Error()) > 100 {
			t.Errorf("NormalizeFingerprint(%.20q...) = %v, want a short error containing %q", tc.in, err, tc.want)
		}
	}

	key := mustECDSA(t, elliptic.P256())
	cert := p.audit(t, key, nil)
	sig, err := Sign(transcript(), key, cert, []*x509.Certificate{p.root})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse(sig)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.CertificateBySHA256(opensslForm); got == nil || !got.Equal(p.root) {
		t.Errorf("CertificateBySHA256(openssl's root fingerprint) = %v, want the root", got)
	}
	if got := s.CertificateBySHA256(Fingerprint(cert)); got == nil || !got.Equal(cert) {
		t.Errorf("CertificateBySHA256(audit fingerprint) = %v, want the audit certificate", got)
	}
	if got := s.CertificateBySHA256(Fingerprint(newPKI(t, "Other").root)); got != nil {
		t.Errorf("CertificateBySHA256(a fingerprint not carried) = %q, want nil", got.Subject)
	}
	if got := s.CertificateBySHA256(fp[:40]); got != nil {
		t.Errorf("CertificateBySHA256(a truncated fingerprint) = %q, want nil", got.Subject)
	}
}

func BenchmarkSignP384(b *testing.B) {
	p := newPKI(b, "Device Co Root CA")
	key := mustECDSA(b, elliptic.P384())
	cert := p.audit(b, key, nil)
	content := bytes.Repeat([]byte(`{"seq":1,"event":"x"}`+"\n"), 64*1024/22+1)[:64*1024]
	chain := []*x509.Certificate{p.root}
	b.SetBytes(int64(len(content)))
	for b.Loop() {
		if _, err := Sign(content, key, cert, chain); err != nil {
			b.Fatal(err)
		}
	}
}
