package hsm

import (
	"bytes"
	"crypto"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"unicode"

	"github.com/ThalesIgnite/crypto11"
	"github.com/miekg/pkcs11"

	"github.com/devicepki/ceremony/ceremony/keys"
)

// idLen is the length of the random CKA_ID given to new key pairs.
const idLen = 16

// MaxLabelLen bounds key labels; PKCS#11 allows more, people reading labels
// aloud do not.
const MaxLabelLen = 64

// KeyPair is a private key held in the token and its public key. Signer signs
// inside the token.
type KeyPair struct {
	Label     string
	ID        []byte
	Algorithm keys.Algorithm
	signer    crypto11.Signer
}

// Public returns the public key as read from the token's public-key object.
func (k *KeyPair) Public() crypto.PublicKey { return k.signer.Public() }

// Sign signs digest inside the token; it implements crypto.Signer.
func (k *KeyPair) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return k.signer.Sign(rand, digest, opts)
}

// IDHex returns the CKA_ID as lower-case hex, as pkcs11-tool shows it.
func (k *KeyPair) IDHex() string { return hex.EncodeToString(k.ID) }

var _ crypto.Signer = (*KeyPair)(nil)

// ValidateLabel checks that label is usable as a key label: 1 to MaxLabelLen
// printable characters without leading or trailing space.
func ValidateLabel(label string) error {
	switch {
	case label == "":
		return errors.New("key label is empty")
	case len(label) > MaxLabelLen:
		return fmt.Errorf("key label %q is longer than %d bytes", label, MaxLabelLen)
	case label[0] == ' ' || label[len(label)-1] == ' ':
		return fmt.Errorf("key label %q has leading or trailing spaces", label)
	}
	for _, r := range label {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("key label %q contains a non-printable character", label)
		}
	}
	return nil
}

// ErrTrustedWrapUnsupported is returned by GenerateKeyPairWith when a key
// pair that can be backed up was asked for and the module rejects
// CKA_WRAP_WITH_TRUSTED, so it cannot restrict wrapping to trusted keys.
var ErrTrustedWrapUnsupported = errors.New("the module cannot restrict wrapping to trusted keys (CKA_WRAP_WITH_TRUSTED rejected)")

// KeyOptions are the choices GenerateKeyPairWith offers beyond the label and
// the algorithm. The zero value is what GenerateKeyPair does: a key that can
// never leave the token.
type KeyOptions struct {
	// Backup makes the private key extractable, but only under a trusted
	// wrapping key (CKA_WRAP_WITH_TRUSTED true), still sensitive: its value
	// can never be read in clear, only wrapped under a key the security
	// officer marked trusted (ImportTrustedAESKey, WrapKeyPair). The key
	// is modifiable, so that EndExtraction can make it non-extractable
	// for good once the backup is made.
	Backup bool
	// AllowUntrustedWrap: if the module rejects CKA_WRAP_WITH_TRUSTED,
	// generate the key extractable without it instead of failing. Such a key
	// can be wrapped under any wrapping key the user can create. Check
	// KeyAttributes.WrapWithTrusted to see which one was made.
	AllowUntrustedWrap bool
	// UsageDefaults leaves the usage restrictions out of the templates
	// (CKA_DECRYPT, CKA_UNWRAP and CKA_DERIVE false on the private key;
	// CKA_ENCRYPT, CKA_WRAP and CKA_DERIVE false on the public key), for
	// modules that refuse them: tpm2-pkcs11 answers CKR_GENERAL_ERROR to
	// an EC key with CKA_DECRYPT false. The key then has the usages the
	// module gives it, which KeyAttributes reports.
	UsageDefaults bool
	// ID is the CKA_ID to give the key pair (NewKeyID), chosen before the
	// generation so that a transcript can name it first: whatever a crash
	// leaves of the pair carries it. Empty: a new random one.
	ID []byte
}

// CheckLabelFree refuses, as GenerateKeyPair would, a label that any
// object on the token already carries: for checking before a generation
// is announced.
func (t *Token) CheckLabelFree(label string) error {
	if err := ValidateLabel(label); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.requireLabelFree(label, "generate another")
}

// NewKeyID returns a fresh random CKA_ID from the token's generator, for
// KeyOptions.ID.
func (t *Token) NewKeyID() ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.usable(); err != nil {
		return nil, err
	}
	for {
		id, err := t.random(idLen)
		if err != nil {
			return nil, err
		}
		if bytes.Count(id, []byte{0}) != len(id) {
			return id, nil
		}
	}
}

