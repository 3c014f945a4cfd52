package hsm

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/miekg/pkcs11"
)

// ErrDataNotFound is returned by ReadData when the token holds no data object
// with the label.
var ErrDataNotFound = errors.New("data object not found")

// dataApplication is the CKA_APPLICATION of the data objects this package
// stores.
const dataApplication = "ceremony"

// StoreData stores value as a public, unmodifiable token data object
// (CKO_DATA, CKA_APPLICATION "ceremony", CKA_LABEL label): anyone can read it
// without a PIN, nobody can change it, only destroy it. A token carries its
// own share manifest this way. Storing needs the user to be logged in. It
// refuses an empty value and a label already used by any data object.
func (t *Token) StoreData(label string, value []byte) error {
	if err := ValidateLabel(label); err != nil {
		return err
	}
	if len(value) == 0 {
		return fmt.Errorf("token %q: data object %q: nothing to store", t.info.Label, label)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.requireLogin(); err != nil {
		return err
	}
	have, err := t.findObjects([]*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_DATA),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
	})
	if err != nil {
		return fmt.Errorf("token %q: search data objects labelled %q: %w", t.info.Label, label, err)
	}
	if len(have) > 0 {
		return fmt.Errorf("token %q already holds a data object labelled %q: %w", t.info.Label, label, ErrLabelInUse)
	}
	before, err := t.objectSet()
	if err != nil {
		return err
	}
	_, err = t.raw.CreateObject(t.session, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_DATA),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
		pkcs11.NewAttribute(pkcs11.CKA_MODIFIABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_APPLICATION, dataApplication),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE, value),
	})
	if err != nil {
		return errors.Join(fmt.Errorf("token %q: store data object %q: %w", t.info.Label, label, err), t.removeStrays(before, label, nil))
	}
	return nil
}

// ReadData returns the value of the data object labelled label that
// StoreData stored. It works without login, and only ever reads public
// objects (ReadPrivateData reads the private ones). It is an error wrapping
// ErrDataNotFound if there is none, and an error if there is more than one.
func (t *Token) ReadData(label string) ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.usable(); err != nil {
		return nil, err
	}
	hs, err := t.findObjects([]*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_DATA),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
		pkcs11.NewAttribute(pkcs11.CKA_APPLICATION, dataApplication),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
	})
	if err != nil {
		return nil, fmt.Errorf("token %q: search data objects labelled %q: %w", t.info.Label, label, err)
	}
	switch len(hs) {
	case 0:
		return nil, fmt.Errorf("token %q has no data object labelled %q: %w", t.info.Label, label, ErrDataNotFound)
	case 1:
	default:
		return nil, fmt.Errorf("token %q holds %d data objects labelled %q; expected one", t.info.Label, len(hs), label)
	}
	got, err := t.raw.GetAttributeValue(t.session, hs[0], []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)})
	if err != nil {
		return nil, fmt.Errorf("token %q: read data object %q: %w", t.info.Label, label, err)
	}
	return got[0].Value, nil
}

// Private data: a replaceable register on the token.
//
// ReplacePrivateData never changes an object in place. SoftHSM2's file
// object store, for one, rewrites an object's file in place (truncate, then
// write) for C_SetAttributeValue, so a process killed in the middle of a
// CKA_VALUE or CKA_LABEL change can leave an object that is neither the old
// nor the new one; other modules promise nothing either way. Creating and
// destroying whole objects is what every module does as one step. So each
// copy of a register carries a generation number and a checksum in its
// value:
//
//	ceremony-private-data v1 generation=7 sha256=<64 hex digits>\n<the value>
//
// where the SHA-256 covers the header up to the generation, a newline, and
// the value. Replacing writes generation n+1 as a new object under the same
// label, reads it back, and only then destroys the older copies. Reading
// takes the intact copy (checksum right) with the highest generation and
// ignores the rest. Whatever step a crash interrupts, the token holds the old
// copy, or the old and the new, or the new; a copy cut short while being
// written fails its checksum. So a read returns the old value or the new one
// without repair, and the next replace removes what was left over.
//
// Between writing the new copy and destroying the old ones, replace flushes
// the machine's file systems (sync(2), where there is one), so that a power
// loss cannot keep the destruction of the old copy of a software token and
// lose the new copy's content still in the page cache.

