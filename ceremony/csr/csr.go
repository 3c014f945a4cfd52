// Package csr reads the certificate signing requests (PKCS #10) brought into
// a ceremony and applies the key policy to the keys they carry; and it
// makes such requests with a key pair in a token ([Create]), for the
// factories and build systems whose keys a root ceremony certifies.
//
// The root key signs intermediate CAs and the firmware-signing certificate
// from these requests, so everything here happens before the HSM is asked to
// sign anything. A request is accepted only if the file holds exactly one
// request (PEM "CERTIFICATE REQUEST" or "NEW CERTIFICATE REQUEST", or raw
// DER) and nothing else, and its self-signature verifies. [CheckKey] then
// holds the public key to a policy stricter than public CA tooling: an
// algorithm the certificate template allows, and for RSA exponent 65537, no
// prime factor below 10000, no ROCA fingerprint and primes that are not
// close together.
//
// Every error is one line that names the file, says what is wrong with it
// and, where it helps, what to do. Errors never quote the file's contents;
// in particular a private key handed over by mistake is named as such and
// not echoed.
package csr

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/devicepki/ceremony/ceremony/durable"
	"github.com/devicepki/ceremony/ceremony/keys"
)

// MaxFileSize bounds the size of a CSR file read by [ReadFile]. A request
// is a few kilobytes; anything larger is the wrong file.
const MaxFileSize = 64 << 10

// Request is a certificate signing request whose encoding was checked and
// whose self-signature verified. Its key has not been held to a policy yet:
// call [Request.CheckKey] with what the certificate template allows.
type Request struct {
	// Path is the file the request came from (the name given to Parse).
	Path string
	// CSR is the parsed request.
	CSR *x509.CertificateRequest
	// DER is the request's DER encoding, exactly as signed by its key.
	DER []byte
	// SHA256 is the hex SHA-256 of DER, for the transcript.
	SHA256 string
}

// CheckKey holds the request's public key to the key policy (see the
// package function [CheckKey]) and returns its algorithm. Errors name the
// request's file.
func (r *Request) CheckKey(allowed []keys.Algorithm) (keys.Algorithm, error) {
	alg, err := CheckKey(r.CSR.PublicKey, allowed)
	if err != nil {
		return "", fmt.Errorf("%s: %w", displayName(r.Path), err)
	}
	return alg, nil
}

// ReadFile reads and parses the CSR in the file at path (see [Parse]). It
// refuses anything but a regular file of at most [MaxFileSize] bytes, so a
// FIFO or device named by mistake is refused rather than waited on.
func ReadFile(path string) (*Request, error) {
	name := displayName(path)
	data, err := durable.ReadRegularFile(path, MaxFileSize)
	switch {
	case errors.Is(err, durable.ErrNotRegular):
		return nil, fmt.Errorf("%s: %w (a directory, FIFO or device?): give the CSR file itself", name, err)
	case errors.Is(err, durable.ErrTooLarge):
		return nil, fmt.Errorf("%s: %w; a CSR is a few kilobytes: is this the right file?", name, err)
	case err != nil:
		return nil, fmt.Errorf("%s: %w", name, durable.Cause(err))
	}
	// The file might hold a private key given by mistake: do not leave it
	// in memory longer than needed. Parse keeps no reference to data.
	defer clear(data)
	return Parse(path, data)
}

const giveCSR = "give the CSR (PEM CERTIFICATE REQUEST)"

// Parse parses data, the contents of the file name, as exactly one
// certificate signing request: a PEM "CERTIFICATE REQUEST" or "NEW
// CERTIFICATE REQUEST" block, surrounded by nothing but white space, or the
// raw DER. It checks the request's self-signature (made with SHA-256 or
// stronger). The returned Request does not alias data.
func Parse(name string, data []byte) (*Request, error) {
	p := parser{name: displayName(name)}
	der, err := p.der(data)
	if err != nil {
		return nil, err
	}
	csr, err := p.request(der)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(der)
	return &Request{Path: name, CSR: csr, DER: der, SHA256: hex.EncodeToString(sum[:])}, nil
}

