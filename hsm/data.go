package hsm

import (
	"errors"
	"fmt"

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
// StoreData stored. It works without login. It is an error wrapping
// ErrDataNotFound if there is none, and an error if there is more than one.
func (t *Token) ReadData(label string) ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.usable(); err != nil {
		return nil, err
	}
	hs, err := t.findObjects([]*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_DATA),
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
