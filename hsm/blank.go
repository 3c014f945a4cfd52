package hsm

import (
	"errors"
	"fmt"
	"sync"

	"github.com/miekg/pkcs11"

	"github.com/devicepki/ceremony/ceremony/secret"
)

// ErrTokenUnchanged marks an error after which the token is as it was.
var ErrTokenUnchanged = errors.New("the token is unchanged")

// Blank is a module slot holding a token that is not initialised yet. The
// ceremony initialises it itself (Initialize), so that the PINs come from the
// ceremony's secrets and are never typed into another tool.
//
// A Blank may be open beside Tokens of the same module (a second token
// initialised while the root token is open and logged in), but only one
// Blank per module at a time: two would find the same blank slot.
type Blank struct {
	cfg    Config
	info   TokenInfo
	slot   uint
	minPIN int
	maxPIN int
	// takeOver: an initialised token with the configured label is taken
	// over rather than refused (OpenToTakeOver).
	takeOver bool
	// wasInitialised: the token found was initialised already.
	wasInitialised bool

	mu     sync.Mutex
	mod    *module
	raw    *pkcs11.Ctx // the module's, shared with its Tokens
	closed bool
}

// OpenBlank loads the module named in cfg and finds a slot whose token is not
// initialised (CKF_TOKEN_INITIALIZED unset). cfg must select the token by
// label, the label the token will get; a serial selector is an error (a
// blank token has no serial yet). It is an error, naming the token, if an
// initialised token already carries that label, or if there is no blank
// slot. If several slots hold blank tokens, the first one is taken.
func OpenBlank(cfg Config) (*Blank, error) { return openBlank(cfg, false) }

// OpenToTakeOver is OpenBlank for a token whose owner holds its current
// security officer's PIN (TakeOwnership): a token already initialised
// with the configured label (set up with its vendor's tools) is taken
// in preference to a blank slot.
func OpenToTakeOver(cfg Config) (*Blank, error) { return openBlank(cfg, true) }

func openBlank(cfg Config, takeOver bool) (*Blank, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Token.Serial != "" {
		return nil, fmt.Errorf("hsm config: token: a blank token has no serial yet; select it by the label it will get, not by serial %s", cfg.Token.Serial)
	}
	registry.mu.Lock()
	defer registry.mu.Unlock()
	m, err := acquireModule(cfg.Module)
	if err != nil {
		return nil, err
	}
	b := &Blank{cfg: cfg, mod: m, raw: m.raw, takeOver: takeOver}
	if err := b.open(); err != nil {
		return nil, errors.Join(err, m.releaseIfUnused(cfg.Module))
	}
	return b, nil
}

// open registers b with its module and finds the blank slot. The caller
// holds registry.mu.
func (b *Blank) open() error {
	m := b.mod
	if err := m.brokenErr(); err != nil {
		return err
	}
	if m.blank != nil {
		return fmt.Errorf("pkcs11 module %s is already in use by this process for blank token %q; close it before initialising another token", b.cfg.Module, m.blank.cfg.Token.Label)
	}
	if len(m.tokens) == 0 {
		// No crypto11 context holds the library initialised.
		if err := m.initialize(b.cfg.Module); err != nil {
			return err
		}
	}
	if err := b.findBlank(); err != nil {
		return err
	}
	m.blank = b
	return nil
}

// findBlank finds the first slot with a blank token, and checks that no
// initialised token has the label already.
func (b *Blank) findBlank() error {
	label := b.cfg.Token.Label
	slots, err := b.raw.GetSlotList(true)
	if err != nil {
		return fmt.Errorf("pkcs11 module %s: list slots: %w", b.cfg.Module, err)
	}
	found := false
	take := func(s uint, ti pkcs11.TokenInfo) {
		found = true
		b.slot = s
		b.info = tokenInfo(ti)
		b.info.Label = label
		b.minPIN, b.maxPIN = int(ti.MinPinLen), int(ti.MaxPinLen)
		b.wasInitialised = ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED != 0
	}
	if b.takeOver {
		for _, s := range slots {
			ti, err := b.raw.GetTokenInfo(s)
			if err == nil && ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED != 0 && tokenString(ti.Label) == label {
				if ti.Flags&pkcs11.CKF_SO_PIN_LOCKED != 0 {
					return fmt.Errorf("token %q: its security officer PIN is locked (CKF_SO_PIN_LOCKED): it cannot be taken over; reset it with its vendor's tools first", label)
				}
				take(s, ti)
				return nil
			}
		}
	}
	for _, s := range slots {
		ti, err := b.raw.GetTokenInfo(s)
		if err != nil {
			continue
		}
		if ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED != 0 {
			if tokenString(ti.Label) == label {
				return fmt.Errorf("token %q is already initialised (serial %s); refusing to initialise another token with that label", label, ti.SerialNumber)
			}
			continue
		}
		if found {
			continue
		}
		take(s, ti)
	}
	if !found {
		return fmt.Errorf("token %q: no slot of %s holds a blank (uninitialised) token", label, b.cfg.Module)
	}
	return nil
}

