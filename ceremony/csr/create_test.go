package csr

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
