package hsm

import (
	"fmt"

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
	return &SecretKey{Label: label, Usage: usage, tok: t}, nil
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
