package hsm

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"slices"

	"github.com/miekg/pkcs11"

	"github.com/devicepki/ceremony/ceremony/keys"
	"github.com/devicepki/ceremony/ceremony/secret"
)

// Key backup wraps the private key's PKCS#8 encoding under an AES key with
// one of the mechanisms of WrapMechanism (RFC 5649, or AES-CBC with padding
// where a module has no RFC 5649), normally under a key that the security
// officer marked trusted. The wrapping key never lives on the token: it is a
// session object, created from a value the ceremony holds (split among key
// custodians), that disappears when the session closes or the process dies.

// Errors callers may test for with errors.Is.
var (
	// ErrUnwrapFailed: the backup does not decrypt under the unwrapping key.
	// AES key wrap has an integrity check, so a wrong key and a damaged
	// backup look the same.
	ErrUnwrapFailed = errors.New("the backup does not unwrap under this key (wrong key or damaged backup)")
	// ErrBackupMismatch: the backup unwraps, but holds a different key than
	// the public key it is supposed to restore.
	ErrBackupMismatch = errors.New("the backup holds a different key than the expected public key")
)

// checkLabel starts the label of the session key CheckWrapped unwraps for
// its test signature; random hex follows.
const checkLabel = "ceremony-backup-check-"

// KeyUsage says what a SecretKey may do.
type KeyUsage int

// The usages of a wrapping key. A key has exactly one.
const (
	// UsageWrap: the key wraps (CKA_WRAP) and nothing else.
	UsageWrap KeyUsage = iota + 1
	// UsageUnwrap: the key unwraps (CKA_UNWRAP) and nothing else.
	UsageUnwrap
)

// String returns "wrap" or "unwrap".
func (u KeyUsage) String() string {
	switch u {
	case UsageWrap:
		return "wrap"
	case UsageUnwrap:
		return "unwrap"
	default:
		return fmt.Sprintf("KeyUsage(%d)", int(u))
	}
}

// SecretKey is an AES key in a session of a Token, made by ImportAESKey. It
// is found by its label each time it is used, so it survives the logins and
// logouts that invalidate object handles.
type SecretKey struct {
	// Label is the key's CKA_LABEL, e.g. "ceremony-backup-wrap".
	Label string
	// Usage is what the key may do.
	Usage KeyUsage
	// Mechanism is what the key wraps or unwraps with.
	Mechanism WrapMechanism
	// Trusted says whether the key was imported CKA_TRUSTED.
	Trusted bool
	tok     *Token
}

// AESKeyOptions say how ImportAESKey imports a key.
type AESKeyOptions struct {
	Usage KeyUsage
	Label string
	// Mechanism is what the key wraps or unwraps with.
	Mechanism WrapMechanism
	// Untrusted imports the key without CKA_TRUSTED, as the user, with no
	// security officer login: for modules that refuse CKA_TRUSTED, where
	// the script allows a wrap under an untrusted key.
	Untrusted bool
}

// ImportTrustedAESKey is ImportAESKey of a trusted key that wraps or
// unwraps with CKM_AES_KEY_WRAP_PAD (0x210A), RFC 5649 on SoftHSM2.
func (t *Token) ImportTrustedAESKey(so, user *secret.Secret, value *secret.Secret, usage KeyUsage, label string) (*SecretKey, error) {
	return t.ImportAESKey(so, user, value, AESKeyOptions{Usage: usage, Label: label, Mechanism: WrapMechanism{Type: pkcs11.CKM_AES_KEY_WRAP_PAD}})
}

