package hsm

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"

	"github.com/ThalesIgnite/crypto11"
	"github.com/miekg/pkcs11"

	"github.com/devicepki/ceremony/ceremony/keys"
	"github.com/devicepki/ceremony/ceremony/secret"
)

// rehearsalLabel labels every object a rehearsal makes; each is a session
// object (CKA_TOKEN false), destroyed at once, and gone with the session
// should the process die.
const rehearsalLabel = "ceremony-rehearsal"

// RehearseKeyPair generates a key pair of alg with the templates
// GenerateKeyPairWith(opts) would use, but as session objects (token
// objects labelled ceremony-rehearsal on a module that makes no session
// key pairs, destroyed at once), signs a
// test digest with it, checks the signature, and destroys it. With
// opts.Backup it also rehearses the end of extraction (a copy with
// CKA_MODIFIABLE false, read back, as EndExtraction makes). The user must
// be logged in. Nothing is left on the token.
func (t *Token) RehearseKeyPair(alg keys.Algorithm, opts KeyOptions) error {
	if _, err := keys.ParseAlgorithm(string(alg)); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.requireLogin(); err != nil {
		return err
	}
	signer, id, err := t.rehearsalPair(alg, opts)
	if err != nil {
		return err
	}
	defer func() { _ = signer.Delete() }()
	digest := sha256.Sum256([]byte("ceremony rehearsal"))
	sig, err := signer.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return fmt.Errorf("token %q: sign with the %s session key pair: %w", t.info.Label, alg.Describe(), err)
	}
	if err := keys.VerifyDigest(signer.Public(), crypto.SHA256, digest[:], sig); err != nil {
		return fmt.Errorf("token %q: the %s session key pair's signature does not verify: %w", t.info.Label, alg.Describe(), err)
	}
	if !opts.Backup {
		return nil
	}
	return t.rehearseEndExtraction(id)
}

// rehearseEndExtraction makes the session private key with CKA_ID id
// non-extractable and copies it with CKA_MODIFIABLE false, as
// EndExtraction does, reads the copy back and destroys it. The caller
// holds t.mu.
func (t *Token) rehearseEndExtraction(id []byte) error {
	hs, err := t.findObjects([]*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_ID, id),
	})
	if err != nil || len(hs) != 1 {
		return fmt.Errorf("token %q: find the rehearsal private key again: %d found, %v", t.info.Label, len(hs), err)
	}
	if err := t.raw.SetAttributeValue(t.session, hs[0], []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false)}); err != nil {
		return fmt.Errorf("token %q: make a session key non-extractable after its backup (C_SetAttributeValue CKA_EXTRACTABLE=false): %w", t.info.Label, err)
	}
	cp, err := t.raw.CopyObject(t.session, hs[0], []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_MODIFIABLE, false)})
	if err != nil {
		return fmt.Errorf("token %q: copy a session key unmodifiable after its backup (C_CopyObject CKA_MODIFIABLE=false): %w", t.info.Label, err)
	}
	defer func() { _ = t.raw.DestroyObject(t.session, cp) }()
	if wrong := t.wrongAttributes(cp, []wantAttr{{pkcs11.CKA_MODIFIABLE, "CKA_MODIFIABLE", false}, {pkcs11.CKA_EXTRACTABLE, "CKA_EXTRACTABLE", false}, {pkcs11.CKA_SENSITIVE, "CKA_SENSITIVE", true}}); wrong != "" {
		return fmt.Errorf("token %q: C_CopyObject made a copy that reads back %s", t.info.Label, wrong)
	}
	return nil
}

