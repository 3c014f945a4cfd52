package hsm

import (
	"fmt"
	"sync/atomic"

	"github.com/ThalesIgnite/crypto11"
	"github.com/miekg/pkcs11"
)

// Test hooks, compiled into the test binary only.

// VendorAttributeForTest is a vendor-defined attribute type no module knows.
const VendorAttributeForTest = pkcs11.CKA_VENDOR_DEFINED | 0xc0ffee

// ReplaceTrustedWrapAttrForTest makes GenerateKeyPairWith ask for attribute
// typ instead of CKA_WRAP_WITH_TRUSTED, to play a module that rejects it. It
// returns a function that undoes the change.
func ReplaceTrustedWrapAttrForTest(typ uint) (restore func()) {
	old := trustedWrapAttr
	trustedWrapAttr = typ
	return func() { trustedWrapAttr = old }
}

// AddKeyAttributeForTest makes KeyAttributes also read attribute typ, to
// play a module that fails the whole read. It returns a function that undoes
// the change.
func AddKeyAttributeForTest(typ uint) (restore func()) {
	old := keyAttributeTypes
	keyAttributeTypes = append(append([]uint{}, old...), typ)
	return func() { keyAttributeTypes = old }
}

// CreateAESKeyAsUserForTest creates a public AES session key as the logged-in
// user, without the security officer: trusted asks for CKA_TRUSTED, which the
// user may not set.
func (t *Token) CreateAESKeyAsUserForTest(value []byte, trusted bool, usage KeyUsage, label string) (*SecretKey, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	tmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_WRAP, usage == UsageWrap),
		pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, usage == UsageUnwrap),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE, value),
	}
	if trusted {
		tmpl = append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_TRUSTED, true))
	}
	if _, err := t.raw.CreateObject(t.session, tmpl); err != nil {
		// SoftHSM2 2.6.1 leaves the object behind when it refuses an
		// attribute. Say whether that leftover is trusted, and remove it.
		k := &SecretKey{Label: label, tok: t}
		hs, ferr := t.findObjects(secretKeyTemplate(k))
		if ferr != nil {
			return nil, ferr
		}
		for _, h := range hs {
			got, gerr := t.raw.GetAttributeValue(t.session, h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_TRUSTED, nil)})
			if gerr != nil {
				return nil, gerr
			}
			if len(got[0].Value) != 1 || got[0].Value[0] != 0 {
				return nil, fmt.Errorf("LEFTOVER IS TRUSTED after %w", err)
			}
		}
		if derr := t.destroySecretKey(k); derr != nil {
			return nil, derr
		}
		return nil, fmt.Errorf("%w (%d leftover objects removed)", err, len(hs))
	}
	return &SecretKey{Label: label, Usage: usage, Mechanism: WrapMechanism{Type: pkcs11.CKM_AES_KEY_WRAP_PAD}, tok: t}, nil
}

// SessionObjectsForTest returns the labels of the session objects (CKA_TOKEN
// false) the session sees.
func (t *Token) SessionObjectsForTest() ([]string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	hs, err := t.findObjects([]*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false)})
	if err != nil {
		return nil, err
	}
	var labels []string
	for _, h := range hs {
		got, err := t.raw.GetAttributeValue(t.session, h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_LABEL, nil)})
		if err != nil {
			return nil, err
		}
		labels = append(labels, string(got[0].Value))
	}
	return labels, nil
}

// ReplacePrivateDataWithoutDestroyForTest runs ReplacePrivateData up to the
// point where the new copy is written and checked, and stops before the old
// copies are destroyed, as a crash there would.
func (t *Token) ReplacePrivateDataWithoutDestroyForTest(label string, value []byte) error {
	return t.replacePrivateData(label, value, false)
}

// EncodePrivateDataForTest returns the stored form of value at generation
// gen, as ReplacePrivateData writes it.
func EncodePrivateDataForTest(gen uint64, value []byte) []byte { return encodePrivateData(gen, value) }

// CreatePrivateDataObjectForTest creates a private data object labelled
// label holding stored as is, to play a copy that a crash cut short or that
// another program wrote.
func (t *Token) CreatePrivateDataObjectForTest(label string, stored []byte) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, err := t.raw.CreateObject(t.session, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_DATA),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_APPLICATION, dataApplication),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE, stored),
	})
	return err
}

// PrivateDataObjectsForTest returns the stored values of the private data
// objects labelled label, as the module returns them.
func (t *Token) PrivateDataObjectsForTest(label string) ([][]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	hs, err := t.findObjects(privateDataTemplate(label))
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for _, h := range hs {
		got, err := t.raw.GetAttributeValue(t.session, h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)})
		if err != nil {
			return nil, err
		}
		out = append(out, got[0].Value)
	}
	return out, nil
}

// CountSyncsForTest counts the file system flushes ReplacePrivateData asks
// for, instead of making them. It returns the counter and a function that
// undoes the change.
func CountSyncsForTest() (count func() int, restore func()) {
	var n atomic.Int32
	old := syncStorage
	syncStorage = func() { n.Add(1) }
	return func() int { return int(n.Load()) }, func() { syncStorage = old }
}

// FailCrypto11ConfigureForTest makes Open configure crypto11 for a token
// serial no token has, so that crypto11.Configure fails after its token
// search, as it would if the token went away between Open's own search and
// crypto11's. It returns a function that undoes the change.
func FailCrypto11ConfigureForTest() (restore func()) {
	old := c11Configure
	c11Configure = func(cfg *crypto11.Config) (*crypto11.Context, error) {
		bad := *cfg
		bad.TokenSerial, bad.TokenLabel = "no-such-serial", ""
		return old(&bad)
	}
	return func() { c11Configure = old }
}

// SetPrivateKeyBoolForTest tries to set a boolean attribute of k's private
// key, as anyone holding the user PIN could with C_SetAttributeValue.
func (t *Token) SetPrivateKeyBoolForTest(k *KeyPair, typ uint, v bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	hs, err := t.findObjects(keyTemplate(pkcs11.CKO_PRIVATE_KEY, k))
	if err != nil || len(hs) != 1 {
		return fmt.Errorf("find private key %q: %d found, %v", k.Label, len(hs), err)
	}
	return t.raw.SetAttributeValue(t.session, hs[0], []*pkcs11.Attribute{pkcs11.NewAttribute(typ, v)})
}

// PrivateKeyCountForTest counts the private keys labelled label.
func (t *Token) PrivateKeyCountForTest(label string) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	hs, err := t.findObjects([]*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
	})
	return len(hs), err
}
