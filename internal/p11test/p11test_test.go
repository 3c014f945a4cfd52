package p11test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/pkcs11"
)

// timed logs how long a step took, for docs/testing.md.
func timed(t *testing.T, what string) func() {
	start := time.Now()
	return func() { t.Logf("%s: %v", what, time.Since(start).Round(time.Millisecond)) }
}

// slotByID returns the slot with the given ID from pkcs11-tool's list.
func slotByID(t *testing.T, m *Module, id uint) Slot {
	t.Helper()
	for _, s := range m.Slots(t) {
		if s.ID == id {
			return s
		}
	}
	t.Fatalf("%s: no slot %d in pkcs11-tool --list-slots", m.Name, id)
	return Slot{}
}

// TestOpenCryptoki proves the harness gives a working opencryptoki soft
// token, checked with pkcs11-tool: a blank token in slot 3, RSA mechanisms
// and no EC, C_InitToken that checks (and does not set) the SO PIN, an
// initialised token with PINs of 4–8 characters, an RSA key pair made
// after a user login, and Reset back to blank.
func TestOpenCryptoki(t *testing.T) {
	done := timed(t, "start (lock, blank store, pkcsslotd)")
	m := OpenCryptoki(t)
	done()

	if s := slotByID(t, m, ockSoftSlot); s.Initialized {
		t.Fatalf("slot %d starts initialised (%q); want blank", ockSoftSlot, s.Flags)
	}
	// As measured on 3.8.1: RSA keys, and RSA PKCS#1 v1.5 signing only raw
	// (CKM_RSA_PKCS, the caller hashing) or with SHA-1/MD5; no EC at all;
	// no AES key wrap, only AES-CBC-PAD.
	mechs := m.Mechanisms(t, ockSoftSlot)
	for _, want := range []string{"RSA-PKCS-KEY-PAIR-GEN", "RSA-PKCS", "SHA256-RSA-PKCS-PSS", "AES-KEY-GEN", "AES-CBC-PAD"} {
		if !slices.Contains(mechs, want) {
			t.Errorf("mechanisms lack %s: %v", want, mechs)
		}
	}
	for _, absent := range []string{"ECDSA-KEY-PAIR-GEN", "EC-KEY-PAIR-GEN", "ECDSA", "SHA256-RSA-PKCS",
		"AES-KEY-WRAP", "AES-KEY-WRAP-PAD", "mechtype-0x2109", "mechtype-0x210A", "mechtype-0x210B"} {
		if slices.Contains(mechs, absent) {
			t.Errorf("mechanisms hold %s, which the soft token of 3.8.1 lacked: update this test and docs/testing.md", absent)
		}
	}

	// C_InitToken checks the SO PIN given against the current one.
	if out, err := m.Run("pkcs11-tool", "--module", m.Path, "--slot", "3", "--init-token", "--label", "x", "--so-pin", "12345678"); err == nil {
		t.Fatalf("C_InitToken with a wrong SO PIN succeeded:\n%s", out)
	} else if !strings.Contains(out, "CKR_PIN_INCORRECT") {
		t.Errorf("C_InitToken with a wrong SO PIN: want CKR_PIN_INCORRECT, got:\n%s", out)
	}

	done = timed(t, "init token (C_InitToken, C_InitPIN, C_SetPIN SO)")
	tk := m.InitToken(t, "p11test")
	done()
	if len(tk.PIN) != 8 || len(tk.SOPIN) != 8 || tk.PIN == tk.SOPIN {
		t.Errorf("PINs of %d and %d characters, equal %v; want two different PINs of 8", len(tk.PIN), len(tk.SOPIN), tk.PIN == tk.SOPIN)
	}
	s := slotByID(t, m, tk.Slot)
	if !s.Initialized || s.Label != "p11test" {
		t.Fatalf("after InitToken: slot %+v; want initialised, label p11test", s)
	}
	if s.PINMin != m.PINMin || s.PINMax != m.PINMax || m.PINMin != 4 || m.PINMax != 8 {
		t.Errorf("PIN lengths: token says %d–%d, Module %d–%d; want 4–8", s.PINMin, s.PINMax, m.PINMin, m.PINMax)
	}
	// The SO PIN is the harness's now, not the default. (C_InitPIN again,
	// as pkcs11-tool logs the SO in only in a read-write session.)
	if out, err := m.Run("pkcs11-tool", "--module", m.Path, "--slot", "3", "--login", "--login-type", "so", "--so-pin", ockDefaultSO, "--init-pin", "--pin", tk.PIN); err == nil {
		t.Errorf("SO login with the default SO PIN still works after InitToken:\n%s", out)
	} else if !strings.Contains(out, "CKR_PIN_INCORRECT") {
		t.Errorf("SO login with the default SO PIN after InitToken: want CKR_PIN_INCORRECT, got:\n%s", out)
	}
	tk.Tool(t, "--login", "--login-type", "so", "--so-pin", tk.SOPIN, "--init-pin", "--pin", tk.PIN)

	done = timed(t, "RSA-2048 key pair")
	tk.Tool(t, "--login", "--pin", tk.PIN, "--keypairgen", "--key-type", "rsa:2048", "--label", "k1", "--id", "01")
	done()
	objs := tk.Tool(t, "--login", "--pin", tk.PIN, "--list-objects")
	if !strings.Contains(objs, "Private Key Object; RSA") || !strings.Contains(objs, "Public Key Object; RSA 2048 bits") {
		t.Errorf("objects after keygen:\n%s", objs)
	}

	done = timed(t, "reset")
	m.Reset(t)
	done()
	if s := slotByID(t, m, ockSoftSlot); s.Initialized {
		t.Errorf("after Reset slot %d is %q; want blank", ockSoftSlot, s.Flags)
	}
	// Blank again: the default SO PIN initialises it.
	m.Tool(t, "--slot", "3", "--init-token", "--label", "again", "--so-pin", ockDefaultSO)
}