// ImportAESKey creates an AES key object holding value (16, 24 or 32
// bytes) as a session object (CKA_TOKEN false, so it never reaches the
// token's storage and disappears if the process dies), public (CKA_PRIVATE
// false, so the user session sees it), CKA_TRUSTED true, sensitive, not
// extractable, unmodifiable, with CKA_WRAP or CKA_UNWRAP as usage says and
// every other usage false.
//
// CKA_TRUSTED can only be set by the security officer. The token must be
// logged in as the user: ImportAESKey logs the user out, logs the SO
// in with so, creates the key, logs the SO out and logs the user in again
// with user. The token ends logged in as the user on success and on failure;
// if that last login fails the error says so, the key is destroyed again and
// the token is left logged out. Key pair handles from before become invalid:
// callers find key pairs again by label (FindKeyPair) afterwards. With
// opts.Untrusted the key has no CKA_TRUSTED attribute at all, the
// logged-in user creates it, no PIN is needed (so and user may be nil), and
// the login does not change.
//
// It refuses a label that any object visible to the user already carries.
// The caller keeps ownership of so, user and value and should wipe them.
// Errors never contain PINs or key bytes.
func (t *Token) ImportAESKey(so, user *secret.Secret, value *secret.Secret, opts AESKeyOptions) (*SecretKey, error) {
	usage, label := opts.Usage, opts.Label
	if err := ValidateLabel(label); err != nil {
		return nil, err
	}
	switch n := value.Len(); n {
	case 16, 24, 32:
	default:
		return nil, fmt.Errorf("token %q: AES key %q: %d bytes; an AES key has 16, 24 or 32", t.info.Label, label, n)
	}
	if usage != UsageWrap && usage != UsageUnwrap {
		return nil, fmt.Errorf("token %q: AES key %q: unknown usage %v", t.info.Label, label, usage)
	}
	if err := opts.Mechanism.check(); err != nil {
		return nil, fmt.Errorf("token %q: AES key %q: %w", t.info.Label, label, err)
	}
	if !opts.Untrusted && (so.Len() == 0 || user.Len() == 0) {
		return nil, fmt.Errorf("token %q: AES key %q: both the SO PIN and the user PIN are needed", t.info.Label, label)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.requireLabelFree(label, "import another key"); err != nil {
		return nil, err
	}
	k := &SecretKey{Label: label, Usage: usage, Mechanism: opts.Mechanism, Trusted: !opts.Untrusted, tok: t}
	before, err := t.objectSet()
	if err != nil {
		return nil, err
	}
	tmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
	}
	if !opts.Untrusted {
		tmpl = append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_TRUSTED, true))
	}
	create := func(who string) error {
		_, err := t.raw.CreateObject(t.session, append(slices.Clip(tmpl),
			pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
			pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
			pkcs11.NewAttribute(pkcs11.CKA_MODIFIABLE, false),
			pkcs11.NewAttribute(pkcs11.CKA_WRAP, usage == UsageWrap),
			pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, usage == UsageUnwrap),
			pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, false),
			pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, false),
			pkcs11.NewAttribute(pkcs11.CKA_SIGN, false),
			pkcs11.NewAttribute(pkcs11.CKA_VERIFY, false),
			pkcs11.NewAttribute(pkcs11.CKA_DERIVE, false),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
			pkcs11.NewAttribute(pkcs11.CKA_VALUE, value.Bytes()),
		))
		if err != nil {
			return fmt.Errorf("token %q: C_CreateObject of %s AES key %q as %s: %w", t.info.Label, trustWord(!opts.Untrusted), label, who, err)
		}
		return nil
	}
	if opts.Untrusted {
		err = create("the user")
	} else {
		err = t.asSecurityOfficer(so, user, func() error { return create("security officer") })
	}
	if err == nil {
		// The key must be visible to the user now, as exactly one object.
		_, err = t.secretKeyHandle(k)
	}
	if err != nil {
		// Leave no key behind: not one the user could not log in again to
		// use, nor what a refused C_CreateObject left. It is public, so it
		// can be destroyed without a login.
		return nil, errors.Join(err, t.removeStrays(before, label, nil))
	}
	return k, nil
}

func trustWord(trusted bool) string {
	if trusted {
		return "trusted (CKA_TRUSTED)"
	}
	return "untrusted (no CKA_TRUSTED)"
}

