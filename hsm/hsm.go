// Package hsm is everything PKCS#11: open a module, select a token by label
// or serial, log in, generate and find key pairs, sign through crypto.Signer,
// and read token information and key attributes.
//
// Signing and key generation go through crypto11. What crypto11 does not
// expose (token information and initialisation, user and security-officer
// login, object search, attribute reads, object destruction, key wrap and
// unwrap for backups, data objects) goes through a raw github.com/miekg/pkcs11
// session on the same module. crypto11 is configured without a PIN: the login happens once, on the
// raw session, and applies to every session of that token in the process, so
// the PIN is handed to the module exactly once and crypto11 never keeps a
// copy.
//
// Several tokens may be open at once, of one module or of several: each
// module is loaded and initialised once per process and finalised when its
// last Token or Blank closes (see OpenModules and the registry in module.go).
//
// Nothing here is specific to SoftHSM2; it is the module used for demos and
// tests.
//
// Layering: hsm sits just above the leaves. From this module it imports
// only leaf helpers, packages that import nothing from the module but other
// leaves (today keys, secret and strictyaml), and never a ceremony package
// (scripts, certificates, transcripts, the engine): those import hsm. The
// order is declared in internal/layers and checked by its test.
package hsm

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/ThalesIgnite/crypto11"
	"github.com/miekg/pkcs11"

	"github.com/devicepki/ceremony/ceremony/secret"
)

// Errors callers may test for with errors.Is.
var (
	ErrModuleNotFound = errors.New("pkcs11 module not found")
	ErrTokenNotFound  = errors.New("token not found")
	ErrPINIncorrect   = errors.New("PIN incorrect")
	ErrNotLoggedIn    = errors.New("not logged in")
	ErrLabelInUse     = errors.New("label already in use")
	ErrKeyNotFound    = errors.New("key pair not found")
)

// TokenInfo is what a token says about itself. It goes into transcripts.
type TokenInfo struct {
	Label           string `json:"label"`
	Manufacturer    string `json:"manufacturer"`
	Model           string `json:"model"`
	Serial          string `json:"serial"`
	HardwareVersion string `json:"hardware_version"`
	FirmwareVersion string `json:"firmware_version"`
}

// Token is an open PKCS#11 token: a module, a slot, and a session. It is safe
// for use by one goroutine at a time; signers it returns may be used
// concurrently.
type Token struct {
	cfg  Config
	info TokenInfo
	slot uint

	mu         sync.Mutex
	mod        *module
	raw        *pkcs11.Ctx // the module's, shared with its other Tokens
	c11        *crypto11.Context
	session    pkcs11.SessionHandle
	loggedIn   bool // the user is logged in
	soLoggedIn bool // the security officer is logged in
	closed     bool
}

// Open loads the module named in cfg (once per process: see OpenModules),
// selects the token, and opens a session. It does not log in. Every failure
// names the module or the token, and lists the tokens that are present when
// the wanted one is not.
//
// Several tokens may be open at once, of one module or of several, each with
// its own login; closing one leaves the others working. One token cannot be
// open twice at once: the second Open fails with an error wrapping
// ErrTokenInUse. PKCS#11 keeps one login state per token and application,
// so two Tokens of one token would log each other in and out behind their
// backs; share the open Token instead. (Two different module files that
// reach the same token, such as two copies of one library, are separate
// applications to PKCS#11 and are not detected.)
func Open(cfg Config) (*Token, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	registry.mu.Lock()
	defer registry.mu.Unlock()
	m, err := acquireModule(cfg.Module)
	if err != nil {
		return nil, err
	}
	t := &Token{cfg: cfg, raw: m.raw, mod: m}
	if err := t.open(); err != nil {
		return nil, errors.Join(err, m.releaseIfUnused(cfg.Module))
	}
	return t, nil
}

// c11Configure is crypto11.Configure; tests replace it to play a failing
// Configure.
var c11Configure = crypto11.Configure