// trustedWrapAttr is the attribute that restricts wrapping to trusted keys.
// Tests replace it with a type the module rejects.
var trustedWrapAttr crypto11.AttributeType = crypto11.CkaWrapWithTrusted

// GenerateKeyPair generates a key pair of algorithm alg inside the token,
// labelled label, with a random CKA_ID from the token's RNG. The private key
// is a token object that is private, sensitive, not extractable and may only
// sign; the public key is a public token object that may only verify. Both
// are created unmodifiable (CKA_MODIFIABLE false), so no usage can be
// switched on later.
//
// It refuses, before generating anything, a label that any object on the
// token already carries. It is GenerateKeyPairWith with no options.
func (t *Token) GenerateKeyPair(label string, alg keys.Algorithm) (*KeyPair, error) {
	return t.GenerateKeyPairWith(label, alg, KeyOptions{})
}

// GenerateKeyPairWith is GenerateKeyPair with options. With opts.Backup the
// private key is extractable, still sensitive, and CKA_WRAP_WITH_TRUSTED, so
// WrapKeyPair can back it up under a trusted key and nothing else can export
// it. If the module rejects CKA_WRAP_WITH_TRUSTED, it fails with an error
// wrapping ErrTrustedWrapUnsupported and nothing on the token, unless
// opts.AllowUntrustedWrap.
func (t *Token) GenerateKeyPairWith(label string, alg keys.Algorithm, opts KeyOptions) (*KeyPair, error) {
	if err := ValidateLabel(label); err != nil {
		return nil, err
	}
	if _, err := keys.ParseAlgorithm(string(alg)); err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.requireLabelFree(label, "generate another"); err != nil {
		return nil, err
	}
	id := opts.ID
	if len(id) == 0 {
		var err error
		if id, err = t.random(idLen); err != nil {
			return nil, err
		}
		if bytes.Count(id, []byte{0}) == len(id) {
			return nil, fmt.Errorf("token %q: random number generator returned all zeros", t.info.Label)
		}
	} else if len(id) != idLen {
		return nil, fmt.Errorf("token %q: a key pair's CKA_ID has %d bytes, not %d", t.info.Label, len(id), idLen)
	}
	if hs, err := t.findObjects([]*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_ID, id)}); err != nil || len(hs) > 0 {
		return nil, fmt.Errorf("token %q: CKA_ID %x is taken (%d objects) or cannot be searched (%v)", t.info.Label, id, len(hs), err)
	}

	before, err := t.objectSet()
	if err != nil {
		return nil, err
	}
	kt := template(id, label, opts.Backup, opts.Backup)
	if opts.UsageDefaults {
		kt.dropUsageLimits()
	}
	signer, err := t.generateFrom(alg, kt)
	if err != nil {
		if cerr := t.removeStrays(before, label, id); cerr != nil {
			return nil, errors.Join(fmt.Errorf("token %q: generate %s key pair %q (%s): %w", t.info.Label, alg.Describe(), label, keyGenMechanism(alg), err), cerr)
		}
	}
	var refused []string
	if err != nil && templateRefused(err) {
		refused = t.refusedAttributes(alg, kt)
	}
	switch {
	case err == nil:
	case len(refused) == 1 && refused[0] == trustedWrapSuspect && opts.Backup:
		// CKA_WRAP_WITH_TRUSTED is blamed only because a key pair
		// without it was generated.
		if !opts.AllowUntrustedWrap {
			return nil, fmt.Errorf("token %q: generate %s key pair %q for backup: %w (%v); nothing was generated", t.info.Label, alg.Describe(), label, ErrTrustedWrapUnsupported, err)
		}
		kt = template(id, label, true, false)
		if opts.UsageDefaults {
			kt.dropUsageLimits()
		}
		signer, err = t.generateFrom(alg, kt)
		if err != nil {
			if cerr := t.removeStrays(before, label, id); cerr != nil {
				err = errors.Join(err, cerr)
			}
		}
	case len(refused) > 0:
		err = fmt.Errorf("%w: the module refuses %s (a trial key pair without it was generated, and destroyed)", err, strings.Join(refused, "; and "))
	case templateRefused(err):
		err = fmt.Errorf("%w: the module refuses the key template even without the attributes this program sets beyond the essentials", err)
	}
	if err != nil {
		return nil, fmt.Errorf("token %q: generate %s key pair %q (%s): %w", t.info.Label, alg.Describe(), label, keyGenMechanism(alg), err)
	}
	return &KeyPair{Label: label, ID: id, Algorithm: alg, signer: signer}, nil
}