// asSecurityOfficer runs f with the security officer logged in instead of the
// user, then logs the user in again with user, whatever happened. The caller
// holds t.mu and has checked that the user is logged in. If the user cannot
// log in again, the returned error says so and t.loggedIn is false.
func (t *Token) asSecurityOfficer(so, user *secret.Secret, f func() error) error {
	if err := t.logout(); err != nil {
		// Nothing changed as far as we know: the user is still logged in.
		t.loggedIn = true
		return err
	}
	var errs []error
	if err := t.login(pkcs11.CKU_SO, so); err != nil {
		errs = append(errs, err)
	} else {
		errs = append(errs, f())
		if err := t.logout(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := t.login(pkcs11.CKU_USER, user); err != nil {
		errs = append(errs, fmt.Errorf("token %q: the user could not log in again after the security officer's work; the token is not logged in: %w", t.info.Label, err))
	}
	return errors.Join(errs...)
}

// DestroySecretKey destroys k. A key that is already gone (its session
// closed) is not an error. It needs no login: the key is a public object.
func (t *Token) DestroySecretKey(k *SecretKey) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.usable(); err != nil {
		return err
	}
	if err := t.ownKey(k); err != nil {
		return err
	}
	return t.destroySecretKey(k)
}

func (t *Token) destroySecretKey(k *SecretKey) error {
	hs, err := t.findObjects(secretKeyTemplate(k))
	if err != nil {
		return fmt.Errorf("token %q: find AES key %q (C_FindObjects by CKA_LABEL): %w", t.info.Label, k.Label, err)
	}
	var errs []error
	for _, h := range hs {
		if err := t.raw.DestroyObject(t.session, h); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("token %q: destroy AES key %q (C_DestroyObject): %w", t.info.Label, k.Label, err)
	}
	return nil
}

func (t *Token) ownKey(k *SecretKey) error {
	if k == nil || k.tok != t {
		return fmt.Errorf("token %q: AES key does not belong to this token (import it with ImportTrustedAESKey)", t.info.Label)
	}
	return nil
}

func secretKeyTemplate(k *SecretKey) []*pkcs11.Attribute {
	return []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, k.Label),
	}
}

// secretKeyHandle finds k in the token's sessions. The caller holds t.mu.
func (t *Token) secretKeyHandle(k *SecretKey) (pkcs11.ObjectHandle, error) {
	if err := t.ownKey(k); err != nil {
		return 0, err
	}
	hs, err := t.findObjects(secretKeyTemplate(k))
	if err != nil {
		return 0, fmt.Errorf("token %q: find AES key %q (C_FindObjects by CKA_LABEL): %w", t.info.Label, k.Label, err)
	}
	switch len(hs) {
	case 1:
		return hs[0], nil
	case 0:
		return 0, fmt.Errorf("token %q: AES key %q is gone (destroyed, or its session closed): %w", t.info.Label, k.Label, ErrKeyNotFound)
	default:
		return 0, fmt.Errorf("token %q: %d AES keys labelled %q; expected one", t.info.Label, len(hs), k.Label)
	}
}

// WrapKeyPair wraps k's private key under w, which must have UsageWrap, with
// w's mechanism and returns the ciphertext: the private key's PKCS#8
// encoding, padded by the mechanism (RFC 5649 to a multiple of 8 bytes,
// CBC_PAD with PKCS #7 padding to a multiple of 16), then encrypted. Only a key pair generated with KeyOptions.Backup can be
// wrapped; a key with CKA_WRAP_WITH_TRUSTED only under a trusted key.
func (t *Token) WrapKeyPair(w *SecretKey, k *KeyPair) ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.requireLogin(); err != nil {
		return nil, err
	}
	if err := t.ownKey(w); err != nil {
		return nil, err
	}
	if w.Usage != UsageWrap {
		return nil, fmt.Errorf("token %q: AES key %q is an %s key; wrapping needs a wrap key", t.info.Label, w.Label, w.Usage)
	}
	wh, err := t.secretKeyHandle(w)
	if err != nil {
		return nil, err
	}
	hs, err := t.findObjects(keyTemplate(pkcs11.CKO_PRIVATE_KEY, k))
	if err != nil {
		return nil, fmt.Errorf("token %q: find private key %q (C_FindObjects by CKA_LABEL and CKA_ID): %w", t.info.Label, k.Label, err)
	}
	if len(hs) != 1 {
		return nil, fmt.Errorf("token %q: found %d private keys labelled %q with id %s, want 1", t.info.Label, len(hs), k.Label, k.IDHex())
	}
	wrapped, err := t.raw.WrapKey(t.session, w.Mechanism.p11(), wh, hs[0])
	if err == nil {
		return wrapped, nil
	}
	call := fmt.Sprintf("C_WrapKey with %s", w.Mechanism)
	var p11 pkcs11.Error
	if errors.As(err, &p11) {
		switch p11 {
		case pkcs11.CKR_KEY_UNEXTRACTABLE:
			return nil, fmt.Errorf("token %q: key pair %q cannot be backed up: it is not extractable (it was generated without backup): %s: %w", t.info.Label, k.Label, call, err)
		case pkcs11.CKR_KEY_NOT_WRAPPABLE:
			return nil, fmt.Errorf("token %q: key pair %q may only be wrapped under a trusted key, and %q is not trusted: %s: %w", t.info.Label, k.Label, w.Label, call, err)
		case pkcs11.CKR_KEY_FUNCTION_NOT_PERMITTED, pkcs11.CKR_WRAPPING_KEY_TYPE_INCONSISTENT:
			return nil, fmt.Errorf("token %q: AES key %q may not wrap: %s: %w", t.info.Label, w.Label, call, err)
		}
	}
	return nil, fmt.Errorf("token %q: wrap key pair %q under %q: %s: %w", t.info.Label, k.Label, w.Label, call, err)
}

