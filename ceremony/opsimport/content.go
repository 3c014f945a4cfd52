package opsimport

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"

	"github.com/devicepki/ceremony/ceremony/backup"
	"github.com/devicepki/ceremony/ceremony/seal"
)

// content is what a file holds, decided from its bytes alone.
type content struct {
	certs      []*x509.Certificate // PEM CERTIFICATE blocks, or one DER certificate
	crl        *x509.RevocationList
	transcript bool       // looks like a transcript (verify decides)
	seal       *seal.Seal // parses as a transcript seal
	pub        crypto.PublicKey
	backup     bool // a wrapped key backup
}

const (
	pemBegin       = "-----BEGIN "
	pemCertificate = "CERTIFICATE"
	pemCRL         = "X509 CRL"
	pemPublicKey   = "PUBLIC KEY"
)

// parseContent decides what data is. An error is a refusal: a file that
// holds certificates or a CRL must hold nothing else, whole and undamaged.
func parseContent(data []byte) (content, error) {
	var c content
	if bytes.HasPrefix(data, []byte(`{"seq":`)) {
		// Checked first: a transcript quotes PEM blocks in its events.
		c.transcript = true
		return c, nil
	}
	if bytes.Contains(data, []byte(pemBegin)) {
		return parsePEM(data)
	}
	if len(data) == 0 || data[0] != 0x30 { // not a DER SEQUENCE
		return c, nil
	}
	if cert, err := x509.ParseCertificate(data); err == nil {
		c.certs = []*x509.Certificate{cert}
		return c, nil
	}
	// ParseRevocationList ignores bytes after the CRL.
	if crl, err := x509.ParseRevocationList(data); err == nil && len(crl.Raw) == len(data) {
		c.crl = crl
		return c, checkCRLNumber(crl)
	}
	if s, err := seal.Parse(data); err == nil {
		c.seal = s
		return c, nil
	}
	if pub, err := x509.ParsePKIXPublicKey(data); err == nil {
		c.pub = pub
	}
	return c, nil
}

// parsePEM decodes a file of PEM blocks. Certificates (one or more blocks)
// and a CRL (one block) must be alone in their file, with no text around
// them and no PEM headers: what is imported is exactly what was verified.
func parsePEM(data []byte) (content, error) {
	var (
		c      content
		blocks []*pem.Block
		extra  bool // text outside the blocks, a PEM header, or a damaged block
		rest   = data
	)
	for {
		rest = bytes.TrimLeft(rest, " \t\r\n")
		if len(rest) == 0 {
			break
		}
		i := bytes.Index(rest, []byte(pemBegin))
		if i < 0 {
			extra = true
			break
		}
		if i > 0 {
			extra = true
			rest = rest[i:]
		}
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			extra = true
			break
		}
		if len(b.Headers) > 0 {
			extra = true
		}
		blocks = append(blocks, b)
	}
	// pem.Decode skips a block it cannot decode and returns the next one.
	if bytes.Count(data, []byte(pemBegin)) != len(blocks) {
		extra = true
	}
	types := map[string]int{}
	for _, b := range blocks {
		types[b.Type]++
	}
	switch {
	case types[pemCertificate] > 0 || types[pemCRL] > 0:
		// below
	case len(blocks) == 0 && (bytes.Contains(data, []byte(pemBegin+pemCertificate+"-----")) || bytes.Contains(data, []byte(pemBegin+pemCRL+"-----"))):
		return c, fmt.Errorf("a damaged PEM certificate or CRL: it does not decode")
	case types[backup.PEMType] > 0:
		c.backup = true
		return c, nil
	case len(blocks) == 1 && !extra && blocks[0].Type == pemPublicKey:
		if pub, err := x509.ParsePKIXPublicKey(blocks[0].Bytes); err == nil {
			c.pub = pub
		}
		return c, nil
	default:
		return c, nil
	}

	if len(types) > 1 {
		var names []string
		for _, b := range blocks {
			names = append(names, b.Type)
		}
		return c, fmt.Errorf("PEM blocks of different types (%s): carry certificates, CRLs and other files separately", strings.Join(names, ", "))
	}
	if extra {
		return c, fmt.Errorf("text outside its PEM blocks, a PEM header, or a damaged block: a certificate or CRL file holds nothing else")
	}
	if types[pemCRL] > 0 {
		if len(blocks) > 1 {
			return c, fmt.Errorf("%d CRLs in one file: carry each CRL as its own file", len(blocks))
		}
		crl, err := x509.ParseRevocationList(blocks[0].Bytes)
		if err != nil {
			return c, fmt.Errorf("the CRL does not parse: %v", err)
		}
		if len(crl.Raw) != len(blocks[0].Bytes) {
			return c, fmt.Errorf("the CRL has trailing data inside its PEM block")
		}
		c.crl = crl
		return c, checkCRLNumber(crl)
	}
	for i, b := range blocks {
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			if len(blocks) == 1 {
				return c, fmt.Errorf("the certificate does not parse: %v", err)
			}
			return c, fmt.Errorf("certificate %d of %d does not parse: %v", i+1, len(blocks), err)
		}
		for j, prev := range c.certs {
			if prev.Equal(cert) {
				return c, fmt.Errorf("certificate %d is certificate %d again", i+1, j+1)
			}
		}
		c.certs = append(c.certs, cert)
	}
	return c, nil
}

// checkCRLNumber refuses a CRL without a CRL number: relying parties order
// CRLs by it.
func checkCRLNumber(crl *x509.RevocationList) error {
	if crl.Number == nil {
		return fmt.Errorf("the CRL has no CRL number")
	}
	return nil
}
