package outdir

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	base := t.TempDir()
	if _, err := Check(filepath.Join(base, "new", "deeper")); err != nil {
		t.Fatalf("new directory: %v", err)
	}
	if _, err := Check(base); err != nil {
		t.Fatalf("empty directory: %v", err)
	}
	used := filepath.Join(base, "used")
	os.MkdirAll(used, 0o755)
	os.WriteFile(filepath.Join(used, TranscriptFile), []byte("x\n"), 0o644)
	if _, err := Check(used); err == nil || !strings.Contains(err.Error(), "already holds a ceremony transcript") {
		t.Fatalf("dir with transcript: %v", err)
	}
	other := filepath.Join(base, "other")
	os.MkdirAll(other, 0o755)
	os.WriteFile(filepath.Join(other, "notes.txt"), nil, 0o644)
	if _, err := Check(other); err == nil || !strings.Contains(err.Error(), "is not empty (holds notes.txt)") {
		t.Fatalf("non-empty dir: %v", err)
	}
	file := filepath.Join(base, "file")
	os.WriteFile(file, nil, 0o644)
	if _, err := Check(file); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("file: %v", err)
	}
}

func TestWriteArtifact(t *testing.T) {
	d, err := Check(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Create(); err != nil {
		t.Fatal(err)
	}
	a, err := d.WriteArtifact("root-ca.crt.pem", []byte("cert"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("cert"))
	if a.Path != "artifacts/root-ca.crt.pem" || a.Size != 4 || a.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("artifact %+v", a)
	}
	if _, err := d.WriteArtifact("root-ca.crt.pem", []byte("other")); err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Fatalf("overwrite: %v", err)
	}
	got, _ := os.ReadFile(filepath.Join(d.Path(), "artifacts", "root-ca.crt.pem"))
	if !bytes.Equal(got, []byte("cert")) {
		t.Fatalf("artifact content %q", got)
	}
	entries, _ := os.ReadDir(filepath.Join(d.Path(), "artifacts"))
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
	for _, bad := range []string{"../escape", "a/b", "", ".hidden", "UPPER.pem"} {
		if _, err := d.WriteArtifact(bad, nil); err == nil {
			t.Errorf("name %q accepted", bad)
		}
	}
}

func TestDiscardRemovesOnlyWhatItMade(t *testing.T) {
	base := t.TempDir()
	d, _ := Check(filepath.Join(base, "out"))
	d.Create()
	os.WriteFile(d.TranscriptPath(), []byte("x\n"), 0o644)
	if err := d.Discard(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d.Path()); !os.IsNotExist(err) {
		t.Fatal("created directory not removed")
	}
	// Parents Create made go too, and only they.
	d, _ = Check(filepath.Join(base, "a", "b", "out"))
	if err := d.Create(); err != nil {
		t.Fatal(err)
	}
	if err := d.Discard(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(base, "a")); !os.IsNotExist(err) {
		t.Fatal("created parent directories not removed")
	}
	if _, err := os.Stat(base); err != nil {
		t.Fatal("pre-existing base removed")
	}
	// A directory the user made stays.
	d, _ = Check(base)
	d.Create()
	os.WriteFile(d.TranscriptPath(), []byte("x\n"), 0o644)
	if err := d.Discard(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(base); err != nil {
		t.Fatal("user's directory removed")
	}
	if _, err := os.Stat(d.TranscriptPath()); !os.IsNotExist(err) {
		t.Fatal("transcript not removed")
	}
}

// A path recorded in a transcript names a file in artifacts/ or nothing:
// an edited transcript cannot make close remove a file elsewhere.
func TestArtifactPath(t *testing.T) {
	if got, err := ArtifactPath("artifacts/root-ca.crt.pem"); err != nil || got != filepath.Join("artifacts", "root-ca.crt.pem") {
		t.Fatalf("ArtifactPath = %q, %v", got, err)
	}
	for _, p := range []string{"", "artifacts/", "artifacts/../transcript.jsonl", "../x", "/etc/passwd", "artifacts/a/b",
		"artifacts/..", "artifacts/.", "transcript.jsonl", "artifacts/A.pem", `artifacts\x`} {
		if got, err := ArtifactPath(p); err == nil {
			t.Errorf("ArtifactPath(%q) = %q, want an error", p, got)
		}
	}
}

// One process at a time holds a ceremony directory: a second lock is
// refused at once (ErrBusy), Busy says so, and Unlock lets the next in.
func TestLock(t *testing.T) {
	path := t.TempDir()
	a, b := &Dir{path: path}, &Dir{path: path}
	if Busy(path) {
		t.Fatal("busy before anyone locked it")
	}
	if err := a.Lock(); err != nil {
		t.Fatal(err)
	}
	if err := b.Lock(); !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("second lock: %v", err)
	}
	if !Busy(path) {
		t.Error("not busy while locked")
	}
	if err := a.Unlock(); err != nil {
		t.Fatal(err)
	}
	if Busy(path) {
		t.Error("busy after unlock")
	}
	if err := b.Lock(); err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	b.Unlock()
}