// EndExtraction makes k's private key non-extractable and unmodifiable for
// good, once its backup is made, and returns the key pair found again.
//
// PKCS#11 lets CKA_EXTRACTABLE go from true to false, never back; without
// that, anyone who can log in as the security officer could mark a key of
// their own trusted and wrap the key under it. The key was generated
// modifiable only so that this change could be made; a modifiable key
// could still have CKA_DERIVE, CKA_DECRYPT or CKA_UNWRAP switched on by
// whoever holds the user PIN. CKA_MODIFIABLE can only be cleared when an
// object is created or copied, so the key is copied with CKA_MODIFIABLE
// false and the modifiable original destroyed. The copy keeps every other
// attribute (CKA_ID, CKA_LABEL, CKA_LOCAL, sensitivity). (SoftHSM2 refuses
// CKA_COPYABLE false in the copy's template with CKR_ATTRIBUTE_READ_ONLY,
// so the key stays copyable; a copy is as sensitive and unmodifiable.)
// Both are read back: it fails unless the key on the token is now
// non-extractable, unmodifiable and the only one with its label and ID.
//
// Should the machine stop between the copy and the destruction, the token
// holds the same key twice under one label, and FindKeyPair says so; the
// ceremony stops there rather than pick one.
func (t *Token) EndExtraction(k *KeyPair) (*KeyPair, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.requireLogin(); err != nil {
		return nil, err
	}
	hs, err := t.findObjects(keyTemplate(pkcs11.CKO_PRIVATE_KEY, k))
	if err != nil || len(hs) != 1 {
		return nil, fmt.Errorf("token %q: find private key %q: %d found, %v", t.info.Label, k.Label, len(hs), err)
	}
	orig := hs[0]
	if err := t.raw.SetAttributeValue(t.session, orig, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false)}); err != nil {
		return nil, fmt.Errorf("token %q: make key %q non-extractable: %w", t.info.Label, k.Label, err)
	}
	if !t.boolAttr(orig, pkcs11.CKA_MODIFIABLE, true) {
		// Already unmodifiable (a key made by an earlier version): only
		// the read-back below is needed.
		return t.checkEnded(k)
	}
	cp, err := t.raw.CopyObject(t.session, orig, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_MODIFIABLE, false),
	})
	if err != nil {
		return nil, fmt.Errorf("token %q: copy key %q unmodifiable: %w", t.info.Label, k.Label, err)
	}
	if wrong := t.wrongAttributes(cp, []wantAttr{{pkcs11.CKA_MODIFIABLE, "CKA_MODIFIABLE", false}, {pkcs11.CKA_EXTRACTABLE, "CKA_EXTRACTABLE", false}, {pkcs11.CKA_SENSITIVE, "CKA_SENSITIVE", true}}); wrong != "" {
		err := fmt.Errorf("token %q: C_CopyObject made a copy of key %q that reads back %s", t.info.Label, k.Label, wrong)
		if derr := t.raw.DestroyObject(t.session, cp); derr != nil {
			err = errors.Join(err, fmt.Errorf("token %q: destroy the failed copy of %q: %w", t.info.Label, k.Label, derr))
		}
		return nil, err
	}
	if err := t.raw.DestroyObject(t.session, orig); err != nil {
		return nil, fmt.Errorf("token %q: destroy the modifiable original of key %q (the token now holds it twice): %w", t.info.Label, k.Label, err)
	}
	return t.checkEnded(k)
}

// checkEnded finds k again after EndExtraction and checks its private key
// is the only one, non-extractable and unmodifiable. The caller holds t.mu.
func (t *Token) checkEnded(k *KeyPair) (*KeyPair, error) {
	hs, err := t.findObjects(keyTemplate(pkcs11.CKO_PRIVATE_KEY, k))
	if err != nil || len(hs) != 1 {
		return nil, fmt.Errorf("token %q: find private key %q after ending its extraction: %d found, %v", t.info.Label, k.Label, len(hs), err)
	}
	if wrong := t.wrongAttributes(hs[0], []wantAttr{{pkcs11.CKA_EXTRACTABLE, "CKA_EXTRACTABLE", false}, {pkcs11.CKA_MODIFIABLE, "CKA_MODIFIABLE", false}}); wrong != "" {
		return nil, fmt.Errorf("token %q: key %q reads back %s after its extraction was ended", t.info.Label, k.Label, wrong)
	}
	return t.findKeyPair(k.Label)
}