// open finds the token in the module, configures crypto11 for it and opens
// the raw session. The caller holds registry.mu; t.mod is registered.
func (t *Token) open() error {
	m, path := t.mod, t.cfg.Module
	if err := m.brokenErr(); err != nil {
		return err
	}
	first := len(m.tokens) == 0
	if first {
		// Probe with the registry's own initialisation, so that a missing
		// token is reported clearly and crypto11 is only configured for a
		// token that is there.
		if err := m.initialize(path); err != nil {
			return err
		}
	}
	slot, info, err := t.findSlot()
	if err != nil {
		if !first && errors.Is(err, ErrTokenNotFound) {
			// SoftHSM2, for one, reads its tokens when it is initialised.
			err = fmt.Errorf("%w; the module is in use by %d open token(s) of this process, and a token initialised by another program since the module was loaded may only appear after they are all closed", err, len(m.tokens))
		}
		return err
	}
	if err := t.notOpen(slot, info); err != nil {
		return err
	}
	var session pkcs11.SessionHandle
	if first {
		// crypto11 initialises the library itself when it has no context
		// of it; hand the initialisation over. No session is open: a Blank
		// opens sessions only while it holds registry.mu.
		if err := m.finalize(path); err != nil {
			return err
		}
	} else {
		// Open our session before crypto11 opens its own: if the token
		// refuses sessions, crypto11 never gets to fail (and finalise
		// the library under the other tokens).
		if session, err = m.raw.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION); err != nil {
			return fmt.Errorf("token %s: open session: %w", t.cfg.Token, err)
		}
	}

	c11cfg := &crypto11.Config{Path: m.key, TokenSerial: info.Serial, LoginNotSupported: true}
	if info.Serial == "" {
		c11cfg.TokenSerial, c11cfg.TokenLabel = "", info.Label
	}
	c11, err := c11Configure(c11cfg)
	if err != nil {
		err = fmt.Errorf("token %s: %w", t.cfg.Token, err)
		if first {
			m.afterLastToken(path)
			return err
		}
		_ = m.raw.CloseSession(session)
		if m.libraryFinalized() {
			why := fmt.Sprintf("pkcs11 module %s was finalised by crypto11 when opening token %s failed; the sessions and logins of its open tokens are gone: close every token of this module and open them again", path, t.cfg.Token)
			m.markBroken(why)
			return fmt.Errorf("%w; %s", err, why)
		}
		return err
	}
	t.c11 = c11
	if first {
		// The library was initialised anew: find the slot again.
		if slot, info, err = t.findSlot(); err == nil {
			session, err = m.raw.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
			if err != nil {
				err = fmt.Errorf("token %s: open session: %w", t.cfg.Token, err)
			}
		}
		if err != nil {
			_ = c11.Close()
			t.c11 = nil
			m.afterLastToken(path)
			return err
		}
	}
	t.slot, t.info, t.session = slot, info, session
	m.tokens[slot] = t
	return nil
}

// notOpen fails with ErrTokenInUse if the token in slot is open already. The
// caller holds registry.mu.
func (t *Token) notOpen(slot uint, info TokenInfo) error {
	if _, open := t.mod.tokens[slot]; open {
		return fmt.Errorf("token %q (serial %s) of %s is already open in this process; use the open token, or close it first: %w", info.Label, info.Serial, t.cfg.Module, ErrTokenInUse)
	}
	return nil
}

// findSlot returns the slot holding the configured token.
func (t *Token) findSlot() (uint, TokenInfo, error) {
	slots, err := t.raw.GetSlotList(true)
	if err != nil {
		return 0, TokenInfo{}, fmt.Errorf("pkcs11 module %s: list slots: %w", t.cfg.Module, err)
	}
	var (
		found   []uint
		infos   []TokenInfo
		present []string
	)
	for _, s := range slots {
		ti, err := t.raw.GetTokenInfo(s)
		if err != nil {
			continue
		}
		if ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED == 0 {
			continue
		}
		info := tokenInfo(ti)
		present = append(present, fmt.Sprintf("%q (serial %s)", info.Label, info.Serial))
		if t.cfg.Token.matches(info) {
			found = append(found, s)
			infos = append(infos, info)
		}
	}
	switch len(found) {
	case 1:
		return found[0], infos[0], nil
	case 0:
		sort.Strings(present)
		have := "no initialised tokens"
		if len(present) > 0 {
			have = "tokens present: " + strings.Join(present, ", ")
		}
		return 0, TokenInfo{}, fmt.Errorf("token %s not found in %s (%s): %w", t.cfg.Token, t.cfg.Module, have, ErrTokenNotFound)
	default:
		return 0, TokenInfo{}, fmt.Errorf("token %s is ambiguous: %d tokens match; select it by serial", t.cfg.Token, len(found))
	}
}

