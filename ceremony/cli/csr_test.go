package cli

import (
	"bytes"
	"context"
	"crypto/x509"
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
	code = Main(append([]string{"csr", "--config", e.config, "--pin-file", e.pinFile}, args...), &Env{Ctx: ctx, Version: "test", Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb})
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
