package p11test

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The opencryptoki 3.8 paths below are compiled into pkcsslotd and the
// soft token library: no configuration file or environment variable moves
// them. (PKCS_APP_STORE, which the soft token reads, points the token at a
// store path it then drops: 3.8.1 writes NVTOK.DAT and MK_SO into /.) So
// the harness uses the system store and daemon, one test at a time.
const (
	ockStore     = "/var/lib/opencryptoki/swtok" // the soft token's store
	ockLockDir   = "/var/lock/opencryptoki"      // per-token lock files
	ockPIDFile   = "/var/run/pkcsslotd.pid"
	ockSocket    = "/var/run/pkcsslotd.socket"
	ockShmGlob   = "/dev/shm/*opencryptoki*" // each token's shared memory, named after its store
	ockSoftSlot  = 3                         // slot 3 is libpkcs11_sw.so in the packaged opencryptoki.conf
	ockDefaultSO = "87654321"                // the soft token's SO PIN before anyone changes it
)

// ockHolder names the test in this process that holds opencryptoki.
var ockHolder struct {
	sync.Mutex
	test string
}

// ockSlotd is the pkcsslotd binary.
var ockSlotd = "/usr/sbin/pkcsslotd"

// OpenCryptokiLockFile is the file whose lock (flock) a test holds while it
// uses opencryptoki: every test process on the machine takes it, so tests
// in parallel packages wait for one another.
func OpenCryptokiLockFile() string {
	return filepath.Join(os.TempDir(), "ceremony-p11test-opencryptoki.lock")
}

