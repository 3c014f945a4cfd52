package hsm

import (
	"fmt"
	"slices"
	"strings"

	"github.com/miekg/pkcs11"

	"github.com/devicepki/ceremony/ceremony/keys"
)

// Modules differ in the mechanisms they offer, the key sizes they take and
// the PINs they accept. Capabilities is what one module and token say of
// themselves (C_GetMechanismList, C_GetMechanismInfo, C_GetTokenInfo),
// read without logging in, so that a ceremony can be checked against them
// before anyone acts. Whether the module takes the attributes that keep a
// backup under trusted keys is not in any list: it is probed with public
// session objects, which never reach the token's storage and are
// destroyed at once.

// Mechanism is a mechanism a module offers for a token, with the key
// sizes (in bits, or bytes for some mechanisms: as the module reports them)
// and the CKF_ flags of its CK_MECHANISM_INFO.
type Mechanism struct {
	Type       uint   `json:"type"`
	Name       string `json:"name"`
	MinKeySize uint   `json:"min_key_size"`
	MaxKeySize uint   `json:"max_key_size"`
	Flags      uint   `json:"flags"`
}

// Capabilities is what a token's module offers: its mechanisms and the PIN
// lengths the token accepts.
type Capabilities struct {
	Module     string      `json:"module"`
	Token      string      `json:"token"`
	Mechanisms []Mechanism `json:"mechanisms"`
	MinPIN     int         `json:"min_pin_length"`
	MaxPIN     int         `json:"max_pin_length"`
	Trust      Trust       `json:"trust"`
}

// Trust is what a module said when a public AES session key was created
// with each of the attributes that restrict a backup to trusted wrapping
// keys. A module that refuses either cannot make a backup under a trusted
// key.
type Trust struct {
	// Probed is false where the module would not create a plain session
	// key (a slot without a token, a read-only module): then nothing is
	// known, and the fields below are empty.
	Probed bool `json:"probed"`
	// Trusted is the module's error for CKA_TRUSTED (false, which anyone
	// may set), "" if it took it.
	Trusted string `json:"cka_trusted,omitempty"`
	// WrapWithTrusted is the module's error for CKA_WRAP_WITH_TRUSTED, ""
	// if it took it.
	WrapWithTrusted string `json:"cka_wrap_with_trusted,omitempty"`
	// Note says why nothing is known, where Probed is false.
	Note string `json:"note,omitempty"`
}

// Refused says, in a line, which trust attributes the module refused and
// how, or "" if it refused none (or was not probed).
func (t Trust) Refused() string {
	var out []string
	if t.Trusted != "" {
		out = append(out, "CKA_TRUSTED on a wrapping key ("+t.Trusted+")")
	}
	if t.WrapWithTrusted != "" {
		out = append(out, "CKA_WRAP_WITH_TRUSTED ("+t.WrapWithTrusted+")")
	}
	return strings.Join(out, " and ")
}

// String says what the probe found, for people.
func (t Trust) String() string {
	switch {
	case !t.Probed:
		return "not probed (" + t.Note + ")"
	case t.Refused() == "":
		return "CKA_TRUSTED and CKA_WRAP_WITH_TRUSTED taken"
	}
	return "refuses " + t.Refused()
}

// probeTrust creates, in a session of its own, a public AES session key
// without trust attributes, then one with CKA_TRUSTED false and one with
// CKA_WRAP_WITH_TRUSTED true, and destroys each; closing the session
// removes whatever a refusal left.
func probeTrust(raw *pkcs11.Ctx, slot uint) Trust {
	sh, err := raw.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return Trust{Note: "C_OpenSession: " + err.Error()}
	}
	defer raw.CloseSession(sh)
	create := func(extra ...*pkcs11.Attribute) string {
		h, err := raw.CreateObject(sh, append([]*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
			pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, "ceremony-trust-probe"),
			pkcs11.NewAttribute(pkcs11.CKA_VALUE, make([]byte, 32)),
		}, extra...))
		if err != nil {
			return "C_CreateObject: " + err.Error()
		}
		_ = raw.DestroyObject(sh, h)
		return ""
	}
	if e := create(); e != "" {
		return Trust{Note: "a plain public AES session key: " + e}
	}
	return Trust{Probed: true,
		Trusted:         create(pkcs11.NewAttribute(pkcs11.CKA_TRUSTED, false)),
		WrapWithTrusted: create(pkcs11.NewAttribute(pkcs11.CKA_WRAP_WITH_TRUSTED, true)),
	}
}

