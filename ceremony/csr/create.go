package csr

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/devicepki/ceremony/ceremony/durable"
	"github.com/devicepki/ceremony/ceremony/keys"
	"github.com/devicepki/ceremony/ceremony/secret"
	"github.com/devicepki/ceremony/hsm"
)

// Spec is a CSR to make in a token (a factory's or a build system's HSM)
// for a root ceremony to certify. Everything in it is checked before the
// HSM is opened: the label with hsm.ValidateLabel, the subject by
// [ParseSubject], the output path by [CheckOutput] and the config by
// hsm.LoadConfig.
type Spec struct {
	// Config names the PKCS#11 module and the token.
	Config hsm.Config
	// Label is the label of the key pair that signs the CSR.
	Label string
	// Generate, if set, is the algorithm of a key pair to generate now,
	// labelled Label; a label already on the token is refused. If empty,
	// the key pair already labelled Label is used.
	Generate keys.Algorithm
	// Subject is the CSR's subject.
	Subject *Subject
	// Out is the file the CSR is written to (PEM, CERTIFICATE REQUEST).
	Out string
	// WriteFile writes the CSR file; nil means
	// durable.WriteFileExclusive. Tests make it fail.
	WriteFile func(path string, data []byte, perm fs.FileMode) error
}

// Made is what [Create] made, for the command line to print.
type Made struct {
	// Token is the label of the token.
	Token string
	// Label and Algorithm are the key pair's.
	Label     string
	Algorithm keys.Algorithm
	// Generated is true if the key pair was generated for this CSR.
	Generated bool
	// Fingerprint is keys.Fingerprint of the key pair's public key.
	Fingerprint string
	// Signature describes the CSR's signature algorithm.
	Signature string
	// FileSHA256 is the hex SHA-256 of the PEM file written, DERSHA256
	// that of the DER request inside it.
	FileSHA256, DERSHA256 string
}

// CheckOutput makes sure a CSR can be written to path: nothing is there
// (not even a dangling symbolic link), and the directory exists and
// accepts new files. It leaves nothing behind. Its errors do not repeat
// path; the caller names it.
func CheckOutput(path string) error {
	if _, err := os.Lstat(path); err == nil {
		return errors.New("already exists; refusing to overwrite it")
	} else if !errors.Is(err, fs.ErrNotExist) {
		return durable.Cause(err)
	}
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("directory %s does not exist", dir)
	case err != nil:
		return fmt.Errorf("directory %s: %v", dir, durable.Cause(err))
	case !st.IsDir():
		return fmt.Errorf("%s is not a directory", dir)
	}
	probe, err := os.CreateTemp(dir, ".ceremony-csr-probe-*")
	if err != nil {
		return fmt.Errorf("cannot create files in %s: %v", dir, durable.Cause(err))
	}
	probe.Close()
	return os.Remove(probe.Name())
}

// Create opens the token, logs in with pin (and wipes it), finds or
// generates the key pair, makes the CSR and checks it (it parses, its
// signature verifies, and it holds the token's public key and exactly the
// subject asked for), and writes it to spec.Out. The CSR is signed as
// keys.Algorithm.SignatureAlgorithm says for the key. A key pair it
// generated is destroyed again if anything after the generation fails,
// and the error says so. Create checks ctx before opening the HSM and
// before writing.
func Create(ctx context.Context, spec *Spec, pin *secret.Secret) (made *Made, err error) {
	defer pin.Wipe()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("interrupted before the HSM was opened: %w", err)
	}
	tok, err := hsm.Open(spec.Config)
	if err != nil {
		return nil, err
	}
	defer tok.Close()
	err = tok.Login(pin)
	pin.Wipe()
	if err != nil {
		return nil, fmt.Errorf("%w (nothing was changed)", err)
	}

	var kp *hsm.KeyPair
	if spec.Generate != "" {
		if kp, err = tok.GenerateKeyPair(spec.Label, spec.Generate); err != nil {
			return nil, fmt.Errorf("%w (nothing was changed)", err)
		}
		defer func() {
			if err == nil {
				return
			}
			made = nil
			if derr := tok.DestroyKeyPair(kp); derr != nil {
				err = fmt.Errorf("%w; and the key pair %q generated for this CSR could NOT be destroyed: %v; remove it from the token by hand", err, kp.Label, derr)
				return
			}
			err = fmt.Errorf("%w (the key pair %q generated for this CSR was destroyed again; nothing was changed)", err, kp.Label)
		}()
	} else {
		if kp, err = tok.FindKeyPair(spec.Label); err != nil {
			return nil, err
		}
	}

	der, err := sign(kp, spec.Subject)
	if err != nil {
		return nil, fmt.Errorf("token %q: key pair %q: %w", tok.Info().Label, kp.Label, err)
	}
	fp, err := keys.Fingerprint(kp.Public())
	if err != nil {
		return nil, fmt.Errorf("key pair %q: %w", kp.Label, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("interrupted before the CSR was written: %w", err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	write := spec.WriteFile
	if write == nil {
		write = durable.WriteFileExclusive
	}
	if err := write(spec.Out, data, 0o644); err != nil {
		return nil, fmt.Errorf("write CSR: %w", err)
	}
	sum, derSum := sha256.Sum256(data), sha256.Sum256(der)
	return &Made{
		Token: tok.Info().Label, Label: kp.Label, Algorithm: kp.Algorithm,
		Generated: spec.Generate != "", Fingerprint: fp, Signature: kp.Algorithm.SignatureName(),
		FileSHA256: hex.EncodeToString(sum[:]), DERSHA256: hex.EncodeToString(derSum[:]),
	}, nil
}

// sign makes the CSR with kp and checks it: it parses, its signature
// verifies, and it holds kp's public key and exactly the subject asked for.
func sign(kp *hsm.KeyPair, s *Subject) ([]byte, error) {
	sigAlg := kp.Algorithm.SignatureAlgorithm()
	if sigAlg == x509.UnknownSignatureAlgorithm {
		return nil, fmt.Errorf("no signature algorithm for a %s key", kp.Algorithm)
	}
	raw, err := s.DER()
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		RawSubject:         raw,
		SignatureAlgorithm: sigAlg,
	}, kp)
	if err != nil {
		return nil, fmt.Errorf("sign CSR: %w", err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	switch {
	case err != nil:
		return nil, fmt.Errorf("the CSR just made does not parse: %w", err)
	case csr.SignatureAlgorithm != sigAlg:
		return nil, fmt.Errorf("the CSR just made is signed with %s, not %s", csr.SignatureAlgorithm, sigAlg)
	case !keys.SamePublicKey(csr.PublicKey, kp.Public()):
		return nil, errors.New("the CSR just made does not hold the token's public key")
	case !bytes.Equal(csr.RawSubject, raw):
		return nil, errors.New("the CSR just made does not hold the subject asked for")
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("the CSR's signature does not verify with the token's public key: %w", err)
	}
	return der, nil
}
