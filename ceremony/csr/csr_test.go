package csr

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha1" // for crypto.SHA1, to forge a SHA-1 request
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/devicepki/ceremony/ceremony/durable"
	"github.com/devicepki/ceremony/ceremony/keys"
)

// templateAllows is what a typical intermediate-CA template permits.
var templateAllows = []keys.Algorithm{keys.ECDSAP256, keys.ECDSAP384, keys.RSA3072}

const allowedText = "the template allows ECDSA P-256, ECDSA P-384, RSA 3072-bit"

// Keys are costly to generate (RSA-3072 especially): each kind is made
// once per test binary and shared.
var (
	rsaOnce    sync.Once
	rsa3072    []*rsa.PrivateKey
	rsaKeysErr error
)

// rsa3072Keys returns three RSA-3072 keys, generated concurrently.
func rsa3072Keys(tb testing.TB) []*rsa.PrivateKey {
	tb.Helper()
	rsaOnce.Do(func() {
		rsa3072 = make([]*rsa.PrivateKey, 3)
		errs := make([]error, len(rsa3072))
		var wg sync.WaitGroup
		for i := range rsa3072 {
			wg.Go(func() { rsa3072[i], errs[i] = rsa.GenerateKey(rand.Reader, 3072) })
		}
		wg.Wait()
		rsaKeysErr = errors.Join(errs...)
	})
	if rsaKeysErr != nil {
		tb.Fatal(rsaKeysErr)
	}
	return rsa3072
}

func ecKey(tb testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	tb.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func rsaKey(tb testing.TB, bits int) *rsa.PrivateKey {
	tb.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// makeCSR returns the DER of a request for common name cn signed by key.
func makeCSR(tb testing.TB, key crypto.Signer, cn string) []byte {
	tb.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{Organization: []string{"Device PKI"}, CommonName: cn},
	}, key)
	if err != nil {
		tb.Fatal(err)
	}
	return der
}

func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// rawRequest is a CertificationRequest (RFC 2986) taken apart, to forge
// requests Go would not make.
type rawRequest struct {
	TBS    asn1.RawValue
	SigAlg pkix.AlgorithmIdentifier
	Sig    asn1.BitString
}

