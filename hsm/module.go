package hsm

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/devicepki/ceremony/ceremony/durable"
	"github.com/miekg/pkcs11"
)

// ErrTokenInUse is returned by Open when the token is already open in this
// process.
var ErrTokenInUse = errors.New("token already open in this process")

// The module registry.
//
// C_Initialize and C_Finalize act on a whole PKCS#11 library in a process,
// not on one caller: a second C_Initialize fails with
// CKR_CRYPTOKI_ALREADY_INITIALIZED, and C_Finalize closes every session of
// every caller. So the library is initialised once, when its first Token or
// Blank opens, and finalised when its last one closes. The registry keys
// libraries by absolute path with symbolic links evaluated: dlopen loads a
// file once however it is named, so two names of one file are one library.
// Two different files (two vendors' modules, or two copies of one) are two
// libraries with separate state, and are registered separately.
//
// crypto11 v1.2.5 keeps a reference count of its own per library path
// (Config.Path, compared as a string): its first Configure of a path calls
// C_Initialize and fails if the library is already initialised, and the
// Close of its last context calls C_Finalize. The registry works with that
// rule rather than around it: it hands crypto11 the registry key as the path,
// so crypto11's count for the path is exactly this module's number of open
// Tokens, and
//   - while any Token of the module is open, crypto11 owns the
//     initialisation (its first Configure made it, its last Close ends it);
//   - while only a Blank is open (Blanks do not use crypto11), the registry
//     owns it (module.rawInit).
//
// The hand-over between the two happens under registry.mu, when no session
// of the module is open: before the first Token's Configure the registry
// finalises its own initialisation, and after the last Token's Close it
// initialises the library again if a Blank is still open. A Blank opens
// sessions only inside Blank.initialize, which holds registry.mu.
//
// One crypto11 hazard stays: when Configure fails after the library was
// initialised (token not found, C_OpenSession refused), it calls C_Finalize
// even if other contexts use the library. Open makes that unlikely (it finds
// the token and opens its own session first, with the library in the state
// crypto11 will see), and if it happens anyway the module is marked broken:
// every Token of it then fails with an error saying so, instead of using
// handles that a later initialisation might give to other objects, until all
// of them are closed.
var registry = struct {
	mu      sync.Mutex
	modules map[string]*module
}{modules: map[string]*module{}}

// module is one PKCS#11 library in the registry. Its fields other than
// broken are guarded by registry.mu.
type module struct {
	key     string // absolute path, symbolic links evaluated
	raw     *pkcs11.Ctx
	rawInit bool                   // the registry called C_Initialize (no Token open)
	tokens  map[uint]*Token        // open Tokens by slot; each has a crypto11 context
	blank   *Blank                 // the open Blank, if any
	broken  atomic.Pointer[string] // why the module cannot be used, once finalised under its Tokens
}

// moduleKey checks that path names a file and returns the registry key: the
// absolute path with symbolic links evaluated. It does not load the file.
func moduleKey(path string) (string, error) {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("pkcs11 module %s: no such file: %w", path, ErrModuleNotFound)
	case err != nil:
		return "", fmt.Errorf("pkcs11 module %s: %w", path, err)
	case st.IsDir():
		return "", fmt.Errorf("pkcs11 module %s: is a directory, not a shared library", path)
	case !st.Mode().IsRegular():
		// Loading a FIFO would block in dlopen, where no signal stops it.
		return "", fmt.Errorf("pkcs11 module %s: is %s, not a shared library", path, durable.What(path))
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("pkcs11 module %s: %w", path, err)
	}
	key, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("pkcs11 module %s: %w", path, err)
	}
	return key, nil
}

// acquireModule returns the registered module for path, loading the library
// (without initialising it) if it is not registered yet. A new module that
// gets no user must be dropped with releaseIfUnused. The caller holds
// registry.mu.
func acquireModule(path string) (*module, error) {
	key, err := moduleKey(path)
	if err != nil {
		return nil, err
	}
	if m := registry.modules[key]; m != nil {
		return m, nil
	}
	raw := pkcs11.New(key)
	if raw == nil {
		return nil, fmt.Errorf("pkcs11 module %s: cannot be loaded (not a PKCS#11 library for this machine?)", path)
	}
	m := &module{key: key, raw: raw, tokens: map[uint]*Token{}}
	registry.modules[key] = m
	return m, nil
}

// users reports whether a Token or a Blank uses m. The caller holds
// registry.mu.
func (m *module) users() bool { return len(m.tokens) > 0 || m.blank != nil }

