package p11test

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TPM2 gives the test tpm2-pkcs11 over a software TPM of its own: swtpm
// with a fresh state on free 127.0.0.1 ports, tpm2-abrmd on a private D-Bus
// session bus in front of it (without a resource manager the TPM runs out
// of object slots after two or three processes), and a token store made by
// tpm2_ptool init. The module shows one blank slot; each
// [Module.InitToken] fills it and a new blank slot appears. When the test
// ends the daemons are stopped and the state removed.
//
// Processes that load the module need [Module.Env]; call [Module.Setenv]
// to load it in the test process. Tests using TPM2 may run in parallel
// with one another (each has its own TPM) as long as they do not call
// Setenv.
func TPM2(t testing.TB) *Module {
	t.Helper()
	mod, tried := findModule("P11TEST_TPM2_MODULE", "libtpm2_pkcs11.so")
	if mod == "" {
		t.Fatalf("p11test: tpm2-pkcs11 is not installed (apt-get install libtpm2-pkcs11-1); looked in %s", strings.Join(tried, ", "))
	}
	needTools(t, [][2]string{
		{"swtpm", "swtpm"},
		{"tpm2-abrmd", "tpm2-abrmd"},
		{"dbus-daemon", "dbus"},
		{"tpm2_ptool", "libtpm2-pkcs11-tools"},
		{"tpm2_getcap", "tpm2-tools"},
		{"pkcs11-tool", "opensc"},
	})
	var tcti []string
	for _, lib := range []struct{ name, pkg string }{
		{"libtss2-tcti-swtpm.so.0", "libtss2-tcti-swtpm0"},
		{"libtss2-tcti-tabrmd.so.0", "libtss2-tcti-tabrmd0"},
	} {
		var paths []string
		for _, d := range libDirs() {
			paths = append(paths, filepath.Join(d, lib.name))
		}
		if findFile(paths) == "" {
			tcti = append(tcti, fmt.Sprintf("%s (apt-get install %s)", lib.name, lib.pkg))
		}
	}
	if len(tcti) > 0 {
		t.Fatalf("p11test: missing %s", strings.Join(tcti, ", "))
	}

	// A short directory: the D-Bus socket path must fit in 108 bytes.
	dir, err := os.MkdirTemp("", "p11test-tpm2-")
	if err != nil {
		t.Fatal(err)
	}
	tp := &tpm{dir: dir}
	m := &Module{
		Name:      "tpm2-pkcs11 over swtpm",
		Path:      mod,
		Dir:       dir,
		ResetTool: "tpm2_ptool",
		// As tpm2-pkcs11 1.9 reports them; the package's tests check.
		PINMin: 0, PINMax: 128,
	}
	t.Cleanup(func() {
		if err := tp.stop(); err != nil {
			t.Errorf("p11test: stopping the software TPM: %v", err)
		}
		os.RemoveAll(dir)
	})
	m.reset = func(t testing.TB) {
		t.Helper()
		if err := tp.stop(); err != nil {
			t.Fatal(err)
		}
		env, err := tp.start()
		if err != nil {
			t.Fatal(err)
		}
		m.Env = env
	}
	m.blankSlot = func(t testing.TB) uint {
		t.Helper()
		for _, s := range m.Slots(t) {
			if !s.Initialized {
				return s.ID
			}
		}
		t.Fatalf("p11test: %s shows no blank slot", m.Name)
		return 0
	}
	m.reset(t)
	return m
}

// tpm is one private software TPM stack.
type tpm struct {
	dir   string
	run   int // how many times started, for fresh state directory names
	swtpm *daemon
	dbus  *daemon
	abrmd *daemon
}

// start starts swtpm, a D-Bus session bus and tpm2-abrmd with a fresh TPM
// and token store, and returns the environment a client needs.
func (tp *tpm) start() ([]string, error) {
	tp.run++
	base := filepath.Join(tp.dir, strconv.Itoa(tp.run))
	state, store := filepath.Join(base, "tpm"), filepath.Join(base, "store")
	for _, d := range []string{state, store} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("p11test: %v", err)
		}
	}

	tmpl := cachedTemplate()
	if tmpl != nil {
		if err := tmpl.write(state, store); err != nil {
			return nil, err
		}
	}
	env, err := tp.startDaemons(base, state, store)
	if err != nil || tmpl != nil {
		return env, err
	}
	// The first start in this process: make the token store, then keep the
	// TPM's state and the store, taken with the daemons stopped, for later
	// starts (tpm2_ptool init takes most of a start's time).
	probe := &Module{Env: env}
	if out, err := probe.Run("tpm2_ptool", "init", "--path="+store); err != nil {
		return nil, fmt.Errorf("p11test: tpm2_ptool init: %v: %s", err, out)
	}
	if err := tp.stop(); err != nil {
		return nil, err
	}
	tmpl, err = snapshot(state, store)
	if err != nil {
		return nil, err
	}
	keepTemplate(tmpl)
	return tp.startDaemons(base, state, store)
}