// resign replaces the to-be-signed part of der by tbs (after edit) and signs
// it again with key, using ECDSA with hash h under algorithm oid.
func resign(t *testing.T, der []byte, key *ecdsa.PrivateKey, h crypto.Hash, oid asn1.ObjectIdentifier, edit func(tbs []byte) []byte) []byte {
	t.Helper()
	var r rawRequest
	if rest, err := asn1.Unmarshal(der, &r); err != nil || len(rest) > 0 {
		t.Fatalf("take request apart: %v", err)
	}
	tbs := edit(bytes.Clone(r.TBS.FullBytes))
	hh := h.New()
	hh.Write(tbs)
	sig, err := ecdsa.SignASN1(rand.Reader, key, hh.Sum(nil))
	if err != nil {
		t.Fatal(err)
	}
	out, err := asn1.Marshal(rawRequest{
		TBS:    asn1.RawValue{FullBytes: tbs},
		SigAlg: pkix.AlgorithmIdentifier{Algorithm: oid},
		Sig:    asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func selfSignedCert(t *testing.T, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "not a request"},
		NotBefore:    time.Now(),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// checkOneLine fails unless err is a single line starting with "name: ".
func checkOneLine(t *testing.T, name string, err error) {
	t.Helper()
	msg := err.Error()
	if strings.ContainsAny(msg, "\r\n") {
		t.Errorf("error is not one line: %q", msg)
	}
	if !strings.HasPrefix(msg, name+": ") {
		t.Errorf("error %q does not start with the file name %q", msg, name)
	}
}

func TestParseAcceptsGoodRequests(t *testing.T) {
	p256 := ecKey(t, elliptic.P256())
	p384 := ecKey(t, elliptic.P384())
	r3072 := rsa3072Keys(t)[0]
	for _, k := range []struct {
		name string
		key  crypto.Signer
		alg  keys.Algorithm
	}{
		{"P-256", p256, keys.ECDSAP256},
		{"P-384", p384, keys.ECDSAP384},
		{"RSA-3072", r3072, keys.RSA3072},
	} {
		der := makeCSR(t, k.key, "factory-line-1")
		pemCSR := pemOf("CERTIFICATE REQUEST", der)
		for _, form := range []struct {
			name string
			data []byte
		}{
			{"PEM", pemCSR},
			{"NEW CERTIFICATE REQUEST", pemOf("NEW CERTIFICATE REQUEST", der)},
			{"DER", der},
			{"CRLF and blank lines", append([]byte("\r\n\r\n"), bytes.ReplaceAll(pemCSR, []byte("\n"), []byte("\r\n"))...)},
			{"UTF-8 BOM", append([]byte("\xef\xbb\xbf"), pemCSR...)},
		} {
			t.Run(k.name+"/"+form.name, func(t *testing.T) {
				data := bytes.Clone(form.data)
				r, err := Parse("line1.csr", data)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(r.DER, der) {
					t.Fatal("DER differs from the request's")
				}
				sum := sha256.Sum256(der)
				if r.SHA256 != hex.EncodeToString(sum[:]) || r.Path != "line1.csr" {
					t.Fatalf("SHA256 %q, Path %q", r.SHA256, r.Path)
				}
				if r.CSR.Subject.CommonName != "factory-line-1" {
					t.Fatalf("subject %v", r.CSR.Subject)
				}
				clear(data) // the Request must not alias the caller's buffer
				if !bytes.Equal(r.DER, der) || r.CSR.Subject.CommonName != "factory-line-1" {
					t.Fatal("Request aliases the input data")
				}
				alg, err := r.CheckKey(templateAllows)
				if err != nil || alg != k.alg {
					t.Fatalf("CheckKey = %q, %v; want %q", alg, err, k.alg)
				}
			})
		}
	}
}

func TestParseRejects(t *testing.T) {
	p256 := ecKey(t, elliptic.P256())
	good := makeCSR(t, p256, "factory-line-1")
	goodPEM := pemOf("CERTIFICATE REQUEST", good)
	other := pemOf("CERTIFICATE REQUEST", makeCSR(t, ecKey(t, elliptic.P256()), "factory-line-2"))
	cert := selfSignedCert(t, p256)

	flipped := bytes.Clone(good)
	flipped[len(flipped)-1] ^= 0x01 // the last byte belongs to the signature

	altered := bytes.Replace(good, []byte("factory-line-1"), []byte("factory-line-9"), 1)
	if bytes.Equal(altered, good) {
		t.Fatal("subject not found in the request")
	}

	sha1Signed := resign(t, good, p256, crypto.SHA1, asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 1}, func(tbs []byte) []byte { return tbs })
	version2 := resign(t, good, p256, crypto.SHA256, asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}, func(tbs []byte) []byte {
		i := bytes.Index(tbs, []byte{0x02, 0x01, 0x00}) // version INTEGER 0
		if i < 0 || i > 4 {
			t.Fatal("version not found")
		}
		tbs[i+2] = 1
		return tbs
	})
	// The re-signing itself must be sound, or these two prove nothing.
	if _, err := Parse("control", resign(t, good, p256, crypto.SHA256, asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}, func(tbs []byte) []byte { return tbs })); err != nil {
		t.Fatalf("re-signed request rejected: %v", err)
	}

	half := len(goodPEM) / 2
	badB64 := bytes.Clone(goodPEM)
	badB64[len("-----BEGIN CERTIFICATE REQUEST-----\n")+20] = '*'
	mismatched := bytes.Replace(goodPEM, []byte("END CERTIFICATE REQUEST"), []byte("END CERTIFICATE"), 1)
	withHeaders := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Headers: map[string]string{"Comment": "line 1"}, Bytes: good})
	notCSR, _ := asn1.Marshal(struct{ A, B int }{1, 2})
	garbage := []byte{0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0xff, 0x7f, 0x80, 0x13, 0x37, 0x42}
	pub, _ := x509.MarshalPKIXPublicKey(p256.Public())

	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "empty file: give the CSR (PEM CERTIFICATE REQUEST)"},
		{"whitespace", []byte(" \n\t\r\n  \n"), "only white space, no CSR"},
		{"zero bytes", make([]byte, 512), "only zero bytes"},
		{"binary garbage", garbage, "not a CSR: binary data, neither PEM nor DER"},
		{"text garbage", []byte("hello, this is not a request\n"), "not a CSR: text, neither PEM nor DER"},
		{"base64 without armour", []byte(base64.StdEncoding.EncodeToString(good)), "base64 without the PEM BEGIN and END lines"},
		{"certificate PEM", pemOf("CERTIFICATE", cert), "is a certificate, not a certificate signing request: give the CSR (PEM CERTIFICATE REQUEST)"},
		{"certificate DER", cert, "is a certificate, not a certificate signing request"},
		{"public key PEM", pemOf("PUBLIC KEY", pub), "PEM PUBLIC KEY block, not a certificate signing request"},
		{"two CSRs", append(bytes.Clone(goodPEM), other...), "holds 2 PEM blocks (CERTIFICATE REQUEST, CERTIFICATE REQUEST), not one: give one CSR per file"},
		{"trailing text", append(bytes.Clone(goodPEM), "and then some\n"...), "unexpected data after the PEM CERTIFICATE REQUEST block"},
		{"leading text", append([]byte("Certificate Request:\n    Data:\n"), goodPEM...), "text before the PEM block"},
		{"truncated PEM", goodPEM[:half], "truncated PEM: the CERTIFICATE REQUEST block has no END line"},
		{"mismatched END", mismatched, "PEM BEGIN CERTIFICATE REQUEST line has no matching END line"},
		{"bad base64", badB64, "bad base64 in the PEM CERTIFICATE REQUEST block (at character 21 of its data)"},
		{"PEM headers", withHeaders, "has header lines"},
		{"empty PEM block", pemOf("CERTIFICATE REQUEST", nil), "the PEM block is empty"},
		{"truncated DER", good[:len(good)-10], "truncated DER: the file holds"},
		{"truncated DER in PEM", pemOf("CERTIFICATE REQUEST", good[:len(good)/2]), "truncated DER: the PEM block holds"},
		{"trailing bytes after DER", append(bytes.Clone(good), 0, 0), "2 bytes of unexpected data after the DER in the file"},
		{"DER not a request", notCSR, "line1.csr: not a PKCS #10 certificate signing request: structure error: tags don't match"},
		{"flipped signature byte", flipped, "signature does not verify: the request was altered or not signed by its key"},
		{"subject altered", altered, "signature does not verify: the request was altered or not signed by its key"},
		{"SHA-1 signature", sha1Signed, "signed with ECDSA-SHA1, which is not secure: make the request again with SHA-256 or stronger"},
		{"version 2", version2, "PKCS #10 version is 1, but only version 0 (v1) exists"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("line1.csr", c.data)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q\nwant it to contain %q", err, c.want)
			}
			checkOneLine(t, "line1.csr", err)
		})
	}
}