// wantAttr is a boolean attribute and the value an object must have.
type wantAttr struct {
	typ  uint
	name string
	want bool
}

// wrongAttributes reads back attributes of h and names those that do not
// have the wanted value ("CKA_MODIFIABLE=true"), or "" if all do. An
// attribute that cannot be read counts as wrong. The caller holds t.mu.
func (t *Token) wrongAttributes(h pkcs11.ObjectHandle, want []wantAttr) string {
	var wrong []string
	for _, w := range want {
		got, err := t.raw.GetAttributeValue(t.session, h, []*pkcs11.Attribute{pkcs11.NewAttribute(w.typ, nil)})
		switch {
		case err != nil || len(got) != 1 || len(got[0].Value) != 1:
			wrong = append(wrong, w.name+" unreadable")
		case (got[0].Value[0] != 0) != w.want:
			wrong = append(wrong, fmt.Sprintf("%s=%t (must be %t)", w.name, !w.want, w.want))
		}
	}
	return strings.Join(wrong, ", ")
}

// boolAttr reads a boolean attribute of h; a read that fails gives def.
// The caller holds t.mu.
func (t *Token) boolAttr(h pkcs11.ObjectHandle, typ uint, def bool) bool {
	got, err := t.raw.GetAttributeValue(t.session, h, []*pkcs11.Attribute{pkcs11.NewAttribute(typ, nil)})
	if err != nil || len(got) != 1 || len(got[0].Value) != 1 {
		return def
	}
	return got[0].Value[0] != 0
}

// pairTemplate is the public and private key templates of a key pair.
type pairTemplate struct {
	pub, priv map[crypto11.AttributeType]any
}

// template returns the templates of a signing key pair: every usage other
// than sign/verify set false explicitly (SoftHSM2, for one, defaults
// CKA_DECRYPT and CKA_UNWRAP to true on EC keys).
func template(id []byte, label string, extractable, wrapWithTrusted bool) pairTemplate {
	priv := map[crypto11.AttributeType]any{
		crypto11.CkaId: id, crypto11.CkaLabel: label, crypto11.CkaToken: true, crypto11.CkaPrivate: true,
		crypto11.CkaSign: true, crypto11.CkaSensitive: true, crypto11.CkaExtractable: extractable,
		crypto11.CkaDecrypt: false, crypto11.CkaUnwrap: false, crypto11.CkaDerive: false,
		// An extractable key stays modifiable only so that
		// EndExtraction can clear CKA_EXTRACTABLE (a one-way change).
		crypto11.CkaModifiable: extractable,
	}
	if wrapWithTrusted {
		priv[trustedWrapAttr] = true
	}
	return pairTemplate{
		pub: map[crypto11.AttributeType]any{
			crypto11.CkaId: id, crypto11.CkaLabel: label, crypto11.CkaToken: true, crypto11.CkaPrivate: false,
			crypto11.CkaVerify: true, crypto11.CkaEncrypt: false, crypto11.CkaWrap: false, crypto11.CkaDerive: false,
			crypto11.CkaModifiable: false,
		},
		priv: priv,
	}
}

// dropUsageLimits removes the attributes that switch usages off
// (KeyOptions.UsageDefaults).
func (kt pairTemplate) dropUsageLimits() {
	for _, a := range []crypto11.AttributeType{crypto11.CkaDecrypt, crypto11.CkaUnwrap, crypto11.CkaDerive} {
		delete(kt.priv, a)
	}
	for _, a := range []crypto11.AttributeType{crypto11.CkaEncrypt, crypto11.CkaWrap, crypto11.CkaDerive} {
		delete(kt.pub, a)
	}
}