// initialize calls C_Initialize for the registry, when no Token is open. The
// caller holds registry.mu.
func (m *module) initialize(path string) error {
	if m.rawInit {
		return nil
	}
	if err := m.raw.Initialize(); err != nil {
		var p11 pkcs11.Error
		if errors.As(err, &p11) && p11 == pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED {
			return fmt.Errorf("pkcs11 module %s is already in use by this process outside package hsm (it is initialised, but no token of it is open here): %w", path, err)
		}
		return fmt.Errorf("pkcs11 module %s did not start (C_Initialize: %w): %s", path, err, initHint(path))
	}
	m.rawInit = true
	return nil
}

// initHint says, for a module that failed C_Initialize, where its
// configuration and log are: the module's own error code rarely says.
func initHint(path string) string {
	base := strings.ToLower(filepath.Base(path))
	switch {
	case strings.Contains(base, "softhsm"):
		conf, set := os.LookupEnv("SOFTHSM2_CONF")
		where := fmt.Sprintf("SOFTHSM2_CONF names %s", conf)
		if !set || conf == "" {
			conf, where = "/etc/softhsm/softhsm2.conf", "SOFTHSM2_CONF is not set, so it reads /etc/softhsm/softhsm2.conf"
		}
		state := "which exists: check its directories.tokendir exists and is writable"
		if _, err := os.Stat(conf); err != nil {
			state = "which cannot be read (" + errReason(err) + ")"
		}
		return fmt.Sprintf("SoftHSM2 could not start from its configuration: %s, %s; its log is the system log (journalctl -t softhsm2)", where, state)
	case strings.Contains(base, "opencryptoki"):
		return "opencryptoki needs its slot daemon: start pkcsslotd (systemctl start pkcsslotd) and check /etc/opencryptoki/opencryptoki.conf; its log is the system log"
	case strings.Contains(base, "tpm2"):
		return "tpm2-pkcs11 could not reach its store or the TPM: check TPM2_PKCS11_STORE and TPM2_PKCS11_TCTI (or that tpm2-abrmd is running); TPM2_PKCS11_LOG_LEVEL=2 makes it log why"
	}
	return "the module could not start: check the configuration its vendor documents (often a file named by an environment variable) and its log"
}

// errReason is an error's last part, without the path an os error repeats.
func errReason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// finalize ends the registry's own initialisation, if it made one. The
// caller holds registry.mu and knows that no session of m is open.
func (m *module) finalize(path string) error {
	if !m.rawInit {
		return nil
	}
	m.rawInit = false
	if err := m.raw.Finalize(); err != nil {
		return fmt.Errorf("pkcs11 module %s: finalise: %w", path, err)
	}
	return nil
}

// afterLastToken is called once the module has no open Token: crypto11
// finalised the library (or never got to initialise it). If a Blank is
// still open, the registry initialises the library again for it. The caller
// holds registry.mu.
func (m *module) afterLastToken(path string) {
	if m.blank == nil || m.rawInit {
		return
	}
	if err := m.initialize(path); err != nil {
		m.markBroken(fmt.Sprintf("pkcs11 module %s could not be initialised again for the blank token after its last open token closed: %v", path, err))
	}
}

// releaseIfUnused finalises and unloads m and drops it from the registry if
// nothing uses it any more. The caller holds registry.mu.
func (m *module) releaseIfUnused(path string) error {
	if m.users() {
		return nil
	}
	err := m.finalize(path)
	m.raw.Destroy()
	delete(registry.modules, m.key)
	return err
}

// markBroken records why m can no longer be used.
func (m *module) markBroken(why string) { m.broken.CompareAndSwap(nil, &why) }

// brokenErr returns an error if m is broken, else nil.
func (m *module) brokenErr() error {
	if why := m.broken.Load(); why != nil {
		return errors.New(*why)
	}
	return nil
}

// libraryFinalized reports whether the library answers that it is not
// initialised. The caller holds registry.mu.
func (m *module) libraryFinalized() bool {
	_, err := m.raw.GetSlotList(false)
	var p11 pkcs11.Error
	return errors.As(err, &p11) && p11 == pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED
}

// OpenModules returns the paths (absolute, symbolic links evaluated) of the
// PKCS#11 libraries this process has loaded through this package, sorted:
// each stays loaded and initialised while a Token or a Blank of it is open.
func OpenModules() []string {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	out := make([]string, 0, len(registry.modules))
	for k := range registry.modules {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
