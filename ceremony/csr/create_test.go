package csr

import (
	"context"
	"crypto/x509"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devicepki/ceremony/ceremony/keys"
	"github.com/devicepki/ceremony/ceremony/secret"
	"github.com/devicepki/ceremony/hsm"
	"github.com/devicepki/ceremony/internal/softhsmtest"
)

func TestCheckOutput(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "there.csr.pem")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	dangling := filepath.Join(dir, "dangling.csr.pem")
	if err := os.Symlink(filepath.Join(dir, "nowhere"), dangling); err != nil {
		t.Fatal(err)
	}
	if err := CheckOutput(filepath.Join(dir, "new.csr.pem")); err != nil {
		t.Fatalf("a new file in an existing directory: %v", err)
	}
	for path, want := range map[string]string{
		file:                                 "already exists; refusing to overwrite it",
		dangling:                             "already exists; refusing to overwrite it",
		filepath.Join(dir, "nodir", "x.pem"): "directory " + filepath.Join(dir, "nodir") + " does not exist",
		filepath.Join(file, "x.pem"):         "not a directory",
	} {
		err := CheckOutput(path)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckOutput(%s) = %v, want %q", path, err, want)
		}
	}
	// The probe leaves nothing behind, and the dangling link's target is
	// not created.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("%d entries in %s after the checks, want 2", len(entries), dir)
	}
}

// Create makes a CSR in a SoftHSM2 token that ReadFile accepts, signed as
// keys says for the key; a failure after --generate destroys the key pair
// it made, and the PIN is wiped.
func TestCreate(t *testing.T) {
	h := softhsmtest.New(t)
	tk := h.InitToken(t, "factory")
	dir := t.TempDir()
	subject, err := ParseSubject("/O=Example Devices GmbH/CN=Factory Berlin")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "factory.csr.pem")
	pin := secret.FromString(tk.PIN)
	made, err := Create(context.Background(), &Spec{
		Config: h.Config("factory"), Label: "line-1", Generate: keys.ECDSAP384, Subject: subject, Out: out,
	}, pin)
	if err != nil {
		t.Fatal(err)
	}
	if pin.Len() != 0 {
		t.Errorf("the PIN was not wiped")
	}
	req, err := ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	fp, _ := keys.Fingerprint(req.CSR.PublicKey)
	if req.CSR.SignatureAlgorithm != x509.ECDSAWithSHA384 || req.CSR.Subject.CommonName != "Factory Berlin" ||
		fp != made.Fingerprint || req.SHA256 != made.DERSHA256 || !made.Generated || made.Token != "factory" ||
		made.Signature != "ECDSA with SHA-384" {
		t.Errorf("CSR %s signed with %s, fingerprint %s; made %+v", req.CSR.Subject, req.CSR.SignatureAlgorithm, fp, made)
	}

	// The write fails: the key pair generated for it is destroyed again.
	made, err = Create(context.Background(), &Spec{
		Config: h.Config("factory"), Label: "line-2", Generate: keys.ECDSAP256, Subject: subject,
		Out:       filepath.Join(dir, "line-2.csr.pem"),
		WriteFile: func(string, []byte, fs.FileMode) error { return errors.New("disk full") },
	}, secret.FromString(tk.PIN))
	if made != nil || err == nil || err.Error() != `write CSR: disk full (the key pair "line-2" generated for this CSR was destroyed again; nothing was changed)` {
		t.Fatalf("got %+v, %v", made, err)
	}
	for _, o := range tk.Objects(t) {
		if o.Label == "line-2" {
			t.Errorf("the key pair generated for the failed CSR is still on the token: %+v", o)
		}
	}

	// An existing key pair is found by its label; a missing one is named.
	if _, err := Create(context.Background(), &Spec{Config: h.Config("factory"), Label: "line-1", Subject: subject,
		Out: filepath.Join(dir, "again.csr.pem")}, secret.FromString(tk.PIN)); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(context.Background(), &Spec{Config: h.Config("factory"), Label: "nope", Subject: subject,
		Out: filepath.Join(dir, "nope.csr.pem")}, secret.FromString(tk.PIN)); !errors.Is(err, hsm.ErrKeyNotFound) {
		t.Fatalf("a missing key pair: %v", err)
	}
}
