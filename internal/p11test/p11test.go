// Package p11test starts real PKCS#11 implementations other than SoftHSM2
// for a test, each in its own state, and stops them when the test ends:
//
//   - [OpenCryptoki]: the opencryptoki soft token (Debian package
//     opencryptoki), served by its slot daemon pkcsslotd. Its store and
//     daemon are system-wide, so tests that use it run one at a time across
//     every test process on the machine, each starting from a pristine
//     store.
//   - [TPM2]: tpm2-pkcs11 (libtpm2-pkcs11-1) over a private software TPM
//     (swtpm) behind a private resource manager (tpm2-abrmd on a private
//     D-Bus session bus), with a private token store.
//
// Each returns a [Module]: the module's path, the environment a process
// that loads it needs, its limits as measured, and ways to make blank or
// initialised tokens with random PINs. Token set-up and the checks in this
// package's own tests use OpenSC's pkcs11-tool, a tool independent of the
// code under test.
//
// A missing package fails the test with a message naming the Debian package
// to install; it never skips it. CI installs them (.ci/run). Both need root:
// pkcsslotd refuses to run as another user, and the harness resets the
// system-wide opencryptoki store. The modules are found in the usual
// library directories; P11TEST_OPENCRYPTOKI_MODULE and P11TEST_TPM2_MODULE
// name another path.
package p11test

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Module is a running PKCS#11 implementation, private to one test (or, for
// opencryptoki, held by one test at a time).
type Module struct {
	// Name says which implementation this is, for messages.
	Name string
	// Path is the PKCS#11 module (shared library) to load.
	Path string
	// Env holds the KEY=VALUE entries a process loading Path needs (empty
	// for opencryptoki, whose state is system-wide). [Module.Setenv] sets
	// them in the test process; pass them to child processes.
	Env []string
	// Dir is the harness's private directory for this module: daemon logs,
	// and for TPM2 the TPM's state and the token store (for opencryptoki,
	// the copy of the system store it puts back). It is removed when the
	// test ends.
	Dir string
	// PINMin and PINMax are the PIN lengths the token accepts, as the
	// module reports them in its token info.
	PINMin, PINMax int
	// DefaultSOPIN is the SO PIN a blank token has before anyone sets one
	// ("87654321" for the opencryptoki soft token, whose C_InitToken checks
	// the SO PIN given against it rather than setting it), or "" where
	// C_InitToken sets the SO PIN.
	DefaultSOPIN string
	// ResetTool names the module's own tool to reset or inspect a token
	// (pkcsconf, tpm2_ptool).
	ResetTool string

	reset func(testing.TB) // puts back a blank store (nil if not supported)
	// blankSlot returns the slot ID where the next C_InitToken should go.
	blankSlot func(testing.TB) uint
}

// Token is an initialised token on a Module, with the PINs set on it.
type Token struct {
	Module *Module
	Slot   uint   // slot ID
	Label  string // CKA_LABEL of the token, as set (without padding)
	PIN    string // user PIN
	SOPIN  string // SO PIN
}

// Setenv sets the module's environment in the test process for the rest
// of the test (so the test cannot be parallel), for code that loads the
// module in-process.
func (m *Module) Setenv(t testing.TB) {
	t.Helper()
	for _, kv := range m.Env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

// Reset puts the module back to a single blank token with its default SO
// PIN, as the test got it. Close every in-process session on the module
// first. It fails the test where the module cannot be reset.
func (m *Module) Reset(t testing.TB) {
	t.Helper()
	if m.reset == nil {
		t.Fatalf("%s: reset is not supported", m.Name)
	}
	m.reset(t)
}

// Run runs a command with this module's environment and returns its
// combined output. An error names the command with every PIN redacted.
func (m *Module) Run(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), m.Env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %v\n%s", name, strings.Join(redactPINs(args), " "), err, out)
	}
	return string(out), nil
}

