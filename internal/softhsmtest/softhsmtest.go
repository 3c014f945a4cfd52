// Package softhsmtest gives a test its own SoftHSM2 installation: a private
// config file, a private token directory and freshly initialised tokens with
// random PINs. It also lists token objects with OpenSC's pkcs11-tool, so tests
// check the token with a tool other than the code under test.
//
// A missing SoftHSM2 or pkcs11-tool fails the test; it never skips it. CI
// installs both (.ci/run).
package softhsmtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devicepki/ceremony/hsm"
)

// modulePaths are where Debian, Ubuntu, Fedora and Homebrew install SoftHSM2.
var modulePaths = []string{
	"/usr/lib/softhsm/libsofthsm2.so",
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib64/pkcs11/libsofthsm2.so",
	"/usr/local/lib/softhsm/libsofthsm2.so",
	"/opt/homebrew/lib/softhsm/libsofthsm2.so",
}

// Module returns the path of the SoftHSM2 PKCS#11 module, or "" if none is
// installed.
func Module() string {
	if p := os.Getenv("SOFTHSM2_MODULE"); p != "" {
		return p
	}
	for _, p := range modulePaths {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// HSM is a private SoftHSM2 installation for one test.
type HSM struct {
	Dir    string // holds softhsm2.conf and tokens/
	Conf   string // path of softhsm2.conf; SOFTHSM2_CONF points here
	Module string
}

// Token is an initialised token in an HSM.
type Token struct {
	HSM   *HSM
	Label string
	PIN   string
	SOPIN string
}

// New creates a private SoftHSM2 installation in a temporary directory and
// points SOFTHSM2_CONF at it for the rest of the test (so the test cannot be
// parallel).
func New(t testing.TB) *HSM {
	t.Helper()
	h := NewInDir(t, t.TempDir())
	t.Setenv("SOFTHSM2_CONF", h.Conf)
	return h
}

// NewInDir creates a private SoftHSM2 installation in dir without touching
// the environment; callers pass Env() to the processes that use it.
func NewInDir(t testing.TB, dir string) *HSM {
	t.Helper()
	h, err := Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// Create is NewInDir for callers without a testing.TB (testscript setup).
func Create(dir string) (*HSM, error) {
	mod := Module()
	if mod == "" {
		return nil, fmt.Errorf("SoftHSM2 is not installed (apt-get install softhsm2); looked in %s", strings.Join(modulePaths, ", "))
	}
	tokens := filepath.Join(dir, "tokens")
	if err := os.MkdirAll(tokens, 0o700); err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	body := fmt.Sprintf("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n", tokens)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		return nil, err
	}
	return &HSM{Dir: dir, Conf: conf, Module: mod}, nil
}

// Env returns the environment entries that select this installation.
func (h *HSM) Env() []string { return []string{"SOFTHSM2_CONF=" + h.Conf} }

// Config returns an hsm.Config for the token labelled label.
func (h *HSM) Config(label string) hsm.Config {
	return hsm.Config{Module: h.Module, Token: hsm.TokenSelector{Label: label}}
}

// RandomPIN returns a fresh random PIN (16 hex digits), different for every
// call. The testing.TB is unused and kept for call-site symmetry.
func RandomPIN(testing.TB) string { return randomPIN() }

func randomPIN() string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b)
}

// InitToken initialises a new token labelled label with random PINs, using
// softhsm2-util.
func (h *HSM) InitToken(t testing.TB, label string) *Token {
	t.Helper()
	tk, err := h.Init(label)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// Init is InitToken for callers without a testing.TB.
func (h *HSM) Init(label string) (*Token, error) {
	tk := &Token{HSM: h, Label: label, PIN: randomPIN(), SOPIN: randomPIN()}
	_, err := h.Run("softhsm2-util", "--init-token", "--free", "--label", label, "--pin", tk.PIN, "--so-pin", tk.SOPIN)
	return tk, err
}

// Run runs a command with this installation's environment and returns its
// combined output.
func (h *HSM) Run(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), h.Env()...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %v\n%s", name, strings.Join(redactPINs(args), " "), err, out)
	}
	return string(out), nil
}

// TokenLabels lists the labels of the initialised tokens, as pkcs11-tool
// shows them (a blank slot has none).
func (h *HSM) TokenLabels() ([]string, error) {
	out, err := h.Run("pkcs11-tool", "--module", h.Module, "--list-token-slots")
	if err != nil {
		return nil, err
	}
	var labels []string
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "token label" {
			labels = append(labels, strings.TrimSpace(v))
		}
	}
	return labels, nil
}

// redactPINs returns args with the value after each PIN option replaced,
// so that a failing test's log holds no PIN.
func redactPINs(args []string) []string {
	out := append([]string(nil), args...)
	for i := 0; i+1 < len(out); i++ {
		switch out[i] {
		case "--pin", "--so-pin", "-p", "--new-pin", "--puk":
			out[i+1] = "[redacted]"
		}
	}
	return out
}