// Capabilities reads what the token's module offers for its slot.
func (t *Token) Capabilities() (*Capabilities, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.usable(); err != nil {
		return nil, err
	}
	return readCapabilities(t.raw, t.slot, t.cfg.Module, t.info.Label)
}

// Capabilities reads what the blank token's module offers for its slot.
func (b *Blank) Capabilities() (*Capabilities, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, fmt.Errorf("blank token %q: closed", b.cfg.Token.Label)
	}
	return readCapabilities(b.raw, b.slot, b.cfg.Module, b.cfg.Token.Label)
}

func readCapabilities(raw *pkcs11.Ctx, slot uint, module, label string) (*Capabilities, error) {
	ti, err := raw.GetTokenInfo(slot)
	if err != nil {
		return nil, fmt.Errorf("token %q of %s: C_GetTokenInfo: %w", label, module, err)
	}
	list, err := raw.GetMechanismList(slot)
	if err != nil {
		return nil, fmt.Errorf("token %q of %s: C_GetMechanismList: %w", label, module, err)
	}
	c := &Capabilities{Module: module, Token: label, MinPIN: int(ti.MinPinLen), MaxPIN: int(ti.MaxPinLen)}
	for _, m := range list {
		mech := Mechanism{Type: m.Mechanism, Name: MechanismName(m.Mechanism)}
		if info, err := raw.GetMechanismInfo(slot, []*pkcs11.Mechanism{m}); err == nil {
			mech.MinKeySize, mech.MaxKeySize, mech.Flags = info.MinKeySize, info.MaxKeySize, info.Flags
		}
		c.Mechanisms = append(c.Mechanisms, mech)
	}
	slices.SortFunc(c.Mechanisms, func(a, b Mechanism) int { return int(a.Type) - int(b.Type) })
	c.Trust = probeTrust(raw, slot)
	return c, nil
}

// Need is a mechanism a ceremony needs from the module, and for what.
type Need struct {
	Mechanism uint
	// Or are mechanisms any one of which does instead of Mechanism.
	Or []uint
	// Flags are the CKF_ flags it must have (CKF_GENERATE_KEY_PAIR,
	// CKF_SIGN, CKF_WRAP, ...).
	Flags uint
	// KeyBits is the key size it must take, 0 for any. EC sizes are the
	// curve's field size in bits.
	KeyBits int
	// For says what the ceremony does with it ("generate ecdsa-p384 keys").
	For string
	// Instead, if not empty, says what a script could do instead where
	// the module lacks it.
	Instead string
}

// Check reports what the module lacks for the needs, one problem per
// line-sized message, or nil if it offers everything.
func (c *Capabilities) Check(needs ...Need) []string {
	var problems []string
	for _, n := range needs {
		if p := c.check(n); p != "" {
			if n.Instead != "" {
				p += "; instead: " + n.Instead
			}
			problems = append(problems, p)
		}
	}
	return problems
}

