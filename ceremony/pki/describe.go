package pki

import (
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/devicepki/ceremony/ceremony/keys"
)

// Field is one line of a decoded summary: what the quorum reads before it
// approves a signature, and what the transcript records.
type Field struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

// DescribeCertificate decodes c for people: subject, issuer, serial,
// validity, key and its fingerprint, every extension, and the SHA-256 of
// the to-be-signed content.
func DescribeCertificate(c *x509.Certificate) []Field {
	alg, err := keys.AlgorithmOf(c.PublicKey)
	key := string(alg)
	if err == nil {
		key = alg.Describe()
	}
	fp, _ := keys.Fingerprint(c.PublicKey)
	out := []Field{
		{"Subject", c.Subject.String()},
		{"Issuer", c.Issuer.String()},
		{"Serial", hex.EncodeToString(c.SerialNumber.Bytes())},
		{"Valid from", c.NotBefore.UTC().Format(time.RFC3339)},
		{"Valid until", c.NotAfter.UTC().Format(time.RFC3339)},
		{"Public key", key},
		{"Public key SHA-256", fp},
		{"Signature algorithm", c.SignatureAlgorithm.String()},
		{"Basic constraints", basicConstraintsText(c)},
		{"Key usage", strings.Join(keyUsageNames(c.KeyUsage), ", ")},
	}
	if eku := EKUNames(c); eku != "" {
		out = append(out, Field{"Extended key usage", eku})
	}
	if nc := constraintsText(c); nc != "" {
		out = append(out, Field{"Name constraints", nc})
	}
	if len(c.CRLDistributionPoints) > 0 {
		out = append(out, Field{"CRL distribution points", strings.Join(c.CRLDistributionPoints, ", ")})
	}
	if len(c.IssuingCertificateURL)+len(c.OCSPServer) > 0 {
		out = append(out, Field{"Authority information access", strings.Join(append(append([]string{}, c.IssuingCertificateURL...), c.OCSPServer...), ", ")})
	}
	if len(c.Policies) > 0 {
		var ps []string
		for _, p := range c.Policies {
			ps = append(ps, p.String())
		}
		out = append(out, Field{"Policies", strings.Join(ps, ", ")})
	}
	out = append(out,
		Field{"Subject key identifier", hex.EncodeToString(c.SubjectKeyId)},
		Field{"Authority key identifier", hex.EncodeToString(c.AuthorityKeyId)},
		Field{"TBS SHA-256", sha256Hex(c.RawTBSCertificate)})
	return out
}

// DescribeCRL decodes a CRL for people: issuer, number, update times and
// every revoked entry with its reason.
func DescribeCRL(c *x509.RevocationList) []Field {
	out := []Field{
		{"Issuer", c.Issuer.String()},
		{"CRL number", c.Number.String()},
		{"This update", c.ThisUpdate.UTC().Format(time.RFC3339)},
		{"Next update", c.NextUpdate.UTC().Format(time.RFC3339)},
		{"Signature algorithm", c.SignatureAlgorithm.String()},
		{"Revoked certificates", fmt.Sprint(len(c.RevokedCertificateEntries))},
	}
	for _, e := range c.RevokedCertificateEntries {
		out = append(out, Field{"Revoked", fmt.Sprintf("serial %s since %s, reason %s",
			hex.EncodeToString(e.SerialNumber.Bytes()), e.RevocationTime.UTC().Format(time.RFC3339), ReasonName(e.ReasonCode))})
	}
	out = append(out, Field{"Authority key identifier", hex.EncodeToString(c.AuthorityKeyId)},
		Field{"TBS SHA-256", sha256Hex(c.RawTBSRevocationList)})
	return out
}

func basicConstraintsText(c *x509.Certificate) string {
	if !c.BasicConstraintsValid {
		return "absent"
	}
	if !c.IsCA {
		return "CA:FALSE"
	}
	if n := pathLen(c); n >= 0 {
		return fmt.Sprintf("CA:TRUE, path length %d", n)
	}
	return "CA:TRUE, no path length limit"
}

// EKUNames lists a certificate's extended key usages by name.
func EKUNames(c *x509.Certificate) string {
	var out []string
	for _, e := range c.ExtKeyUsage {
		name := fmt.Sprintf("EKU %d", e)
		for n, k := range extKeyUsages {
			if k == e {
				name = n
			}
		}
		out = append(out, name)
	}
	for _, o := range c.UnknownExtKeyUsage {
		if o.Equal(DocumentSigningOID) {
			out = append(out, "documentSigning")
			continue
		}
		out = append(out, o.String())
	}
	return strings.Join(out, ", ")
}

func constraintsText(c *x509.Certificate) string {
	var out []string
	add := func(what string, list []string) {
		if len(list) > 0 {
			out = append(out, what+" "+strings.Join(list, " "))
		}
	}
	add("permitted DNS", c.PermittedDNSDomains)
	add("excluded DNS", c.ExcludedDNSDomains)
	add("permitted email", c.PermittedEmailAddresses)
	add("excluded email", c.ExcludedEmailAddresses)
	add("permitted URI", c.PermittedURIDomains)
	add("excluded URI", c.ExcludedURIDomains)
	for _, n := range c.PermittedIPRanges {
		out = append(out, "permitted IP "+n.String())
	}
	for _, n := range c.ExcludedIPRanges {
		out = append(out, "excluded IP "+n.String())
	}
	if len(out) > 0 && c.PermittedDNSDomainsCritical {
		out = append(out, "(critical)")
	}
	return strings.Join(out, "; ")
}

// Reasons are the CRL reason codes (RFC 5280 5.3.1) a revocation may give,
// by the names revocation files use. certificateHold and removeFromCRL are
// not offered: an offline root's revocations are final. cACompromise is not
// offered either: the CA/Browser Forum lint refuses it in a root's CRL, and
// key-compromise says the same of an intermediate's key.
var Reasons = map[string]int{
	"unspecified":            0,
	"key-compromise":         1,
	"affiliation-changed":    3,
	"superseded":             4,
	"cessation-of-operation": 5,
	"privilege-withdrawn":    9,
}

// allReasons names every RFC 5280 reason code, for CRLs read back.
var allReasons = map[string]int{
	"unspecified": 0, "key-compromise": 1, "ca-compromise": 2, "affiliation-changed": 3, "superseded": 4,
	"cessation-of-operation": 5, "certificate-hold": 6, "remove-from-crl": 8, "privilege-withdrawn": 9, "aa-compromise": 10,
}

// ReasonName returns the name of a reason code.
func ReasonName(code int) string {
	for n, c := range allReasons {
		if c == code {
			return n
		}
	}
	return fmt.Sprintf("code %d", code)
}

// ReasonCode returns the code of a reason name (any RFC 5280 reason).
func ReasonCode(name string) (int, bool) {
	c, ok := allReasons[name]
	return c, ok
}
