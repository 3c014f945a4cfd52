// Package revoke reads revocations files: what a CRL ceremony revokes and
// why. A revocation names a certificate by its file (the strongest form:
// the ceremony checks the issuer's signature on it) or by its serial number
// (which must be on record as issued by that issuer), with a reason.
//
//	version: 1
//	revoke:
//	  - certificate: factory-b.crt.pem     # relative to this file
//	    reason: key-compromise
//	  - serial: 5f3a9c0e61d7b2a4...        # hex, as openssl prints it
//	    reason: superseded
//
// An empty list (revoke: []) renews the CRL: the next number, every earlier
// revocation, new dates. The file is decoded strictly and checked before
// the HSM is opened.
package revoke

import (
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"math/big"
	"path/filepath"
	"sort"
	"strings"

	"github.com/devicepki/ceremony/ceremony/durable"
	"github.com/devicepki/ceremony/ceremony/pki"
	"github.com/devicepki/ceremony/ceremony/strictyaml"
)

// Version is the revocations file format this package reads.
const Version = 1

type file struct {
	Version int     `yaml:"version"`
	Revoke  []entry `yaml:"revoke"`
}

type entry struct {
	Certificate string `yaml:"certificate"`
	Serial      string `yaml:"serial"`
	Reason      string `yaml:"reason"`
}

// Request is one certificate to revoke.
type Request struct {
	// Certificate is the certificate file's content, when the revocation
	// names a file; CertificatePath is that file.
	Certificate     *x509.Certificate
	CertificatePath string
	Serial          *big.Int
	// Reason is the name (pki.Reasons) and ReasonCode its RFC 5280 code.
	Reason     string
	ReasonCode int
}

// SerialHex returns the serial number as hex, as openssl prints it.
func (r *Request) SerialHex() string { return hex.EncodeToString(r.Serial.Bytes()) }

// maxFile bounds a revocations file.
const maxFile = 1 << 20

// Load reads and checks the revocations file at path.
func Load(path string) ([]Request, error) {
	data, err := durable.ReadRegularFile(path, maxFile)
	if err != nil {
		return nil, fmt.Errorf("revocations file %w", err)
	}
	return parse(path, data)
}

// parse decodes and checks a revocations file read from path; certificate
// files it names are read relative to path's directory.
func parse(path string, data []byte) ([]Request, error) {
	var f file
	doc, err := strictyaml.Decode(path, data, &f)
	if err != nil {
		return nil, err
	}
	if f.Version != Version {
		return nil, doc.Errorf("version", "must be %d", Version)
	}
	var out []Request
	seen := map[string]int{}
	for i, e := range f.Revoke {
		p := fmt.Sprintf("revoke[%d]", i)
		var r Request
		switch {
		case (e.Certificate == "") == (e.Serial == ""):
			return nil, doc.Errorf(p, "give certificate (a certificate file) or serial (hex), one of the two")
		case e.Certificate != "":
			r.CertificatePath = e.Certificate
			if !filepath.IsAbs(r.CertificatePath) {
				r.CertificatePath = filepath.Join(filepath.Dir(path), r.CertificatePath)
			}
			c, err := pki.ReadCertificateFile("certificate", r.CertificatePath)
			if err != nil {
				return nil, doc.Errorf(p+".certificate", "%v", err)
			}
			r.Certificate, r.Serial = c, c.SerialNumber
		default:
			s := strings.ToLower(strings.ReplaceAll(e.Serial, ":", ""))
			b, err := hex.DecodeString(s)
			if err != nil || len(b) == 0 || len(b) > 20 {
				return nil, doc.Errorf(p+".serial", "%q is not a serial number in hex (1 to 20 bytes)", e.Serial)
			}
			r.Serial = new(big.Int).SetBytes(b)
			if r.Serial.Sign() == 0 {
				return nil, doc.Errorf(p+".serial", "serial number 0 is never issued")
			}
		}
		code, ok := pki.Reasons[e.Reason]
		if !ok {
			return nil, doc.Errorf(p+".reason", "%q: one of %s", e.Reason, reasonNames())
		}
		r.Reason, r.ReasonCode = e.Reason, code
		if j, dup := seen[r.Serial.String()]; dup {
			return nil, doc.Errorf(p, "serial %s is already listed at revoke[%d]", r.SerialHex(), j)
		}
		seen[r.Serial.String()] = i
		out = append(out, r)
	}
	return out, nil
}

func reasonNames() string {
	var out []string
	for n := range pki.Reasons {
		out = append(out, n)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}
