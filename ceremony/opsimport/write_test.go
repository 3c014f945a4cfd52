package opsimport_test

import (
	"bytes"
	"crypto/x509"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/devicepki/ceremony/ceremony/opsimport"
	"github.com/devicepki/ceremony/ceremony/verify"
	"github.com/devicepki/ceremony/internal/ceremonytest"
)

// checked is a report on a root certificate, a chain file in a
// subdirectory and a CRL.
func checked(t *testing.T) (*opsimport.Report, []opsimport.Input) {
	t.Helper()
	p := newPKI(t)
	berlin, _ := intermediate(t, "Example Devices Factory Berlin CA 1", p.Root, p.RootKey)
	ins := stage(t,
		file{"root-ca.crt.pem", ceremonytest.PEM(p.Root)},
		file{"berlin/intermediate.chain.pem", ceremonytest.PEM(berlin, p.Root)},
		file{"root-ca.crl.pem", crl(t, 1, p.Root, p.RootKey, now.Add(time.Hour))},
	)
	r, err := opsimport.Check(ins, verify.Pin{Root: p.Root}, now)
	if err != nil {
		t.Fatal(err)
	}
	return r, ins
}

// tree lists the files and directories under dir with their contents.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out[rel] = "-> " + target
		case d.IsDir():
			out[rel+"/"] = ""
		default:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = string(data)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func names(ws []opsimport.Written) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.Name)
	}
	sort.Strings(out)
	return out
}

