package durable

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// tree lists every file and directory under dir (relative), with the
// content of files.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			out[rel+"/"] = ""
			return nil
		}
		b, _ := os.ReadFile(p)
		out[rel] = string(b)
		return nil
	})
	return out
}

func TestWriteAllFresh(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "out")
	res, err := WriteAll(dir, []NamedFile{{"transcript.jsonl", []byte("t")}, {"artifacts/a.pem", []byte("a")}, {"artifacts/b.pem", nil}})
	if err != nil {
		t.Fatal(err)
	}
	got := tree(t, dir)
	want := map[string]string{"transcript.jsonl": "t", "artifacts/": "", "artifacts/a.pem": "a", "artifacts/b.pem": ""}
	if len(got) != len(want) {
		t.Fatalf("tree %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("tree %v", got)
		}
	}
	if len(res.Written) != 3 || len(res.Unchanged) != 0 {
		t.Fatalf("%+v", res)
	}
}

func TestWriteAllIdenticalAndConflicting(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.pem"), []byte("same"), 0o644)
	os.WriteFile(filepath.Join(dir, "b.pem"), []byte("old"), 0o644)
	res, err := WriteAll(dir, []NamedFile{{"a.pem", []byte("same")}, {"c.pem", []byte("c")}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.Unchanged, ",") != "a.pem" || strings.Join(res.Written, ",") != "c.pem" {
		t.Fatalf("%+v", res)
	}
	before := tree(t, dir)
	_, err = WriteAll(dir, []NamedFile{{"d.pem", []byte("d")}, {"sub/e.pem", []byte("e")}, {"b.pem", []byte("new")}})
	if err == nil || !strings.Contains(err.Error(), "b.pem: already exists with different content; nothing was written") {
		t.Fatalf("conflict: %v", err)
	}
	if after := tree(t, dir); len(after) != len(before) || after["b.pem"] != "old" {
		t.Fatalf("something changed: %v", after)
	}
}

func TestWriteAllRefusesNames(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"", "/etc/x", "../x", "a/../../x", "a//b", "./a", `a\b`, "a/", ".hidden", "a/.tmp"} {
		if _, err := WriteAll(dir, []NamedFile{{name, []byte("x")}}); err == nil {
			t.Errorf("name %q accepted", name)
		}
	}
	if _, err := WriteAll(dir, []NamedFile{{"a", nil}, {"a", nil}}); err == nil {
		t.Error("duplicate accepted")
	}
	if got := tree(t, dir); len(got) != 0 {
		t.Fatalf("wrote %v", got)
	}
}

func TestWriteAllNeverLeavesTheDirectory(t *testing.T) {
	outside := t.TempDir()
	dir := t.TempDir()
	// A symlinked subdirectory pointing outside: refused, nothing written
	// there.
	os.Symlink(outside, filepath.Join(dir, "artifacts"))
	if _, err := WriteAll(dir, []NamedFile{{"artifacts/a.pem", []byte("x")}}); err == nil {
		t.Fatal("wrote through a symlink")
	}
	if got := tree(t, outside); len(got) != 0 {
		t.Fatalf("wrote outside: %v", got)
	}
	// A symlinked file: not a regular file, refused.
	os.Symlink(filepath.Join(outside, "target"), filepath.Join(dir, "b.pem"))
	if _, err := WriteAll(dir, []NamedFile{{"b.pem", []byte("x")}}); err == nil {
		t.Fatal("wrote through a file symlink")
	}
	if _, err := os.Lstat(filepath.Join(outside, "target")); err == nil {
		t.Fatal("symlink target created")
	}
	// A file where a directory belongs.
	os.WriteFile(filepath.Join(dir, "sub"), nil, 0o644)
	if _, err := WriteAll(dir, []NamedFile{{"sub/c.pem", []byte("x")}}); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("file in the way: %v", err)
	}
}

func TestWriteAllUndoesAFailedWrite(t *testing.T) {
	if os.Geteuid() == 0 {
		// root ignores directory permissions; make the second write fail
		// another way: a directory where the temporary file goes.
		parent := t.TempDir()
		// Directories this call makes go again: new/out is made here.
		// ("a" is written as a file, so "a/b" cannot be: the write fails
		// midway.)
		if _, err := WriteAll(filepath.Join(parent, "new", "out"), []NamedFile{{"x/y.pem", []byte("y")}, {"a", []byte("x")}, {"a/b", nil}}); err == nil {
			t.Fatal("a/b written under a file")
		}
		if got := tree(t, parent); len(got) != 0 {
			t.Fatalf("left behind: %v", got)
		}
		// A temporary file a crash left behind is no obstacle.
		dir := filepath.Join(parent, "out")
		os.MkdirAll(filepath.Join(dir, "z"), 0o755)
		os.WriteFile(filepath.Join(dir, "z", ".f.pem.tmp"), nil, 0o644)
		if _, err := WriteAll(dir, []NamedFile{{"z/f.pem", []byte("f")}}); err != nil {
			t.Fatal(err)
		}
		var names []string
		for k := range tree(t, dir) {
			names = append(names, k)
		}
		sort.Strings(names)
		if strings.Join(names, ",") != "z/,z/.f.pem.tmp,z/f.pem" {
			t.Fatalf("tree: %v", names)
		}
		return
	}
	dir := filepath.Join(t.TempDir(), "out")
	os.MkdirAll(filepath.Join(dir, "z"), 0o755)
	os.Chmod(filepath.Join(dir, "z"), 0o555)
	defer os.Chmod(filepath.Join(dir, "z"), 0o755)
	_, err := WriteAll(dir, []NamedFile{{"a/x.pem", []byte("x")}, {"z/f.pem", []byte("f")}})
	if err == nil {
		t.Fatal("no error")
	}
	if got := tree(t, dir); len(got) != 1 {
		t.Fatalf("left behind: %v", got)
	}
}