// check returns what the module lacks for n, or "". Of n's mechanisms, one
// that meets every requirement will do; otherwise the first the module
// offers is reported.
func (c *Capabilities) check(n Need) string {
	all := append([]uint{n.Mechanism}, n.Or...)
	first := ""
	var names []string
	for _, typ := range all {
		names = append(names, MechanismName(typ))
		m, ok := c.mechanism(typ)
		p := ""
		switch {
		case !ok:
			continue
		case m.Flags&n.Flags != n.Flags:
			p = fmt.Sprintf("the module offers %s without %s, needed to %s", m.Name, FlagNames(n.Flags&^m.Flags), n.For)
		case n.KeyBits > 0 && !m.takes(n.KeyBits, typ == pkcs11.CKM_EC_KEY_PAIR_GEN || typ == pkcs11.CKM_ECDSA):
			p = fmt.Sprintf("the module's %s takes keys of %d to %d bits, not %d, needed to %s", m.Name, m.MinKeySize, m.MaxKeySize, n.KeyBits, n.For)
		default:
			return ""
		}
		if first == "" {
			first = p
		}
	}
	if first != "" {
		return first
	}
	return fmt.Sprintf("the module offers no %s, needed to %s", strings.Join(names, " or "), n.For)
}

func (c *Capabilities) mechanism(t uint) (Mechanism, bool) {
	i := slices.IndexFunc(c.Mechanisms, func(m Mechanism) bool { return m.Type == t })
	if i < 0 {
		return Mechanism{}, false
	}
	return c.Mechanisms[i], true
}

// takes reports whether the mechanism takes keys of bits. A module that
// reports no sizes (0, 0) is taken at its word; some report EC sizes in
// bytes, which are accepted too where bytesToo.
func (m Mechanism) takes(bits int, bytesToo bool) bool {
	if m.MinKeySize == 0 && m.MaxKeySize == 0 {
		return true
	}
	in := func(n uint) bool { return n >= m.MinKeySize && (m.MaxKeySize == 0 || n <= m.MaxKeySize) }
	return in(uint(bits)) || (bytesToo && in(uint((bits+7)/8)))
}

// KeyNeeds returns what generating a key pair of algorithm a in the token
// and signing with it needs.
func KeyNeeds(a keys.Algorithm) []Need {
	switch {
	case a.IsECDSA():
		bits := a.Curve().Params().BitSize
		return []Need{
			{Mechanism: pkcs11.CKM_EC_KEY_PAIR_GEN, Flags: pkcs11.CKF_GENERATE_KEY_PAIR, KeyBits: bits, For: "generate " + string(a) + " keys"},
			{Mechanism: pkcs11.CKM_ECDSA, Flags: pkcs11.CKF_SIGN, KeyBits: bits, For: "sign with " + string(a) + " keys"},
		}
	case a.RSABits() > 0:
		return []Need{
			{Mechanism: pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN, Flags: pkcs11.CKF_GENERATE_KEY_PAIR, KeyBits: a.RSABits(), For: "generate " + string(a) + " keys"},
			{Mechanism: pkcs11.CKM_RSA_PKCS, Flags: pkcs11.CKF_SIGN, KeyBits: a.RSABits(), For: "sign with " + string(a) + " keys"},
		}
	}
	return nil
}

// SignNeeds returns what signing with a key of algorithm a needs.
func SignNeeds(a keys.Algorithm) []Need {
	return slices.DeleteFunc(KeyNeeds(a), func(n Need) bool { return n.Flags&pkcs11.CKF_SIGN == 0 })
}

// BackupNeeds returns what backing up a key with method m (the wrap
// under an AES key, and the check that unwraps it inside the HSM) needs.
// For RFC 5649 either constant will do: which one is RFC 5649 on the
// module is found by a known-answer test when the backup is made. A
// method this package does not know needs nothing here (no backup).
func BackupNeeds(m Method) []Need {
	const check = " and check the backup inside the HSM"
	switch m {
	case MethodRFC5649:
		return []Need{{Mechanism: pkcs11.CKM_AES_KEY_WRAP_PAD, Or: []uint{CKM_AES_KEY_WRAP_KWP}, Flags: pkcs11.CKF_WRAP | pkcs11.CKF_UNWRAP,
			For:     "wrap the key for its backup (RFC 5649)" + check,
			Instead: "method: aes-cbc-pad (CKM_AES_CBC_PAD; with allow_untrusted_wrap if the module refuses CKA_TRUSTED or CKA_WRAP_WITH_TRUSTED), or method: none (no backup; approved_by a role)"}}
	case MethodAESCBCPad:
		return []Need{{Mechanism: pkcs11.CKM_AES_CBC_PAD, Flags: pkcs11.CKF_WRAP | pkcs11.CKF_UNWRAP,
			For:     "wrap the key for its backup (AES-CBC with padding)" + check,
			Instead: "method: rfc5649 (CKM_AES_KEY_WRAP_PAD or CKM_AES_KEY_WRAP_KWP), or method: none (no backup; approved_by a role)"}}
	}
	return nil
}