// RehearseDataObject creates a public data object as StoreData does, but
// as a session object, reads it back and destroys it: whether the token
// can keep a ceremony's activation record. The user must be logged in.
func (t *Token) RehearseDataObject() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.requireLogin(); err != nil {
		return err
	}
	value := []byte(`{"rehearsal":true}`)
	h, err := t.raw.CreateObject(t.session, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_DATA),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
		pkcs11.NewAttribute(pkcs11.CKA_MODIFIABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_APPLICATION, dataApplication),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, rehearsalLabel),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE, value),
	})
	if err != nil {
		return fmt.Errorf("token %q: create a public data object (C_CreateObject CKO_DATA, CKA_PRIVATE=false): %w", t.info.Label, err)
	}
	defer func() { _ = t.raw.DestroyObject(t.session, h) }()
	got, err := t.raw.GetAttributeValue(t.session, h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)})
	if err != nil || len(got) != 1 || string(got[0].Value) != string(value) {
		return errors.Join(fmt.Errorf("token %q: a public data object does not read back as written", t.info.Label), err)
	}
	return nil
}

// rehearsalPair generates the key pair of a rehearsal: session objects,
// or token objects labelled ceremony-rehearsal where the module makes no
// session key pairs. It returns the signer and the CKA_ID. The caller
// holds t.mu and deletes the pair.
func (t *Token) rehearsalPair(alg keys.Algorithm, opts KeyOptions) (crypto11.Signer, []byte, error) {
	id, err := t.random(idLen)
	if err != nil {
		return nil, nil, err
	}
	kt := template(id, rehearsalLabel, opts.Backup, opts.Backup && !opts.AllowUntrustedWrap)
	if opts.UsageDefaults {
		kt.dropUsageLimits()
	}
	kt.pub[crypto11.CkaLabel], kt.priv[crypto11.CkaLabel] = rehearsalLabel, rehearsalLabel
	gen := func(session bool) (crypto11.Signer, error) {
		kt.pub[crypto11.CkaToken], kt.priv[crypto11.CkaToken] = !session, !session
		return t.generateFrom(alg, kt)
	}
	signer, err := gen(true)
	if err != nil {
		// Some modules (tpm2-pkcs11) make no session key pairs: the
		// rehearsal then uses token objects, destroyed at once.
		if s2, err2 := gen(false); err2 == nil {
			signer, err = s2, nil
		}
	}
	if err != nil {
		var refused []string
		if templateRefused(err) {
			refused = t.refusedAttributes(alg, kt)
		}
		if len(refused) > 0 {
			err = fmt.Errorf("%w: the module refuses %s", err, strings.Join(refused, "; and "))
		}
		return nil, nil, fmt.Errorf("token %q: generate a %s key pair as the ceremony would (%s): %w", t.info.Label, alg.Describe(), keyGenMechanism(alg), err)
	}
	return signer, id, nil
}

// RehearseBackup rehearses a key backup as the ceremony makes it: it
// imports a wrapping and an unwrapping AES key holding a fresh random
// value (trusted by the security officer with so, unless untrusted),
// generates a key pair of alg for backup as RehearseKeyPair does, wraps
// it with mech, unwraps the result inside the token and checks a
// signature of the unwrapped key, and destroys everything. The user must
// be logged in; so and user are needed for a trusted import.
func (t *Token) RehearseBackup(so, user *secret.Secret, alg keys.Algorithm, opts KeyOptions, mech WrapMechanism, untrusted bool) (err error) {
	value, err := t.Random(32)
	if err != nil {
		return err
	}
	sec := secret.New(value)
	clear(value)
	defer sec.Wipe()
	var made []*SecretKey
	defer func() {
		for _, k := range made {
			err = errors.Join(err, t.DestroySecretKey(k))
		}
	}()
	for _, u := range []KeyUsage{UsageWrap, UsageUnwrap} {
		k, err := t.ImportAESKey(so, user, sec, AESKeyOptions{Usage: u, Label: rehearsalLabel + "-" + u.String(), Mechanism: mech, Untrusted: untrusted})
		if err != nil {
			return err
		}
		made = append(made, k)
	}
	opts.Backup = true
	t.mu.Lock()
	signer, id, err := t.rehearsalPair(alg, opts)
	t.mu.Unlock()
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, signer.Delete()) }()
	kp := &KeyPair{Label: rehearsalLabel, ID: id, Algorithm: alg, signer: signer}
	wrapped, err := t.WrapKeyPair(made[0], kp)
	if err != nil {
		return err
	}
	return t.CheckWrapped(made[1], wrapped, signer.Public())
}
