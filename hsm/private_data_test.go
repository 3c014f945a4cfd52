package hsm_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/devicepki/ceremony/ceremony/secret"
	"github.com/devicepki/ceremony/hsm"
	"github.com/devicepki/ceremony/internal/softhsmtest"
)

// storedCopies returns the register's objects as stored, sorted by nothing
// in particular, and fails the test if there are not want of them.
func storedCopies(t *testing.T, tok *hsm.Token, label string, want int) [][]byte {
	t.Helper()
	got, err := tok.PrivateDataObjectsForTest(label)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != want {
		t.Fatalf("%d objects labelled %q, want %d", len(got), label, want)
	}
	return got
}

// readIs fails the test unless ReadPrivateData returns want.
func readIs(t *testing.T, tok *hsm.Token, label string, want []byte) {
	t.Helper()
	got, err := tok.ReadPrivateData(label)
	if err != nil {
		t.Fatalf("ReadPrivateData(%q): %v", label, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("ReadPrivateData(%q) = %q, want %q", label, got, want)
	}
}

func TestReplacePrivateData(t *testing.T) {
	h := softhsmtest.New(t)
	tk := h.InitToken(t, "root")
	tok := open(t, tk)
	syncs, restore := hsm.CountSyncsForTest()
	defer restore()

	_, err := tok.ReadPrivateData("register")
	if !errors.Is(err, hsm.ErrDataNotFound) || err.Error() != `token "root" has no private data object labelled "register": data object not found` {
		t.Fatalf("ReadPrivateData before any replace: %v", err)
	}
	v1 := []byte(`{"issued":["01"],"crl":0}` + "\n\x00\xff binary and\nnewlines")
	if err := tok.ReplacePrivateData("register", v1); err != nil {
		t.Fatal(err)
	}
	readIs(t, tok, "register", v1)
	if got := storedCopies(t, tok, "register", 1)[0]; !bytes.Equal(got, hsm.EncodePrivateDataForTest(1, v1)) {
		t.Fatalf("stored %q", got)
	}
	v2 := []byte(`{"issued":["01","02"],"crl":1}`)
	if err := tok.ReplacePrivateData("register", v2); err != nil {
		t.Fatal(err)
	}
	readIs(t, tok, "register", v2)
	if got := storedCopies(t, tok, "register", 1)[0]; !bytes.Equal(got, hsm.EncodePrivateDataForTest(2, v2)) {
		t.Fatalf("stored %q", got)
	}
	if n := syncs(); n != 2 {
		t.Fatalf("%d file system flushes for two replaces", n)
	}
	// The same value again writes nothing.
	if err := tok.ReplacePrivateData("register", v2); err != nil {
		t.Fatal(err)
	}
	if got := storedCopies(t, tok, "register", 1)[0]; !bytes.Equal(got, hsm.EncodePrivateDataForTest(2, v2)) || syncs() != 2 {
		t.Fatalf("rewritten: %q", got)
	}
	// An empty value is a value.
	if err := tok.ReplacePrivateData("empty", nil); err != nil {
		t.Fatal(err)
	}
	readIs(t, tok, "empty", []byte{})
	if err := tok.ReplacePrivateData(" bad", v1); err == nil {
		t.Fatal("bad label accepted")
	}

	// pkcs11-tool, logged in, sees one private, unmodifiable data object
	// per label, of application "ceremony"; its value shows the header.
	for _, o := range tk.Objects(t) {
		if o.Class != "Data" || o.Application != "ceremony" || o.Flags != "private" {
			t.Fatalf("object %+v", o)
		}
	}
	raw := tk.ReadObject(t, "data", "register")
	if !bytes.HasPrefix(raw, []byte("ceremony-private-data v1 generation=2 sha256=")) || !bytes.HasSuffix(raw, v2) {
		t.Fatalf("pkcs11-tool reads %q", raw)
	}

	// A new session, after a new login, reads the last value.
	if err := tok.Close(); err != nil {
		t.Fatal(err)
	}
	tok = open(t, tk)
	readIs(t, tok, "register", v2)
}

func TestPrivateDataNeedsLogin(t *testing.T) {
	h := softhsmtest.New(t)
	tk := h.InitToken(t, "root")
	tok := open(t, tk)
	if err := tok.ReplacePrivateData("register", []byte("secret serials")); err != nil {
		t.Fatal(err)
	}
	if err := tok.Logout(); err != nil {
		t.Fatal(err)
	}
	_, err := tok.ReadPrivateData("register")
	if !errors.Is(err, hsm.ErrNotLoggedIn) || err.Error() != `token "root": not logged in; reading private data object "register" needs the user's login` {
		t.Fatalf("ReadPrivateData without login: %v", err)
	}
	err = tok.ReplacePrivateData("register", []byte("x"))
	if !errors.Is(err, hsm.ErrNotLoggedIn) || !strings.Contains(err.Error(), `storing private data object "register" needs the user's login`) {
		t.Fatalf("ReplacePrivateData without login: %v", err)
	}
	if err := tok.LoginSO(secret.FromString(tk.SOPIN)); err != nil {
		t.Fatal(err)
	}
	if _, err := tok.ReadPrivateData("register"); !errors.Is(err, hsm.ErrNotLoggedIn) || !strings.Contains(err.Error(), "security officer") {
		t.Fatalf("ReadPrivateData as the SO: %v", err)
	}
}

func TestPrivateDataIsInvisibleWithoutPIN(t *testing.T) {
	h := softhsmtest.New(t)
	tk := h.InitToken(t, "root")
	tok := open(t, tk)
	if err := tok.StoreData("manifest", []byte("public")); err != nil {
		t.Fatal(err)
	}
	if err := tok.ReplacePrivateData("register", []byte("private")); err != nil {
		t.Fatal(err)
	}
	// Another process without the PIN sees the public object only, and
	// cannot read the private one.
	pub := tk.PublicObjects(t)
	if len(pub) != 1 || pub[0].Label != "manifest" {
		t.Fatalf("pkcs11-tool without login lists %+v", pub)
	}
	if out, err := h.Run("pkcs11-tool", "--module", h.Module, "--token-label", "root",
		"--read-object", "--type", "data", "--label", "register"); err == nil {
		t.Fatalf("pkcs11-tool read the private object without login:\n%s", out)
	}
	// Logged in, it sees both.
	if n := len(tk.Objects(t)); n != 2 {
		t.Fatalf("pkcs11-tool with login lists %d objects", n)
	}
	// Our own session after logout: the public reader does not find it.
	if err := tok.Logout(); err != nil {
		t.Fatal(err)
	}
	if _, err := tok.ReadData("register"); !errors.Is(err, hsm.ErrDataNotFound) {
		t.Fatalf("ReadData of the private object without login: %v", err)
	}
	if got, err := tok.ReadData("manifest"); err != nil || string(got) != "public" {
		t.Fatalf("ReadData(manifest) = %q, %v", got, err)
	}
	// Logged in, the public reader still reads public objects only.
	if err := tok.Login(secret.FromString(tk.PIN)); err != nil {
		t.Fatal(err)
	}
	if _, err := tok.ReadData("register"); !errors.Is(err, hsm.ErrDataNotFound) {
		t.Fatalf("ReadData of the private object with login: %v", err)
	}
	// Public and private data cannot share a label.
	if err := tok.ReplacePrivateData("manifest", []byte("x")); !errors.Is(err, hsm.ErrLabelInUse) || !strings.Contains(err.Error(), `token "root" already holds a public data object labelled "manifest"`) {
		t.Fatalf("ReplacePrivateData over a public label: %v", err)
	}
	if err := tok.StoreData("register", []byte("x")); !errors.Is(err, hsm.ErrLabelInUse) {
		t.Fatalf("StoreData over a private label: %v", err)
	}
}

// TestPrivateDataCrashStates builds the states a crash can leave a replace
// in, and checks that a read gets the old or the new value without repair,
// and that the next replace leaves one copy.
func TestPrivateDataCrashStates(t *testing.T) {
	h := softhsmtest.New(t)
	tk := h.InitToken(t, "root")
	tok := open(t, tk)
	old, nw := []byte("serials: 01 02; crl 4"), []byte("serials: 01 02 03; crl 5")

	t.Run("old and new present", func(t *testing.T) {
		// Killed after the new copy was written, before the old one was
		// destroyed.
		if err := tok.ReplacePrivateData("a", old); err != nil {
			t.Fatal(err)
		}
		if err := tok.ReplacePrivateDataWithoutDestroyForTest("a", nw); err != nil {
			t.Fatal(err)
		}
		storedCopies(t, tok, "a", 2)
		readIs(t, tok, "a", nw)
		if err := tok.ReplacePrivateData("a", []byte("next")); err != nil {
			t.Fatal(err)
		}
		if got := storedCopies(t, tok, "a", 1)[0]; !bytes.Equal(got, hsm.EncodePrivateDataForTest(3, []byte("next"))) {
			t.Fatalf("after the next replace: %q", got)
		}
	})
	t.Run("only new present", func(t *testing.T) {
		// Killed after the old copy was destroyed: the new one is all
		// there is, at its generation.
		if err := tok.CreatePrivateDataObjectForTest("b", hsm.EncodePrivateDataForTest(7, nw)); err != nil {
			t.Fatal(err)
		}
		readIs(t, tok, "b", nw)
		if err := tok.ReplacePrivateData("b", old); err != nil {
			t.Fatal(err)
		}
		if got := storedCopies(t, tok, "b", 1)[0]; !bytes.Equal(got, hsm.EncodePrivateDataForTest(8, old)) {
			t.Fatalf("after the next replace: %q", got)
		}
	})
	t.Run("old and a new copy cut short", func(t *testing.T) {
		// Killed while the module wrote the new copy: the copy exists,
		// but not all of it.
		if err := tok.ReplacePrivateData("c", old); err != nil {
			t.Fatal(err)
		}
		full := hsm.EncodePrivateDataForTest(2, nw)
		for _, cut := range [][]byte{full[:len(full)-3], full[:20], {}} {
			if err := tok.CreatePrivateDataObjectForTest("c", cut); err != nil {
				t.Fatal(err)
			}
		}
		storedCopies(t, tok, "c", 4)
		readIs(t, tok, "c", old)
		if err := tok.ReplacePrivateData("c", nw); err != nil {
			t.Fatal(err)
		}
		// Generation 3: the cut copy claimed 2.
		if got := storedCopies(t, tok, "c", 1)[0]; !bytes.Equal(got, hsm.EncodePrivateDataForTest(3, nw)) {
			t.Fatalf("after the next replace: %q", got)
		}
		readIs(t, tok, "c", nw)
	})
	t.Run("a new copy with a changed byte", func(t *testing.T) {
		if err := tok.ReplacePrivateData("d", old); err != nil {
			t.Fatal(err)
		}
		bad := hsm.EncodePrivateDataForTest(2, nw)
		bad[len(bad)-1] ^= 1
		if err := tok.CreatePrivateDataObjectForTest("d", bad); err != nil {
			t.Fatal(err)
		}
		readIs(t, tok, "d", old)
	})
	t.Run("no intact copy", func(t *testing.T) {
		// Not a state a replace leaves; another program wrote it.
		if err := tok.CreatePrivateDataObjectForTest("e", []byte("written by hand")); err != nil {
			t.Fatal(err)
		}
		_, err := tok.ReadPrivateData("e")
		if err == nil || errors.Is(err, hsm.ErrDataNotFound) || !strings.Contains(err.Error(), `token "root": none of the 1 private data objects labelled "e" is intact: no header line`) {
			t.Fatalf("ReadPrivateData: %v", err)
		}
		// A replace writes an intact copy and removes the other.
		if err := tok.ReplacePrivateData("e", nw); err != nil {
			t.Fatal(err)
		}
		storedCopies(t, tok, "e", 1)
		readIs(t, tok, "e", nw)
	})
	t.Run("two values of one generation", func(t *testing.T) {
		for _, v := range [][]byte{old, nw} {
			if err := tok.CreatePrivateDataObjectForTest("f", hsm.EncodePrivateDataForTest(4, v)); err != nil {
				t.Fatal(err)
			}
		}
		_, err := tok.ReadPrivateData("f")
		if err == nil || !strings.Contains(err.Error(), `token "root" holds two different private data objects labelled "f" with generation 4`) {
			t.Fatalf("ReadPrivateData: %v", err)
		}
	})
}

// TestPrivateDataSurvivesKill kills a process that replaces a register over
// and over at random moments (SIGKILL: no deferred code, no clean-up), and
// checks that the register then reads as the last value the process saw
// stored, or the one it was storing.
func TestPrivateDataSurvivesKill(t *testing.T) {
	h := softhsmtest.New(t)
	tk := h.InitToken(t, "root")
	for round := range 20 {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), h.Env()...)
		cmd.Env = append(cmd.Env, "HSM_TEST_REPLACE_FOREVER=root", "HSM_TEST_PIN="+tk.PIN, "SOFTHSM2_MODULE="+h.Module)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Let it store a few values, then kill it after a random delay.
		lines := bufio.NewScanner(out)
		last := 0
		for last < 3 && lines.Scan() {
			last, _ = strconv.Atoi(lines.Text())
		}
		time.Sleep(time.Duration(mrand.IntN(60_000)) * time.Microsecond)
		_ = cmd.Process.Kill()
		for lines.Scan() {
			last, _ = strconv.Atoi(lines.Text())
		}
		_ = cmd.Wait()
		if last < 3 {
			t.Fatalf("round %d: the helper stored %d values: %s", round, last, stderr.Bytes())
		}

		tok := open(t, tk)
		got, err := tok.ReadPrivateData("register")
		if err != nil {
			t.Fatalf("round %d: read after a kill after value %d: %v", round, last, err)
		}
		if s := string(got); s != fmt.Sprintf("value %d", last) && s != fmt.Sprintf("value %d", last+1) {
			t.Fatalf("round %d: read %q after a kill after value %d", round, got, last)
		}
		copies, _ := tok.PrivateDataObjectsForTest("register")
		t.Logf("round %d: killed after value %d, read %q, %d copies", round, last, got, len(copies))
		// Start the next round from a clean state, as a ceremony would.
		if err := tok.ReplacePrivateData("register", []byte("value 0")); err != nil {
			t.Fatal(err)
		}
		if err := tok.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDestroyPrivateData(t *testing.T) {
	h := softhsmtest.New(t)
	tk := h.InitToken(t, "root")
	tok := open(t, tk)
	if err := tok.ReplacePrivateData("register", []byte("v1")); err != nil {
		t.Fatal(err)
	}
	if err := tok.ReplacePrivateDataWithoutDestroyForTest("register", []byte("v2")); err != nil {
		t.Fatal(err)
	}
	if err := tok.CreatePrivateDataObjectForTest("register", []byte("damaged")); err != nil {
		t.Fatal(err)
	}
	if err := tok.ReplacePrivateData("other", []byte("kept")); err != nil {
		t.Fatal(err)
	}
	storedCopies(t, tok, "register", 3)
	if err := tok.DestroyPrivateData("register"); err != nil {
		t.Fatal(err)
	}
	storedCopies(t, tok, "register", 0)
	if _, err := tok.ReadPrivateData("register"); !errors.Is(err, hsm.ErrDataNotFound) {
		t.Fatalf("ReadPrivateData after destroy: %v", err)
	}
	if err := tok.DestroyPrivateData("register"); err != nil {
		t.Fatalf("destroying nothing: %v", err)
	}
	readIs(t, tok, "other", []byte("kept"))
	if err := tok.Logout(); err != nil {
		t.Fatal(err)
	}
	if err := tok.DestroyPrivateData("other"); !errors.Is(err, hsm.ErrNotLoggedIn) {
		t.Fatalf("DestroyPrivateData without login: %v", err)
	}
}