func tokenInfo(ti pkcs11.TokenInfo) TokenInfo {
	return TokenInfo{
		Label:           tokenString(ti.Label),
		Manufacturer:    tokenString(ti.ManufacturerID),
		Model:           tokenString(ti.Model),
		Serial:          tokenString(ti.SerialNumber),
		HardwareVersion: fmt.Sprintf("%d.%d", ti.HardwareVersion.Major, ti.HardwareVersion.Minor),
		FirmwareVersion: fmt.Sprintf("%d.%d", ti.FirmwareVersion.Major, ti.FirmwareVersion.Minor),
	}
}

// Info returns the token's self-description, read when it was opened.
func (t *Token) Info() TokenInfo { return t.info }

// Login logs the user in with pin. The caller keeps ownership of pin and
// should wipe it. A wrong PIN gives an error wrapping ErrPINIncorrect that
// does not contain the PIN.
func (t *Token) Login(pin *secret.Secret) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.usable(); err != nil {
		return err
	}
	return t.login(pkcs11.CKU_USER, pin)
}

// LoginSO logs the security officer in with pin. The SO manages the token
// (it sets trusted keys, see ImportTrustedAESKey) but cannot see or use
// private objects, so key pair operations fail until Logout and Login. It is
// an error if the user is logged in. A wrong PIN gives an error wrapping
// ErrPINIncorrect that does not contain the PIN.
func (t *Token) LoginSO(pin *secret.Secret) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.usable(); err != nil {
		return err
	}
	return t.login(pkcs11.CKU_SO, pin)
}

// login logs in as who (CKU_USER or CKU_SO). The caller holds t.mu.
func (t *Token) login(who uint, pin *secret.Secret) error {
	name := "the user"
	if who == pkcs11.CKU_SO {
		name = "the security officer"
	}
	switch {
	case pin.Len() == 0:
		return fmt.Errorf("token %q: empty PIN for %s", t.info.Label, name)
	case who == pkcs11.CKU_USER && t.loggedIn, who == pkcs11.CKU_SO && t.soLoggedIn:
		return fmt.Errorf("token %q: %s is already logged in", t.info.Label, name)
	case t.loggedIn || t.soLoggedIn:
		return fmt.Errorf("token %q: cannot log in %s while another user is logged in; log out first", t.info.Label, name)
	}
	err := t.raw.Login(t.session, who, string(pin.Bytes()))
	if err == nil {
		if who == pkcs11.CKU_SO {
			t.soLoggedIn = true
		} else {
			t.loggedIn = true
		}
		return nil
	}
	var p11 pkcs11.Error
	if !errors.As(err, &p11) {
		return fmt.Errorf("token %q: log in %s: %w", t.info.Label, name, err)
	}
	switch p11 {
	case pkcs11.CKR_PIN_INCORRECT, pkcs11.CKR_PIN_INVALID, pkcs11.CKR_PIN_LEN_RANGE:
		return fmt.Errorf("token %q: log in %s: %w", t.info.Label, name, ErrPINIncorrect)
	case pkcs11.CKR_PIN_LOCKED:
		if who == pkcs11.CKU_SO {
			return fmt.Errorf("token %q: log in %s: the SO PIN is locked", t.info.Label, name)
		}
		return fmt.Errorf("token %q: log in %s: the user PIN is locked", t.info.Label, name)
	case pkcs11.CKR_USER_PIN_NOT_INITIALIZED:
		return fmt.Errorf("token %q: log in %s: the token has no user PIN yet", t.info.Label, name)
	case pkcs11.CKR_USER_ANOTHER_ALREADY_LOGGED_IN, pkcs11.CKR_USER_ALREADY_LOGGED_IN:
		return fmt.Errorf("token %q: log in %s: another user is already logged in (%v)", t.info.Label, name, err)
	case pkcs11.CKR_SESSION_READ_ONLY_EXISTS:
		return fmt.Errorf("token %q: log in %s: a read-only session is open on the token", t.info.Label, name)
	default:
		return fmt.Errorf("token %q: log in %s: %w", t.info.Label, name, err)
	}
}

