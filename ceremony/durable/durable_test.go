package durable

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteFileExclusive(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.pem")
	if err := WriteFileExclusive(p, []byte("one"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileExclusive(p, []byte("two"), 0o644); err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Fatalf("second write: %v", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "one" {
		t.Fatalf("content %q", b)
	}
	// A dangling symlink counts as existing: it is not followed.
	link := filepath.Join(dir, "link.pem")
	os.Symlink(filepath.Join(dir, "elsewhere"), link)
	if err := WriteFileExclusive(link, []byte("x"), 0o644); err == nil {
		t.Fatal("write through a dangling symlink succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, "elsewhere")); !os.IsNotExist(err) {
		t.Fatal("symlink target created")
	}
	st, _ := os.Stat(p)
	if st.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v", st.Mode())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Fatalf("temporary files left: %v", entries)
	}
}

func TestCreateExclusive(t *testing.T) {
	p := filepath.Join(t.TempDir(), "t.jsonl")
	f, err := CreateExclusive(p, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := CreateExclusive(p, 0o644); err == nil {
		t.Fatal("second create succeeded")
	}
}

// ReplaceFile puts the new content in place whole, over the old file, and
// leaves no temporary file; IsTemp knows its temporary names.
func TestReplaceFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "transcript.md")
	for _, content := range []string{"old\n", "new record\n"} {
		if err := ReplaceFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(p); string(got) != content {
			t.Fatalf("file holds %q, want %q", got, content)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("the directory holds %d entries, want the file alone", len(entries))
	}
	for name, want := range map[string]bool{".transcript.md.tmp-123": true, ".a.tmp-deadbeef": true, "transcript.md": false, ".x\x1b[2J.tmp-1": false, ".a.tmp-": false} {
		if IsTemp(name) != want {
			t.Errorf("IsTemp(%q) = %v", name, !want)
		}
	}
}