// Tool runs pkcs11-tool (OpenSC) on this module with the given arguments
// and returns its output; a failure fails the test.
func (m *Module) Tool(t testing.TB, args ...string) string {
	t.Helper()
	out, err := m.Run("pkcs11-tool", append([]string{"--module", m.Path}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Slot is one slot as pkcs11-tool lists it.
type Slot struct {
	ID          uint
	Initialized bool   // a token is present and initialised
	Label       string // token label, NUL and space padding trimmed
	Flags       string // token flags line
	PINMin      int
	PINMax      int
}

// Slots lists the module's slots with pkcs11-tool (OpenSC).
func (m *Module) Slots(t testing.TB) []Slot {
	t.Helper()
	return parseSlots(m.Tool(t, "--list-slots"))
}

// parseSlots reads pkcs11-tool --list-slots output.
func parseSlots(out string) []Slot {
	var slots []Slot
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, "Slot "); ok {
			// "Slot 0 (0x3): Linux"
			i := strings.Index(rest, "(0x")
			j := strings.Index(rest, ")")
			if i < 0 || j < i {
				continue
			}
			id, err := strconv.ParseUint(rest[i+3:j], 16, 32)
			if err != nil {
				continue
			}
			slots = append(slots, Slot{ID: uint(id)})
			continue
		}
		if len(slots) == 0 {
			continue
		}
		s := &slots[len(slots)-1]
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(strings.Trim(v, "\x00 "))
		switch strings.TrimSpace(k) {
		case "token label":
			s.Label = v
		case "token flags":
			s.Flags = v
			s.Initialized = strings.Contains(v, "token initialized")
		case "pin min/max":
			lo, hi, _ := strings.Cut(v, "/")
			s.PINMin, _ = strconv.Atoi(lo)
			s.PINMax, _ = strconv.Atoi(hi)
		}
	}
	return slots
}

// Mechanisms lists the names of the module's mechanisms as pkcs11-tool
// (OpenSC) prints them for the given slot ("RSA-PKCS-KEY-PAIR-GEN",
// "ECDSA", "mechtype-0x210B", ...).
func (m *Module) Mechanisms(t testing.TB, slot uint) []string {
	t.Helper()
	out := m.Tool(t, "--slot", strconv.FormatUint(uint64(slot), 10), "--list-mechanisms")
	var mechs []string
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "  ") {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSpace(line), ",")
		name, _, _ = strings.Cut(name, " ")
		if name != "" {
			mechs = append(mechs, name)
		}
	}
	return mechs
}

// InitToken initialises a token labelled label on the module's blank slot
// with pkcs11-tool, as an administrator would with C_InitToken, C_InitPIN
// and C_SetPIN: random user and SO PINs of the token's longest length
// (at most 16), the SO PIN changed from the default where the module has
// one. On opencryptoki, whose one token this re-initialises, call
// [Module.Reset] first if the token was initialised before.
func (m *Module) InitToken(t testing.TB, label string) *Token {
	t.Helper()
	n := min(16, m.PINMax)
	return m.InitTokenPINs(t, label, RandomPIN(n), RandomPIN(n))
}

// InitTokenPINs is InitToken with the PINs given: a token as a vendor's
// tool or an installer would leave it. Where the module has a default SO
// PIN, soPIN equal to it leaves it unchanged (a token still in its
// factory state but for the label and user PIN).
func (m *Module) InitTokenPINs(t testing.TB, label, soPIN, userPIN string) *Token {
	t.Helper()
	slot := m.blankSlot(t)
	tk := &Token{Module: m, Slot: slot, Label: label, PIN: userPIN, SOPIN: soPIN}
	s := strconv.FormatUint(uint64(slot), 10)
	initSO := soPIN
	if m.DefaultSOPIN != "" {
		initSO = m.DefaultSOPIN // C_InitToken checks it; C_SetPIN changes it
	}
	m.Tool(t, "--slot", s, "--init-token", "--label", label, "--so-pin", initSO)
	m.Tool(t, "--slot", s, "--login", "--login-type", "so", "--so-pin", initSO, "--init-pin", "--pin", userPIN)
	if initSO != soPIN {
		m.Tool(t, "--slot", s, "--login", "--login-type", "so", "--so-pin", initSO, "--change-pin", "--new-pin", soPIN)
	}
	return tk
}

// Tool runs pkcs11-tool (OpenSC) on the token's slot with the given
// arguments; a failure fails the test. Add "--login", "--pin", tk.PIN to
// act as the user.
func (tk *Token) Tool(t testing.TB, args ...string) string {
	t.Helper()
	return tk.Module.Tool(t, append([]string{"--slot", strconv.FormatUint(uint64(tk.Slot), 10)}, args...)...)
}

// RandomPIN returns n random hex digits, different for every call.
func RandomPIN(n int) string {
	b := make([]byte, (n+1)/2)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b)[:n]
}