// LoggedIn reports whether the user is logged in: Login succeeded and Logout
// has not been called.
func (t *Token) LoggedIn() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.loggedIn
}

// Logout ends the login of the user or of the security officer. Keys found
// earlier can no longer sign, and their handles stay invalid after a new
// Login: find them again by label.
func (t *Token) Logout() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	return t.logout()
}

// logout logs out whoever is logged in. The caller holds t.mu.
func (t *Token) logout() error {
	if !t.loggedIn && !t.soLoggedIn {
		return nil
	}
	t.loggedIn, t.soLoggedIn = false, false
	if err := t.raw.Logout(t.session); err != nil {
		return fmt.Errorf("token %q: log out: %w", t.info.Label, err)
	}
	return nil
}

// Close logs out, closes the session and releases the module: the last
// Token or Blank of a module to close finalises and unloads it. Other open
// Tokens, of this module or another, keep working. It is safe to call more
// than once.
func (t *Token) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	// Hold the registry while the session closes, so that an Open of the
	// same token waits for it rather than fails.
	registry.mu.Lock()
	defer registry.mu.Unlock()
	m := t.mod
	broken := m.brokenErr() != nil
	_ = t.logout()
	_ = t.raw.CloseSession(t.session)
	delete(m.tokens, t.slot)
	err := t.c11.Close()
	t.c11 = nil
	if broken {
		// crypto11's C_Finalize of a library that is finalised already.
		err = nil
	}
	if len(m.tokens) == 0 {
		m.afterLastToken(t.cfg.Module)
	}
	if rerr := m.releaseIfUnused(t.cfg.Module); err == nil {
		err = rerr
	}
	if err != nil {
		return fmt.Errorf("token %q: close: %w", t.info.Label, err)
	}
	return nil
}

func (t *Token) usable() error {
	if t.closed {
		return fmt.Errorf("token %q: already closed", t.info.Label)
	}
	if err := t.mod.brokenErr(); err != nil {
		return fmt.Errorf("token %q: %w", t.info.Label, err)
	}
	return nil
}

func (t *Token) requireLogin() error {
	if err := t.usable(); err != nil {
		return err
	}
	if t.soLoggedIn {
		return fmt.Errorf("token %q: the security officer is logged in, not the user: %w", t.info.Label, ErrNotLoggedIn)
	}
	if !t.loggedIn {
		return fmt.Errorf("token %q: %w", t.info.Label, ErrNotLoggedIn)
	}
	return nil
}

// Random returns n bytes from the token's random number generator.
func (t *Token) Random(n int) ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.usable(); err != nil {
		return nil, err
	}
	return t.random(n)
}

// random is Random for callers that hold t.mu.
func (t *Token) random(n int) ([]byte, error) {
	b, err := t.raw.GenerateRandom(t.session, n)
	if err != nil {
		return nil, fmt.Errorf("token %q: generate random: %w", t.info.Label, err)
	}
	if len(b) != n {
		return nil, fmt.Errorf("token %q: generate random: got %d bytes, want %d", t.info.Label, len(b), n)
	}
	return b, nil
}

// findObjects returns the handles of all objects matching template. The
// caller holds t.mu.
func (t *Token) findObjects(template []*pkcs11.Attribute) ([]pkcs11.ObjectHandle, error) {
	if err := t.raw.FindObjectsInit(t.session, template); err != nil {
		return nil, err
	}
	var all []pkcs11.ObjectHandle
	for {
		hs, _, err := t.raw.FindObjects(t.session, 64)
		if err != nil {
			_ = t.raw.FindObjectsFinal(t.session)
			return nil, err
		}
		if len(hs) == 0 {
			break
		}
		all = append(all, hs...)
	}
	return all, t.raw.FindObjectsFinal(t.session)
}