// TestTPM2 proves the harness gives a working tpm2-pkcs11 over swtpm,
// checked with pkcs11-tool: a blank slot, EC mechanisms, a token
// initialised with C_InitToken and C_InitPIN, an EC P-256 key pair made
// after a user login, many processes in a row (which exhaust a TPM without
// a resource manager), and Reset.
func TestTPM2(t *testing.T) {
	t.Parallel()
	done := timed(t, "start (swtpm, dbus-daemon, tpm2-abrmd; tpm2_ptool init if first in the process)")
	m := TPM2(t)
	done()

	slots := m.Slots(t)
	if len(slots) != 1 || slots[0].Initialized {
		t.Fatalf("slots at start: %+v; want one blank", slots)
	}
	mechs := m.Mechanisms(t, slots[0].ID)
	for _, want := range []string{"ECDSA-KEY-PAIR-GEN", "ECDSA", "RSA-PKCS-KEY-PAIR-GEN"} {
		if !slices.Contains(mechs, want) {
			t.Errorf("mechanisms lack %s: %v", want, mechs)
		}
	}

	done = timed(t, "init token (C_InitToken, C_InitPIN)")
	tk := m.InitToken(t, "p11test")
	done()
	if len(tk.PIN) != 16 || len(tk.SOPIN) != 16 || tk.PIN == tk.SOPIN {
		t.Errorf("PINs of %d and %d characters, equal %v; want two different PINs of 16", len(tk.PIN), len(tk.SOPIN), tk.PIN == tk.SOPIN)
	}
	s := slotByID(t, m, tk.Slot)
	if !s.Initialized || s.Label != "p11test" {
		t.Fatalf("after InitToken: slot %+v; want initialised, label p11test", s)
	}
	if s.PINMin != m.PINMin || s.PINMax != m.PINMax {
		t.Errorf("PIN lengths: token says %d–%d, Module %d–%d", s.PINMin, s.PINMax, m.PINMin, m.PINMax)
	}
	if n := len(m.Slots(t)); n != 2 {
		t.Errorf("after InitToken %d slots; want the token and a new blank one", n)
	}

	done = timed(t, "EC P-256 key pair")
	tk.Tool(t, "--login", "--pin", tk.PIN, "--keypairgen", "--key-type", "EC:prime256v1", "--label", "k1", "--id", "01")
	done()
	done = timed(t, "8 more pkcs11-tool processes, each logging in")
	for i := range 8 {
		objs := tk.Tool(t, "--login", "--pin", tk.PIN, "--list-objects")
		if !strings.Contains(objs, "Private Key Object; EC") {
			t.Fatalf("process %d: objects:\n%s", i, objs)
		}
	}
	done()

	done = timed(t, "reset")
	m.Reset(t)
	done()
	if slots := m.Slots(t); len(slots) != 1 || slots[0].Initialized {
		t.Errorf("slots after Reset: %+v; want one blank", slots)
	}
}