// Info returns what the blank token says about itself, with Label the
// configured label it will get. Serial may be empty.
func (b *Blank) Info() TokenInfo { return b.info }

// PINLengths returns the shortest and longest PIN the token accepts
// (ulMinPinLen and ulMaxPinLen), in bytes.
func (b *Blank) PINLengths() (min, max int) { return b.minPIN, b.maxPIN }

// SOPINState says what the token reports of its security officer's PIN:
// "locked", "final try" (one more wrong PIN locks it), "count low", or ""
// (nothing to note). It reads the token's flags again each time.
func (b *Blank) SOPINState() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	ti, err := b.raw.GetTokenInfo(b.slot)
	if err != nil {
		return ""
	}
	switch {
	case ti.Flags&pkcs11.CKF_SO_PIN_LOCKED != 0:
		return "locked"
	case ti.Flags&pkcs11.CKF_SO_PIN_FINAL_TRY != 0:
		return "final try"
	case ti.Flags&pkcs11.CKF_SO_PIN_COUNT_LOW != 0:
		return "count low"
	}
	return ""
}

// WasInitialised reports whether the token was initialised already (taken
// over, OpenToTakeOver) rather than blank.
func (b *Blank) WasInitialised() bool { return b.wasInitialised }

// Initialize runs C_InitToken with the SO PIN so and the configured label,
// sets the user PIN (SO login, C_InitPIN, logout) and returns the token
// opened exactly as Open does, not logged in. The Blank is closed afterwards
// whatever happens. The caller keeps ownership of so and user and should wipe
// them. Errors never contain PINs.
//
// A failure after C_InitToken leaves an initialised token without a usable
// user PIN; the error says so.
func (b *Blank) Initialize(so, user *secret.Secret) (*Token, error) {
	return b.initializeAndOpen(nil, so, user)
}

// TakeOwnership initialises the token as Initialize does, for a token
// that already has a security officer's PIN (a factory default, or one
// set at installation with the vendor's tools). A blank token is given
// current at C_InitToken, which some modules check rather than set
// (opencryptoki); a token initialised already is not initialised again
// (its objects stay; the caller lists them): the security officer logs
// in with current. Either way the security officer then changes the PIN
// to so (C_SetPIN) and sets the user PIN (C_InitPIN). A wrong current PIN gives an error
// wrapping ErrPINIncorrect, the token is unchanged and the Blank stays
// open for another try; otherwise the Blank is closed afterwards whatever
// happens.
func (b *Blank) TakeOwnership(current, so, user *secret.Secret) (*Token, error) {
	if current == nil || current.Len() == 0 {
		return nil, fmt.Errorf("token %q: no current security officer PIN given", b.cfg.Token.Label)
	}
	return b.initializeAndOpen(current, so, user)
}

func (b *Blank) initializeAndOpen(current, so, user *secret.Secret) (*Token, error) {
	label := b.cfg.Token.Label
	err := b.initialize(current, so, user)
	if current != nil && errors.Is(err, ErrPINIncorrect) {
		// Nothing changed: the Blank stays open for another try.
		return nil, err
	}
	if cerr := b.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("token %q: unload module after initialisation: %w", label, cerr)
	}
	if err != nil {
		return nil, err
	}
	tok, err := Open(b.cfg)
	if err != nil {
		return nil, fmt.Errorf("token %q: initialised, but opening it failed: %w", label, err)
	}
	return tok, nil
}

