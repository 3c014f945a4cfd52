package cli

import (
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/devicepki/ceremony/ceremony/csr"
	"github.com/devicepki/ceremony/ceremony/durable"
	"github.com/devicepki/ceremony/ceremony/keys"
	"github.com/devicepki/ceremony/ceremony/secret"
	"github.com/devicepki/ceremony/hsm"
)

const csrUsage = `Usage:
  ceremony csr --config HSM.yaml --label KEY-LABEL [--generate ALGORITHM]
               --subject "/C=DE/O=Example Devices GmbH/CN=Example Factory Berlin Issuing CA"
               (--pin-file FILE | --pin-env VAR) --out FILE.csr.pem

csr makes a PKCS #10 certificate signing request, signed inside the token by
the key pair labelled KEY-LABEL, for a factory's or a build system's key to
be certified at a root ceremony. The private key never leaves the token.

  --generate ALGORITHM  generate a new key pair (ecdsa-p256, ecdsa-p384,
                        ecdsa-p521, rsa-3072, rsa-4096) labelled KEY-LABEL;
                        a label already on the token is refused. Without
                        it, the key pair already labelled KEY-LABEL is used.
  --subject DN          in openssl's -subj form: /TYPE=value pairs, TYPE one
                        of C, ST, L, O, OU, CN, each at most once, CN
                        required, printable characters, \/ for a slash in
                        a value and \\ for a backslash.
  --pin-file FILE       the user PIN, read from FILE (one trailing newline
                        is ignored); or
  --pin-env VAR         the user PIN, from the environment variable VAR.
                        There is no flag taking the PIN itself.
  --out FILE            where to write the CSR (PEM, CERTIFICATE REQUEST); it
                        must not exist, and its directory must.

The signature matches the key: ECDSA P-256 with SHA-256, P-384 with
SHA-384, P-521 with SHA-512, RSA PKCS #1 v1.5 with SHA-256. The CSR is
checked against the token's public key before it is written. Flags, the
subject, the HSM config and the output path are checked before the HSM is
opened; if anything fails after --generate made a key pair, that key pair
is destroyed again.

Exit status: 0 written; 1 failed (nothing changed); 2 usage.
`

// maxCSRPINFile bounds the size of a --pin-file.
const maxCSRPINFile = 1024

// writeCSR writes the CSR file; tests replace it to make the write fail.
var writeCSR = durable.WriteFileExclusive

// csrFlag is a string flag that may be given once; a second value is
// noted (Set does not fail, so the flag package does not echo it).
type csrFlag struct {
	name, v string
	set     bool
	twice   bool
}

func (f *csrFlag) String() string {
	if f == nil {
		return ""
	}
	return f.v
}

func (f *csrFlag) Set(v string) error {
	if f.set {
		f.twice = true
	}
	f.v, f.set = v, true
	return nil
}

var csrCmd = &Command{
	Name: "csr", Usage: csrUsage,
	Flags: func(fs *flag.FlagSet) Run {
		var f csrFlags
		for _, v := range []struct {
			v          *csrFlag
			name, help string
		}{
			{&f.configPath, "config", "HSM config `FILE`"},
			{&f.label, "label", "key pair `LABEL`"},
			{&f.generate, "generate", "generate a key pair of `ALGORITHM`"},
			{&f.subj, "subject", "subject `DN` (/C=../O=../CN=..)"},
			{&f.pinFile, "pin-file", "user PIN `FILE`"},
			{&f.pinEnv, "pin-env", "environment `VARIABLE` holding the user PIN"},
			{&f.out, "out", "CSR output `FILE`"},
		} {
			v.v.name = v.name
			fs.Var(v.v, v.name, v.help)
		}
		return func(env *Env, pos []string) error {
			err := csrRun(env, &f, pos)
			if err != nil && strings.Contains(err.Error(), "\n") {
				// One line, whatever the error joined.
				one := errors.New(strings.ReplaceAll(err.Error(), "\n", "; "))
				if _, usage := errors.AsType[*UsageError](err); usage {
					return &UsageError{one}
				}
				return one
			}
			return err
		}
	},
}

// csrFlags are the flags of csr.
type csrFlags struct {
	configPath, label, generate, subj, pinFile, pinEnv, out csrFlag
}