// generateFrom generates a key pair from its templates.
func (t *Token) generateFrom(alg keys.Algorithm, kt pairTemplate) (crypto11.Signer, error) {
	pub, priv := crypto11.NewAttributeSet(), crypto11.NewAttributeSet()
	for _, set := range []struct {
		s     crypto11.AttributeSet
		attrs map[crypto11.AttributeType]any
	}{{pub, kt.pub}, {priv, kt.priv}} {
		for k, v := range set.attrs {
			if err := set.s.Set(k, v); err != nil {
				return nil, fmt.Errorf("key template: %w", err)
			}
		}
	}
	if alg.IsECDSA() {
		return t.c11.GenerateECDSAKeyPairWithAttributes(pub, priv, alg.Curve())
	}
	return t.c11.GenerateRSAKeyPairWithAttributes(pub, priv, alg.RSABits())
}

// templateSuspects are the attributes a module may refuse in a signing
// key pair's templates, with how an error names them.
func templateSuspects() []templateSuspect {
	return []templateSuspect{
		{name: trustedWrapSuspect, priv: trustedWrapAttr},
		{name: "CKA_EXTRACTABLE=true with CKA_SENSITIVE=true on the private key", priv: crypto11.CkaExtractable},
		{name: "CKA_DECRYPT=false on the private key", priv: crypto11.CkaDecrypt},
		{name: "CKA_UNWRAP=false on the private key", priv: crypto11.CkaUnwrap},
		{name: "CKA_DERIVE=false on the private key", priv: crypto11.CkaDerive},
		{name: "CKA_MODIFIABLE on the private key", priv: crypto11.CkaModifiable},
		{name: "CKA_ENCRYPT=false on the public key", pub: crypto11.CkaEncrypt},
		{name: "CKA_WRAP=false on the public key", pub: crypto11.CkaWrap},
		{name: "CKA_DERIVE=false on the public key", pub: crypto11.CkaDerive},
		{name: "CKA_MODIFIABLE=false on the public key", pub: crypto11.CkaModifiable},
	}
}

// trustedWrapSuspect is the suspect that blames CKA_WRAP_WITH_TRUSTED.
const trustedWrapSuspect = "CKA_WRAP_WITH_TRUSTED on the private key"

// templateSuspect is an attribute of the public or the private key's
// template (0: none) that a trial generation leaves out.
type templateSuspect struct {
	name      string
	pub, priv crypto11.AttributeType
}

// refusedAttributes finds what in a key pair's templates the module
// refuses. It generates trial key pairs, session objects where the
// module makes them (else token objects under a label of their own),
// each destroyed at once: first without every suspect attribute the
// templates hold, then putting them back one by one. Those the module
// cannot take back are the ones it refuses. It returns nil if the
// module refuses even the trial without them. The caller holds t.mu.
func (t *Token) refusedAttributes(alg keys.Algorithm, kt pairTemplate) []string {
	var held []templateSuspect
	for _, s := range templateSuspects() {
		if hasAny(kt.priv, s.priv) || hasAny(kt.pub, s.pub) {
			held = append(held, s)
		}
	}
	session := true
	try := func(without []templateSuspect) bool {
		trial := pairTemplate{pub: maps.Clone(kt.pub), priv: maps.Clone(kt.priv)}
		trial.pub[crypto11.CkaToken], trial.priv[crypto11.CkaToken] = !session, !session
		trial.pub[crypto11.CkaLabel], trial.priv[crypto11.CkaLabel] = "ceremony-template-check", "ceremony-template-check"
		for _, s := range without {
			delete(trial.pub, s.pub)
			delete(trial.priv, s.priv)
		}
		signer, err := t.generateFrom(alg, trial)
		if err != nil {
			return false
		}
		_ = signer.Delete()
		return true
	}
	if !try(held) {
		if session = false; !try(held) {
			return nil
		}
	}
	var refused []string
	left := held
	for i := 0; i < len(left); {
		without := slices.Delete(slices.Clone(left), i, i+1)
		if try(without) {
			left = without // taken back: not refused
			continue
		}
		refused = append(refused, left[i].name)
		i++
	}
	return refused
}

func hasAny(m map[crypto11.AttributeType]any, a crypto11.AttributeType) bool {
	if a == 0 {
		return false
	}
	_, ok := m[a]
	return ok
}

// templateRefused reports whether err is a module's refusal of a
// template (rather than of the call or the mechanism).
func templateRefused(err error) bool {
	var p11 pkcs11.Error
	if !errors.As(err, &p11) {
		return false
	}
	switch p11 {
	case pkcs11.CKR_ATTRIBUTE_TYPE_INVALID, pkcs11.CKR_TEMPLATE_INCONSISTENT, pkcs11.CKR_ATTRIBUTE_VALUE_INVALID,
		pkcs11.CKR_TEMPLATE_INCOMPLETE, pkcs11.CKR_ATTRIBUTE_READ_ONLY, pkcs11.CKR_GENERAL_ERROR:
		return true
	}
	return false
}