// LabelInUse reports whether any object visible to the logged-in user carries
// label. Private objects are only visible after Login.
func (t *Token) LabelInUse(label string) (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.requireLogin(); err != nil {
		return false, err
	}
	return t.labelInUse(label)
}

// labelInUse is LabelInUse for callers that hold t.mu.
// requireLabelFree checks that the user is logged in and that no object
// carries label, before an operation (what: "generate another") that would
// create one. The caller holds t.mu.
func (t *Token) requireLabelFree(label, what string) error {
	if err := t.requireLogin(); err != nil {
		return err
	}
	inUse, err := t.labelInUse(label)
	if err != nil {
		return err
	}
	if inUse {
		return fmt.Errorf("token %q already holds an object labelled %q; refusing to %s: %w", t.info.Label, label, what, ErrLabelInUse)
	}
	return nil
}

func (t *Token) labelInUse(label string) (bool, error) {
	hs, err := t.findObjects([]*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_LABEL, label)})
	if err != nil {
		return false, fmt.Errorf("token %q: search label %q: %w", t.info.Label, label, err)
	}
	return len(hs) > 0, nil
}

// objectSet returns the handles of every object the session sees. The caller
// holds t.mu.
func (t *Token) objectSet() (map[pkcs11.ObjectHandle]bool, error) {
	hs, err := t.findObjects(nil)
	if err != nil {
		return nil, fmt.Errorf("token %q: list objects: %w", t.info.Label, err)
	}
	set := make(map[pkcs11.ObjectHandle]bool, len(hs))
	for _, h := range hs {
		set[h] = true
	}
	return set, nil
}

// removeStrays destroys the objects that appeared since before (an
// objectSet) and carry label or no label, and id or no id: what a failed
// operation left behind. SoftHSM2 2.6.1 keeps the half-made object when
// C_GenerateKeyPair or C_CreateObject rejects an attribute, without the
// label and ID that were asked for. The caller holds t.mu, checked that label
// was unused, and runs nothing else on the token meanwhile; the ceremony is
// the only user of an offline token.
func (t *Token) removeStrays(before map[pkcs11.ObjectHandle]bool, label string, id []byte) error {
	hs, err := t.findObjects(nil)
	if err != nil {
		return fmt.Errorf("token %q: list objects to remove what a failed operation on %q left: %w", t.info.Label, label, err)
	}
	var errs []error
	for _, h := range hs {
		if before[h] {
			continue
		}
		got, err := t.raw.GetAttributeValue(t.session, h, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, nil), pkcs11.NewAttribute(pkcs11.CKA_ID, nil)})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		l, i := string(got[0].Value), string(got[1].Value)
		if (l != "" && l != label) || (i != "" && i != string(id)) {
			continue
		}
		if err := t.raw.DestroyObject(t.session, h); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("token %q: could not remove what a failed operation on %q left on the token; check the token and remove it by hand: %w", t.info.Label, label, err)
	}
	return nil
}

// tokenString trims the padding of a token information field: PKCS#11
// pads with spaces, and some modules (tpm2-pkcs11) with NUL bytes.
func tokenString(s string) string {
	return strings.TrimRight(s, " \x00")
}

// ResetHint says how to reset a token the module holds, with the
// module's own tool where it is known.
func ResetHint(module, label string) string {
	base := strings.ToLower(filepath.Base(module))
	switch {
	case strings.Contains(base, "softhsm"):
		return fmt.Sprintf("softhsm2-util --delete-token --token %q", label)
	case strings.Contains(base, "opencryptoki"):
		return "with pkcsslotd stopped, empty the soft token's store (/var/lib/opencryptoki/swtok) and clear /dev/shm/*opencryptoki*, then start pkcsslotd: the token is blank again, security officer PIN 87654321 (opencryptoki 3.8 cannot initialise a token again once its security officer PIN was changed)"
	case strings.Contains(base, "tpm2"):
		return fmt.Sprintf("tpm2_ptool rmtoken --label %q", label)
	}
	return "the vendor's reset, or re-initialisation with its security officer PIN"
}