func TestParseRefusesPrivateKeysWithoutEchoingThem(t *testing.T) {
	ec := ecKey(t, elliptic.P256())
	rk := rsaKey(t, 2048)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(ec)
	sec1, _ := x509.MarshalECPrivateKey(ec)
	pkcs1 := x509.MarshalPKCS1PrivateKey(rk)
	csrPEM := pemOf("CERTIFICATE REQUEST", makeCSR(t, ec, "factory-line-1"))
	for _, c := range []struct {
		name   string
		data   []byte
		secret []byte
	}{
		{"PKCS #8 PEM", pemOf("PRIVATE KEY", pkcs8), pkcs8},
		{"SEC 1 PEM", pemOf("EC PRIVATE KEY", sec1), sec1},
		{"PKCS #1 PEM", pemOf("RSA PRIVATE KEY", pkcs1), pkcs1},
		{"CSR then key", append(bytes.Clone(csrPEM), pemOf("PRIVATE KEY", pkcs8)...), pkcs8},
		{"truncated key PEM", pemOf("PRIVATE KEY", pkcs8)[:100], pkcs8},
		{"PKCS #8 DER", pkcs8, pkcs8},
		{"PKCS #1 DER", pkcs1, pkcs1},
		{"SEC 1 DER", sec1, sec1},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("line1.csr", c.data)
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			if !strings.Contains(msg, "private key") || !strings.Contains(msg, "not a certificate signing request") {
				t.Fatalf("error %q does not say it is a private key", msg)
			}
			checkOneLine(t, "line1.csr", err)
			// No 8 consecutive characters of the key's base64 or hex.
			for _, enc := range []string{base64.StdEncoding.EncodeToString(c.secret), hex.EncodeToString(c.secret)} {
				for i := 0; i+8 <= len(enc); i++ {
					if strings.Contains(msg, enc[i:i+8]) {
						t.Fatalf("error %q echoes key material %q", msg, enc[i:i+8])
					}
				}
			}
		})
	}
}