// privateDataHeader starts the value of every object ReplacePrivateData
// writes.
const privateDataHeader = "ceremony-private-data v1"

// encodePrivateData returns the stored form of value at generation gen.
func encodePrivateData(gen uint64, value []byte) []byte {
	head := fmt.Sprintf("%s generation=%d", privateDataHeader, gen)
	sum := privateDataSum(head, value)
	out := make([]byte, 0, len(head)+80+len(value))
	out = fmt.Appendf(out, "%s sha256=%x\n", head, sum)
	return append(out, value...)
}

func privateDataSum(head string, value []byte) [sha256.Size]byte {
	h := sha256.New()
	h.Write([]byte(head + "\n"))
	h.Write(value)
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// decodePrivateData parses what encodePrivateData wrote. It fails for
// anything else, including a copy cut short. gen is set when the header
// could be parsed, even if the checksum is wrong.
func decodePrivateData(stored []byte) (gen uint64, value []byte, err error) {
	line, value, ok := bytes.Cut(stored, []byte("\n"))
	if !ok {
		return 0, nil, errors.New("no header line")
	}
	head, sumHex, ok := strings.Cut(string(line), " sha256=")
	if !ok || !strings.HasPrefix(head, privateDataHeader+" generation=") {
		return 0, nil, errors.New("not a ceremony private data header")
	}
	gen, err = strconv.ParseUint(strings.TrimPrefix(head, privateDataHeader+" generation="), 10, 64)
	if err != nil || head != fmt.Sprintf("%s generation=%d", privateDataHeader, gen) {
		return 0, nil, errors.New("bad generation in the header")
	}
	sum := privateDataSum(head, value)
	if sumHex != hex.EncodeToString(sum[:]) {
		return gen, nil, errors.New("checksum mismatch (the copy is damaged or was cut short)")
	}
	return gen, value, nil
}

// privateCopy is one object of a private data register.
type privateCopy struct {
	h     pkcs11.ObjectHandle
	gen   uint64
	value []byte
	err   error // why the copy is not intact; nil if it is
}

// privateDataTemplate finds the private data objects labelled label.
func privateDataTemplate(label string) []*pkcs11.Attribute {
	return []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_DATA),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_APPLICATION, dataApplication),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
	}
}

// privateCopies reads every copy of the register label. A copy whose value
// the module will not return, or that does not decode, is returned with err
// set; an error of the session or the module fails the whole read. The
// caller holds t.mu and checked the login.
func (t *Token) privateCopies(label string) ([]privateCopy, error) {
	hs, err := t.findObjects(privateDataTemplate(label))
	if err != nil {
		return nil, fmt.Errorf("token %q: search private data objects labelled %q: %w", t.info.Label, label, err)
	}
	copies := make([]privateCopy, 0, len(hs))
	for _, h := range hs {
		c := privateCopy{h: h}
		got, err := t.raw.GetAttributeValue(t.session, h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)})
		switch {
		case err != nil && sessionLevel(err):
			return nil, fmt.Errorf("token %q: read private data object %q: %w", t.info.Label, label, err)
		case err != nil:
			c.err = fmt.Errorf("value unreadable: %w", err)
		default:
			c.gen, c.value, c.err = decodePrivateData(got[0].Value)
		}
		copies = append(copies, c)
	}
	return copies, nil
}

// sessionLevel reports whether err is about the session, the token or the
// module rather than about one object.
func sessionLevel(err error) bool {
	var p11 pkcs11.Error
	if !errors.As(err, &p11) {
		return true
	}
	switch p11 {
	case pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED, pkcs11.CKR_SESSION_HANDLE_INVALID, pkcs11.CKR_SESSION_CLOSED,
		pkcs11.CKR_DEVICE_REMOVED, pkcs11.CKR_DEVICE_ERROR, pkcs11.CKR_DEVICE_MEMORY, pkcs11.CKR_HOST_MEMORY,
		pkcs11.CKR_TOKEN_NOT_PRESENT, pkcs11.CKR_USER_NOT_LOGGED_IN, pkcs11.CKR_FUNCTION_CANCELED:
		return true
	}
	return false
}

