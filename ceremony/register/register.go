// Package register is the issuance register a token keeps beside its CA
// keys: for each issuer certificate, the certificates it issued, the last
// CRL number it used and the certificates it revoked. CRL numbers then
// rise monotonically across ceremonies, every CRL lists all earlier
// revocations too, and only a certificate this issuer issued can be
// revoked by serial number. The register is JSON in a private data object
// on the token (Label); every change is also recorded in the transcript.
package register

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"time"
)

// Label is the token data object holding the register.
const Label = "ceremony-register"

// Version is the register format.
const Version = 1

// Register is the whole register.
type Register struct {
	Version int                `json:"version"`
	Issuers map[string]*Issuer `json:"issuers"` // by the issuer certificate's SHA-256
}

// Issuer is what one issuer certificate did.
type Issuer struct {
	Subject string        `json:"subject"`
	Issued  []Certificate `json:"issued"`
	// CRLNumber is the last CRL number used (reserved before signing, so
	// a number is never used twice even if a ceremony fails after).
	CRLNumber int64        `json:"crl_number"`
	Revoked   []Revocation `json:"revoked"`
}

// Certificate is a certificate an issuer signed.
type Certificate struct {
	Serial   string `json:"serial"` // hex
	Subject  string `json:"subject"`
	SHA256   string `json:"sha256"`
	NotAfter string `json:"not_after"`
	IssuedAt string `json:"issued_at"`
	// PublicKeySHA256 is the certified key's fingerprint and Profile the
	// template's profile: a key is certified for one purpose only.
	PublicKeySHA256 string `json:"public_key_sha256,omitempty"`
	Profile         string `json:"profile,omitempty"`
	// Ceremony names the ceremony directory's script and start.
	Ceremony string `json:"ceremony"`
}

// Revocation is a certificate an issuer revoked.
type Revocation struct {
	Serial    string `json:"serial"` // hex
	Subject   string `json:"subject,omitempty"`
	Reason    string `json:"reason"`
	RevokedAt string `json:"revoked_at"`
	// PublicKeySHA256 is the revoked certificate's key, never to be
	// certified again.
	PublicKeySHA256 string `json:"public_key_sha256,omitempty"`
	// CRLNumber is the first CRL that listed it.
	CRLNumber int64 `json:"crl_number"`
}

// New returns an empty register.
func New() *Register { return &Register{Version: Version, Issuers: map[string]*Issuer{}} }

// Parse decodes a register strictly.
func Parse(data []byte) (*Register, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	r := &Register{}
	if err := dec.Decode(r); err != nil {
		return nil, fmt.Errorf("issuance register: %w", err)
	}
	if dec.More() {
		return nil, errors.New("issuance register: trailing data")
	}
	if r.Version != Version {
		return nil, fmt.Errorf("issuance register: version %d (this tool reads %d)", r.Version, Version)
	}
	if r.Issuers == nil {
		r.Issuers = map[string]*Issuer{}
	}
	for fp, is := range r.Issuers {
		if is == nil || is.CRLNumber < 0 {
			return nil, fmt.Errorf("issuance register: issuer %s: damaged entry", fp)
		}
	}
	return r, nil
}

// Marshal encodes the register.
func (r *Register) Marshal() ([]byte, error) { return json.Marshal(r) }

// Issuer returns the entry of the issuer certificate with SHA-256 fp,
// creating it if needed.
func (r *Register) Issuer(fp, subject string) *Issuer {
	is, ok := r.Issuers[fp]
	if !ok {
		is = &Issuer{Subject: subject}
		r.Issuers[fp] = is
	}
	return is
}

// Find returns the issued certificate with the serial (hex), or nil.
func (is *Issuer) Find(serial string) *Certificate {
	for i := range is.Issued {
		if is.Issued[i].Serial == serial {
			return &is.Issued[i]
		}
	}
	return nil
}

// FindRevoked returns the revocation of serial (hex), or nil.
func (is *Issuer) FindRevoked(serial string) *Revocation {
	for i := range is.Revoked {
		if is.Revoked[i].Serial == serial {
			return &is.Revoked[i]
		}
	}
	return nil
}

// KeyUse says what the register knows of a public key (by its SHA-256):
// the certificates that certify it, and whether any was revoked.
type KeyUse struct {
	Issued  []Certificate
	Revoked []Revocation
}

// Key returns what every issuer on the register did with the key fp.
func (r *Register) Key(fp string) KeyUse {
	var u KeyUse
	for _, is := range r.Issuers {
		for _, c := range is.Issued {
			if c.PublicKeySHA256 == fp {
				u.Issued = append(u.Issued, c)
			}
		}
		for _, rv := range is.Revoked {
			if rv.PublicKeySHA256 == fp {
				u.Revoked = append(u.Revoked, rv)
				continue
			}
			if c := is.Find(rv.Serial); c != nil && c.PublicKeySHA256 == fp {
				u.Revoked = append(u.Revoked, rv)
			}
		}
	}
	return u
}

// NextCRLNumber returns the number of a CRL issued at now: the issue time
// in UTC as the decimal digits YYYYMMDDhhmmss (20261122143005), or the
// number after the last one used if that is higher.
//
// The register keeps numbers increasing on one token; the time keeps them
// increasing across tokens that know nothing of each other, such as the
// root token and a token restored from its backup, each given the same
// previous CRL (a witness checks the clock at every ceremony). The numbers
// fit RFC 5280's 20 octets with room to spare.
func (is *Issuer) NextCRLNumber(now time.Time) *big.Int {
	n := is.CRLNumber + 1
	if t := CRLNumberAt(now); t > n {
		n = t
	}
	return big.NewInt(n)
}

// CRLNumberAt is the CRL number of a CRL issued at t: its UTC time as the
// decimal digits YYYYMMDDhhmmss.
func CRLNumberAt(t time.Time) int64 {
	t = t.UTC()
	return (((int64(t.Year())*100+int64(t.Month()))*100+int64(t.Day()))*100+int64(t.Hour()))*1e4 + int64(t.Minute())*100 + int64(t.Second())
}

// SortedRevoked returns the revocations ordered by serial number.
func (is *Issuer) SortedRevoked() []Revocation {
	out := append([]Revocation(nil), is.Revoked...)
	sort.Slice(out, func(i, j int) bool {
		a, _ := new(big.Int).SetString(out[i].Serial, 16)
		b, _ := new(big.Int).SetString(out[j].Serial, 16)
		if a == nil || b == nil {
			return out[i].Serial < out[j].Serial
		}
		return a.Cmp(b) < 0
	})
	return out
}