func TestParseQuotesOddFileNames(t *testing.T) {
	_, err := Parse("evil\nname.csr", nil)
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), `"evil\nname.csr": `) {
		t.Fatalf("err = %q", err)
	}
}

// TestCheckKeyRejectsWeakRequests parses requests whose signatures verify
// but whose keys the policy refuses.
func TestCheckKeyRejectsWeakRequests(t *testing.T) {
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	for _, c := range []struct {
		name string
		key  crypto.Signer
		want string
	}{
		{"RSA-1024", rsaKey(t, 1024), "line1.csr: RSA 1024-bit key: too small; " + allowedText},
		{"RSA-2048", rsaKey(t, 2048), "line1.csr: RSA 2048-bit key: too small; " + allowedText},
		{"P-224", ecKey(t, elliptic.P224()), "line1.csr: ECDSA P-224 key: curve not allowed; " + allowedText},
		{"P-521", ecKey(t, elliptic.P521()), "line1.csr: ECDSA P-521 key: curve not allowed; " + allowedText},
		{"Ed25519", edKey, "line1.csr: Ed25519 key: key type not allowed; " + allowedText},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := Parse("line1.csr", pemOf("CERTIFICATE REQUEST", makeCSR(t, c.key, "factory-line-1")))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			alg, err := r.CheckKey(templateAllows)
			if err == nil || err.Error() != c.want {
				t.Fatalf("CheckKey = %q, %v\nwant error %q", alg, err, c.want)
			}
		})
	}
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "line1.csr")
	if err := os.WriteFile(good, pemOf("CERTIFICATE REQUEST", makeCSR(t, ecKey(t, elliptic.P384()), "factory-line-1")), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := ReadFile(good)
	if err != nil || r.Path != good {
		t.Fatalf("ReadFile = %v, %v", r, err)
	}
	if alg, err := r.CheckKey(templateAllows); err != nil || alg != keys.ECDSAP384 {
		t.Fatalf("CheckKey = %q, %v", alg, err)
	}

	large := filepath.Join(dir, "large.csr")
	if err := os.WriteFile(large, bytes.Repeat([]byte("A"), MaxFileSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo.csr")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path   string
		want   string
		target error
	}{
		{fifo, "not a regular file", durable.ErrNotRegular},
		{dir, "not a regular file", durable.ErrNotRegular},
		{large, "file too large", durable.ErrTooLarge},
		{filepath.Join(dir, "missing.csr"), "no such file or directory", os.ErrNotExist},
	} {
		done := make(chan error, 1)
		go func() { _, err := ReadFile(c.path); done <- err }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, c.target) {
				t.Errorf("ReadFile(%s) = %v; want %q", c.path, err, c.want)
				continue
			}
			checkOneLine(t, c.path, err)
		case <-time.After(10 * time.Second):
			t.Fatalf("ReadFile(%s) hangs", c.path)
		}
	}
}

func TestCheckKeyAccepts(t *testing.T) {
	keysUnderTest := []struct {
		pub crypto.PublicKey
		alg keys.Algorithm
	}{
		{ecKey(t, elliptic.P256()).Public(), keys.ECDSAP256},
		{ecKey(t, elliptic.P384()).Public(), keys.ECDSAP384},
		{ecKey(t, elliptic.P521()).Public(), keys.ECDSAP521},
	}
	for _, k := range rsa3072Keys(t) {
		keysUnderTest = append(keysUnderTest, struct {
			pub crypto.PublicKey
			alg keys.Algorithm
		}{k.Public(), keys.RSA3072})
	}
	for _, k := range keysUnderTest {
		if alg, err := CheckKey(k.pub, keys.Algorithms()); err != nil || alg != k.alg {
			t.Errorf("CheckKey = %q, %v; want %q", alg, err, k.alg)
		}
	}
}

