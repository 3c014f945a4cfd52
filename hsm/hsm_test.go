package hsm_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/devicepki/ceremony/ceremony/keys"
	"github.com/devicepki/ceremony/ceremony/secret"
	"github.com/devicepki/ceremony/hsm"
	"github.com/devicepki/ceremony/internal/softhsmtest"
)

// open opens tk and logs in.
func open(t *testing.T, tk *softhsmtest.Token) *hsm.Token {
	t.Helper()
	tok, err := hsm.Open(tk.HSM.Config(tk.Label))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = tok.Close() })
	if err := tok.Login(secret.FromString(tk.PIN)); err != nil {
		t.Fatalf("Login: %v", err)
	}
	return tok
}

func TestOpenReadsTokenInfo(t *testing.T) {
	h := softhsmtest.New(t)
	h.InitToken(t, "other")
	tk := h.InitToken(t, "root")
	tok, err := hsm.Open(h.Config("root"))
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	info := tok.Info()
	if info.Label != "root" || info.Manufacturer != "SoftHSM project" || info.Model != "SoftHSM v2" || info.Serial == "" || info.FirmwareVersion == "" {
		t.Fatalf("token info = %+v", info)
	}
	if tok.LoggedIn() {
		t.Fatal("logged in before Login")
	}
	if err := tok.Close(); err != nil {
		t.Fatal(err)
	}
	// The same token, selected by serial.
	bySerial, err := hsm.Open(hsm.Config{Module: h.Module, Token: hsm.TokenSelector{Serial: info.Serial}})
	if err != nil {
		t.Fatalf("open by serial: %v", err)
	}
	defer bySerial.Close()
	if bySerial.Info().Label != "root" {
		t.Fatalf("serial %s selected %q", info.Serial, bySerial.Info().Label)
	}
	if err := bySerial.Login(secret.FromString(tk.PIN)); err != nil {
		t.Fatal(err)
	}
}