// parser carries the file name into each error.
type parser struct{ name string }

func (p parser) errorf(format string, args ...any) error {
	return fmt.Errorf("%s: %s", p.name, fmt.Sprintf(format, args...))
}

var (
	utf8BOM   = []byte("\xef\xbb\xbf")
	pemBegin  = []byte("-----BEGIN ")
	pemEnd    = []byte("-----END ")
	pemDashes = []byte("-----")
	csrTypes  = map[string]bool{"CERTIFICATE REQUEST": true, "NEW CERTIFICATE REQUEST": true}
	certTypes = map[string]bool{"CERTIFICATE": true, "X509 CERTIFICATE": true, "TRUSTED CERTIFICATE": true}
)

const (
	maxListed  = 4  // PEM block types listed in a "more than one block" error
	maxTypeLen = 40 // longer PEM types are not quoted
)

// der returns a copy of the DER request held in data, PEM or raw.
func (p parser) der(data []byte) ([]byte, error) {
	text := bytes.TrimSpace(bytes.TrimPrefix(data, utf8BOM))
	switch {
	case len(data) == 0:
		return nil, p.errorf("empty file: %s", giveCSR)
	case len(text) == 0:
		return nil, p.errorf("only white space, no CSR: %s", giveCSR)
	case len(bytes.Trim(data, "\x00")) == 0:
		return nil, p.errorf("only zero bytes (a copy that never completed?): %s", giveCSR)
	}
	if data[0] == 0x30 {
		// An ASN.1 SEQUENCE: raw DER, which must not be trimmed (its last
		// bytes may well be white-space values) nor searched for PEM lines
		// (its fields may hold any text).
		der := bytes.Clone(data)
		return der, p.checkDER(der, "the file")
	}
	// A private key anywhere in the file is reported first, whatever else
	// is wrong: the person who brought it needs to know.
	for _, typ := range pemTypes(data) {
		if strings.Contains(typ, "PRIVATE KEY") {
			return nil, p.privateKey("a PEM " + quoteType(typ) + " block")
		}
	}
	switch start := bytes.Index(text, pemBegin); {
	case start < 0:
		if looksLikeBase64DER(text) {
			return nil, p.errorf("base64 without the PEM BEGIN and END lines: give the whole PEM file")
		}
		what := "binary data"
		if utf8.Valid(data) {
			what = "text"
		}
		return nil, p.errorf("not a CSR: %s, neither PEM nor DER: %s", what, giveCSR)
	case start > 0:
		return nil, p.errorf("text before the PEM block (openssl req -text output?): give the PEM CSR alone")
	}
	block, rest := pem.Decode(text)
	if block == nil || bytes.Count(text[:len(text)-len(rest)], pemBegin) > 1 {
		// pem.Decode skips a broken block and returns a later one.
		return nil, p.brokenPEM(text)
	}
	switch {
	case certTypes[block.Type]:
		return nil, p.errorf("is a certificate, not a certificate signing request: %s", giveCSR)
	case !csrTypes[block.Type]:
		return nil, p.errorf("PEM %s block, not a certificate signing request: %s", quoteType(block.Type), giveCSR)
	}
	if rest = bytes.TrimSpace(rest); len(rest) > 0 {
		if types := pemTypes(rest); len(types) > 0 {
			listed := []string{quoteType(block.Type)}
			for i, t := range types {
				if i == maxListed {
					listed = append(listed, "…")
					break
				}
				listed = append(listed, quoteType(t))
			}
			return nil, p.errorf("holds %d PEM blocks (%s), not one: give one CSR per file", len(types)+1, strings.Join(listed, ", "))
		}
		return nil, p.errorf("unexpected data after the PEM %s block: give the CSR alone", block.Type)
	}
	if len(block.Headers) > 0 {
		return nil, p.errorf("PEM %s block has header lines, which a CSR never has: give the CSR as openssl req writes it", block.Type)
	}
	return block.Bytes, p.checkDER(block.Bytes, "the PEM block")
}

