package secret

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	opt := ReadOptions{MaxFileSize: 16, Named: "there"}
	good := map[string]string{
		"1234":             "1234",
		"1234\n":           "1234",
		"1234\r\n":         "1234",
		"1234\n\n":         "1234\n", // only one newline is dropped
		" 12 34 ":          " 12 34 ",
		"1234\r":           "1234\r", // a lone CR is kept
		"\n1234\n":         "\n1234",
		"0123456789abcdef": "0123456789abcdef", // exactly MaxFileSize
	}
	i := 0
	for content, want := range good {
		i++
		p := write("good"+string(rune('a'+i)), content)
		s, err := Read(Source{File: p}, opt)
		if err != nil {
			t.Errorf("%q: %v", content, err)
			continue
		}
		if string(s.Bytes()) != want {
			t.Errorf("%q: read %q, want %q", content, s.Bytes(), want)
		}
	}

	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		path, noun string
		kind       error
		msg        string
	}{
		{write("empty", ""), "", ErrEmpty, "the file named there is empty"},
		{write("newline", "\n"), "", ErrEmpty, "the file named there is empty"},
		{write("crlf", "\r\n"), "secret file", ErrEmpty, "the secret file named there is empty"},
		{write("big", "0123456789abcdefX"), "", ErrTooLarge, "the file named there is larger than 16 bytes"},
		{filepath.Join(dir, "missing"), "", ErrUnreadable, "cannot read the file named there: no such file or directory"},
		{dir, "", ErrNotRegular, "the file named there is not a regular file"},
		{fifo, "", ErrNotRegular, "the file named there is not a regular file"},
	}
	for _, c := range bad {
		o := opt
		o.FileNoun = c.noun
		s, err := Read(Source{File: c.path}, o)
		var re *ReadError
		if s != nil || !errors.As(err, &re) || re.Field != "file" || !errors.Is(err, c.kind) || err.Error() != c.msg {
			t.Errorf("%s: got %v, %v; want %q", filepath.Base(c.path), s, err, c.msg)
		}
		if err != nil && strings.Contains(err.Error(), dir) {
			t.Errorf("%s: the error names the file: %v", c.path, err)
		}
	}
}

func TestReadEnv(t *testing.T) {
	t.Setenv("CEREMONY_SECRET_TEST", "4711\n")
	t.Setenv("CEREMONY_SECRET_EMPTY", "")
	opt := ReadOptions{MaxFileSize: 16, Named: "here"}
	s, err := Read(Source{Env: "CEREMONY_SECRET_TEST"}, opt)
	if err != nil || string(s.Bytes()) != "4711\n" {
		t.Fatalf("got %v, %v; want the variable's value unchanged", s, err)
	}
	bad := []struct {
		name string
		kind error
		msg  string
	}{
		{"CEREMONY_SECRET_UNSET", ErrUnset, "the environment variable named here is not set"},
		{"CEREMONY_SECRET_EMPTY", ErrEmpty, "the environment variable named here is empty"},
		// A PIN typed where the name belongs is refused before the
		// environment is looked at, and not repeated.
		{"4711", ErrEnvName, "takes the name of an environment variable"},
		{"1PIN", ErrEnvName, "takes the name of an environment variable"},
		{"PIN-CODE", ErrEnvName, "takes the name of an environment variable"},
		{"PIN CODE", ErrEnvName, "takes the name of an environment variable"},
		{"PIN=1", ErrEnvName, "takes the name of an environment variable"},
		{"PÌN", ErrEnvName, "takes the name of an environment variable"},
	}
	for _, c := range bad {
		s, err := Read(Source{Env: c.name}, opt)
		var re *ReadError
		if s != nil || !errors.As(err, &re) || re.Field != "env" || !errors.Is(err, c.kind) || !strings.HasPrefix(err.Error(), c.msg) {
			t.Errorf("%q: got %v, %v; want %q", c.name, s, err, c.msg)
			continue
		}
		if strings.Contains(err.Error(), c.name) {
			t.Errorf("%q: the error repeats the name: %v", c.name, err)
		}
	}
}

func TestIsEnvName(t *testing.T) {
	for _, n := range []string{"A", "_", "PIN", "pin_2", "_1", "CEREMONY_USER_PIN"} {
		if !IsEnvName(n) {
			t.Errorf("IsEnvName(%q) = false", n)
		}
	}
	for _, n := range []string{"", "1", "1A", "A-B", "A B", "A=B", "Ä", "A.B", "A\x00"} {
		if IsEnvName(n) {
			t.Errorf("IsEnvName(%q) = true", n)
		}
	}
}