// CheckWrapped proves that wrapped restores, under u, to the private key of
// pub, without the key ever being in clear outside the HSM. It unwraps
// wrapped under u (UsageUnwrap) as a session private key (not a token
// object, never extractable), signs a test digest with it inside the token,
// verifies the signature in Go against pub, and destroys the session key
// whatever happens.
//
// The test digest is SHA-256 of a fixed text and 32 fresh random bytes. An
// ECDSA key signs it with CKM_ECDSA; an RSA key with CKM_RSA_PKCS over the
// SHA-256 DigestInfo, which is a PKCS #1 v1.5 SHA-256 signature.
//
// A wrong key or a damaged backup gives an error wrapping ErrUnwrapFailed; a
// backup of another key one wrapping ErrBackupMismatch.
func (t *Token) CheckWrapped(u *SecretKey, wrapped []byte, pub crypto.PublicKey) error {
	alg, err := keys.AlgorithmOf(pub)
	if err != nil {
		return fmt.Errorf("token %q: check backup: %w", t.info.Label, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.requireLogin(); err != nil {
		return err
	}
	uh, err := t.unwrapKeyHandle(u)
	if err != nil {
		return err
	}
	return t.checkWrapped(uh, u, wrapped, alg, pub)
}

// unwrapKeyHandle finds u and checks it may unwrap. The caller holds t.mu.
func (t *Token) unwrapKeyHandle(u *SecretKey) (pkcs11.ObjectHandle, error) {
	if err := t.ownKey(u); err != nil {
		return 0, err
	}
	if u.Usage != UsageUnwrap {
		return 0, fmt.Errorf("token %q: AES key %q is a %s key; unwrapping needs an unwrap key", t.info.Label, u.Label, u.Usage)
	}
	return t.secretKeyHandle(u)
}

// checkWrapped is CheckWrapped for callers that hold t.mu.
func (t *Token) checkWrapped(uh pkcs11.ObjectHandle, u *SecretKey, wrapped []byte, alg keys.Algorithm, pub crypto.PublicKey) (err error) {
	suffix, err := t.random(8)
	if err != nil {
		return err
	}
	h, err := t.unwrap(uh, u, wrapped, alg, false, checkLabel+hex.EncodeToString(suffix), nil)
	if err != nil {
		return err
	}
	defer func() {
		if derr := t.raw.DestroyObject(t.session, h); derr != nil {
			err = errors.Join(err, fmt.Errorf("token %q: destroy the session key unwrapped for the backup check (C_DestroyObject): %w", t.info.Label, derr))
		}
	}()
	return t.proveKey(h, "the backup", pub)
}

// unwrap unwraps wrapped under uh into a private key of alg's type: private,
// sensitive, not extractable, sign only, a token object if
// token, with label and (if not nil) id. If it fails it removes whatever the
// module left. The caller holds t.mu and checked that label is unused.
func (t *Token) unwrap(uh pkcs11.ObjectHandle, u *SecretKey, wrapped []byte, alg keys.Algorithm, token bool, label string, id []byte) (pkcs11.ObjectHandle, error) {
	if len(wrapped) == 0 {
		return 0, fmt.Errorf("token %q: the backup is empty: %w", t.info.Label, ErrUnwrapFailed)
	}
	keyType := uint(pkcs11.CKK_RSA)
	if alg.IsECDSA() {
		keyType = pkcs11.CKK_EC
	}
	tmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, keyType),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
		pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, false),
		pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, false),
		pkcs11.NewAttribute(pkcs11.CKA_DERIVE, false),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, token),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
	}
	if id != nil {
		tmpl = append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_ID, id))
	}
	before, err := t.objectSet()
	if err != nil {
		return 0, err
	}
	h, err := t.raw.UnwrapKey(t.session, u.Mechanism.p11(), uh, wrapped, tmpl)
	if err == nil {
		return h, t.tighten(h, label)
	}
	if cerr := t.removeStrays(before, label, id); cerr != nil {
		return 0, errors.Join(t.unwrapError(u, alg, err), cerr)
	}
	return 0, t.unwrapError(u, alg, err)
}