// newestCopy returns the intact copy with the highest generation. It is an
// error wrapping ErrDataNotFound if there are no copies, and an error if
// none is intact or two intact copies of that generation differ.
func (t *Token) newestCopy(label string, copies []privateCopy) (*privateCopy, error) {
	if len(copies) == 0 {
		return nil, fmt.Errorf("token %q has no private data object labelled %q: %w", t.info.Label, label, ErrDataNotFound)
	}
	var best *privateCopy
	var damaged []string
	for i := range copies {
		c := &copies[i]
		switch {
		case c.err != nil:
			damaged = append(damaged, c.err.Error())
		case best == nil || c.gen > best.gen:
			best = c
		case c.gen == best.gen && !bytes.Equal(c.value, best.value):
			return nil, fmt.Errorf("token %q holds two different private data objects labelled %q with generation %d; it was not written by this program alone", t.info.Label, label, c.gen)
		}
	}
	if best == nil {
		return nil, fmt.Errorf("token %q: none of the %d private data objects labelled %q is intact: %s", t.info.Label, len(copies), label, strings.Join(damaged, "; "))
	}
	return best, nil
}

// ReadPrivateData returns the value that ReplacePrivateData last stored
// under label: of the token's private data objects with that label
// (CKO_DATA, CKA_PRIVATE true, CKA_APPLICATION "ceremony"), the intact copy
// with the highest generation. Copies left over by an interrupted replace
// are ignored (the next ReplacePrivateData removes them). The user must be
// logged in: without a login the objects are invisible, and the error wraps
// ErrNotLoggedIn. It is an error wrapping ErrDataNotFound if there is no such
// object, and an error if none of them is intact.
func (t *Token) ReadPrivateData(label string) ([]byte, error) {
	if err := ValidateLabel(label); err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.requireLogin(); err != nil {
		return nil, fmt.Errorf("%w; reading private data object %q needs the user's login", err, label)
	}
	copies, err := t.privateCopies(label)
	if err != nil {
		return nil, err
	}
	best, err := t.newestCopy(label, copies)
	if err != nil {
		return nil, err
	}
	return best.value, nil
}

// ReplacePrivateData stores value under label as a private token data object
// (CKO_DATA, CKA_TOKEN and CKA_PRIVATE true, CKA_MODIFIABLE false,
// CKA_APPLICATION "ceremony"), creating it if there is none and otherwise
// replacing the value: nobody can read or change it without the user PIN.
// The user must be logged in. It refuses a label that a public data object
// already carries.
//
// Replacing is safe against a crash at any point: ReadPrivateData then
// returns the old value or the new one, never nothing and never an error
// (see the design note above encodePrivateData). Once it returns nil the new
// value is what ReadPrivateData returns; an older copy it could not destroy
// is left for the next replace, and does not change what is read. If it
// returns an error, the old value is still in place.
func (t *Token) ReplacePrivateData(label string, value []byte) error {
	return t.replacePrivateData(label, value, true)
}

// AddPrivateData stores a new value under label as ReplacePrivateData
// does, but leaves the older copies in place (ReadPrivateData returns the
// newest; DestroyPrivateData removes them all): for a record that grows
// while keys are being made, on modules where destroying an object
// disturbs the key generations that follow (tpm2-pkcs11 1.9 then refuses
// the next key pair's template with CKR_ATTRIBUTE_TYPE_INVALID).
func (t *Token) AddPrivateData(label string, value []byte) error {
	return t.replacePrivateData(label, value, false)
}

// syncStorage flushes file systems between writing a register's new copy
// and destroying its old ones. Tests count the calls.
var syncStorage = syncFileSystems