func TestCheckKeyAllowedList(t *testing.T) {
	r := &rsa3072Keys(t)[0].PublicKey
	p384 := ecKey(t, elliptic.P384()).Public()
	for _, c := range []struct {
		name    string
		pub     crypto.PublicKey
		allowed []keys.Algorithm
		want    string
	}{
		{"RSA-3072 where 4096 is the floor", r, []keys.Algorithm{keys.RSA4096}, "RSA 3072-bit key: too small; the template allows RSA 4096-bit"},
		{"RSA where only ECDSA", r, []keys.Algorithm{keys.ECDSAP384}, "RSA 3072-bit key: RSA keys not allowed; the template allows ECDSA P-384"},
		{"ECDSA where only RSA", p384, []keys.Algorithm{keys.RSA3072, keys.RSA4096}, "ECDSA P-384 key: ECDSA keys not allowed; the template allows RSA 3072-bit, RSA 4096-bit"},
		{"P-384 where P-256", p384, []keys.Algorithm{keys.ECDSAP256}, "ECDSA P-384 key: curve not allowed; the template allows ECDSA P-256"},
		{"nothing allowed", p384, nil, "no key algorithm is allowed: the template lists none"},
		{"unknown algorithm allowed", p384, []keys.Algorithm{"rsa-2048"}, `the template allows "rsa-2048", which is not a supported key algorithm`},
	} {
		t.Run(c.name, func(t *testing.T) {
			alg, err := CheckKey(c.pub, c.allowed)
			if err == nil || err.Error() != c.want {
				t.Fatalf("CheckKey = %q, %v\nwant error %q", alg, err, c.want)
			}
		})
	}
	if alg, err := CheckKey(r, []keys.Algorithm{keys.RSA3072, keys.RSA4096}); err != nil || alg != keys.RSA3072 {
		t.Fatalf("CheckKey = %q, %v", alg, err)
	}
}

// TestCheckKeyRSASizes checks sizes above and between the allowed ones.
// Generating an RSA-4096 key takes seconds, and the checks see only the
// modulus, so the 4096-bit modulus here is the product of two random
// 2048-bit numbers with no factor below 10000 (not necessarily prime).
func TestCheckKeyRSASizes(t *testing.T) {
	below10000 := product(primesBelowIndependently(trialDivisionBound))
	noSmallFactor := func(bits int) *big.Int {
		for {
			x := topTwoBits(t, bits)
			if new(big.Int).GCD(nil, nil, x, below10000).Cmp(big.NewInt(1)) == 0 {
				return x
			}
		}
	}
	n4096 := new(big.Int).Mul(noSmallFactor(2048), noSmallFactor(2048))
	n3584 := new(big.Int).Mul(noSmallFactor(1792), noSmallFactor(1792))
	rsa4096 := &rsa.PublicKey{N: n4096, E: 65537}
	if alg, err := CheckKey(rsa4096, []keys.Algorithm{keys.RSA3072, keys.RSA4096}); err != nil || alg != keys.RSA4096 {
		t.Fatalf("CheckKey(4096) = %q, %v", alg, err)
	}
	for _, c := range []struct {
		n       *big.Int
		allowed []keys.Algorithm
		want    string
	}{
		{n4096, templateAllows, "RSA 4096-bit key: too large; " + allowedText},
		{n3584, []keys.Algorithm{keys.RSA3072, keys.RSA4096}, "RSA 3584-bit key: size not allowed; the template allows RSA 3072-bit, RSA 4096-bit"},
	} {
		if alg, err := CheckKey(&rsa.PublicKey{N: c.n, E: 65537}, c.allowed); err == nil || err.Error() != c.want {
			t.Errorf("CheckKey = %q, %v\nwant error %q", alg, err, c.want)
		}
	}
}

func TestCheckKeyOtherTypes(t *testing.T) {
	x, _ := ecdh.X25519().GenerateKey(rand.Reader)
	ed, _, _ := ed25519.GenerateKey(rand.Reader)
	for _, c := range []struct {
		pub  crypto.PublicKey
		want string
	}{
		{ed, "Ed25519 key: key type not allowed; " + allowedText},
		{x.PublicKey(), "unsupported key (*ecdh.PublicKey): key type not allowed; " + allowedText},
		{nil, "no public key"},
		{(*rsa.PublicKey)(nil), "RSA key without a modulus"},
		{(*ecdsa.PublicKey)(nil), "ECDSA key without a curve"},
	} {
		if _, err := CheckKey(c.pub, templateAllows); err == nil || err.Error() != c.want {
			t.Errorf("CheckKey(%T) = %v; want %q", c.pub, err, c.want)
		}
	}
}