// FindKeyPair finds the key pair labelled label. It is an error if there is
// none, or more than one.
func (t *Token) FindKeyPair(label string) (*KeyPair, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.requireLogin(); err != nil {
		return nil, err
	}
	return t.findKeyPair(label)
}

// findKeyPair is FindKeyPair for callers that hold t.mu.
func (t *Token) findKeyPair(label string) (*KeyPair, error) {
	signers, err := t.c11.FindKeyPairs(nil, []byte(label))
	if err != nil {
		return nil, fmt.Errorf("token %q: find key pair %q: %w", t.info.Label, label, err)
	}
	switch len(signers) {
	case 0:
		// crypto11 returns no error for a missing label; we do.
		return nil, fmt.Errorf("token %q has no key pair labelled %q: %w", t.info.Label, label, ErrKeyNotFound)
	case 1:
	default:
		return nil, fmt.Errorf("token %q holds %d key pairs labelled %q; labels must be unique", t.info.Label, len(signers), label)
	}
	alg, err := keys.AlgorithmOf(signers[0].Public())
	if err != nil {
		return nil, fmt.Errorf("token %q: key pair %q: %w", t.info.Label, label, err)
	}
	attr, err := t.c11.GetAttribute(signers[0], crypto11.CkaId)
	if err != nil {
		return nil, fmt.Errorf("token %q: key pair %q: read CKA_ID: %w", t.info.Label, label, err)
	}
	return &KeyPair{Label: label, ID: attr.Value, Algorithm: alg, signer: signers[0]}, nil
}

// KeyAttributes are the PKCS#11 attributes that say how well a private key is
// protected. They go into transcripts.
type KeyAttributes struct {
	Token            bool `json:"token"`
	Private          bool `json:"private"`
	Sensitive        bool `json:"sensitive"`
	Extractable      bool `json:"extractable"`
	Local            bool `json:"local"`
	AlwaysSensitive  bool `json:"always_sensitive"`
	NeverExtractable bool `json:"never_extractable"`
	Sign             bool `json:"sign"`
	Decrypt          bool `json:"decrypt"`
	Unwrap           bool `json:"unwrap"`
	Derive           bool `json:"derive"`
	Modifiable       bool `json:"modifiable"`
	// WrapWithTrusted: the key may only be wrapped under a trusted key. A
	// module that does not know the attribute reads as false.
	WrapWithTrusted bool `json:"wrap_with_trusted"`
}

var keyAttributeTypes = []uint{
	pkcs11.CKA_TOKEN, pkcs11.CKA_PRIVATE, pkcs11.CKA_SENSITIVE, pkcs11.CKA_EXTRACTABLE,
	pkcs11.CKA_LOCAL, pkcs11.CKA_ALWAYS_SENSITIVE, pkcs11.CKA_NEVER_EXTRACTABLE,
	pkcs11.CKA_SIGN, pkcs11.CKA_DECRYPT, pkcs11.CKA_UNWRAP, pkcs11.CKA_DERIVE, pkcs11.CKA_MODIFIABLE,
	pkcs11.CKA_WRAP_WITH_TRUSTED,
}

// KeyAttributes reads the protection attributes of k's private key.
func (t *Token) KeyAttributes(k *KeyPair) (KeyAttributes, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.requireLogin(); err != nil {
		return KeyAttributes{}, err
	}
	hs, err := t.findObjects(keyTemplate(pkcs11.CKO_PRIVATE_KEY, k))
	if err != nil {
		return KeyAttributes{}, fmt.Errorf("token %q: find private key %q: %w", t.info.Label, k.Label, err)
	}
	if len(hs) != 1 {
		return KeyAttributes{}, fmt.Errorf("token %q: found %d private keys labelled %q with id %s, want 1", t.info.Label, len(hs), k.Label, k.IDHex())
	}
	ka, err := t.keyAttributes(hs[0])
	if err != nil {
		return KeyAttributes{}, fmt.Errorf("token %q: read attributes of %q: %w", t.info.Label, k.Label, err)
	}
	return ka, nil
}