func (b *Blank) initialize(current, so, user *secret.Secret) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	label := b.cfg.Token.Label
	if b.closed {
		return fmt.Errorf("token %q: blank slot already closed", label)
	}
	// The registry may finalise and initialise the library again while no
	// session is open (when a Token of the module opens or closes); hold it
	// off while this opens sessions.
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if err := b.mod.brokenErr(); err != nil {
		return fmt.Errorf("token %q: %w", label, err)
	}
	for _, p := range []struct {
		name string
		pin  *secret.Secret
	}{{"SO PIN", so}, {"user PIN", user}} {
		if n := p.pin.Len(); n == 0 || n < b.minPIN || (b.maxPIN > 0 && n > b.maxPIN) {
			return fmt.Errorf("token %q: the %s has %d bytes; the token accepts %d to %d", label, p.name, n, b.minPIN, b.maxPIN)
		}
	}
	// Find the blank slot again: slot numbers may change when the library
	// is initialised again, and another program may have taken the label.
	if err := b.findBlank(); err != nil {
		return err
	}
	// A token initialised already (by its vendor's tools) is taken over
	// without C_InitToken: the security officer's login checks the
	// current PIN and changes nothing if it is wrong, and the token's
	// objects and settings stay. (opencryptoki 3.8 breaks a token whose
	// SO PIN was changed if it is initialised again: the SO can no
	// longer log in.)
	reinit := current == nil || !b.wasInitialised
	slot := b.slot
	if reinit {
		initPIN := so
		if current != nil {
			initPIN = current
		}
		if err := b.raw.InitToken(b.slot, string(initPIN.Bytes()), label); err != nil {
			if errors.Is(err, pkcs11.Error(pkcs11.CKR_PIN_INCORRECT)) {
				return fmt.Errorf("token %q: initialise the token in %s (C_InitToken): the current security officer PIN: %w; the token is unchanged", label, b.cfg.Module, ErrPINIncorrect)
			}
			return fmt.Errorf("token %q: initialise the token in %s (C_InitToken): %w", label, b.cfg.Module, err)
		}
		// Some modules (SoftHSM2 among them) give the token a new slot
		// ID; look it up again by its new label, keeping the old slot if
		// the module does not renumber within one initialisation.
		if slots, err := b.raw.GetSlotList(true); err == nil {
			for _, s := range slots {
				ti, err := b.raw.GetTokenInfo(s)
				if err == nil && ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED != 0 && tokenString(ti.Label) == label {
					slot = s
					break
				}
			}
		}
	}
	failed := func(what string, err error) error {
		return fmt.Errorf("token %q: initialised, but %s failed, so it has no usable user PIN: %w", label, what, err)
	}
	session, err := b.raw.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return failed("opening a session", err)
	}
	defer func() { _ = b.raw.CloseSession(session) }()
	if current != nil {
		if err := b.raw.Login(session, pkcs11.CKU_SO, string(current.Bytes())); err != nil {
			if !reinit && errors.Is(err, pkcs11.Error(pkcs11.CKR_PIN_INCORRECT)) {
				return fmt.Errorf("token %q: the security officer's login (C_Login) with the current PIN: %w; the token counted a failed security officer login and is otherwise unchanged", label, ErrPINIncorrect)
			}
			if !reinit {
				return fmt.Errorf("token %q: the security officer's login (C_Login) with the current PIN: %w; %w", label, err, ErrTokenUnchanged)
			}
			return failed("the security officer's login with the current PIN", err)
		}
		// The user PIN first, the security officer's last: should either
		// fail, the security officer's PIN is still the one typed.
		if err := b.raw.InitPIN(session, string(user.Bytes())); err != nil {
			_ = b.raw.Logout(session)
			return fmt.Errorf("token %q: setting the user PIN (C_InitPIN) failed; the security officer's PIN is still the one typed: %w", label, err)
		}
		if err := b.raw.SetPIN(session, string(current.Bytes()), string(so.Bytes())); err != nil {
			_ = b.raw.Logout(session)
			return fmt.Errorf("token %q: changing the security officer's PIN (C_SetPIN) failed, so it is still the PIN typed: %w", label, err)
		}
	} else {
		if err := b.raw.Login(session, pkcs11.CKU_SO, string(so.Bytes())); err != nil {
			return failed("the security officer's login", err)
		}
		if err := b.raw.InitPIN(session, string(user.Bytes())); err != nil {
			_ = b.raw.Logout(session)
			return failed("setting the user PIN", err)
		}
	}
	if err := b.raw.Logout(session); err != nil {
		return fmt.Errorf("token %q: initialised, but the security officer's logout failed: %w", label, err)
	}
	return nil
}

// Close releases the module: if no Token of it is open, it is finalised and
// unloaded. It is safe to call more than once.
func (b *Blank) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	registry.mu.Lock()
	defer registry.mu.Unlock()
	b.mod.blank = nil
	return b.mod.releaseIfUnused(b.cfg.Module)
}