func TestCheckKeyInvalidECDSAPoint(t *testing.T) {
	good := ecKey(t, elliptic.P256())
	gx, gy := good.X, good.Y
	for _, c := range []struct {
		name string
		x, y *big.Int
	}{
		{"off the curve", gx, new(big.Int).Add(gy, big.NewInt(1))},
		{"point at infinity", new(big.Int), new(big.Int)},
		{"coordinate not reduced", new(big.Int).Add(gx, elliptic.P256().Params().P), gy},
	} {
		//lint:ignore SA1019 the test needs raw coordinates to forge invalid points
		pub := &ecdsa.PublicKey{Curve: elliptic.P256(), X: c.x, Y: c.y}
		_, err := CheckKey(pub, templateAllows)
		if err == nil || !strings.Contains(err.Error(), "ECDSA P-256 key: the public point is not valid") {
			t.Errorf("%s: err = %v", c.name, err)
		}
	}
}

// primesBelowIndependently lists the primes below n with ProbablyPrime, not
// with the package's sieve.
func primesBelowIndependently(n int64) []*big.Int {
	var ps []*big.Int
	for i := int64(2); i < n; i++ {
		if p := big.NewInt(i); p.ProbablyPrime(20) {
			ps = append(ps, p)
		}
	}
	return ps
}

func product(ps []*big.Int) *big.Int {
	m := big.NewInt(1)
	for _, p := range ps {
		m.Mul(m, p)
	}
	return m
}

// topTwoBits returns a random number of exactly bits bits with its two top
// bits set, so that the product of two of them has 2·bits bits.
func topTwoBits(t *testing.T, bits int) *big.Int {
	t.Helper()
	x, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), uint(bits-2)))
	if err != nil {
		t.Fatal(err)
	}
	return x.Add(x, new(big.Int).Lsh(big.NewInt(3), uint(bits-2)))
}

func nextPrime(x *big.Int) *big.Int {
	p := new(big.Int).SetBit(x, 0, 1)
	for !p.ProbablyPrime(20) {
		p.Add(p, big.NewInt(2))
	}
	return p
}

func TestCheckKeyRSAPolicy(t *testing.T) {
	t.Parallel()
	good := rsa3072Keys(t)[0].PublicKey

	// A modulus with a small factor s. Only factors below 10000 matter to
	// the check, so the 3058-bit cofactor need not be prime (finding a
	// prime that size takes about a second): it only has to have no
	// factor below 10000 itself, so that s is the one to be found.
	below10000 := product(primesBelowIndependently(trialDivisionBound))
	withFactor := func(s int64) *big.Int {
		for {
			q := topTwoBits(t, 3072-big.NewInt(s).BitLen())
			if new(big.Int).GCD(nil, nil, q, below10000).Cmp(big.NewInt(1)) != 0 {
				continue
			}
			n := new(big.Int).Mul(q, big.NewInt(s))
			if n.BitLen() == 3072 {
				return n
			}
		}
	}

	// Two consecutive primes near 2^1536 (1.5·2^1535 up, so that their
	// product has 3072 bits).
	p := nextPrime(topTwoBits(t, 1536))
	q := nextPrime(new(big.Int).Add(p, big.NewInt(2)))
	closePrimes := new(big.Int).Mul(p, q)

	for _, c := range []struct {
		name string
		n    *big.Int
		e    int
		want string
	}{
		{"exponent 3", good.N, 3, "RSA 3072-bit key: public exponent is 3, not 65537; generate a new key with exponent 65537"},
		{"exponent 17", good.N, 17, "public exponent is 17, not 65537"},
		{"even modulus", new(big.Int).SetBit(good.N, 0, 0), 65537, "RSA 3072-bit key: the modulus is even, so it is not an RSA modulus; generate a new key"},
		{"factor 3", withFactor(3), 65537, "RSA 3072-bit key: the modulus has the small prime factor 3, so anyone can factor it"},
		{"factor 9973", withFactor(9973), 65537, "RSA 3072-bit key: the modulus has the small prime factor 9973, so anyone can factor it"},
		{"close primes", closePrimes, 65537, "RSA 3072-bit key: its two primes are so close together that Fermat's method factors it"},
		{"square modulus", new(big.Int).Mul(p, p), 65537, "its two primes are so close together"},
	} {
		t.Run(c.name, func(t *testing.T) {
			alg, err := CheckKey(&rsa.PublicKey{N: c.n, E: c.e}, templateAllows)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("CheckKey = %q, %v\nwant error containing %q", alg, err, c.want)
			}
			if strings.ContainsAny(err.Error(), "\n") {
				t.Fatalf("not one line: %q", err)
			}
		})
	}
}