// redactPINs returns args with the value after each PIN option replaced,
// so that a failing test's log holds no PIN.
func redactPINs(args []string) []string {
	out := append([]string(nil), args...)
	for i := 0; i+1 < len(out); i++ {
		switch out[i] {
		case "--pin", "--so-pin", "-p", "--new-pin", "--puk", "--sopin", "--userpin":
			out[i+1] = "[redacted]"
		}
	}
	for i, a := range out {
		for _, p := range []string{"--pin=", "--so-pin=", "--sopin=", "--userpin=", "--new-pin="} {
			if strings.HasPrefix(a, p) {
				out[i] = p + "[redacted]"
			}
		}
	}
	return out
}

// findFile returns the first of paths that exists, or "".
func findFile(paths []string) string {
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// libDirs are the directories Debian, Ubuntu and Fedora install PKCS#11
// modules and libraries in, multiarch first.
func libDirs() []string {
	var dirs []string
	for _, a := range []string{"x86_64-linux-gnu", "aarch64-linux-gnu", "arm-linux-gnueabihf", "s390x-linux-gnu", "powerpc64le-linux-gnu", "i386-linux-gnu"} {
		dirs = append(dirs, "/usr/lib/"+a)
	}
	return append(dirs, "/usr/lib64", "/usr/lib", "/usr/local/lib")
}

// findModule looks for a module file name: at the path in the environment
// variable env if set, else under each library directory's pkcs11/ and in
// the directory itself. It returns "" and the paths it tried if none exists.
func findModule(env, name string) (string, []string) {
	if p := os.Getenv(env); p != "" {
		return findFile([]string{p}), []string{p}
	}
	var paths []string
	for _, d := range libDirs() {
		paths = append(paths, filepath.Join(d, "pkcs11", name), filepath.Join(d, name))
	}
	return findFile(paths), paths
}

// needTools fails the test naming the Debian package of each program that
// is not on PATH (or, for an absolute path, not there).
func needTools(t testing.TB, toolPackages [][2]string) {
	t.Helper()
	var missing []string
	for _, tp := range toolPackages {
		tool, pkg := tp[0], tp[1]
		if filepath.IsAbs(tool) {
			if _, err := os.Stat(tool); err == nil {
				continue
			}
		} else if _, err := exec.LookPath(tool); err == nil {
			continue
		}
		missing = append(missing, fmt.Sprintf("%s (apt-get install %s)", tool, pkg))
	}
	if len(missing) > 0 {
		t.Fatalf("p11test: missing %s", strings.Join(missing, ", "))
	}
}

// daemon is a child process the harness started and must stop.
type daemon struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited and been reaped
	err  error         // its exit status, once done is closed
}

// startDaemon starts a program in the foreground as a child of the test
// process, its output going to logPath.
func startDaemon(name, logPath string, env []string, args ...string) (*daemon, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group, so that a terminal's Ctrl+C reaches the test
	// binary, which stops it in order; SIGTERM if the test binary dies
	// without stopping it (killed, or timed out), so that no daemon
	// outlives the test process.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %v", name, err)
	}
	d := &daemon{name: filepath.Base(name), cmd: cmd, done: make(chan struct{})}
	go func() {
		d.err = cmd.Wait()
		logf.Close()
		close(d.done)
	}()
	return d, nil
}

// exited reports whether the daemon has exited.
func (d *daemon) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, waits up to 5 s, then SIGKILL.
func (d *daemon) stop() error {
	if d.exited() {
		return nil
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
		return nil
	case <-time.After(5 * time.Second):
	}
	_ = d.cmd.Process.Kill()
	<-d.done
	return fmt.Errorf("%s (pid %d) ignored SIGTERM for 5 s and was killed", d.name, d.cmd.Process.Pid)
}

// waitFor polls ready every 20 ms until it returns nil, the daemon exits or
// timeout passes; the error quotes the daemon's log.
func waitFor(d *daemon, logPath string, timeout time.Duration, ready func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := ready()
		if err == nil {
			return nil
		}
		if d.exited() {
			return fmt.Errorf("%s exited (%v) before it was ready: %s", d.name, d.err, tail(logPath))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %v (%v): %s", d.name, timeout, err, tail(logPath))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// dial tries to connect to a TCP or unix socket address.
func dial(network, addr string) error {
	c, err := net.DialTimeout(network, addr, time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}

// tail returns the last lines of a log file, for error messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	s := strings.TrimSpace(string(b))
	if len(s) > 800 {
		s = "..." + s[len(s)-800:]
	}
	if s == "" {
		return "(empty log)"
	}
	return s
}

// errJoin joins the non-nil errors.
func errJoin(errs ...error) error { return errors.Join(errs...) }
