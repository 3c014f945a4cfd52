package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/devicepki/ceremony/internal/ceremonytest"
	"github.com/devicepki/ceremony/internal/softhsmtest"
)

// TestEveryReaderBounded gives each file the program reads, through the
// command that reads it, each kind of file that must not be read: a FIFO
// (which would block), a character device (/dev/zero, which never ends), a
// directory, a symbolic link to a FIFO, and a sparse file past every limit
// (65 MiB, larger than the largest kind's, an artifact's 64 MiB). Each run
// must end (a run still going after a minute is killed and fails the
// test), exit non-zero with one line on standard error that names the
// file, and make nothing.
func TestEveryReaderBounded(t *testing.T) {
	work := crashWork(t)
	tok := freshToken(t, work, "o", "root")
	// An initialised token, for hsm check to log in to with a PIN file.
	h, err := softhsmtest.Create(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h.InitToken(t, "demo")
	initialised := filepath.Join(work, "demo.yaml")
	if err := os.WriteFile(initialised, []byte("module: "+h.Module+"\ntoken:\n  label: demo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hostile := filepath.Join(work, "hostile")
	if err := os.Mkdir(hostile, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(hostile, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(hostile, "directory"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("fifo", filepath.Join(hostile, "link")); err != nil {
		t.Fatal(err)
	}
	if f, err := os.Create(filepath.Join(hostile, "huge")); err != nil {
		t.Fatal(err)
	} else if err := f.Truncate(65<<20 + 1); err != nil {
		t.Fatal(err)
	} else {
		f.Close()
	}
	kinds := map[string]string{
		"FIFO":                filepath.Join(hostile, "fifo"),
		"character device":    "/dev/zero",
		"directory":           filepath.Join(hostile, "directory"),
		"link to a FIFO":      filepath.Join(hostile, "link"),
		"file past its limit": filepath.Join(hostile, "huge"),
	}

	// A sealed ceremony whose files are replaced one at a time.
	p := ceremonytest.NewPKI(t, "Bounded Reads Root")
	sealed := ceremonytest.NewCeremony(t, p, ceremonytest.Artifact{Path: "artifacts/root-ca.crt.pem", Data: ceremonytest.PEM(p.Root)})
	root := sealed.RootPEM
	script := filepath.Join(work, "scripts", "root-key-generation.yaml")
	runArgs := func(args ...string) []string {
		return append([]string{"run", script, "--rehearsal", "--config", tok.config, "--answers", "quorum.yaml", "--input", "place=Lab", "--out", "o"}, args...)
	}
	// withFile copies the sealed ceremony, without the files named in
	// drop, and puts bad where name was.
	withFile := func(t *testing.T, name, bad string, drop ...string) string {
		t.Helper()
		dir := filepath.Join(t.TempDir(), "c")
		if err := copyMissing(sealed.Dir, dir); err != nil {
			t.Fatal(err)
		}
		for _, d := range drop {
			if err := os.Remove(filepath.Join(dir, d)); err != nil {
				t.Fatal(err)
			}
		}
		link(t, bad, filepath.Join(dir, filepath.FromSlash(name)))
		return dir
	}
	withTemplate := func(t *testing.T, bad string) string {
		t.Helper()
		dir := filepath.Join(t.TempDir(), "templates")
		if err := copyMissing(filepath.Join(work, "templates"), dir); err != nil {
			t.Fatal(err)
		}
		link(t, bad, filepath.Join(dir, "root-ca.yaml"))
		return dir
	}

	for _, rd := range []struct {
		name string
		// args gives the command line for the bad file and the name
		// the refusal must hold.
		args func(t *testing.T, bad string) ([]string, string)
		env  []string // tok's if nil
	}{
		{"script", func(t *testing.T, bad string) ([]string, string) {
			a := runArgs()
			a[1] = bad
			return a, bad
		}, nil},
		{"answers file", func(t *testing.T, bad string) ([]string, string) {
			a := runArgs()
			a[6] = bad
			return a, bad
		}, nil},
		{"HSM config", func(t *testing.T, bad string) ([]string, string) {
			a := runArgs()
			a[4] = bad
			return a, bad
		}, nil},
		{"template", func(t *testing.T, bad string) ([]string, string) {
			dir := withTemplate(t, bad)
			return runArgs("--templates", dir), filepath.Join(dir, "root-ca.yaml")
		}, nil},
		// The refusal names the flag, never the path: a PIN typed where
		// its file's name belongs must not be echoed.
		{"PIN file", func(t *testing.T, bad string) ([]string, string) {
			return []string{"hsm", "check", "--config", initialised, "--pin-file", bad}, "--pin-file"
		}, append(os.Environ(), h.Env()...)},
		{"activation record an HSM config names", func(t *testing.T, bad string) ([]string, string) {
			cfg := filepath.Join(t.TempDir(), "hsm.yaml")
			if err := os.WriteFile(cfg, []byte("module: "+h.Module+"\ntoken:\n  label: demo\nactivation_record: "+bad+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			return []string{"hsm", "check", "--config", cfg}, bad
		}, append(os.Environ(), h.Env()...)},
		{"transcript to verify", func(t *testing.T, bad string) ([]string, string) {
			return []string{"transcript", "verify", bad, "--root", root}, bad
		}, nil},
		{"root certificate", func(t *testing.T, bad string) ([]string, string) {
			return []string{"transcript", "verify", sealed.Path(), "--root", bad}, bad
		}, nil},
		{"CRL", func(t *testing.T, bad string) ([]string, string) {
			return []string{"transcript", "verify", sealed.Path(), "--root", root, "--crl", bad}, bad
		}, nil},
		{"seal", func(t *testing.T, bad string) ([]string, string) {
			dir := withFile(t, "transcript.sig", bad)
			return []string{"transcript", "verify", filepath.Join(dir, "transcript.jsonl"), "--root", root}, "transcript.sig"
		}, nil},
		{"artifact", func(t *testing.T, bad string) ([]string, string) {
			dir := withFile(t, "artifacts/root-ca.crt.pem", bad)
			return []string{"transcript", "verify", filepath.Join(dir, "transcript.jsonl"), "--root", root}, "root-ca.crt.pem"
		}, nil},
		{"transcript to show", func(t *testing.T, bad string) ([]string, string) {
			return []string{"transcript", "show", bad}, bad
		}, nil},
		{"transcript to close", func(t *testing.T, bad string) ([]string, string) {
			// Unsealed: close has something to do.
			dir := withFile(t, "transcript.jsonl", bad, "transcript.sig")
			return []string{"close", dir}, "transcript.jsonl"
		}, nil},
		{"share", func(t *testing.T, bad string) ([]string, string) {
			return []string{"shares", "check", bad}, bad
		}, nil},
		{"file to export as QR", func(t *testing.T, bad string) ([]string, string) {
			return []string{"qr", "export", bad, "--out", "o"}, bad
		}, nil},
		{"QR image or frames to import", func(t *testing.T, bad string) ([]string, string) {
			return []string{"qr", "import", "--out", "o", bad}, bad
		}, nil},
		{"file to import", func(t *testing.T, bad string) ([]string, string) {
			return []string{"import", "--root", root, "--out", "o", bad}, bad
		}, nil},
	} {
		for _, kind := range []string{"FIFO", "character device", "directory", "link to a FIFO", "file past its limit"} {
			t.Run(rd.name+"/"+kind, func(t *testing.T) {
				args, named := rd.args(t, kinds[kind])
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				cmd := exec.CommandContext(ctx, "ceremony", args...)
				cmd.Dir, cmd.Env = work, tok.env
				if rd.env != nil {
					cmd.Env = rd.env
				}
				var stdout, stderr strings.Builder
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				err := cmd.Run()
				if ctx.Err() != nil {
					t.Fatalf("ceremony %s: still running after a minute (killed)", strings.Join(args, " "))
				}
				var exit *exec.ExitError
				if !errors.As(err, &exit) {
					t.Fatalf("ceremony %s: %v, want a refusal\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
				}
				msg := stderr.String()
				t.Logf("%s", msg)
				if strings.Count(msg, "\n") != 1 || !strings.Contains(msg, filepath.Base(named)) {
					t.Fatalf("ceremony %s: exit %d, want one line naming %s on stderr, got:\n%s", strings.Join(args, " "), exit.ExitCode(), filepath.Base(named), msg)
				}
				if _, err := os.Lstat(filepath.Join(work, "o")); err == nil {
					t.Fatalf("ceremony %s: made o", strings.Join(args, " "))
				}
			})
		}
	}
}

// link puts a symbolic link to bad at path, in place of the file there:
// the readers open it, and a link to a FIFO, a device or a directory is
// refused as what it leads to.
func link(t *testing.T, bad, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(bad, path); err != nil {
		t.Fatal(err)
	}
}