// OpenCryptoki gives the test the opencryptoki soft token in slot 3,
// blank (uninitialised, SO PIN 87654321), served by a pkcsslotd the
// harness starts. It waits (up to 10 minutes) for any other test on the
// machine using opencryptoki to finish, stops any pkcsslotd already
// running, and starts from an empty store; when the test ends it stops its
// daemon and puts back the store and the daemon as it found them.
//
// opencryptoki's state is system-wide: the test must not be parallel, and
// must close every in-process session on the module before it ends.
func OpenCryptoki(t testing.TB) *Module {
	t.Helper()
	mod, tried := findModule("P11TEST_OPENCRYPTOKI_MODULE", "libopencryptoki.so")
	if mod == "" {
		t.Fatalf("p11test: opencryptoki is not installed (apt-get install opencryptoki); looked in %s", strings.Join(tried, ", "))
	}
	needTools(t, [][2]string{{ockSlotd, "opencryptoki"}, {"pkcs11-tool", "opensc"}})
	if os.Geteuid() != 0 {
		t.Fatalf("p11test: opencryptoki needs root: pkcsslotd refuses other users and the harness resets %s", ockStore)
	}
	gid, err := pkcs11Group()
	if err != nil {
		t.Fatal(err)
	}
	if err := pinITM(); err != nil {
		t.Fatal(err)
	}

	// A second call in the same test would wait for itself.
	ockHolder.Lock()
	if ockHolder.test == t.Name() {
		ockHolder.Unlock()
		t.Fatalf("p11test: %s already holds opencryptoki: call OpenCryptoki once per test (Reset gives a blank token again)", t.Name())
	}
	ockHolder.Unlock()
	unlock, err := lockFile(OpenCryptokiLockFile(), 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	ockHolder.Lock()
	ockHolder.test = t.Name()
	ockHolder.Unlock()
	dir, err := os.MkdirTemp("", "p11test-ock-")
	if err != nil {
		unlock()
		t.Fatal(err)
	}
	o := &ock{dir: dir, gid: gid, log: filepath.Join(dir, "pkcsslotd.log")}
	m := &Module{
		Name:         "opencryptoki soft token",
		Path:         mod,
		Dir:          dir,
		DefaultSOPIN: ockDefaultSO,
		// As opencryptoki 3.8 reports them once the token is initialised
		// (pkcs11-tool shows nothing for a blank one); the package's tests
		// check.
		PINMin: 4, PINMax: 8,
		ResetTool: "pkcsconf",
		blankSlot: func(testing.TB) uint { return ockSoftSlot },
	}
	// Registered before anything can fail, so the lock and the system's
	// state are always given back.
	t.Cleanup(func() {
		if err := o.restore(); err != nil {
			t.Errorf("p11test: putting back opencryptoki: %v", err)
		}
		os.RemoveAll(dir)
		ockHolder.Lock()
		ockHolder.test = ""
		ockHolder.Unlock()
		unlock()
	})
	if err := o.save(); err != nil {
		t.Fatal(err)
	}
	m.reset = func(t testing.TB) {
		t.Helper()
		if err := o.reset(); err != nil {
			t.Fatal(err)
		}
	}
	m.reset(t)
	found := false
	for _, s := range m.Slots(t) {
		found = found || s.ID == ockSoftSlot
	}
	if !found {
		t.Fatalf("p11test: opencryptoki shows no soft token in slot %d (is libpkcs11_sw.so slot %d in /etc/opencryptoki/opencryptoki.conf?)", ockSoftSlot, ockSoftSlot)
	}
	return m
}

// ock is the harness's hold on the system's opencryptoki.
type ock struct {
	dir string // private: logs and the saved store
	gid int    // the pkcs11 group
	log string

	slotd      *daemon // the pkcsslotd the harness runs, if any
	hadDaemon  bool    // a pkcsslotd was running before the test
	savedStore string  // copy of the store as found ("" if there was none)
}

// pkcs11Group returns the gid of the pkcs11 group the package creates.
func pkcs11Group() (int, error) {
	g, err := user.LookupGroup("pkcs11")
	if err != nil {
		return 0, fmt.Errorf("p11test: no pkcs11 group (apt-get install opencryptoki creates it): %v", err)
	}
	return strconv.Atoi(g.Gid)
}

// save stops every pkcsslotd that was running and keeps a copy of the
// store.
func (o *ock) save() error {
	for _, pid := range foreignSlotds() {
		o.hadDaemon = true
		if err := stopPID(pid); err != nil {
			return err
		}
	}
	if _, err := os.Stat(ockStore); err == nil {
		o.savedStore = filepath.Join(o.dir, "saved-swtok")
		if err := copyTree(ockStore, o.savedStore); err != nil {
			return fmt.Errorf("p11test: saving %s: %v", ockStore, err)
		}
	}
	return nil
}

// reset stops the harness's daemon, empties the store, clears the shared
// memory and starts pkcsslotd again.
func (o *ock) reset() error {
	if err := o.stopDaemon(); err != nil {
		return err
	}
	if err := o.blankStore(); err != nil {
		return err
	}
	return o.startDaemon()
}

// restore stops the harness's daemon and puts back the store, and the
// daemon if one was running, as they were before the test.
func (o *ock) restore() error {
	err := o.stopDaemon()
	if e := o.blankStore(); e != nil {
		return errJoin(err, e)
	}
	if o.savedStore != "" {
		if e := os.RemoveAll(ockStore); e != nil {
			return errJoin(err, e)
		}
		if e := copyTree(o.savedStore, ockStore); e != nil {
			return errJoin(err, fmt.Errorf("putting back %s: %v", ockStore, e))
		}
	}
	if o.hadDaemon {
		// As it was: a daemon of its own, outliving the test.
		if out, e := runQuiet(ockSlotd); e != nil {
			err = errJoin(err, fmt.Errorf("restarting pkcsslotd: %v: %s", e, out))
		}
	}
	return err
}

// stopDaemon stops the pkcsslotd the harness started, and any other.
func (o *ock) stopDaemon() error {
	var err error
	if o.slotd != nil {
		err = o.slotd.stop()
		o.slotd = nil
	}
	for _, pid := range foreignSlotds() {
		err = errJoin(err, stopPID(pid))
	}
	return err
}

// blankStore makes the store what the package installs: an empty TOK_OBJ
// directory, group pkcs11, mode 0770; it removes the tokens' shared memory
// and a stale daemon socket, and makes sure the lock directories exist.
// The daemon must be stopped.
func (o *ock) blankStore() error {
	if err := os.RemoveAll(ockStore); err != nil {
		return fmt.Errorf("p11test: emptying %s: %v", ockStore, err)
	}
	for _, d := range []string{ockStore, filepath.Join(ockStore, "TOK_OBJ"), ockLockDir, filepath.Join(ockLockDir, "swtok")} {
		if err := os.MkdirAll(d, 0o770); err != nil {
			return fmt.Errorf("p11test: %v", err)
		}
		if err := os.Chown(d, 0, o.gid); err != nil {
			return fmt.Errorf("p11test: %v", err)
		}
		if err := os.Chmod(d, 0o770); err != nil {
			return fmt.Errorf("p11test: %v", err)
		}
	}
	// A daemon that died leaves its socket; a stale one would pass for the
	// new daemon's.
	if err := os.Remove(ockSocket); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("p11test: %v", err)
	}
	shm, _ := filepath.Glob(ockShmGlob)
	for _, f := range shm {
		if err := os.Remove(f); err != nil {
			return fmt.Errorf("p11test: %v", err)
		}
	}
	return nil
}