// TestFermatReach checks the documented reach of the Fermat check: primes
// 2^772 apart are found (in about 43 steps), 2^776 apart are not (they
// would take about 11000).
func TestFermatReach(t *testing.T) {
	t.Parallel()
	p := nextPrime(topTwoBits(t, 1536))
	near := nextPrime(new(big.Int).Add(p, new(big.Int).Lsh(big.NewInt(1), 772)))
	far := nextPrime(new(big.Int).Add(p, new(big.Int).Lsh(big.NewInt(1), 776)))
	if !fermatFactors(new(big.Int).Mul(p, near), fermatRounds) {
		t.Error("primes 2^772 apart not found")
	}
	n := new(big.Int).Mul(p, far)
	if fermatFactors(n, fermatRounds) {
		t.Error("primes 2^776 apart found in 100 steps: the check is not what it says")
	}
	// Such a key is otherwise sound, and accepted.
	if _, err := CheckKey(&rsa.PublicKey{N: n, E: 65537}, templateAllows); err != nil {
		t.Errorf("sound key rejected: %v", err)
	}
}

// rocaPrimorial is M for the smallest RSALib keys: the product of the first
// 39 primes, 2 to 167.
func rocaPrimorial() *big.Int {
	ps := primesBelowIndependently(168)
	if len(ps) != 39 {
		panic("not 39 primes")
	}
	return product(ps)
}

// rocaPrime returns a prime of the RSALib form k·M + (65537^a mod M) with
// bits bits, its two top bits set.
func rocaPrime(t *testing.T, m, sieve *big.Int, bits int) *big.Int {
	one := big.NewInt(1)
	for {
		a, err := rand.Int(rand.Reader, big.NewInt(1<<20))
		if err != nil {
			t.Error(err)
			return nil
		}
		r := new(big.Int).Exp(big.NewInt(65537), a, m)
		k := new(big.Int).Div(topTwoBits(t, bits), m)
		p := k.Mul(k, m).Add(k, r)
		// p is prime to every factor of M already; the GCD with the
		// primes above 167 saves half the primality tests.
		if p.BitLen() == bits && new(big.Int).GCD(nil, nil, p, sieve).Cmp(one) == 0 && p.ProbablyPrime(20) {
			return p
		}
	}
}

func TestROCAFingerprint(t *testing.T) {
	t.Parallel()
	m := rocaPrimorial()
	all := primesBelowIndependently(trialDivisionBound)
	sieve := product(all[39:]) // the primes from 173 to 9973
	start := time.Now()
	var p, q *big.Int
	var wg sync.WaitGroup
	wg.Go(func() { p = rocaPrime(t, m, sieve, 1536) })
	wg.Go(func() { q = rocaPrime(t, m, sieve, 1536) })
	wg.Wait()
	if t.Failed() {
		return
	}
	t.Logf("two 1536-bit RSALib-form primes found in %v", time.Since(start))
	n := new(big.Int).Mul(p, q)
	if n.BitLen() != 3072 {
		t.Fatalf("modulus has %d bits", n.BitLen())
	}
	alg, err := CheckKey(&rsa.PublicKey{N: n, E: 65537}, templateAllows)
	want := "RSA 3072-bit key: it has the ROCA fingerprint (CVE-2017-15361, Infineon RSALib), so it can be factored; generate a new key on a device without that flaw"
	if err == nil || err.Error() != want {
		t.Fatalf("CheckKey = %q, %v\nwant %q", alg, err, want)
	}
}

// TestROCANoFalsePositives checks that sound moduli are not flagged: real
// RSA-3072 keys, and many random odd numbers (the fingerprint depends only
// on a modulus's residues, which for both are as good as random; a random
// number is flagged with probability about 2^-27.8).
func TestROCANoFalsePositives(t *testing.T) {
	t.Parallel()
	for i, k := range rsa3072Keys(t) {
		if hasROCAFingerprint(smallPrimeResidues(k.N)) {
			t.Errorf("RSA-3072 key %d flagged", i)
		}
	}
	for i := range 5000 {
		n := topTwoBits(t, 3072)
		n.SetBit(n, 0, 1)
		if hasROCAFingerprint(smallPrimeResidues(n)) {
			t.Fatalf("random modulus %d flagged: %x", i, n)
		}
	}
}

