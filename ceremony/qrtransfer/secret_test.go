package qrtransfer_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devicepki/ceremony/ceremony/backup"
	"github.com/devicepki/ceremony/ceremony/bundle"
	"github.com/devicepki/ceremony/ceremony/qrtransfer"
	"github.com/devicepki/ceremony/internal/ceremonytest"
)

// Secret recognises backups, shares, age files and private keys by their
// content, and lets public files (and a PIN-like line) pass.
func TestSecret(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(ec)
	sec1, _ := x509.MarshalECPrivateKey(ec)
	rk, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	pkcs1 := x509.MarshalPKCS1PrivateKey(rk)
	pub, _ := x509.MarshalPKIXPublicKey(ec.Public())
	p := ceremonytest.NewPKI(t, "Secret Test Root")
	block := func(typ string, b []byte) string { return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b})) }
	for _, tc := range []struct{ name, data, why string }{
		{"backup", block(backup.PEMType, []byte("wrapped")), "a wrapped key backup"},
		{"backup after text", "notes\n" + block(backup.PEMType, []byte("wrapped")), "a wrapped key backup"},
		{"damaged backup", "-----BEGIN " + backup.PEMType + "-----\n!!!\n", "a wrapped key backup"},
		{"pkcs8 pem", block("PRIVATE KEY", pkcs8), "a private key (PEM PRIVATE KEY)"},
		{"ec pem after a certificate", string(ceremonytest.PEM(p.Root)) + block("EC PRIVATE KEY", sec1), "a private key (PEM EC PRIVATE KEY)"},
		{"encrypted pem", block("ENCRYPTED PRIVATE KEY", []byte{1}), "a private key"},
		{"damaged pem", "-----BEGIN OPENSSH PRIVATE KEY-----\nnot base64\n", "a private key"},
		{"pkcs8 der", string(pkcs8), "a private key (DER, PKCS#8)"},
		{"sec1 der", string(sec1), "a private key (DER, SEC 1 EC)"},
		{"pkcs1 der", string(pkcs1), "a private key (DER, PKCS#1 RSA)"},
		{"share text", "# Ceremony share: 2 of 3 for backup\nCS1B\nABCDE FGHJK\n", "a share"},
		{"share tag alone", "CS1A\n0000 0000\n", "a share (a line opens with its tag group"},
		{"share as typed", "  csib-abcde-fghjk\n", "a share"},
		{"share compact", "CS1A-ABCDE-FGHJK-MNPQR", "a share"},
		{"age", "age-encryption.org/v1\n-> scrypt abc 18\nxyz\n--- abc\n\x00\x01", "an age-encrypted file"},
		{"age armored", "-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n-----END AGE ENCRYPTED FILE-----\n", "an age-encrypted file"},
		{"activation record", `{"version":1,"pin_derivation":"hkdf-sha256/v1","pin_length":32,"token":"t","manifest":{"version":1}}`, "a token's activation record"},
		{"edited activation record", "\n {\"manifest\": null, \"pin_derivation\": 7}", "a token's activation record"},
		{"other JSON", `{"manifest":{}}`, ""},
		{"certificate", string(ceremonytest.PEM(p.Root)), ""},
		{"certificate der", string(p.Root.Raw), ""},
		{"public key", block("PUBLIC KEY", pub), ""},
		{"transcript", `{"seq":1,"type":"ceremony-started","text":"CS1A is a word here"}` + "\n", ""},
		{"pin-like", "483920\n", ""},
		{"other tag", "CS1C\nCS12\nCS1ABC\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := qrtransfer.Secret([]byte(tc.data))
			if (tc.why == "") != (got == "") || !strings.Contains(got, tc.why) {
				t.Fatalf("Secret = %q, want %q", got, tc.why)
			}
		})
	}
}

// A file of a ceremony directory leaves only if its transcript lists it
// as a public artifact with its bytes; a ceremony directory stands for its
// public files. Whatever the name, secret content is refused; and qr
// import does not reassemble it.
func TestReadFilesPublicOnly(t *testing.T) {
	p := ceremonytest.NewPKI(t, "Public Test Root")
	c := ceremonytest.NewCeremony(t, p, ceremonytest.Artifact{Path: "artifacts/root-ca.crt.pem", Data: ceremonytest.PEM(p.Root)})
	write := func(rel string, data []byte) string {
		path := filepath.Join(c.Dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	stray := write("artifacts/notes.txt", []byte("hello"))
	share := write("shares/1.share", []byte("hello too"))
	if _, err := qrtransfer.ReadFiles([]string{filepath.Join(c.Dir, "transcript.jsonl"), filepath.Join(c.Dir, "artifacts", "root-ca.crt.pem")}); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		stray: "that its transcript does not list as a public artifact",
		share: "that its transcript does not list as a public artifact",
	} {
		_, err := qrtransfer.ReadFiles([]string{path})
		var se *qrtransfer.SecretError
		if !errors.As(err, &se) || se.Name != path || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", path, err, want)
		}
	}
	// The directory: its public files, the stray one left out.
	var log strings.Builder
	files, err := qrtransfer.ReadFilesLog([]string{c.Dir}, &log)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
	}
	if strings.Join(names, " ") != "transcript.jsonl transcript.sig artifacts/root-ca.crt.pem" || !strings.Contains(log.String(), "notes.txt: not a public artifact of its transcript; left out") {
		t.Fatalf("names %q, log %q", names, log.String())
	}
	// A recorded artifact whose bytes changed.
	write("artifacts/root-ca.crt.pem", []byte("changed"))
	if _, err := qrtransfer.ReadFiles([]string{filepath.Join(c.Dir, "artifacts", "root-ca.crt.pem")}); err == nil || !strings.Contains(err.Error(), "its SHA-256 differs") {
		t.Fatalf("a changed artifact: %v", err)
	}
	// A backup renamed x.pem, outside any ceremony directory.
	x := filepath.Join(t.TempDir(), "x.pem")
	if err := os.WriteFile(x, pem.EncodeToMemory(&pem.Block{Type: backup.PEMType, Bytes: []byte{1}}), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := qrtransfer.ReadFiles([]string{x}); err == nil || err.Error() != x+": a wrapped key backup (PEM "+backup.PEMType+"): key backups stay in the ceremony room: nothing secret leaves by QR" {
		t.Fatalf("a backup as x.pem: %v", err)
	}

	// Frames of a bundle holding a share, made by another tool.
	exp, err := qrtransfer.New([]bundle.File{{Name: "note.txt", Data: []byte("CS1B-ABCDE")}}, qrtransfer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	im := qrtransfer.NewImporter("", io.Discard)
	for i, l := range exp.Texts() {
		im.Line(l, "line "+itoa3(i))
	}
	if files, _, err := im.Result(); err == nil || files != nil || !strings.Contains(err.Error(), "note.txt: a share") || !strings.HasSuffix(err.Error(), "nothing is written") {
		t.Fatalf("reassembled a share: %v", err)
	}
}