// checkDER reports a DER encoding (the file's, or a PEM block's) that is
// cut short or followed by more data, before the request parser's less
// specific errors. where is "the file" or "the PEM block".
func (p parser) checkDER(der []byte, where string) error {
	if len(der) == 0 {
		return p.errorf("%s is empty: %s", where, giveCSR)
	}
	if der[0] != 0x30 {
		return p.errorf("%s does not hold DER (an ASN.1 SEQUENCE): %s", where, giveCSR)
	}
	n, ok := derLength(der)
	switch {
	case !ok:
		return p.errorf("%s has an invalid DER length: %s", where, giveCSR)
	case n > len(der):
		return p.errorf("truncated DER: %s holds %d of the %d bytes its DER declares (the file was cut short?)", where, len(der), n)
	case n < len(der):
		return p.errorf("%d bytes of unexpected data after the DER in %s: give the CSR alone", len(der)-n, where)
	}
	return nil
}

func (p parser) privateKey(what string) error {
	return p.errorf("holds %s, not a certificate signing request: %s; a private key must never leave its owner", what, giveCSR)
}

// brokenPEM explains why the PEM block at the start of text does not
// decode.
func (p parser) brokenPEM(text []byte) error {
	line, _, _ := bytes.Cut(text, []byte("\n"))
	line = bytes.TrimRight(line, " \t\r")
	if !bytes.HasSuffix(line, pemDashes) || len(line) < len(pemBegin)+len(pemDashes) {
		return p.errorf("malformed PEM BEGIN line: %s", giveCSR)
	}
	typ := string(line[len(pemBegin) : len(line)-len(pemDashes)])
	endLine := []byte("-----END " + typ + "-----")
	end := bytes.Index(text, endLine)
	if end < 0 {
		if bytes.Contains(text, pemEnd) {
			return p.errorf("PEM BEGIN %s line has no matching END line: %s", quoteType(typ), giveCSR)
		}
		return p.errorf("truncated PEM: the %s block has no END line (the file was cut short?)", quoteType(typ))
	}
	body := text[len(line):end]
	if _, after, ok := bytes.Cut(body, []byte("\n\n")); ok && bytes.Contains(body[:len(body)-len(after)], []byte(":")) {
		body = after // skip RFC 1421 header lines
	}
	compact := bytes.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, body)
	if _, err := base64.StdEncoding.DecodeString(string(compact)); err != nil {
		var ce base64.CorruptInputError
		if errors.As(err, &ce) {
			return p.errorf("bad base64 in the PEM %s block (at character %d of its data): the file is damaged; copy it again", quoteType(typ), int64(ce)+1)
		}
		return p.errorf("bad base64 in the PEM %s block: the file is damaged; copy it again", quoteType(typ))
	}
	return p.errorf("malformed PEM %s block (its END line?): the file is damaged; copy it again", quoteType(typ))
}

// request parses a DER request and checks its self-signature.
func (p parser) request(der []byte) (*x509.CertificateRequest, error) {
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		if isPrivateKeyDER(der) {
			return nil, p.privateKey("a DER private key")
		}
		if _, cerr := x509.ParseCertificate(der); cerr == nil {
			return nil, p.errorf("is a certificate, not a certificate signing request: %s", giveCSR)
		}
		return nil, p.errorf("not a PKCS #10 certificate signing request: %s", goReason(err))
	}
	if csr.Version != 0 {
		return nil, p.errorf("PKCS #10 version is %d, but only version 0 (v1) exists: the request is malformed", csr.Version)
	}
	switch k := csr.PublicKey.(type) {
	case nil:
		return nil, p.errorf("public key of an unknown algorithm: the ceremony accepts RSA and ECDSA keys")
	case *rsa.PublicKey:
		// Go refuses to verify signatures by such keys; say why.
		if bits := k.N.BitLen(); bits < 1024 {
			return nil, p.errorf("RSA %d-bit key: far too small to be used at all: generate a new key", bits)
		}
	}
	if csr.PublicKeyAlgorithm == x509.DSA {
		return nil, p.errorf("DSA key: the ceremony accepts RSA and ECDSA keys: make the request again with one")
	}
	switch csr.SignatureAlgorithm {
	case x509.UnknownSignatureAlgorithm:
		return nil, p.errorf("signed with an unknown signature algorithm: make the request again with SHA-256 or stronger")
	case x509.MD2WithRSA, x509.MD5WithRSA, x509.SHA1WithRSA, x509.DSAWithSHA1, x509.ECDSAWithSHA1:
		return nil, p.errorf("signed with %s, which is not secure: make the request again with SHA-256 or stronger", csr.SignatureAlgorithm)
	}
	if err := csr.CheckSignature(); err != nil {
		if errors.Is(err, x509.ErrUnsupportedAlgorithm) {
			return nil, p.errorf("signature algorithm %s does not suit its %s key: the request is malformed", csr.SignatureAlgorithm, csr.PublicKeyAlgorithm)
		}
		return nil, p.errorf("signature does not verify: the request was altered or not signed by its key")
	}
	return csr, nil
}