func TestWrite(t *testing.T) {
	r, ins := checked(t)

	t.Run("fresh directory", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "a", "b")
		ws, err := r.Write(out)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(names(ws), " "); got != "berlin/intermediate.chain.pem root-ca.crl.pem root-ca.crt.pem" {
			t.Fatalf("wrote %s", got)
		}
		for _, w := range ws {
			if w.AlreadyPresent || w.Path != filepath.Join(out, filepath.FromSlash(w.Name)) {
				t.Fatalf("%+v", w)
			}
		}
		got := tree(t, out)
		if len(got) != 5 { // ./, berlin/ and three files
			t.Fatalf("tree %q", got)
		}
		for _, in := range ins {
			want, _ := os.ReadFile(in.Path)
			if got[filepath.FromSlash(in.Name)] != string(want) {
				t.Fatalf("%s differs", in.Name)
			}
			st, err := os.Stat(filepath.Join(out, filepath.FromSlash(in.Name)))
			if err != nil || st.Mode().Perm() != 0o644 {
				t.Fatalf("%s: %v %v", in.Name, st.Mode(), err)
			}
		}
	})

	t.Run("identical files already there", func(t *testing.T) {
		out := t.TempDir()
		if _, err := r.Write(out); err != nil {
			t.Fatal(err)
		}
		before, err := os.Stat(filepath.Join(out, "root-ca.crt.pem"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(filepath.Join(out, "root-ca.crl.pem")); err != nil {
			t.Fatal(err)
		}
		ws, err := r.Write(out)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range ws {
			if w.AlreadyPresent != (w.Name != "root-ca.crl.pem") {
				t.Fatalf("%+v", w)
			}
		}
		after, err := os.Stat(filepath.Join(out, "root-ca.crt.pem"))
		if err != nil || !os.SameFile(before, after) || before.Sys().(*syscall.Stat_t).Ino != after.Sys().(*syscall.Stat_t).Ino {
			t.Fatal("an identical file was rewritten")
		}
	})

	t.Run("a different file already there", func(t *testing.T) {
		out := t.TempDir()
		if err := os.WriteFile(filepath.Join(out, "root-ca.crl.pem"), []byte("an older CRL\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		want := tree(t, out)
		_, err := r.Write(out)
		if err == nil || !strings.Contains(err.Error(), "root-ca.crl.pem: already exists with different content") || !strings.Contains(err.Error(), "nothing was written") {
			t.Fatalf("%v", err)
		}
		if got := tree(t, out); len(got) != len(want) || got["root-ca.crl.pem"] != "an older CRL\n" {
			t.Fatalf("something was written: %q", got)
		}
	})

	t.Run("a symbolic link on the way", func(t *testing.T) {
		out, elsewhere := t.TempDir(), t.TempDir()
		if err := os.Symlink(elsewhere, filepath.Join(out, "berlin")); err != nil {
			t.Fatal(err)
		}
		_, err := r.Write(out)
		if err == nil || !strings.Contains(err.Error(), "is a symbolic link") {
			t.Fatalf("%v", err)
		}
		if len(tree(t, elsewhere)) != 1 || len(tree(t, out)) != 2 {
			t.Fatal("something was written")
		}
	})

	t.Run("a symbolic link in the file's place", func(t *testing.T) {
		out := t.TempDir()
		target := filepath.Join(t.TempDir(), "x")
		if err := os.Symlink(target, filepath.Join(out, "root-ca.crt.pem")); err != nil {
			t.Fatal(err)
		}
		_, err := r.Write(out)
		if err == nil || !strings.Contains(err.Error(), "exists as a symbolic link") {
			t.Fatalf("%v", err)
		}
		if _, err := os.Lstat(target); err == nil {
			t.Fatal("written through the link")
		}
	})

	t.Run("a file where a directory belongs", func(t *testing.T) {
		out := t.TempDir()
		if err := os.WriteFile(filepath.Join(out, "berlin"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := r.Write(out)
		if err == nil || !strings.Contains(err.Error(), "exists and is not a directory") {
			t.Fatalf("%v", err)
		}
	})

	t.Run("the output directory is a file", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out")
		if err := os.WriteFile(out, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Write(out); err == nil {
			t.Fatal("wrote into a file")
		}
	})
}

// Output names are checked before anything is read: no way out of the
// output directory, no hidden names, no duplicates, no file where another
// name needs a directory.
func TestNames(t *testing.T) {
	p := newPKI(t)
	root := ceremonytest.PEM(p.Root)
	path := filepath.Join(t.TempDir(), "root.pem")
	if err := os.WriteFile(path, root, 0o644); err != nil {
		t.Fatal(err)
	}
	in := func(name string) opsimport.Input {
		return opsimport.Input{Name: name, Path: path, Origin: "ORIGIN " + name}
	}
	for _, name := range []string{"../root.pem", "a/../../root.pem", "/etc/root.pem", "./root.pem", "a//root.pem", "a/", "", ".", "..", `a\..\root.pem`, ".hidden.pem", "a/.b/root.pem", "root\n.pem", "root\u202e.pem"} {
		t.Run(name, func(t *testing.T) {
			_, err := opsimport.Check([]opsimport.Input{in(name)}, verify.Pin{Root: p.Root}, now)
			wantRefusal(t, err, "ORIGIN "+name, "output name")
		})
	}
	t.Run("duplicate", func(t *testing.T) {
		_, err := opsimport.Check([]opsimport.Input{in("root.pem"), {Name: "root.pem", Path: path, Origin: "second"}}, verify.Pin{Root: p.Root}, now)
		wantRefusal(t, err, "second", `output name "root.pem" is also that of ORIGIN root.pem`)
	})
	t.Run("a file and a directory of the same name", func(t *testing.T) {
		_, err := opsimport.Check([]opsimport.Input{in("a"), in("a/b/root.pem")}, verify.Pin{Root: p.Root}, now)
		wantRefusal(t, err, "ORIGIN a/b/root.pem", `needs a directory "a", which is the output name of ORIGIN a`)
	})
	t.Run("fine", func(t *testing.T) {
		if _, err := opsimport.Check([]opsimport.Input{in("Root CA (2026).pem"), in("a/b/root.pem")}, verify.Pin{Root: p.Root}, now); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("in memory", func(t *testing.T) {
		r, err := opsimport.Check([]opsimport.Input{{Name: "root-ca.crt.pem", Origin: "bundle X: root-ca.crt.pem", Data: root}}, verify.Pin{Root: p.Root}, now)
		if err != nil || r.Items[0].Certificates[0].Role != opsimport.RoleRoot {
			t.Fatal(err)
		}
	})
}

func TestLimits(t *testing.T) {
	p := newPKI(t)
	dir := t.TempDir()
	big := filepath.Join(dir, "big.pem")
	if err := os.WriteFile(big, bytes.Repeat([]byte{'\n'}, opsimport.MaxFileSize+1), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo.pem")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path, msg string
	}{
		{big, "larger than"},
		{fifo, "not a regular file"},
		{dir, "not a regular file"},
		{filepath.Join(dir, "missing.pem"), "no such file"},
	} {
		_, err := opsimport.Check([]opsimport.Input{{Name: "x.pem", Path: tc.path}}, verify.Pin{Root: p.Root}, now)
		wantRefusal(t, err, tc.path, tc.msg)
	}
	_, err := opsimport.Check([]opsimport.Input{{Name: "x.pem", Origin: "bundle X: x.pem", Data: make([]byte, opsimport.MaxFileSize+1)}}, verify.Pin{Root: p.Root}, now)
	wantRefusal(t, err, "bundle X: x.pem", "larger than")
	if _, err := opsimport.Check(nil, verify.Pin{Root: p.Root}, now); err == nil {
		t.Fatal("nothing to import, and no error")
	}
	many := make([]opsimport.Input, opsimport.MaxInputs+1)
	if _, err := opsimport.Check(many, verify.Pin{Root: p.Root}, now); err == nil || !strings.Contains(err.Error(), "at most") {
		t.Fatalf("%v", err)
	}
}

// Text from certificates reaches titles, fields and refusals only as
// printable text.
func TestPrintable(t *testing.T) {
	p := newPKI(t)
	evil, _ := endEntity(t, "device\x1b[2J\u202eexe.txt", p.Root, p.RootKey, func(c *x509.Certificate) {
		c.Subject.Organization = []string{"Line\nBreak"}
	})
	r, err := opsimport.Check(stage(t, file{"evil.crt.pem", ceremonytest.PEM(evil)}), verify.Pin{Root: p.Root}, now)
	if err != nil {
		t.Fatal(err)
	}
	it := r.Items[0]
	all := it.Title + strings.Join(it.Notes, "")
	for _, f := range it.Fields {
		all += f.Label + f.Value
	}
	if strings.ContainsAny(all, "\x1b\n\u202e") {
		t.Fatalf("unprintable text in the report: %q", all)
	}

	other := newPKI(t)
	foreign, _ := endEntity(t, "device\x1b[2J\nsecond line", other.Root, other.RootKey, nil)
	_, err = opsimport.Check(stage(t, file{"evil.crt.pem", ceremonytest.PEM(foreign)}), verify.Pin{Root: p.Root}, now)
	if err == nil || strings.ContainsAny(err.Error(), "\x1b\n") {
		t.Fatalf("%q", err)
	}
}