// RestoreNeeds returns what restoring a backup made with method m needs.
func RestoreNeeds(m Method) []Need {
	switch m {
	case MethodRFC5649:
		return []Need{{Mechanism: pkcs11.CKM_AES_KEY_WRAP_PAD, Or: []uint{CKM_AES_KEY_WRAP_KWP}, Flags: pkcs11.CKF_UNWRAP, For: "unwrap the backup (RFC 5649)"}}
	case MethodAESCBCPad:
		return []Need{{Mechanism: pkcs11.CKM_AES_CBC_PAD, Flags: pkcs11.CKF_UNWRAP, For: "unwrap the backup (AES-CBC with padding)"}}
	}
	return nil
}

// mechanismNames names the mechanisms this program uses or reports.
var mechanismNames = map[uint]string{
	pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN: "CKM_RSA_PKCS_KEY_PAIR_GEN",
	pkcs11.CKM_RSA_PKCS:              "CKM_RSA_PKCS",
	pkcs11.CKM_RSA_PKCS_PSS:          "CKM_RSA_PKCS_PSS",
	pkcs11.CKM_SHA256_RSA_PKCS:       "CKM_SHA256_RSA_PKCS",
	pkcs11.CKM_EC_KEY_PAIR_GEN:       "CKM_EC_KEY_PAIR_GEN",
	pkcs11.CKM_ECDSA:                 "CKM_ECDSA",
	pkcs11.CKM_ECDSA_SHA256:          "CKM_ECDSA_SHA256",
	pkcs11.CKM_ECDSA_SHA384:          "CKM_ECDSA_SHA384",
	pkcs11.CKM_AES_KEY_GEN:           "CKM_AES_KEY_GEN",
	pkcs11.CKM_AES_CBC_PAD:           "CKM_AES_CBC_PAD",
	pkcs11.CKM_AES_KEY_WRAP:          "CKM_AES_KEY_WRAP",
	pkcs11.CKM_AES_KEY_WRAP_PAD:      "CKM_AES_KEY_WRAP_PAD",
	0x210B:                           "CKM_AES_KEY_WRAP_KWP",
	0x1055:                           "CKM_EC_EDWARDS_KEY_PAIR_GEN",
	0x1057:                           "CKM_EDDSA",
	pkcs11.CKM_SHA256:                "CKM_SHA256",
}

// MechanismName names a mechanism: CKM_ECDSA, or its number in hex.
func MechanismName(m uint) string {
	if n, ok := mechanismNames[m]; ok {
		return n
	}
	return fmt.Sprintf("mechanism 0x%X", m)
}

// FlagNames names CKF_ mechanism flags.
func FlagNames(f uint) string {
	var out []string
	for _, fl := range []struct {
		flag uint
		name string
	}{
		{pkcs11.CKF_GENERATE_KEY_PAIR, "CKF_GENERATE_KEY_PAIR"}, {pkcs11.CKF_GENERATE, "CKF_GENERATE"},
		{pkcs11.CKF_SIGN, "CKF_SIGN"}, {pkcs11.CKF_VERIFY, "CKF_VERIFY"},
		{pkcs11.CKF_WRAP, "CKF_WRAP"}, {pkcs11.CKF_UNWRAP, "CKF_UNWRAP"},
		{pkcs11.CKF_ENCRYPT, "CKF_ENCRYPT"}, {pkcs11.CKF_DECRYPT, "CKF_DECRYPT"},
	} {
		if f&fl.flag != 0 {
			out = append(out, fl.name)
		}
	}
	return strings.Join(out, " and ")
}