func TestOpenFailuresNameTheCause(t *testing.T) {
	h := softhsmtest.New(t)
	h.InitToken(t, "root")
	notALibrary := filepath.Join(t.TempDir(), "libfake.so")
	if err := os.WriteFile(notALibrary, []byte("not a library"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A FIFO would block dlopen for ever.
	fifo := filepath.Join(t.TempDir(), "libfifo.so")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cfg  hsm.Config
		is   error
		want []string
	}{
		{"missing module", hsm.Config{Module: "/nonexistent/libpkcs11.so", Token: hsm.TokenSelector{Label: "root"}},
			hsm.ErrModuleNotFound, []string{"/nonexistent/libpkcs11.so", "no such file"}},
		{"not a library", hsm.Config{Module: notALibrary, Token: hsm.TokenSelector{Label: "root"}},
			nil, []string{notALibrary, "cannot be loaded"}},
		{"module is a directory", hsm.Config{Module: t.TempDir(), Token: hsm.TokenSelector{Label: "root"}},
			nil, []string{"is a directory"}},
		{"module is a FIFO", hsm.Config{Module: fifo, Token: hsm.TokenSelector{Label: "root"}},
			nil, []string{fifo, "is a FIFO (named pipe), not a shared library"}},
		{"module is a device", hsm.Config{Module: "/dev/zero", Token: hsm.TokenSelector{Label: "root"}},
			nil, []string{"/dev/zero", "is a character device, not a shared library"}},
		{"relative module", hsm.Config{Module: "libsofthsm2.so", Token: hsm.TokenSelector{Label: "root"}},
			nil, []string{"must be an absolute path"}},
		{"missing token", h.Config("no-such-token"),
			hsm.ErrTokenNotFound, []string{`token "no-such-token" not found`, `tokens present: "root"`}},
		{"missing serial", hsm.Config{Module: h.Module, Token: hsm.TokenSelector{Serial: "0000"}},
			hsm.ErrTokenNotFound, []string{"token with serial 0000 not found"}},
		{"no selector", hsm.Config{Module: h.Module}, nil, []string{"give a label or a serial"}},
		{"both selectors", hsm.Config{Module: h.Module, Token: hsm.TokenSelector{Label: "a", Serial: "b"}}, nil, []string{"not both"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := hsm.Open(tc.cfg)
			if err == nil {
				tok.Close()
				t.Fatal("Open succeeded")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestLoginWrongPIN(t *testing.T) {
	h := softhsmtest.New(t)
	tk := h.InitToken(t, "root")
	tok, err := hsm.Open(h.Config("root"))
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	wrong := softhsmtest.RandomPIN(t)
	err = tok.Login(secret.FromString(wrong))
	if !errors.Is(err, hsm.ErrPINIncorrect) {
		t.Fatalf("wrong PIN: err = %v, want ErrPINIncorrect", err)
	}
	if strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), tk.PIN) {
		t.Fatalf("error leaks a PIN: %v", err)
	}
	if err := tok.Login(secret.FromString("")); err == nil {
		t.Fatal("empty PIN accepted")
	}
	if _, err := tok.GenerateKeyPair("k", keys.ECDSAP256); !errors.Is(err, hsm.ErrNotLoggedIn) {
		t.Fatalf("generate without login: %v", err)
	}
	if err := tok.Login(secret.FromString(tk.PIN)); err != nil {
		t.Fatalf("right PIN after a wrong one: %v", err)
	}
	if len(tk.Objects(t)) != 0 {
		t.Fatal("objects appeared on the token")
	}
}

func TestGenerateEveryAlgorithm(t *testing.T) {
	h := softhsmtest.New(t)
	tk := h.InitToken(t, "root")
	tok := open(t, tk)
	hashes := map[keys.Algorithm]crypto.Hash{
		keys.ECDSAP256: crypto.SHA256, keys.ECDSAP384: crypto.SHA384, keys.ECDSAP521: crypto.SHA512,
		keys.RSA3072: crypto.SHA256, keys.RSA4096: crypto.SHA384,
	}
	generated := map[string]*hsm.KeyPair{}
	for _, alg := range keys.Algorithms() {
		label := "key-" + string(alg)
		kp, err := tok.GenerateKeyPair(label, alg)
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		if len(kp.ID) != 16 || bytes.Count(kp.ID, []byte{0}) == 16 {
			t.Fatalf("%s: CKA_ID %x", alg, kp.ID)
		}
		if got, err := keys.AlgorithmOf(kp.Public()); err != nil || got != alg {
			t.Fatalf("%s: public key is %s (%v)", alg, got, err)
		}
		verifySignature(t, kp, hashes[alg])

		attrs, err := tok.KeyAttributes(kp)
		if err != nil {
			t.Fatal(err)
		}
		want := hsm.KeyAttributes{Token: true, Private: true, Sensitive: true, Local: true, AlwaysSensitive: true, NeverExtractable: true, Sign: true}
		if attrs != want {
			// Modifiable is false too: no usage can be switched on later.
			t.Fatalf("%s: attributes %+v, want %+v", alg, attrs, want)
		}
		generated[label] = kp
	}

	// pkcs11-tool, not our code, sees every pair with matching IDs, and the
	// public key it reads is the one we were given.
	objs := tk.Objects(t)
	if len(objs) != 2*len(generated) {
		t.Fatalf("pkcs11-tool lists %d objects, want %d: %+v", len(objs), 2*len(generated), objs)
	}
	for _, o := range objs {
		kp := generated[o.Label]
		if kp == nil || o.ID != kp.IDHex() {
			t.Fatalf("unexpected object %+v", o)
		}
		if o.Class == "Private Key" && !strings.Contains(o.Attrs, "never extractable") {
			t.Fatalf("private key %q access = %q", o.Label, o.Attrs)
		}
	}
	der := tk.ReadObject(t, "pubkey", "key-rsa-3072")
	want, _ := x509.MarshalPKIXPublicKey(generated["key-rsa-3072"].Public())
	if !bytes.Equal(der, want) {
		t.Fatal("pkcs11-tool reads a different RSA public key")
	}
	for _, o := range objs {
		if o.Class != "Public Key" || !generated[o.Label].Algorithm.IsECDSA() {
			continue
		}
		if got, want := o.ECPoint, softhsmtest.ECPointHex(t, generated[o.Label].Public()); got != want {
			t.Fatalf("%s: pkcs11-tool EC_POINT %s, want %s", o.Label, got, want)
		}
	}

	// A fresh session finds every key again by label and it still signs.
	if err := tok.Close(); err != nil {
		t.Fatal(err)
	}
	tok2 := open(t, tk)
	for label, kp := range generated {
		found, err := tok2.FindKeyPair(label)
		if err != nil {
			t.Fatal(err)
		}
		if !keys.SamePublicKey(found.Public(), kp.Public()) || !bytes.Equal(found.ID, kp.ID) || found.Algorithm != kp.Algorithm {
			t.Fatalf("FindKeyPair(%q) returned a different key", label)
		}
		verifySignature(t, found, hashes[kp.Algorithm])
	}
}

func verifySignature(t *testing.T, kp *hsm.KeyPair, h crypto.Hash) {
	t.Helper()
	msg := []byte("ceremony test message " + kp.Label)
	var digest []byte
	switch h {
	case crypto.SHA256:
		s := sha256.Sum256(msg)
		digest = s[:]
	case crypto.SHA384:
		s := sha512.Sum384(msg)
		digest = s[:]
	case crypto.SHA512:
		s := sha512.Sum512(msg)
		digest = s[:]
	}
	sig, err := kp.Sign(nil, digest, h)
	if err != nil {
		t.Fatalf("%s: sign: %v", kp.Label, err)
	}
	switch pub := kp.Public().(type) {
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pub, digest, sig) {
			t.Fatalf("%s: ECDSA signature does not verify", kp.Label)
		}
	case *rsa.PublicKey:
		if err := rsa.VerifyPKCS1v15(pub, h, digest, sig); err != nil {
			t.Fatalf("%s: RSA signature: %v", kp.Label, err)
		}
	}
}

func TestGenerateRefusesExistingLabel(t *testing.T) {
	h := softhsmtest.New(t)
	tk := h.InitToken(t, "root")
	tok := open(t, tk)
	if _, err := tok.GenerateKeyPair("root-ca", keys.ECDSAP384); err != nil {
		t.Fatal(err)
	}
	before := tk.Objects(t)
	_, err := tok.GenerateKeyPair("root-ca", keys.ECDSAP256)
	if !errors.Is(err, hsm.ErrLabelInUse) || !strings.Contains(err.Error(), `"root-ca"`) {
		t.Fatalf("second key with the same label: err = %v", err)
	}
	if after := tk.Objects(t); len(after) != len(before) {
		t.Fatalf("objects went from %d to %d", len(before), len(after))
	}
}

func TestBadLabels(t *testing.T) {
	h := softhsmtest.New(t)
	tk := h.InitToken(t, "root")
	tok := open(t, tk)
	for _, label := range []string{"", " lead", "trail ", "tab\there", strings.Repeat("x", 65)} {
		if _, err := tok.GenerateKeyPair(label, keys.ECDSAP256); err == nil {
			t.Errorf("label %q accepted", label)
		}
	}
	if _, err := tok.GenerateKeyPair("ok", keys.Algorithm("rsa-2048")); err == nil {
		t.Error("rsa-2048 accepted")
	}
	if n := len(tk.Objects(t)); n != 0 {
		t.Fatalf("%d objects left on the token", n)
	}
}

func TestFindMissingKeyPair(t *testing.T) {
	h := softhsmtest.New(t)
	tk := h.InitToken(t, "root")
	tok := open(t, tk)
	_, err := tok.FindKeyPair("nope")
	if !errors.Is(err, hsm.ErrKeyNotFound) || !strings.Contains(err.Error(), `no key pair labelled "nope"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestDestroyKeyPair(t *testing.T) {
	h := softhsmtest.New(t)
	tk := h.InitToken(t, "root")
	tok := open(t, tk)
	keep, err := tok.GenerateKeyPair("keep", keys.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	gone, err := tok.GenerateKeyPair("gone", keys.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.DestroyKeyPair(gone); err != nil {
		t.Fatal(err)
	}
	objs := tk.Objects(t)
	if len(objs) != 2 || objs[0].Label != "keep" || objs[1].Label != "keep" {
		t.Fatalf("objects after destroy: %+v", objs)
	}
	if _, err := tok.FindKeyPair("keep"); err != nil {
		t.Fatal(err)
	}
	_ = keep
}

func TestRandom(t *testing.T) {
	h := softhsmtest.New(t)
	tk := h.InitToken(t, "root")
	tok := open(t, tk)
	a, err := tok.Random(32)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := tok.Random(32)
	if len(a) != 32 || bytes.Equal(a, b) {
		t.Fatalf("Random: %x %x", a, b)
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "hsm.yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c, err := hsm.LoadConfig(write("module: /usr/lib/x.so\ntoken:\n  label: root\n"))
	if err != nil || c.Module != "/usr/lib/x.so" || c.Token.Label != "root" {
		t.Fatalf("LoadConfig = %+v, %v", c, err)
	}
	for body, want := range map[string]string{
		"module: /usr/lib/x.so\ntoken:\n  label: root\npin: 1234\n": `hsm.yaml:4:1: unknown field "pin"`,
		"module: x.so\ntoken:\n  label: root\n":                     "must be an absolute path",
		"module: /x.so\n":                                           "give a label or a serial",
		"token:\n  label: root\n":                                   "module: required",
	} {
		_, err := hsm.LoadConfig(write(body))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("LoadConfig(%q) = %v, want %q", body, err, want)
		}
	}
	if _, err := hsm.LoadConfig(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("missing config accepted")
	}
}

// selfSigned returns a minimal certificate for kp, signed by kp in the token.
func selfSigned(t *testing.T, kp *hsm.KeyPair, cn string) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, kp.Public(), kp)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestStoreAndFindCertificate(t *testing.T) {
	h := softhsmtest.New(t)
	tk := h.InitToken(t, "root")
	tok := open(t, tk)
	kp, err := tok.GenerateKeyPair("audit", keys.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	other, err := tok.GenerateKeyPair("other", keys.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tok.FindCertificate(kp); !errors.Is(err, hsm.ErrCertificateNotFound) {
		t.Fatalf("FindCertificate before store: %v", err)
	}
	cert := selfSigned(t, kp, "Audit")
	if err := tok.StoreCertificate(other, cert); err == nil || !strings.Contains(err.Error(), "does not certify") {
		t.Fatalf("storing a certificate for another key: %v", err)
	}
	if err := tok.StoreCertificate(kp, cert); err != nil {
		t.Fatal(err)
	}
	if err := tok.StoreCertificate(kp, cert); !errors.Is(err, hsm.ErrLabelInUse) {
		t.Fatalf("second store: %v", err)
	}
	got, err := tok.FindCertificate(kp)
	if err != nil || !bytes.Equal(got.Raw, cert.Raw) {
		t.Fatalf("FindCertificate = %v, %v", got, err)
	}
	all, err := tok.Certificates()
	if err != nil || len(all) != 1 || !bytes.Equal(all[0].Raw, cert.Raw) {
		t.Fatalf("Certificates = %d, %v", len(all), err)
	}
	// pkcs11-tool sees a public certificate object beside the key pair,
	// with the key pair's label and id.
	var certObj *softhsmtest.Object
	objs := tk.Objects(t)
	for i := range objs {
		if objs[i].Class == "Certificate" {
			certObj = &objs[i]
		}
	}
	if certObj == nil || certObj.Label != "audit" || certObj.ID != kp.IDHex() {
		t.Fatalf("token objects: %+v", objs)
	}
	// Destroying the key pair destroys its certificate too.
	if err := tok.DestroyKeyPair(kp); err != nil {
		t.Fatal(err)
	}
	for _, o := range tk.Objects(t) {
		if o.Label == "audit" {
			t.Fatalf("left behind: %+v", o)
		}
	}
	if all, err := tok.Certificates(); err != nil || len(all) != 0 {
		t.Fatalf("Certificates after destroy = %d, %v", len(all), err)
	}
}