// TestTPM2TokenInfoPadding shows, in-process, how tpm2-pkcs11 fills the
// token info strings: the label is padded with spaces, as the
// specification asks, but the model (the TPM's vendor string, "SW   TPM"
// on swtpm) with NULs, so code that shows token strings must trim both.
func TestTPM2TokenInfoPadding(t *testing.T) {
	m := TPM2(t)
	tk := m.InitToken(t, "pad")
	m.Setenv(t)
	p := pkcs11.New(m.Path)
	if p == nil {
		t.Fatalf("cannot load %s", m.Path)
	}
	defer p.Destroy()
	if err := p.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer p.Finalize()
	info, err := p.GetTokenInfo(tk.Slot)
	if err != nil {
		t.Fatal(err)
	}
	// miekg/pkcs11 trims trailing spaces only.
	if info.Label != "pad" {
		t.Errorf("label %q; want pad (space padding trimmed)", info.Label)
	}
	if !strings.HasSuffix(info.Model, "\x00") {
		t.Errorf("model %q does not end in NUL; if tpm2-pkcs11 pads it with spaces now, update this test and the docs", info.Model)
	}
	if got := strings.TrimRight(info.Model, "\x00 "); got != "SW   TPM" {
		t.Errorf("trimmed model %q; want %q", got, "SW   TPM")
	}
}

// TestTPM2Parallel runs two private TPM stacks at once, alongside
// TestTPM2's: neither sees the other's token.
func TestTPM2Parallel(t *testing.T) {
	t.Parallel()
	done := timed(t, "start two")
	a, b := TPM2(t), TPM2(t)
	done()
	a.InitToken(t, "only-a")
	for _, s := range b.Slots(t) {
		if s.Initialized {
			t.Errorf("the second TPM shows a token %q made on the first", s.Label)
		}
	}
	if a.Dir == b.Dir || slices.Equal(a.Env, b.Env) {
		t.Errorf("two TPM2 modules share state: %v / %v", a.Env, b.Env)
	}
}

// fatalTB records a Fatalf and stops the goroutine, as testing.T does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}
func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = strings.TrimSpace(fmt.Sprintf(format, args...))
	runtime.Goexit()
}
func (f *fatalTB) Fatal(args ...any) {
	f.msg = strings.TrimSpace(fmt.Sprint(args...))
	runtime.Goexit()
}

// failure runs fn with a fatalTB and returns the message it failed with,
// or "" if it returned.
func failure(t *testing.T, fn func(testing.TB)) string {
	f := &fatalTB{TB: t}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		fn(f)
	}()
	wg.Wait()
	return f.msg
}

// TestMissingModuleNamesPackage: a module that is not there fails the test
// with the Debian package to install; it never skips.
func TestMissingModuleNamesPackage(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "absent.so")
	t.Setenv("P11TEST_OPENCRYPTOKI_MODULE", missing)
	t.Setenv("P11TEST_TPM2_MODULE", missing)
	for name, c := range map[string]struct {
		start func(testing.TB) *Module
		want  string
	}{
		"opencryptoki": {func(tb testing.TB) *Module { return OpenCryptoki(tb) }, "apt-get install opencryptoki"},
		"tpm2":         {func(tb testing.TB) *Module { return TPM2(tb) }, "apt-get install libtpm2-pkcs11-1"},
	} {
		msg := failure(t, func(tb testing.TB) { c.start(tb) })
		if !strings.Contains(msg, c.want) || !strings.Contains(msg, missing) {
			t.Errorf("%s with no module: failed with %q; want it to name %q and %s", name, msg, c.want, missing)
		}
	}
}