// pemTypes returns the types of the PEM BEGIN lines in data, in order,
// whether or not their blocks decode.
func pemTypes(data []byte) []string {
	var types []string
	for {
		i := bytes.Index(data, pemBegin)
		if i < 0 {
			return types
		}
		data = data[i+len(pemBegin):]
		line, _, _ := bytes.Cut(data, []byte("\n"))
		typ, _, _ := bytes.Cut(line, pemDashes)
		types = append(types, string(typ))
	}
}

// quoteType returns a PEM type fit to appear in a message: itself if it is
// short, printable ASCII, and a neutral description otherwise.
func quoteType(typ string) string {
	if len(typ) == 0 || len(typ) > maxTypeLen {
		return "(unusual type)"
	}
	for i := 0; i < len(typ); i++ {
		if typ[i] < 0x20 || typ[i] > 0x7e {
			return "(unusual type)"
		}
	}
	return typ
}

// derLength returns the total length of the DER TLV at the start of der,
// as its header declares it.
func derLength(der []byte) (int, bool) {
	if len(der) < 2 {
		return 0, len(der) == 1 // one byte: cut short
	}
	l := int(der[1])
	if l < 0x80 {
		return 2 + l, true
	}
	n := l & 0x7f
	if n == 0 || n > 4 { // indefinite length, or absurdly long
		return 0, false
	}
	if len(der) < 2+n {
		return 2 + n, true
	}
	l = 0
	for _, b := range der[2 : 2+n] {
		l = l<<8 | int(b)
	}
	return 2 + n + l, true
}

// isPrivateKeyDER reports whether der parses as a private key in any of the
// usual encodings.
func isPrivateKeyDER(der []byte) bool {
	if _, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return true
	}
	if _, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return true
	}
	_, err := x509.ParseECPrivateKey(der)
	return err == nil
}

// looksLikeBase64DER reports whether data is base64 text (the inside of a
// PEM block without its BEGIN and END lines) of an ASN.1 structure.
func looksLikeBase64DER(data []byte) bool {
	compact := bytes.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, data)
	der, err := base64.StdEncoding.DecodeString(string(compact))
	return err == nil && len(der) > 0 && der[0] == 0x30
}

// goReason shortens an error from the Go parser to a brief printable
// reason.
func goReason(err error) string {
	s := strings.TrimPrefix(err.Error(), "x509: ")
	s = strings.TrimPrefix(s, "asn1: ")
	// Drop the internal detail of encoding/asn1's errors:
	// "structure error: tags don't match (16 vs {class:0 tag:2 …}) …".
	if i := strings.IndexAny(s, "({"); i > 0 {
		s = strings.TrimSpace(s[:i])
	}
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
	const max = 100
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}

// displayName returns name for a one-line message: as it is if it is
// printable, quoted otherwise (a newline in a file name must not split the
// line).
func displayName(name string) string {
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return strconv.Quote(name)
		}
	}
	if name == "" {
		return `""`
	}
	return name
}
