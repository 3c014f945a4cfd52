// Package keys names the key algorithms a ceremony may use and computes the
// public-key fingerprints that transcripts and people compare.
//
// It holds no keys itself: private keys live in the HSM (package hsm).
package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Algorithm is a key type and size, spelled as in templates ("ecdsa-p384").
type Algorithm string

// The algorithms a ceremony may generate or accept. Weaker choices (RSA-2048,
// P-224) are deliberately absent.
const (
	ECDSAP256 Algorithm = "ecdsa-p256"
	ECDSAP384 Algorithm = "ecdsa-p384"
	ECDSAP521 Algorithm = "ecdsa-p521"
	RSA3072   Algorithm = "rsa-3072"
	RSA4096   Algorithm = "rsa-4096"
)

// algorithms holds each algorithm's parameters and the signature it makes
// by default: ECDSA with the hash matching the curve's strength, RSA
// PKCS #1 v1.5 with SHA-256.
var algorithms = map[Algorithm]struct {
	curve   elliptic.Curve
	bits    int
	sig     x509.SignatureAlgorithm
	hash    crypto.Hash
	sigName string
}{
	ECDSAP256: {curve: elliptic.P256(), sig: x509.ECDSAWithSHA256, hash: crypto.SHA256, sigName: "ECDSA with SHA-256"},
	ECDSAP384: {curve: elliptic.P384(), sig: x509.ECDSAWithSHA384, hash: crypto.SHA384, sigName: "ECDSA with SHA-384"},
	ECDSAP521: {curve: elliptic.P521(), sig: x509.ECDSAWithSHA512, hash: crypto.SHA512, sigName: "ECDSA with SHA-512"},
	RSA3072:   {bits: 3072, sig: x509.SHA256WithRSA, hash: crypto.SHA256, sigName: "RSA PKCS #1 v1.5 with SHA-256"},
	RSA4096:   {bits: 4096, sig: x509.SHA256WithRSA, hash: crypto.SHA256, sigName: "RSA PKCS #1 v1.5 with SHA-256"},
}

// Algorithms lists every supported algorithm, sorted.
func Algorithms() []Algorithm {
	return slices.Sorted(maps.Keys(algorithms))
}

// ParseAlgorithm returns the Algorithm named s, or an error listing the
// supported names.
func ParseAlgorithm(s string) (Algorithm, error) {
	a := Algorithm(s)
	if _, ok := algorithms[a]; !ok {
		names := make([]string, 0, len(algorithms))
		for _, a := range Algorithms() {
			names = append(names, string(a))
		}
		return "", fmt.Errorf("unsupported key algorithm %q (supported: %s)", s, strings.Join(names, ", "))
	}
	return a, nil
}

// IsECDSA reports whether a is an elliptic-curve algorithm.
func (a Algorithm) IsECDSA() bool { return algorithms[a].curve != nil }

// Curve returns the curve of an ECDSA algorithm, or nil.
func (a Algorithm) Curve() elliptic.Curve { return algorithms[a].curve }

// RSABits returns the modulus size of an RSA algorithm, or 0.
func (a Algorithm) RSABits() int { return algorithms[a].bits }

// SignatureAlgorithm returns the X.509 signature algorithm a key of
// algorithm a signs with: ECDSA with the hash matching the curve (P-256
// with SHA-256, P-384 with SHA-384, P-521 with SHA-512), RSA PKCS #1 v1.5
// with SHA-256. It is x509.UnknownSignatureAlgorithm for an unknown a.
//
// Certificates, CSRs and transcript seals all sign this way; this table is
// the one place that says so.
func (a Algorithm) SignatureAlgorithm() x509.SignatureAlgorithm { return algorithms[a].sig }

// Hash returns the digest a key of algorithm a signs (see
// [Algorithm.SignatureAlgorithm]), or 0 for an unknown a.
func (a Algorithm) Hash() crypto.Hash { return algorithms[a].hash }

// SignatureName describes [Algorithm.SignatureAlgorithm] for people, such
// as "ECDSA with SHA-384" or "RSA PKCS #1 v1.5 with SHA-256"; "" for an
// unknown a.
func (a Algorithm) SignatureName() string { return algorithms[a].sigName }

// Describe returns a human name such as "ECDSA P-384" or "RSA 3072".
func (a Algorithm) Describe() string {
	if c := a.Curve(); c != nil {
		return "ECDSA " + c.Params().Name
	}
	if b := a.RSABits(); b != 0 {
		return fmt.Sprintf("RSA %d", b)
	}
	return string(a)
}

// AlgorithmOf returns the Algorithm of a public key, or an error for key
// types and sizes that are not supported.
func AlgorithmOf(pub crypto.PublicKey) (Algorithm, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		for a, p := range algorithms {
			if p.curve != nil && p.curve == k.Curve {
				return a, nil
			}
		}
		return "", fmt.Errorf("unsupported elliptic curve %s", k.Curve.Params().Name)
	case *rsa.PublicKey:
		bits := k.N.BitLen()
		for a, p := range algorithms {
			if p.bits != 0 && p.bits == bits {
				return a, nil
			}
		}
		return "", fmt.Errorf("unsupported RSA key size %d bits", bits)
	default:
		return "", fmt.Errorf("unsupported public key type %T", pub)
	}
}

// Fingerprint is the SHA-256 of a DER SubjectPublicKeyInfo, as lower-case hex.
// It is the same value as
//
//	openssl pkey -pubin -outform DER | sha256sum
func Fingerprint(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("encode public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:]), nil
}

// SamePublicKey reports whether a and b encode to the same SubjectPublicKeyInfo.
func SamePublicKey(a, b crypto.PublicKey) bool {
	da, err := x509.MarshalPKIXPublicKey(a)
	if err != nil {
		return false
	}
	db, err := x509.MarshalPKIXPublicKey(b)
	if err != nil {
		return false
	}
	return string(da) == string(db)
}

// VerifyDigest checks sig, made by the private key of pub over digest (a
// hash of kind h): ECDSA signatures in ASN.1 form, RSA in PKCS #1 v1.5.
func VerifyDigest(pub crypto.PublicKey, h crypto.Hash, digest, sig []byte) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, digest, sig) {
			return errors.New("ECDSA signature does not verify")
		}
		return nil
	case *rsa.PublicKey:
		return rsa.VerifyPKCS1v15(k, h, digest, sig)
	}
	return fmt.Errorf("unsupported public key type %T", pub)
}

// Raw returns a public key in the bare form embedded verifiers (MCUboot
// and similar) compile in: for ECDSA the uncompressed SEC 1 point
// (0x04 || X || Y), for RSA the PKCS #1 RSAPublicKey DER.
func Raw(pub crypto.PublicKey) ([]byte, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		ek, err := k.ECDH()
		if err != nil {
			return nil, fmt.Errorf("raw public key: %w", err)
		}
		return ek.Bytes(), nil
	case *rsa.PublicKey:
		return x509.MarshalPKCS1PublicKey(k), nil
	}
	return nil, fmt.Errorf("raw public key: unsupported key type %T", pub)
}