func (h *HSM) run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := h.Run(name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Object is one object as pkcs11-tool lists it.
type Object struct {
	Class string // "Private Key", "Public Key", "Secret Key", "Certificate", "Data"
	Type  string // "EC", "RSA 3072 bits", ...
	Label string
	ID    string // hex
	Usage string
	Attrs string // the "Access:" line, e.g. "sensitive, always sensitive, never extractable, local"
	// ECPoint is the public key's CKA_EC_POINT as pkcs11-tool prints it: hex
	// of a DER OCTET STRING holding the uncompressed point.
	ECPoint string
	// Application is a data object's CKA_APPLICATION.
	Application string
	// Flags is a data object's flags line, e.g. "modifiable private".
	Flags string
}

// Objects lists every object on the token, logged in as the user, with
// pkcs11-tool (OpenSC).
func (tk *Token) Objects(t testing.TB) []Object {
	t.Helper()
	objs, err := tk.ListObjects()
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// ListObjects is Objects for callers without a testing.TB.
func (tk *Token) ListObjects() ([]Object, error) {
	out, err := tk.HSM.Run("pkcs11-tool", "--module", tk.HSM.Module, "--token-label", tk.Label,
		"--login", "--pin", tk.PIN, "--list-objects")
	if err != nil {
		return nil, err
	}
	return ParseObjects(out), nil
}

// SetPrivateKeyID asks pkcs11-tool (OpenSC) to change the CKA_ID of the
// private key labelled label, logged in as the user, as anyone holding
// the PIN could: it fails for an unmodifiable key. It returns pkcs11-tool's
// output.
func (tk *Token) SetPrivateKeyID(label, id string) (string, error) {
	return tk.HSM.Run("pkcs11-tool", "--module", tk.HSM.Module, "--token-label", tk.Label,
		"--login", "--pin", tk.PIN, "--type", "privkey", "--label", label, "--set-id", id)
}

// PublicObjects lists the objects pkcs11-tool (OpenSC) sees on the token
// without logging in: what anyone can see without the PIN.
func (tk *Token) PublicObjects(t testing.TB) []Object {
	t.Helper()
	out, err := tk.HSM.Run("pkcs11-tool", "--module", tk.HSM.Module, "--token-label", tk.Label, "--list-objects")
	if err != nil {
		t.Fatal(err)
	}
	return ParseObjects(out)
}

// ReadObject returns pkcs11-tool's --read-object output for the object of
// the given type ("pubkey", "cert") labelled label: for a public key, its DER
// SubjectPublicKeyInfo. OpenSC 0.23 cannot read EC public keys this way
// ("cannot create EVP_PKEY"); compare Object.ECPoint for those.
func (tk *Token) ReadObject(t testing.TB, typ, label string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "object.der")
	tk.HSM.run(t, "pkcs11-tool", "--module", tk.HSM.Module, "--token-label", tk.Label,
		"--login", "--pin", tk.PIN, "--read-object", "--type", typ, "--label", label, "--output-file", out)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ParseObjects parses pkcs11-tool --list-objects output.
func ParseObjects(out string) []Object {
	var objs []Object
	for _, line := range strings.Split(out, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(line, "Data object ") {
			// Data objects: "Data object 2", then quoted values.
			objs = append(objs, Object{Class: "Data"})
			continue
		}
		if !strings.HasPrefix(line, " ") && strings.Contains(line, " Object;") {
			head, typ, _ := strings.Cut(line, ";")
			objs = append(objs, Object{Class: strings.TrimSuffix(strings.TrimSpace(head), " Object"), Type: strings.TrimSpace(typ)})
			continue
		}
		if len(objs) == 0 {
			continue
		}
		o := &objs[len(objs)-1]
		key, val, ok := strings.Cut(trimmed, ":")
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		if o.Class == "Data" && len(val) >= 2 && val[0] == '\'' && val[len(val)-1] == '\'' {
			val = val[1 : len(val)-1]
		}
		switch key {
		case "label":
			o.Label = val
		case "ID":
			o.ID = val
		case "Usage":
			o.Usage = val
		case "Access":
			o.Attrs = val
		case "EC_POINT":
			o.ECPoint = val
		case "application":
			o.Application = val
		case "flags":
			o.Flags = val
		}
	}
	return objs
}

// ECPointHex returns pub's uncompressed point as a DER OCTET STRING in hex,
// the form pkcs11-tool prints as EC_POINT.
func ECPointHex(t testing.TB, pub crypto.PublicKey) string {
	t.Helper()
	h, err := ECPoint(pub)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// ECPoint is ECPointHex for callers without a testing.TB.
func ECPoint(pub crypto.PublicKey) (string, error) {
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return "", fmt.Errorf("ECPoint: %T is not an ECDSA key", pub)
	}
	point, err := k.Bytes()
	if err != nil {
		return "", err
	}
	der, err := asn1.Marshal(point)
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(der), nil
}