// startDaemon starts pkcsslotd in the foreground as a child of the test
// and waits until its socket answers.
func (o *ock) startDaemon() error {
	d, err := startDaemon(ockSlotd, o.log, nil, "-f")
	if err != nil {
		return fmt.Errorf("p11test: %v", err)
	}
	o.slotd = d
	// Readiness is the socket's existence: pkcsslotd 3.8 exits when a
	// client connects and hangs up without speaking its protocol, so the
	// harness must not probe it by connecting.
	return waitFor(d, o.log, 10*time.Second, func() error {
		fi, err := os.Stat(ockSocket)
		if err == nil && fi.Mode()&fs.ModeSocket == 0 {
			err = fmt.Errorf("%s is not a socket", ockSocket)
		}
		return err
	})
}

// foreignSlotds returns the pids of the running pkcsslotd processes: the
// pid file's, and any other (one whose socket or pid file a later daemon
// replaced), so that none is left behind.
func foreignSlotds() []int {
	var pids []int
	if b, err := os.ReadFile(ockPIDFile); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 && running(pid, "pkcsslotd") {
			pids = append(pids, pid)
		}
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || slices.Contains(pids, pid) || pid == os.Getpid() {
			continue
		}
		if running(pid, "pkcsslotd") {
			pids = append(pids, pid)
		}
	}
	return pids
}

// running reports whether pid is a live (not zombie) process named comm.
func running(pid int, comm string) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// "PID (COMM) STATE ..."
	s := string(stat)
	i, j := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if i < 0 || j < i || j+2 >= len(s) {
		return false
	}
	return s[i+1:j] == comm && s[j+2] != 'Z'
}

// stopPID sends SIGTERM to a process the harness did not start and waits
// up to 5 s for it to go.
func stopPID(pid int) error {
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return fmt.Errorf("p11test: stopping pkcsslotd (pid %d): %v", pid, err)
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if !running(pid, "pkcsslotd") {
			return nil
		}
	}
	return fmt.Errorf("p11test: pkcsslotd (pid %d) did not stop within 5 s of SIGTERM", pid)
}

// lockFile takes an exclusive flock on path, waiting up to timeout, and
// returns the function that releases it. The file holds the holder's pid,
// for the message a waiter gives up with.
func lockFile(path string, timeout time.Duration) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, fmt.Errorf("p11test: lock %s: %v", path, err)
	}
	deadline := time.Now().Add(timeout)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if err != syscall.EWOULDBLOCK {
			f.Close()
			return nil, fmt.Errorf("p11test: lock %s: %v", path, err)
		}
		if time.Now().After(deadline) {
			holder, _ := os.ReadFile(path)
			f.Close()
			return nil, fmt.Errorf("p11test: %s still locked after %v by pid %s", path, timeout, strings.TrimSpace(string(holder)))
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() {
		_ = f.Truncate(0)
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// copyTree copies a directory of regular files and directories, keeping
// modes and owners.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if err := os.MkdirAll(target, info.Mode().Perm()); err != nil {
				return err
			}
		case info.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if err := os.WriteFile(target, b, info.Mode().Perm()); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s is neither a file nor a directory", p)
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			if err := os.Lchown(target, int(st.Uid), int(st.Gid)); err != nil {
				return err
			}
		}
		return os.Chmod(target, info.Mode().Perm())
	})
}

// runQuiet runs a command and returns its combined output.
func runQuiet(name string, args ...string) (string, error) {
	return (&Module{}).Run(name, args...)
}