// tighten makes sure an unwrapped key is sensitive and not extractable:
// opencryptoki 3.8 leaves an unwrapped key non-sensitive and extractable
// whatever the template says. Both may only ever be tightened, which is
// done at once; a key that cannot be is destroyed. The caller holds t.mu.
func (t *Token) tighten(h pkcs11.ObjectHandle, label string) error {
	want := []wantAttr{{pkcs11.CKA_SENSITIVE, "CKA_SENSITIVE", true}, {pkcs11.CKA_EXTRACTABLE, "CKA_EXTRACTABLE", false}}
	wrong := t.wrongAttributes(h, want)
	if wrong == "" {
		return nil
	}
	err := t.raw.SetAttributeValue(t.session, h, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
	})
	if err == nil {
		if still := t.wrongAttributes(h, want); still == "" {
			return nil
		}
	}
	derr := t.raw.DestroyObject(t.session, h)
	return errors.Join(fmt.Errorf("token %q: the key unwrapped as %q reads back %s despite its template, and could not be made sensitive and non-extractable (C_SetAttributeValue): %v; it was destroyed", t.info.Label, label, wrong, err), derr)
}

// unwrapError explains why C_UnwrapKey under u failed.
func (t *Token) unwrapError(u *SecretKey, alg keys.Algorithm, err error) error {
	call := fmt.Sprintf("C_UnwrapKey with %s", u.Mechanism)
	var p11 pkcs11.Error
	if errors.As(err, &p11) {
		switch p11 {
		case pkcs11.CKR_GENERAL_ERROR, pkcs11.CKR_WRAPPED_KEY_INVALID, pkcs11.CKR_WRAPPED_KEY_LEN_RANGE,
			pkcs11.CKR_ENCRYPTED_DATA_INVALID, pkcs11.CKR_ENCRYPTED_DATA_LEN_RANGE:
			// SoftHSM2 reports a failed integrity check as CKR_GENERAL_ERROR.
			return fmt.Errorf("token %q: unwrap under %q: %w (%s: %v)", t.info.Label, u.Label, ErrUnwrapFailed, call, err)
		case pkcs11.CKR_FUNCTION_FAILED, pkcs11.CKR_TEMPLATE_INCONSISTENT, pkcs11.CKR_ATTRIBUTE_VALUE_INVALID:
			// It decrypted, but what came out is not a key of this type.
			// (A CBC_PAD decryption under a wrong key mostly ends here or
			// above: it has no integrity check of its own.)
			return fmt.Errorf("token %q: unwrap under %q: the backup holds no %s key: %w (%s: %v)", t.info.Label, u.Label, alg.Describe(), ErrBackupMismatch, call, err)
		case pkcs11.CKR_KEY_FUNCTION_NOT_PERMITTED, pkcs11.CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT:
			return fmt.Errorf("token %q: AES key %q may not unwrap: %s: %w", t.info.Label, u.Label, call, err)
		}
	}
	return fmt.Errorf("token %q: unwrap under %q: %s: %w", t.info.Label, u.Label, call, err)
}

// checkPrefix starts the test message whose SHA-256 an unwrapped key signs.
const checkPrefix = "devicepki ceremony: backup check\x00"

// sha256DigestInfo is the DER DigestInfo prefix of a SHA-256 digest (RFC 8017
// section 9.2, note 1).
var sha256DigestInfo = []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}