func csrRun(env *Env, f *csrFlags, pos []string) error {
	if len(pos) > 0 {
		// Not echoed: a PIN typed in the wrong place must not be printed.
		return usagef("csr takes no arguments besides its flags (got %d; see 'ceremony csr --help')", len(pos))
	}
	for _, v := range []*csrFlag{&f.configPath, &f.label, &f.generate, &f.subj, &f.pinFile, &f.pinEnv, &f.out} {
		if v.twice {
			// Not echoed either: one of them may be a PIN.
			return usagef("--%s given twice", v.name)
		}
	}
	spec, err := checkCSRFlags(f.configPath.v, f.label.v, f.generate.v, f.subj.v, f.pinFile.v, f.pinEnv.v, f.out.v)
	if err != nil {
		return err
	}
	pin, err := readPINFlag(f.pinFile.v, f.pinEnv.v)
	if err != nil {
		return err
	}
	made, err := csr.Create(env.Ctx, spec, pin)
	if errors.Is(err, hsm.ErrKeyNotFound) {
		err = fmt.Errorf("%w (give --generate ALGORITHM to generate one)", err)
	}
	if err != nil {
		return err
	}
	stdout := env.Stdout
	how := "existing key pair"
	if made.Generated {
		how = "generated now"
	}
	fmt.Fprintf(stdout, "CSR for key pair %q on token %q written to %s\n", made.Label, made.Token, spec.Out)
	fmt.Fprintf(stdout, "  key:        %s, %s (%s), %s\n", made.Label, made.Algorithm, made.Algorithm.Describe(), how)
	fmt.Fprintf(stdout, "  public key: sha256 %s\n", made.Fingerprint)
	fmt.Fprintf(stdout, "  subject:    %s\n", spec.Subject)
	fmt.Fprintf(stdout, "  signature:  %s, verified with the token's public key\n", made.Signature)
	fmt.Fprintf(stdout, "  csr:        %s\n", spec.Out)
	fmt.Fprintf(stdout, "              sha256 %s\n", made.FileSHA256)
	fmt.Fprintf(stdout, "  request:    sha256 %s (the DER request inside the PEM file)\n", made.DERSHA256)
	return nil
}

// readPINFlag returns the user PIN from --pin-file or --pin-env. Its
// errors never repeat the file or variable name given: someone may have
// typed the PIN itself there. A variable name that is not one is a usage
// error.
func readPINFlag(file, env string) (*secret.Secret, error) {
	pin, err := secret.Read(secret.Source{File: file, Env: env}, secret.ReadOptions{MaxFileSize: maxCSRPINFile, Named: "there"})
	var re *secret.ReadError
	if errors.As(err, &re) {
		err = fmt.Errorf("--pin-%s: %w", re.Field, re)
		if errors.Is(err, secret.ErrEnvName) {
			err = &UsageError{err}
		}
	}
	return pin, err
}

// checkCSRFlags checks everything that can be checked without the HSM: the
// flags, the subject, the output path and the HSM config.
func checkCSRFlags(configPath, label, generate, subj, pinFile, pinEnv, out string) (*csr.Spec, error) {
	switch {
	case configPath == "":
		return nil, usagef("--config FILE is required: it names the PKCS#11 module and the token")
	case label == "":
		return nil, usagef("--label is required: the label of the key pair in the token")
	case subj == "":
		return nil, usagef(`--subject is required, for example "/C=DE/O=Example Devices GmbH/CN=Example Factory Berlin Issuing CA"`)
	case out == "":
		return nil, usagef("--out FILE is required: where to write the CSR")
	case pinFile != "" && pinEnv != "":
		return nil, usagef("give one of --pin-file and --pin-env, not both")
	case pinFile == "" && pinEnv == "":
		return nil, usagef("the user PIN is required: give --pin-file FILE or --pin-env VAR")
	}
	spec := &csr.Spec{Label: label, Out: out, WriteFile: writeCSR}
	if err := hsm.ValidateLabel(label); err != nil {
		return nil, usagef("--label: %v", err)
	}
	if generate != "" {
		alg, err := keys.ParseAlgorithm(generate)
		if err != nil {
			return nil, usagef("--generate: %v", err)
		}
		spec.Generate = alg
	}
	s, err := csr.ParseSubject(subj)
	if err != nil {
		return nil, usagef("--subject: %v", err)
	}
	spec.Subject = s
	if err := csr.CheckOutput(out); err != nil {
		return nil, fmt.Errorf("--out %s: %w", out, err)
	}
	if spec.Config, err = hsm.LoadConfig(configPath); err != nil {
		return nil, err
	}
	return spec, nil
}