// Barrier flushes every file system (sync(2)) so that what a module
// keeps in files (SoftHSM2's token store, tpm2-pkcs11's database) is on
// disk before the event that records a token change is written: a power
// cut then never leaves a transcript ahead of the token. Modules that
// keep their objects elsewhere (a hardware HSM) are not affected.
func Barrier() { syncStorage() }

// replacePrivateData is ReplacePrivateData; destroyOld false stops before
// the old copies are destroyed, as a crash there would.
func (t *Token) replacePrivateData(label string, value []byte, destroyOld bool) error {
	if err := ValidateLabel(label); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.requireLogin(); err != nil {
		return fmt.Errorf("%w; storing private data object %q needs the user's login", err, label)
	}
	public, err := t.findObjects([]*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_DATA),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
	})
	if err != nil {
		return fmt.Errorf("token %q: search public data objects labelled %q: %w", t.info.Label, label, err)
	}
	if len(public) > 0 {
		return fmt.Errorf("token %q already holds a public data object labelled %q; refusing to store private data under the same label: %w", t.info.Label, label, ErrLabelInUse)
	}
	copies, err := t.privateCopies(label)
	if err != nil {
		return err
	}
	var gen uint64
	for _, c := range copies {
		gen = max(gen, c.gen)
	}
	if gen == math.MaxUint64 {
		return fmt.Errorf("token %q: private data object %q: generation counter exhausted", t.info.Label, label)
	}
	if len(copies) == 1 && copies[0].err == nil && bytes.Equal(copies[0].value, value) {
		return nil // stored already, and nothing left over
	}
	stored := encodePrivateData(gen+1, value)

	before, err := t.objectSet()
	if err != nil {
		return err
	}
	h, err := t.raw.CreateObject(t.session, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_DATA),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_MODIFIABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_APPLICATION, dataApplication),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE, stored),
	})
	if err != nil {
		return errors.Join(fmt.Errorf("token %q: store private data object %q (the old value is unchanged): %w", t.info.Label, label, err),
			t.removeStrays(before, label, nil))
	}
	got, err := t.raw.GetAttributeValue(t.session, h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)})
	if err != nil || !bytes.Equal(got[0].Value, stored) {
		if err == nil {
			err = errors.New("the value read back differs from the value written")
		}
		err = fmt.Errorf("token %q: private data object %q: check the new copy (the old value is unchanged): %w", t.info.Label, label, err)
		if derr := t.raw.DestroyObject(t.session, h); derr != nil {
			err = errors.Join(err, fmt.Errorf("token %q: destroy the bad new copy of %q: %w", t.info.Label, label, derr))
		}
		return err
	}
	if !destroyOld {
		return nil
	}
	syncStorage()
	// The new copy is committed: it has the highest generation. An old
	// copy that cannot be destroyed now is harmless, and the next replace
	// tries again.
	for _, c := range copies {
		_ = t.raw.DestroyObject(t.session, c.h)
	}
	return nil
}

// DestroyPrivateData destroys every copy of the private data object labelled
// label, as a ceremony rolls back a register it created. The user must be
// logged in. A label with no object is not an error. Copies are destroyed
// oldest generation first, so that if the process dies part way,
// ReadPrivateData returns the newest value or nothing, never an older one.
func (t *Token) DestroyPrivateData(label string) error {
	if err := ValidateLabel(label); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.requireLogin(); err != nil {
		return fmt.Errorf("%w; destroying private data object %q needs the user's login", err, label)
	}
	copies, err := t.privateCopies(label)
	if err != nil {
		return err
	}
	// Damaged copies first (a read ignores them), then by generation.
	sort.SliceStable(copies, func(i, j int) bool {
		ci, cj := copies[i], copies[j]
		if (ci.err != nil) != (cj.err != nil) {
			return ci.err != nil
		}
		return ci.gen < cj.gen
	})
	for _, c := range copies {
		if err := t.raw.DestroyObject(t.session, c.h); err != nil {
			return fmt.Errorf("token %q: destroy private data object %q: %w", t.info.Label, label, err)
		}
	}
	return nil
}