// TestNeedTools names the package of a missing program.
func TestNeedTools(t *testing.T) {
	msg := failure(t, func(tb testing.TB) {
		needTools(tb, [][2]string{{"sh", "dash"}, {"no-such-tool-p11test", "some-package"}, {"/no/such/daemon", "other-package"}})
	})
	want := "p11test: missing no-such-tool-p11test (apt-get install some-package), /no/such/daemon (apt-get install other-package)"
	if msg != want {
		t.Errorf("got %q\nwant %q", msg, want)
	}
	if msg := failure(t, func(tb testing.TB) { needTools(tb, [][2]string{{"sh", "dash"}}) }); msg != "" {
		t.Errorf("present tool: failed with %q", msg)
	}
}

// TestLockFileSerialises: a second holder waits for the first and gives
// up after its timeout naming the holder's pid.
func TestLockFileSerialises(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	unlock, err := lockFile(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_, err = lockFile(path, 200*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "by pid "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("second lock while held: %v; want a timeout naming pid %d", err, os.Getpid())
	}
	released := make(chan time.Time, 1)
	go func() {
		time.Sleep(100 * time.Millisecond)
		released <- time.Now()
		unlock()
	}()
	unlock2, err := lockFile(path, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got := time.Now(); got.Before(<-released) {
		t.Error("second lock taken before the first was released")
	}
	unlock2()
}

// TestParseSlots reads pkcs11-tool output as the modules print it,
// including a label padded with NULs.
func TestParseSlots(t *testing.T) {
	out := "Available slots:\n" +
		"Slot 0 (0x1): tpm\x00\x00\n" +
		"  token label        : p11test\x00\x00\x00\n" +
		"  token flags        : login required, rng, token initialized, PIN initialized\n" +
		"  pin min/max        : 0/128\n" +
		"Slot 1 (0x2): \n" +
		"  token state:   uninitialized\n" +
		"Slot 2 (0x3): Linux\n" +
		"  token label        : ock\n" +
		"  token flags        : login required, rng, SO PIN to be changed, token initialized\n" +
		"  pin min/max        : 4/8\n"
	got := parseSlots(out)
	want := []Slot{
		{ID: 1, Initialized: true, Label: "p11test", Flags: "login required, rng, token initialized, PIN initialized", PINMin: 0, PINMax: 128},
		{ID: 2},
		{ID: 3, Initialized: true, Label: "ock", Flags: "login required, rng, SO PIN to be changed, token initialized", PINMin: 4, PINMax: 8},
	}
	if !slices.Equal(got, want) {
		t.Errorf("parseSlots:\n got %+v\nwant %+v", got, want)
	}
}

// TestRedactPINs keeps PINs out of a failing command's message.
func TestRedactPINs(t *testing.T) {
	got := strings.Join(redactPINs([]string{"--login", "--pin", "1111", "--so-pin", "2222", "--new-pin", "3333", "--sopin=4444", "--userpin=5555", "--label", "x"}), " ")
	for _, pin := range []string{"1111", "2222", "3333", "4444", "5555"} {
		if strings.Contains(got, pin) {
			t.Errorf("redacted args %q still hold %s", got, pin)
		}
	}
	if !strings.Contains(got, "--label x") {
		t.Errorf("redacted args %q lost other arguments", got)
	}
	m := &Module{}
	_, err := m.Run("false", "--pin", "9999")
	if err == nil || strings.Contains(err.Error(), "9999") {
		t.Errorf("Run's error %v holds the PIN", err)
	}
}

// TestRandomPIN gives PINs of the length asked, different each time.
func TestRandomPIN(t *testing.T) {
	for _, n := range []int{4, 7, 8, 16} {
		a, b := RandomPIN(n), RandomPIN(n)
		if len(a) != n || len(b) != n || (n >= 8 && a == b) {
			t.Errorf("RandomPIN(%d): %q, %q", n, a, b)
		}
	}
}

// TestOpenCryptokiInProcess loads the module in the test process, as the
// ceremony's own tests do, before and after a Reset (which restarts
// pkcsslotd): each load sees the token as it is then.
func TestOpenCryptokiInProcess(t *testing.T) {
	m := OpenCryptoki(t)
	tk := m.InitToken(t, "inproc")

	label := func() (string, string) {
		t.Helper()
		p := pkcs11.New(m.Path)
		if p == nil {
			t.Fatalf("cannot load %s", m.Path)
		}
		defer p.Destroy()
		if err := p.Initialize(); err != nil {
			t.Fatal(err)
		}
		defer p.Finalize()
		info, err := p.GetTokenInfo(ockSoftSlot)
		if err != nil {
			t.Fatal(err)
		}
		if info.Flags&pkcs11.CKF_TOKEN_INITIALIZED == 0 {
			return "", info.Model
		}
		s, err := p.OpenSession(ockSoftSlot, pkcs11.CKF_SERIAL_SESSION)
		if err != nil {
			t.Fatal(err)
		}
		defer p.CloseSession(s)
		if err := p.Login(s, pkcs11.CKU_USER, tk.PIN); err != nil {
			t.Fatalf("C_Login with the user PIN: %v", err)
		}
		defer p.Logout(s)
		return info.Label, info.Model
	}
	if got, model := label(); got != "inproc" || model != "IBM SoftTok" {
		t.Errorf("in-process token label %q, model %q; want inproc, IBM SoftTok (space padding trimmed)", got, model)
	}
	m.Reset(t)
	if got, _ := label(); got != "" {
		t.Errorf("after Reset the in-process token is %q; want blank", got)
	}
}

// TestOpenCryptokiTwiceInOneTest fails at once rather than waiting for
// itself.
func TestOpenCryptokiTwiceInOneTest(t *testing.T) {
	OpenCryptoki(t)
	start := time.Now()
	msg := failure(t, func(tb testing.TB) { OpenCryptoki(tb) })
	if !strings.Contains(msg, "already holds opencryptoki") || time.Since(start) > 5*time.Second {
		t.Errorf("second OpenCryptoki in one test: %q after %v; want an immediate failure", msg, time.Since(start))
	}
}

// TestOpenCryptokiInitTokenPINs leaves the default SO PIN when asked, as
// an installer that only sets the user PIN would.
func TestOpenCryptokiInitTokenPINs(t *testing.T) {
	m := OpenCryptoki(t)
	tk := m.InitTokenPINs(t, "factory", m.DefaultSOPIN, "4321")
	tk.Tool(t, "--login", "--login-type", "so", "--so-pin", m.DefaultSOPIN, "--init-pin", "--pin", "5678")
	tk.Tool(t, "--login", "--pin", "5678", "--list-objects")
	if out, err := m.Run("pkcs11-tool", "--module", m.Path, "--slot", "3", "--login", "--pin", "4321", "--list-objects"); err == nil {
		t.Errorf("the old user PIN still logs in after C_InitPIN set another:\n%s", out)
	}
}

// loadUnload loads the module in the test process, reads the slot's token
// info, and unloads it (C_Finalize, dlclose), as crypto11's Close does.
func loadUnload(t *testing.T, m *Module, slot uint) {
	t.Helper()
	p := pkcs11.New(m.Path)
	if p == nil {
		t.Fatalf("cannot load %s", m.Path)
	}
	defer p.Destroy()
	if err := p.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer p.Finalize()
	if _, err := p.GetTokenInfo(slot); err != nil {
		t.Fatal(err)
	}
}

// TestOpenCryptokiReloadAfterTPM2: with tpm2-pkcs11 loaded and unloaded
// in the process first, loading libopencryptoki again after unloading it
// crashed in libitm (about 5 runs in 6) until the harness kept libitm
// loaded.
func TestOpenCryptokiReloadAfterTPM2(t *testing.T) {
	tpm := TPM2(t)
	tk := tpm.InitToken(t, "first")
	tpm.Setenv(t)
	loadUnload(t, tpm, tk.Slot)

	m := OpenCryptoki(t)
	for range 4 {
		loadUnload(t, m, ockSoftSlot)
	}
	m.Reset(t)
	loadUnload(t, m, ockSoftSlot)
}
