package hsm

import (
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sort"

	"github.com/miekg/pkcs11"
)

// Object describes one object on a token for an inventory: what it is,
// its label and id, and, for a key, its type and protection attributes.
type Object struct {
	// Class is "private-key", "public-key", "secret-key", "certificate",
	// "data" or "class 0xN".
	Class string `json:"class"`
	Label string `json:"label"`
	ID    string `json:"id,omitempty"` // CKA_ID, hex
	// Private is CKA_PRIVATE: the object is visible only after a login.
	Private bool `json:"private"`
	// KeyType is "EC", "RSA", "AES" or "type 0xN" for a key.
	KeyType string `json:"key_type,omitempty"`
	// Attributes are a private or secret key's protection attributes.
	Attributes *KeyAttributes `json:"attributes,omitempty"`
	// Subject is a certificate's subject.
	Subject string `json:"subject,omitempty"`
}

var classNames = map[uint]string{
	pkcs11.CKO_PRIVATE_KEY: "private-key", pkcs11.CKO_PUBLIC_KEY: "public-key", pkcs11.CKO_SECRET_KEY: "secret-key",
	pkcs11.CKO_CERTIFICATE: "certificate", pkcs11.CKO_DATA: "data",
}

var keyTypeNames = map[uint]string{pkcs11.CKK_EC: "EC", pkcs11.CKK_RSA: "RSA", pkcs11.CKK_AES: "AES"}

// classOrder sorts an inventory: keys first, then certificates and data.
var classOrder = map[string]int{"private-key": 0, "secret-key": 1, "public-key": 2, "certificate": 3, "data": 4}

// Inventory lists every object the session can see (all of them after a
// login, the public ones before), sorted by class, label and id. It only
// reads.
func (t *Token) Inventory() ([]Object, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.usable(); err != nil {
		return nil, err
	}
	hs, err := t.findObjects(nil)
	if err != nil {
		return nil, fmt.Errorf("token %q: list objects: %w", t.info.Label, err)
	}
	out := make([]Object, 0, len(hs))
	for _, h := range hs {
		o, err := t.describe(h)
		if err != nil {
			return nil, fmt.Errorf("token %q: %w", t.info.Label, err)
		}
		out = append(out, o)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		ca, oka := classOrder[a.Class]
		cb, okb := classOrder[b.Class]
		if !oka {
			ca = len(classOrder)
		}
		if !okb {
			cb = len(classOrder)
		}
		if ca != cb {
			return ca < cb
		}
		if a.Label != b.Label {
			return a.Label < b.Label
		}
		return a.ID < b.ID
	})
	return out, nil
}

// describe reads what an inventory shows of object h. The caller holds
// t.mu.
func (t *Token) describe(h pkcs11.ObjectHandle) (Object, error) {
	got, err := t.raw.GetAttributeValue(t.session, h, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, nil), pkcs11.NewAttribute(pkcs11.CKA_LABEL, nil),
	})
	if err != nil {
		return Object{}, fmt.Errorf("read an object's class and label: %w", err)
	}
	var o Object
	class, err := ulong(got[0].Value)
	if err != nil {
		return Object{}, fmt.Errorf("an object's class: %w", err)
	}
	o.Label = string(got[1].Value)
	o.Class = classNames[class]
	if o.Class == "" {
		o.Class = fmt.Sprintf("class 0x%x", class)
	}
	o.ID = t.optionalHex(h, pkcs11.CKA_ID)
	if b, err := t.boolAttributes(h, []uint{pkcs11.CKA_PRIVATE}); err == nil {
		o.Private = b[pkcs11.CKA_PRIVATE]
	}
	switch class {
	case pkcs11.CKO_PRIVATE_KEY, pkcs11.CKO_PUBLIC_KEY, pkcs11.CKO_SECRET_KEY:
		if v, err := t.raw.GetAttributeValue(t.session, h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, nil)}); err == nil {
			if kt, err := ulong(v[0].Value); err == nil {
				o.KeyType = keyTypeNames[kt]
				if o.KeyType == "" {
					o.KeyType = fmt.Sprintf("type 0x%x", kt)
				}
			}
		}
		if class == pkcs11.CKO_PUBLIC_KEY {
			break
		}
		ka, err := t.keyAttributes(h)
		if err != nil {
			return Object{}, fmt.Errorf("read the attributes of %s %q: %w", o.Class, o.Label, err)
		}
		o.Attributes = &ka
	case pkcs11.CKO_CERTIFICATE:
		if v, err := t.raw.GetAttributeValue(t.session, h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)}); err == nil {
			if c, err := x509.ParseCertificate(v[0].Value); err == nil {
				o.Subject = c.Subject.String()
			}
		}
	}
	return o, nil
}

// optionalHex reads a byte-string attribute as hex, "" if the object has
// none.
func (t *Token) optionalHex(h pkcs11.ObjectHandle, typ uint) string {
	v, err := t.raw.GetAttributeValue(t.session, h, []*pkcs11.Attribute{pkcs11.NewAttribute(typ, nil)})
	if err != nil || len(v) != 1 {
		return ""
	}
	return hex.EncodeToString(v[0].Value)
}

// ulong decodes a CK_ULONG attribute value, which modules return in the
// machine's byte order.
func ulong(b []byte) (uint, error) {
	switch len(b) {
	case 8:
		return uint(binary.NativeEndian.Uint64(b)), nil
	case 4:
		return uint(binary.NativeEndian.Uint32(b)), nil
	}
	return 0, fmt.Errorf("%d bytes is not a CK_ULONG", len(b))
}

// ObjectsWithID lists the objects that carry CKA_ID id, of any class and
// label: what a crash may have left of a key pair whose generation was
// announced (a half-made pair, an unlabelled key, a duplicate). It only
// reads. The user must be logged in to see private objects.
func (t *Token) ObjectsWithID(id []byte) ([]Object, error) {
	if len(id) == 0 {
		return nil, fmt.Errorf("token %q: no CKA_ID given", t.info.Label)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.usable(); err != nil {
		return nil, err
	}
	hs, err := t.findObjects([]*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_ID, id)})
	if err != nil {
		return nil, fmt.Errorf("token %q: find objects with CKA_ID %x (C_FindObjects): %w", t.info.Label, id, err)
	}
	out := make([]Object, 0, len(hs))
	for _, h := range hs {
		o, err := t.describe(h)
		if err != nil {
			return nil, fmt.Errorf("token %q: %w", t.info.Label, err)
		}
		out = append(out, o)
	}
	return out, nil
}

// DestroyObjectsWithID destroys every object carrying CKA_ID id and
// returns how many it destroyed. The user must be logged in.
func (t *Token) DestroyObjectsWithID(id []byte) (int, error) {
	if len(id) == 0 {
		return 0, fmt.Errorf("token %q: no CKA_ID given", t.info.Label)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.requireLogin(); err != nil {
		return 0, err
	}
	hs, err := t.findObjects([]*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_ID, id)})
	if err != nil {
		return 0, fmt.Errorf("token %q: find objects with CKA_ID %x (C_FindObjects): %w", t.info.Label, id, err)
	}
	n := 0
	for _, h := range hs {
		if err := t.raw.DestroyObject(t.session, h); err != nil {
			return n, fmt.Errorf("token %q: destroy an object with CKA_ID %x (C_DestroyObject): %w", t.info.Label, id, err)
		}
		n++
	}
	return n, nil
}