// proveKey signs a fresh test digest with private key h inside the token and
// verifies the signature against pub. what names the key in errors. The
// caller holds t.mu.
func (t *Token) proveKey(h pkcs11.ObjectHandle, what string, pub crypto.PublicKey) error {
	nonce := make([]byte, 32)
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	digest := sha256.Sum256(append([]byte(checkPrefix), nonce...))
	var (
		mech *pkcs11.Mechanism
		tbs  []byte
	)
	switch pub.(type) {
	case *ecdsa.PublicKey:
		mech, tbs = pkcs11.NewMechanism(pkcs11.CKM_ECDSA, nil), digest[:]
	case *rsa.PublicKey:
		mech, tbs = pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS, nil), append(append([]byte{}, sha256DigestInfo...), digest[:]...)
	default:
		return fmt.Errorf("token %q: unsupported public key type %T", t.info.Label, pub)
	}
	if err := t.raw.SignInit(t.session, []*pkcs11.Mechanism{mech}, h); err != nil {
		return fmt.Errorf("token %q: test signature with %s: C_SignInit with %s: %w", t.info.Label, what, MechanismName(mech.Mechanism), err)
	}
	sig, err := t.raw.Sign(t.session, tbs)
	if err != nil {
		return fmt.Errorf("token %q: test signature with %s: C_Sign with %s: %w", t.info.Label, what, MechanismName(mech.Mechanism), err)
	}
	ok := false
	switch pub := pub.(type) {
	case *ecdsa.PublicKey:
		n := (pub.Curve.Params().BitSize + 7) / 8
		if len(sig) == 2*n {
			r, s := new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])
			ok = ecdsa.Verify(pub, digest[:], r, s)
		}
	case *rsa.PublicKey:
		ok = rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) == nil
	}
	if !ok {
		return fmt.Errorf("token %q: the test signature by %s does not verify under the expected public key: %w", t.info.Label, what, ErrBackupMismatch)
	}
	return nil
}

// UnwrapKeyPair restores a backup: it unwraps wrapped under u (UsageUnwrap)
// into a private token key labelled label with a new random CKA_ID: private,
// sensitive, not extractable, sign only (CKA_DECRYPT, CKA_UNWRAP and
// CKA_DERIVE false), not modifiable (SoftHSM2 refuses CKA_MODIFIABLE false in
// an unwrap template, so the key is unwrapped as a session object and copied
// to the token unmodifiable with C_CopyObject). It then creates the matching public-key
// token object from pub, with the same ID and label, public, verify only,
// not modifiable, and returns the key pair as FindKeyPair finds it.
//
// It refuses, before creating anything, a label already in use. Before the
// token key is created the backup is checked as CheckWrapped does, so a
// wrong key, a damaged backup or a backup of another key (errors wrapping
// ErrUnwrapFailed or ErrBackupMismatch) never touch the token's storage; the
// token key is test-signed again after the unwrap. If any step after the
// unwrap fails, every object it created is destroyed.
//
// The restored key is CKA_LOCAL false, CKA_ALWAYS_SENSITIVE false and
// CKA_NEVER_EXTRACTABLE false, as PKCS#11 requires for an unwrapped key.
func (t *Token) UnwrapKeyPair(u *SecretKey, wrapped []byte, label string, pub crypto.PublicKey) (kp *KeyPair, err error) {
	return t.UnwrapKeyPairID(u, wrapped, label, pub, nil)
}