// keyAttributes reads the protection attributes of key object h. The
// caller holds t.mu.
func (t *Token) keyAttributes(h pkcs11.ObjectHandle) (KeyAttributes, error) {
	got, err := t.boolAttributes(h, keyAttributeTypes)
	if err != nil {
		return KeyAttributes{}, err
	}
	var ka KeyAttributes
	dst := map[uint]*bool{
		pkcs11.CKA_TOKEN: &ka.Token, pkcs11.CKA_PRIVATE: &ka.Private, pkcs11.CKA_SENSITIVE: &ka.Sensitive,
		pkcs11.CKA_EXTRACTABLE: &ka.Extractable, pkcs11.CKA_LOCAL: &ka.Local,
		pkcs11.CKA_ALWAYS_SENSITIVE: &ka.AlwaysSensitive, pkcs11.CKA_NEVER_EXTRACTABLE: &ka.NeverExtractable,
		pkcs11.CKA_SIGN: &ka.Sign, pkcs11.CKA_DECRYPT: &ka.Decrypt, pkcs11.CKA_UNWRAP: &ka.Unwrap, pkcs11.CKA_DERIVE: &ka.Derive,
		pkcs11.CKA_MODIFIABLE: &ka.Modifiable, pkcs11.CKA_WRAP_WITH_TRUSTED: &ka.WrapWithTrusted,
	}
	for typ, v := range got {
		if p, ok := dst[typ]; ok {
			*p = v
		}
	}
	return ka, nil
}

// boolAttributes reads the boolean attributes types of object h in one
// C_GetAttributeValue call. If the module fails the whole call (PKCS#11 lets
// it return CKR_ATTRIBUTE_TYPE_INVALID or CKR_ATTRIBUTE_SENSITIVE for one bad
// attribute, and miekg/pkcs11 then returns no values at all), it reads them
// one by one and counts an attribute the module does not know, or will not
// reveal, as false; any other error is returned. The caller holds t.mu.
func (t *Token) boolAttributes(h pkcs11.ObjectHandle, types []uint) (map[uint]bool, error) {
	tmpl := make([]*pkcs11.Attribute, len(types))
	for i, a := range types {
		tmpl[i] = pkcs11.NewAttribute(a, nil)
	}
	out := make(map[uint]bool, len(types))
	got, err := t.raw.GetAttributeValue(t.session, h, tmpl)
	if err == nil {
		for _, a := range got {
			out[a.Type] = len(a.Value) == 1 && a.Value[0] != 0
		}
		return out, nil
	}
	var p11 pkcs11.Error
	for _, typ := range types {
		got, err := t.raw.GetAttributeValue(t.session, h, []*pkcs11.Attribute{pkcs11.NewAttribute(typ, nil)})
		switch {
		case err == nil:
			out[typ] = len(got[0].Value) == 1 && got[0].Value[0] != 0
		case errors.As(err, &p11) && (p11 == pkcs11.CKR_ATTRIBUTE_TYPE_INVALID || p11 == pkcs11.CKR_ATTRIBUTE_SENSITIVE):
			out[typ] = false
		default:
			return nil, err
		}
	}
	return out, nil
}

// DestroyKeyPair destroys k's private and public key objects and any
// certificate stored beside them. The ceremony engine uses it to roll back a
// key generated by a ceremony that then failed.
func (t *Token) DestroyKeyPair(k *KeyPair) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.requireLogin(); err != nil {
		return err
	}
	var errs []error
	for _, class := range []uint{pkcs11.CKO_CERTIFICATE, pkcs11.CKO_PRIVATE_KEY, pkcs11.CKO_PUBLIC_KEY} {
		hs, err := t.findObjects(keyTemplate(class, k))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, h := range hs {
			if err := t.raw.DestroyObject(t.session, h); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("token %q: destroy key pair %q: %w", t.info.Label, k.Label, err)
	}
	return nil
}

func keyTemplate(class uint, k *KeyPair) []*pkcs11.Attribute {
	return []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, class),
		pkcs11.NewAttribute(pkcs11.CKA_ID, k.ID),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, k.Label),
	}
}

// keyGenMechanism names the mechanism that generates keys of alg, for
// errors.
func keyGenMechanism(alg keys.Algorithm) string {
	if needs := KeyNeeds(alg); len(needs) > 0 {
		return MechanismName(needs[0].Mechanism)
	}
	return "no mechanism"
}
