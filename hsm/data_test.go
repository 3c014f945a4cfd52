package hsm_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devicepki/ceremony/hsm"
	"github.com/devicepki/ceremony/internal/softhsmtest"
)

func TestStoreAndReadData(t *testing.T) {
	h := softhsmtest.New(t)
	tok, tk := initBlank(t, h, "a")
	manifest := []byte(`{"shares":5,"threshold":3}` + "\n\x00\xff binary too")

	if _, err := tok.ReadData("share-manifest"); !errors.Is(err, hsm.ErrDataNotFound) || !strings.Contains(err.Error(), `token "a" has no data object labelled "share-manifest"`) {
		t.Fatalf("ReadData before StoreData: %v", err)
	}
	if err := tok.StoreData("share-manifest", manifest); err != nil {
		t.Fatal(err)
	}
	if err := tok.StoreData("share-manifest", []byte("other")); !errors.Is(err, hsm.ErrLabelInUse) {
		t.Fatalf("second StoreData: %v", err)
	}
	if err := tok.StoreData("empty", nil); err == nil {
		t.Fatal("empty value stored")
	}
	if err := tok.StoreData(" bad", []byte("x")); err == nil {
		t.Fatal("bad label accepted")
	}
	got, err := tok.ReadData("share-manifest")
	if err != nil || !bytes.Equal(got, manifest) {
		t.Fatalf("ReadData = %q, %v", got, err)
	}

	// pkcs11-tool sees one public data object.
	objs := tk.Objects(t)
	if len(objs) != 1 || objs[0].Class != "Data" || objs[0].Label != "share-manifest" || objs[0].Application != "ceremony" {
		out, _ := h.Run("pkcs11-tool", "--module", h.Module, "--token-label", "a", "--list-objects")
		t.Fatalf("pkcs11-tool objects: %+v\n%s", objs, out)
	}
	out, err := h.Run("pkcs11-tool", "--module", h.Module, "--token-label", "a", "--list-objects")
	if err != nil || !strings.Contains(out, "share-manifest") || !strings.Contains(out, "ceremony") {
		t.Fatalf("pkcs11-tool without login does not see the data object: %v\n%s", err, out)
	}

	// A fresh session reads it without logging in; storing needs a login.
	if err := tok.Close(); err != nil {
		t.Fatal(err)
	}
	tok2, err := hsm.Open(h.Config("a"))
	if err != nil {
		t.Fatal(err)
	}
	defer tok2.Close()
	got, err = tok2.ReadData("share-manifest")
	if err != nil || !bytes.Equal(got, manifest) {
		t.Fatalf("ReadData without login = %q, %v", got, err)
	}
	if _, err := tok2.ReadData("nope"); !errors.Is(err, hsm.ErrDataNotFound) {
		t.Fatalf("ReadData(nope): %v", err)
	}
	if err := tok2.StoreData("x", []byte("x")); !errors.Is(err, hsm.ErrNotLoggedIn) {
		t.Fatalf("StoreData without login: %v", err)
	}
}

func TestReadDataRefusesDuplicates(t *testing.T) {
	h := softhsmtest.New(t)
	tok, tk := initBlank(t, h, "a")
	// Another tool writes two data objects with the same label and
	// application; ReadData does not pick one of them.
	for _, v := range []string{"one", "two"} {
		if _, err := h.Run("pkcs11-tool", "--module", h.Module, "--token-label", "a", "--login", "--pin", tk.PIN,
			"--write-object", writeTemp(t, v), "--type", "data", "--label", "dup", "--application-label", "ceremony"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tok.ReadData("dup"); err == nil || !strings.Contains(err.Error(), "holds 2 data objects labelled \"dup\"") {
		t.Fatalf("ReadData with two objects: %v", err)
	}
	if err := tok.StoreData("dup", []byte("three")); !errors.Is(err, hsm.ErrLabelInUse) {
		t.Fatalf("StoreData over existing objects: %v", err)
	}
}

func writeTemp(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "obj")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