// UnwrapKeyPairID is UnwrapKeyPair with the CKA_ID chosen by the caller
// (NewKeyID), so that a transcript can name it before the key exists; nil
// draws a new one.
func (t *Token) UnwrapKeyPairID(u *SecretKey, wrapped []byte, label string, pub crypto.PublicKey, id []byte) (kp *KeyPair, err error) {
	if err := ValidateLabel(label); err != nil {
		return nil, err
	}
	alg, err := keys.AlgorithmOf(pub)
	if err != nil {
		return nil, fmt.Errorf("token %q: restore %q: %w", t.info.Label, label, err)
	}
	pubTmpl, err := publicKeyTemplate(pub)
	if err != nil {
		return nil, fmt.Errorf("token %q: restore %q: %w", t.info.Label, label, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.requireLabelFree(label, "restore a key pair under it"); err != nil {
		return nil, err
	}
	uh, err := t.unwrapKeyHandle(u)
	if err != nil {
		return nil, err
	}
	if err := t.checkWrapped(uh, u, wrapped, alg, pub); err != nil {
		return nil, err
	}
	if len(id) == 0 {
		if id, err = t.random(idLen); err != nil {
			return nil, err
		}
	} else if len(id) != idLen {
		return nil, fmt.Errorf("token %q: a key pair's CKA_ID has %d bytes, not %d", t.info.Label, len(id), idLen)
	}

	before, err := t.objectSet()
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			// Every object that appeared since before with this label or
			// ID (or none) is this restore's: the label was unused.
			err = errors.Join(err, t.removeStrays(before, label, id))
		}
	}()
	// SoftHSM2 refuses CKA_MODIFIABLE false in an unwrap template
	// (CKR_ATTRIBUTE_READ_ONLY) and in C_SetAttributeValue; PKCS#11 lets
	// C_CopyObject turn it off. So the key is unwrapped as a session object
	// and copied to the token unmodifiable; the modifiable version never
	// reaches the token's storage.
	sh, err := t.unwrap(uh, u, wrapped, alg, false, label, id)
	if err != nil {
		return nil, err
	}
	priv, err := t.raw.CopyObject(t.session, sh, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_MODIFIABLE, false),
	})
	if derr := t.raw.DestroyObject(t.session, sh); derr != nil {
		err = errors.Join(err, fmt.Errorf("token %q: destroy the session copy of %q (C_DestroyObject): %w", t.info.Label, label, derr))
	}
	if err != nil {
		return nil, fmt.Errorf("token %q: store the restored key %q on the token (C_CopyObject with CKA_TOKEN true, CKA_MODIFIABLE false): %w", t.info.Label, label, err)
	}
	if err := t.proveKey(priv, fmt.Sprintf("the restored key %q", label), pub); err != nil {
		return nil, err
	}
	pubTmpl = append(pubTmpl,
		pkcs11.NewAttribute(pkcs11.CKA_ID, id),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
	)
	if _, err := t.raw.CreateObject(t.session, pubTmpl); err != nil {
		return nil, fmt.Errorf("token %q: create the public key of %q (C_CreateObject): %w", t.info.Label, label, err)
	}
	kp, err = t.findKeyPair(label)
	if err != nil {
		return nil, err
	}
	if !keys.SamePublicKey(kp.Public(), pub) || string(kp.ID) != string(id) {
		return nil, fmt.Errorf("token %q: the restored key pair %q does not read back as the expected public key", t.info.Label, label)
	}
	return kp, nil
}

// publicKeyTemplate returns the attributes of a public token object for pub,
// verify only, without ID and label.
func publicKeyTemplate(pub crypto.PublicKey) ([]*pkcs11.Attribute, error) {
	common := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
		pkcs11.NewAttribute(pkcs11.CKA_MODIFIABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true),
		pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, false),
		pkcs11.NewAttribute(pkcs11.CKA_WRAP, false),
		pkcs11.NewAttribute(pkcs11.CKA_DERIVE, false),
	}
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		oid, ok := curveOIDs[k.Curve]
		if !ok {
			return nil, fmt.Errorf("unsupported elliptic curve %s", k.Curve.Params().Name)
		}
		params, err := asn1.Marshal(oid)
		if err != nil {
			return nil, err
		}
		raw, err := k.Bytes()
		if err != nil {
			return nil, err
		}
		point, err := asn1.Marshal(raw)
		if err != nil {
			return nil, err
		}
		return append(common,
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC),
			pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, params),
			pkcs11.NewAttribute(pkcs11.CKA_EC_POINT, point),
		), nil
	case *rsa.PublicKey:
		return append(common,
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_RSA),
			pkcs11.NewAttribute(pkcs11.CKA_MODULUS, k.N.Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, big.NewInt(int64(k.E)).Bytes()),
		), nil
	default:
		return nil, fmt.Errorf("unsupported public key type %T", pub)
	}
}

// curveOIDs are the named-curve OIDs of the supported curves (RFC 5480).
var curveOIDs = map[elliptic.Curve]asn1.ObjectIdentifier{
	elliptic.P256(): {1, 2, 840, 10045, 3, 1, 7},
	elliptic.P384(): {1, 3, 132, 0, 34},
	elliptic.P521(): {1, 3, 132, 0, 35},
}
