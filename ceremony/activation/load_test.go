package activation

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/devicepki/ceremony/ceremony/secret"
	"github.com/devicepki/ceremony/ceremony/shares"
	"github.com/devicepki/ceremony/hsm"
	"github.com/devicepki/ceremony/internal/softhsmtest"
)

// record returns a marshalled record for token label.
func record(t *testing.T, label string) []byte {
	t.Helper()
	sec := secret.New(bytes.Repeat([]byte{3}, SecretLen))
	_, man, err := shares.Split(bytes.NewReader(bytes.Repeat([]byte{5}, 64)), sec, shares.Activation, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	data, err := (&Record{Version: 1, Derivation: DerivationAlnum, PINLength: 8, Token: label, Manifest: man}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func writeFile(t *testing.T, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), ArtifactName)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// The record is read from the token, from the file, or both (the same
// bytes), and checked the same way wherever it comes from.
func TestLoad(t *testing.T) {
	h := softhsmtest.New(t)
	tk := h.InitToken(t, "root")
	tok, err := hsm.Open(h.Config("root"))
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	data := record(t, "root")
	file := writeFile(t, data)

	// No record on the token: the file, or a refusal saying what to give.
	if _, _, _, err := Load(tok, ""); err == nil || !strings.Contains(err.Error(), "activation_record: PATH") {
		t.Errorf("no record anywhere: %v", err)
	}
	if rec, got, where, err := Load(tok, file); err != nil || where != InFile || !bytes.Equal(got, data) || rec.Format().Length != 8 {
		t.Errorf("file only: %v, %q", err, where)
	}
	if _, _, _, err := Load(tok, writeFile(t, record(t, "other"))); err == nil || !strings.Contains(err.Error(), `is for token "other", not "root"`) {
		t.Errorf("another token's record: %v", err)
	}
	if _, _, _, err := Load(tok, writeFile(t, []byte("{"))); err == nil || !strings.Contains(err.Error(), ArtifactName) {
		t.Errorf("a broken file: %v", err)
	}
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := Load(tok, fifo); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a FIFO: %v", err)
	}
	if _, _, _, err := Load(tok, writeFile(t, bytes.Repeat([]byte(" "), maxRecordFile+1))); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("an oversized file: %v", err)
	}

	// On the token: alone, with the same file, or refused beside another.
	if err := tok.Login(secret.FromString(tk.PIN)); err != nil {
		t.Fatal(err)
	}
	if err := tok.StoreData(RecordLabel, data); err != nil {
		t.Fatal(err)
	}
	if _, _, where, err := Load(tok, ""); err != nil || where != OnToken {
		t.Errorf("token only: %v, %q", err, where)
	}
	if _, _, where, err := Load(tok, file); err != nil || where != TokenFile {
		t.Errorf("token and file: %v, %q", err, where)
	}
	other := bytes.Replace(data, []byte(`"pin_length":8`), []byte(`"pin_length":9`), 1)
	if _, _, _, err := Load(tok, writeFile(t, other)); err == nil || !strings.Contains(err.Error(), "not the activation record token \"root\" holds") {
		t.Errorf("a file unlike the token's record: %v", err)
	}
}