// startDaemons starts swtpm on state, a D-Bus session bus and tpm2-abrmd,
// and returns the environment a client needs to reach them and the store.
func (tp *tpm) startDaemons(base, state, store string) ([]string, error) {
	port, err := tp.startSWTPM(state, filepath.Join(base, "swtpm.log"))
	if err != nil {
		return nil, err
	}

	sock := filepath.Join(base, "bus")
	busLog := filepath.Join(base, "dbus.log")
	tp.dbus, err = startDaemon("dbus-daemon", busLog, nil, "--session", "--nofork", "--nopidfile", "--address=unix:path="+sock)
	if err != nil {
		return nil, fmt.Errorf("p11test: %v", err)
	}
	if err := waitFor(tp.dbus, busLog, 10*time.Second, func() error { return dial("unix", sock) }); err != nil {
		return nil, fmt.Errorf("p11test: %v", err)
	}
	bus := "DBUS_SESSION_BUS_ADDRESS=unix:path=" + sock
	env := []string{
		bus,
		"TPM2_PKCS11_TCTI=tabrmd:bus_type=session",
		"TPM2TOOLS_TCTI=tabrmd:bus_type=session",
		"TPM2_PKCS11_STORE=" + store,
	}

	abrmdLog := filepath.Join(base, "tpm2-abrmd.log")
	args := []string{"--session", fmt.Sprintf("--tcti=swtpm:host=127.0.0.1,port=%d", port)}
	if os.Geteuid() == 0 {
		args = append(args, "--allow-root")
	}
	tp.abrmd, err = startDaemon("tpm2-abrmd", abrmdLog, []string{bus}, args...)
	if err != nil {
		return nil, fmt.Errorf("p11test: %v", err)
	}
	probe := &Module{Env: env}
	if err := waitFor(tp.abrmd, abrmdLog, 10*time.Second, func() error {
		_, err := probe.Run("tpm2_getcap", "properties-fixed")
		return err
	}); err != nil {
		return nil, fmt.Errorf("p11test: %v", err)
	}
	return env, nil
}

// template is a TPM state and token store just after tpm2_ptool init,
// held in memory: each file's path relative to its directory and contents.
type template struct {
	state, store map[string][]byte
}

var (
	templateMu sync.Mutex
	tpmTmpl    *template
)

func cachedTemplate() *template {
	templateMu.Lock()
	defer templateMu.Unlock()
	return tpmTmpl
}

func keepTemplate(t *template) {
	templateMu.Lock()
	defer templateMu.Unlock()
	tpmTmpl = t
}

// snapshot reads the regular files of the state and store directories.
func snapshot(state, store string) (*template, error) {
	t := &template{}
	var err error
	if t.state, err = readDir(state); err != nil {
		return nil, err
	}
	if t.store, err = readDir(store); err != nil {
		return nil, err
	}
	return t, nil
}

func readDir(dir string) (map[string][]byte, error) {
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s is not a regular file", p)
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		files[rel], err = os.ReadFile(p)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("p11test: keeping the software TPM's state: %v", err)
	}
	return files, nil
}

// write puts the template's files into fresh state and store directories.
func (t *template) write(state, store string) error {
	for dir, files := range map[string]map[string][]byte{state: t.state, store: t.store} {
		for rel, b := range files {
			p := filepath.Join(dir, rel)
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				return fmt.Errorf("p11test: %v", err)
			}
			if err := os.WriteFile(p, b, 0o600); err != nil {
				return fmt.Errorf("p11test: %v", err)
			}
		}
	}
	return nil
}

// startSWTPM starts swtpm on a free pair of ports (server P, control P+1,
// as the swtpm TCTI expects), trying others if another process takes one
// first, and returns P.
func (tp *tpm) startSWTPM(state, logPath string) (int, error) {
	var last error
	for try := 0; try < 20; try++ {
		port := freePortPair()
		if port == 0 {
			continue
		}
		d, err := startDaemon("swtpm", logPath, nil, "socket", "--tpm2",
			"--tpmstate", "dir="+state,
			"--server", fmt.Sprintf("type=tcp,port=%d,bindaddr=127.0.0.1", port),
			"--ctrl", fmt.Sprintf("type=tcp,port=%d,bindaddr=127.0.0.1", port+1),
			"--flags", "not-need-init,startup-clear")
		if err != nil {
			return 0, fmt.Errorf("p11test: %v", err)
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port+1))
		last = waitFor(d, logPath, 10*time.Second, func() error { return dial("tcp", addr) })
		if last == nil {
			tp.swtpm = d
			return port, nil
		}
		_ = d.stop()
	}
	return 0, fmt.Errorf("p11test: swtpm did not start on any of 20 port pairs: %v", last)
}

// freePortPair returns a port P in 20000–59998 such that P and P+1 could
// be bound on 127.0.0.1 a moment ago, or 0.
func freePortPair() int {
	var b [2]byte
	if _, err := rand.Read(b[:]); err != nil {
		return 0
	}
	p := 20000 + int(binary.BigEndian.Uint16(b[:]))%39999
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for _, q := range []int{p, p + 1} {
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(q)))
		if err != nil {
			return 0
		}
		ls = append(ls, l)
	}
	return p
}

// stop stops tpm2-abrmd, the bus and swtpm, in that order.
func (tp *tpm) stop() error {
	var err error
	for _, d := range []**daemon{&tp.abrmd, &tp.dbus, &tp.swtpm} {
		if *d != nil {
			err = errJoin(err, (*d).stop())
			*d = nil
		}
	}
	return err
}