// TestROCASubgroups checks the subgroup tables against a second
// characterisation: in the cyclic group (Z/pZ)*, the subgroup of order d is
// the set of x with x^d ≡ 1 (mod p). It also checks the false-positive
// rate claimed in the documentation.
func TestROCASubgroups(t *testing.T) {
	ps := primesBelowIndependently(168)[1:]
	if len(ps) != len(rocaSubgroups) {
		t.Fatalf("%d tables for %d primes", len(rocaSubgroups), len(ps))
	}
	g := big.NewInt(rocaGenerator)
	one := big.NewInt(1)
	log2Rate := 0.0
	for i, p := range ps {
		// d: the order of 65537 modulo p, the least divisor of p−1 with
		// 65537^d ≡ 1.
		pm1 := new(big.Int).Sub(p, one).Int64()
		var d int64
		for d = 1; d <= pm1; d++ {
			if pm1%d == 0 && new(big.Int).Exp(g, big.NewInt(d), p).Cmp(one) == 0 {
				break
			}
		}
		table := rocaSubgroups[i]
		if int64(len(table)) != p.Int64() || table[0] {
			t.Fatalf("p=%v: bad table", p)
		}
		members := 0
		for x := int64(1); x < p.Int64(); x++ {
			want := new(big.Int).Exp(big.NewInt(x), big.NewInt(d), p).Cmp(one) == 0
			if table[x] != want {
				t.Fatalf("p=%v, x=%d: table says %v", p, x, table[x])
			}
			if want {
				members++
			}
		}
		if int64(members) != d {
			t.Fatalf("p=%v: %d members, order %d", p, members, d)
		}
		log2Rate += math.Log2(float64(d) / float64(pm1))
	}
	if log2Rate > -27.5 || log2Rate < -28.5 {
		t.Fatalf("false-positive rate 2^%.1f, documented as about 2^-27.8", log2Rate)
	}
}

func TestSmallPrimes(t *testing.T) {
	want := primesBelowIndependently(trialDivisionBound)
	if len(smallPrimes) != len(want) || len(want) != 1229 {
		t.Fatalf("%d small primes, want %d", len(smallPrimes), len(want))
	}
	for i, p := range want {
		if smallPrimes[i] != p.Uint64() {
			t.Fatalf("smallPrimes[%d] = %d, want %v", i, smallPrimes[i], p)
		}
	}
	// Residues agree with big.Int arithmetic.
	n := topTwoBits(t, 3072)
	for i, r := range smallPrimeResidues(n) {
		if want := new(big.Int).Mod(n, want[i]).Uint64(); r != want {
			t.Fatalf("residue mod %d = %d, want %d", smallPrimes[i], r, want)
		}
	}
}

func BenchmarkCheckKeyRSA3072(b *testing.B) {
	pub := rsa3072Keys(b)[0].Public()
	for b.Loop() {
		if _, err := CheckKey(pub, templateAllows); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheckKeyP384(b *testing.B) {
	pub := ecKey(b, elliptic.P384()).Public()
	for b.Loop() {
		if _, err := CheckKey(pub, templateAllows); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTrialDivision is the cost of reducing an RSA-3072 modulus by
// the 1229 primes below 10000 (which also serves the ROCA test).
func BenchmarkTrialDivision(b *testing.B) {
	n := rsa3072Keys(b)[0].N
	for b.Loop() {
		smallPrimeResidues(n)
	}
}

func BenchmarkFermat(b *testing.B) {
	n := rsa3072Keys(b)[0].N
	for b.Loop() {
		fermatFactors(n, fermatRounds)
	}
}

func BenchmarkParseRSA3072(b *testing.B) {
	data := pemOf("CERTIFICATE REQUEST", makeCSR(b, rsa3072Keys(b)[0], "factory-line-1"))
	for b.Loop() {
		if _, err := Parse("line1.csr", data); err != nil {
			b.Fatal(err)
		}
	}
}
