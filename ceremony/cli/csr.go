package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

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

// csrUsageError is a failure that exits with ExitUsage.
type csrUsageError struct{ msg string }

func (e csrUsageError) Error() string { return e.msg }

func csrUsagef(format string, a ...any) error { return csrUsageError{fmt.Sprintf(format, a...)} }

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

// csrRequest is what the flags of csr ask for, checked.
type csrRequest struct {
	config   hsm.Config
	label    string
	generate keys.Algorithm // "" to use an existing key pair
	subject  *csrSubject
	pinFile  string
	pinEnv   string
	out      string
}

func csrCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ceremony csr", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var configPath, label, generate, subj, pinFile, pinEnv, out csrFlag
	for _, f := range []struct {
		v          *csrFlag
		name, help string
	}{
		{&configPath, "config", "HSM config `FILE`"},
		{&label, "label", "key pair `LABEL`"},
		{&generate, "generate", "generate a key pair of `ALGORITHM`"},
		{&subj, "subject", "subject `DN` (/C=../O=../CN=..)"},
		{&pinFile, "pin-file", "user PIN `FILE`"},
		{&pinEnv, "pin-env", "environment `VARIABLE` holding the user PIN"},
		{&out, "out", "CSR output `FILE`"},
	} {
		f.v.name = f.name
		fs.Var(f.v, f.name, f.help)
	}
	fail := func(err error) int {
		code := ExitFailure
		var ue csrUsageError
		if errors.As(err, &ue) {
			code = ExitUsage
		}
		// One line, whatever the error joined.
		msg := strings.ReplaceAll(err.Error(), "\n", "; ")
		fmt.Fprintf(stderr, "ceremony: csr: %s\n", msg)
		return code
	}
	pos, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, csrUsage)
		return ExitOK
	}
	if err != nil {
		return fail(csrUsagef("%v (see 'ceremony csr --help')", err))
	}
	if len(pos) > 0 {
		// Not echoed: a PIN typed in the wrong place must not be printed.
		return fail(csrUsagef("csr takes no arguments besides its flags (got %d; see 'ceremony csr --help')", len(pos)))
	}
	for _, f := range []*csrFlag{&configPath, &label, &generate, &subj, &pinFile, &pinEnv, &out} {
		if f.twice {
			// Not echoed either: one of them may be a PIN.
			return fail(csrUsagef("--%s given twice", f.name))
		}
	}
	req, err := checkCSRFlags(configPath.v, label.v, generate.v, subj.v, pinFile.v, pinEnv.v, out.v)
	if err != nil {
		return fail(err)
	}
	if err := makeCSR(ctx, req, stdout); err != nil {
		return fail(err)
	}
	return ExitOK
}

// checkCSRFlags checks everything that can be checked without the HSM: the
// flags, the subject, the output path and the HSM config.
func checkCSRFlags(configPath, label, generate, subj, pinFile, pinEnv, out string) (*csrRequest, error) {
	switch {
	case configPath == "":
		return nil, csrUsagef("--config FILE is required: it names the PKCS#11 module and the token")
	case label == "":
		return nil, csrUsagef("--label is required: the label of the key pair in the token")
	case subj == "":
		return nil, csrUsagef(`--subject is required, for example "/C=DE/O=Example Devices GmbH/CN=Example Factory Berlin Issuing CA"`)
	case out == "":
		return nil, csrUsagef("--out FILE is required: where to write the CSR")
	case pinFile != "" && pinEnv != "":
		return nil, csrUsagef("give one of --pin-file and --pin-env, not both")
	case pinFile == "" && pinEnv == "":
		return nil, csrUsagef("the user PIN is required: give --pin-file FILE or --pin-env VAR")
	}
	r := &csrRequest{label: label, pinFile: pinFile, pinEnv: pinEnv, out: out}
	if err := hsm.ValidateLabel(label); err != nil {
		return nil, csrUsagef("--label: %v", err)
	}
	if generate != "" {
		alg, err := keys.ParseAlgorithm(generate)
		if err != nil {
			return nil, csrUsagef("--generate: %v", err)
		}
		r.generate = alg
	}
	s, err := parseCSRSubject(subj)
	if err != nil {
		return nil, csrUsagef("--subject: %v", err)
	}
	r.subject = s
	if err := checkCSROutput(out); err != nil {
		return nil, err
	}
	if r.config, err = hsm.LoadConfig(configPath); err != nil {
		return nil, err
	}
	return r, nil
}

// checkCSROutput makes sure the CSR can be written to path: nothing is
// there (not even a dangling symbolic link), and the directory exists and
// accepts new files. It leaves nothing behind.
func checkCSROutput(path string) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("--out %s: already exists; refusing to overwrite it", path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("--out %s: %v", path, csrBareError(err))
	}
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("--out %s: directory %s does not exist", path, dir)
	case err != nil:
		return fmt.Errorf("--out %s: directory %s: %v", path, dir, csrBareError(err))
	case !st.IsDir():
		return fmt.Errorf("--out %s: %s is not a directory", path, dir)
	}
	probe, err := os.CreateTemp(dir, ".ceremony-csr-probe-*")
	if err != nil {
		return fmt.Errorf("--out %s: cannot create files in %s: %v", path, dir, csrBareError(err))
	}
	probe.Close()
	return os.Remove(probe.Name())
}

// csrBareError strips the path from a file error, keeping what went wrong.
func csrBareError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

var csrEnvName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// readCSRPIN returns the user PIN from --pin-file or --pin-env. Its errors
// never repeat the file or variable name given: someone may have typed the
// PIN itself there.
func readCSRPIN(r *csrRequest) (*secret.Secret, error) {
	if r.pinEnv != "" {
		if !csrEnvName.MatchString(r.pinEnv) {
			return nil, csrUsagef("--pin-env takes the name of an environment variable holding the PIN (letters, digits and _), not the PIN")
		}
		v, ok := os.LookupEnv(r.pinEnv)
		switch {
		case !ok:
			return nil, errors.New("--pin-env: the environment variable named there is not set")
		case v == "":
			return nil, errors.New("--pin-env: the environment variable named there is empty")
		}
		return secret.FromString(v), nil
	}
	buf, err := durable.ReadRegularFile(r.pinFile, maxCSRPINFile)
	defer clear(buf)
	switch {
	case errors.Is(err, durable.ErrNotRegular):
		return nil, errors.New("--pin-file: the file named there is not a regular file")
	case errors.Is(err, durable.ErrTooLarge):
		return nil, fmt.Errorf("--pin-file: the file named there is larger than %d bytes", maxCSRPINFile)
	case err != nil:
		return nil, fmt.Errorf("--pin-file: cannot read the file named there: %v", csrBareError(err))
	}
	b := buf
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if m := len(b); m > 0 && b[m-1] == '\r' {
			b = b[:m-1]
		}
	}
	if len(b) == 0 {
		return nil, errors.New("--pin-file: the file named there is empty")
	}
	return secret.New(b), nil
}

// csrSignatureAlgorithm returns the CSR signature algorithm for a key.
func csrSignatureAlgorithm(alg keys.Algorithm) (x509.SignatureAlgorithm, string, error) {
	switch alg {
	case keys.ECDSAP256:
		return x509.ECDSAWithSHA256, "ECDSA with SHA-256", nil
	case keys.ECDSAP384:
		return x509.ECDSAWithSHA384, "ECDSA with SHA-384", nil
	case keys.ECDSAP521:
		return x509.ECDSAWithSHA512, "ECDSA with SHA-512", nil
	}
	if alg.RSABits() != 0 {
		return x509.SHA256WithRSA, "RSA PKCS #1 v1.5 with SHA-256", nil
	}
	return 0, "", fmt.Errorf("no signature algorithm for a %s key", alg)
}

// makeCSR opens the token, logs in, finds or generates the key pair, makes
// and checks the CSR, and writes it. A key pair it generated is destroyed
// again if anything after the generation fails.
func makeCSR(ctx context.Context, r *csrRequest, stdout io.Writer) (err error) {
	pin, err := readCSRPIN(r)
	if err != nil {
		return err
	}
	defer pin.Wipe()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("interrupted before the HSM was opened: %w", err)
	}
	tok, err := hsm.Open(r.config)
	if err != nil {
		return err
	}
	defer tok.Close()
	err = tok.Login(pin)
	pin.Wipe()
	if err != nil {
		return fmt.Errorf("%w (nothing was changed)", err)
	}

	var kp *hsm.KeyPair
	if r.generate != "" {
		if kp, err = tok.GenerateKeyPair(r.label, r.generate); err != nil {
			return fmt.Errorf("%w (nothing was changed)", err)
		}
		defer func() {
			if err == nil {
				return
			}
			if derr := tok.DestroyKeyPair(kp); derr != nil {
				err = fmt.Errorf("%w; and the key pair %q generated for this CSR could NOT be destroyed: %v; remove it from the token by hand", err, kp.Label, derr)
				return
			}
			err = fmt.Errorf("%w (the key pair %q generated for this CSR was destroyed again; nothing was changed)", err, kp.Label)
		}()
	} else {
		if kp, err = tok.FindKeyPair(r.label); err != nil {
			if errors.Is(err, hsm.ErrKeyNotFound) {
				return fmt.Errorf("%w (give --generate ALGORITHM to generate one)", err)
			}
			return err
		}
	}

	der, sigName, err := signCSR(kp, r.subject)
	if err != nil {
		return fmt.Errorf("token %q: key pair %q: %w", tok.Info().Label, kp.Label, err)
	}
	fp, err := keys.Fingerprint(kp.Public())
	if err != nil {
		return fmt.Errorf("key pair %q: %w", kp.Label, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("interrupted before the CSR was written: %w", err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	if err := writeCSR(r.out, data, 0o644); err != nil {
		return fmt.Errorf("write CSR: %w", err)
	}
	sum, derSum := sha256.Sum256(data), sha256.Sum256(der)

	how := "existing key pair"
	if r.generate != "" {
		how = "generated now"
	}
	fmt.Fprintf(stdout, "CSR for key pair %q on token %q written to %s\n", kp.Label, tok.Info().Label, r.out)
	fmt.Fprintf(stdout, "  key:        %s, %s (%s), %s\n", kp.Label, kp.Algorithm, kp.Algorithm.Describe(), how)
	fmt.Fprintf(stdout, "  public key: sha256 %s\n", fp)
	fmt.Fprintf(stdout, "  subject:    %s\n", r.subject)
	fmt.Fprintf(stdout, "  signature:  %s, verified with the token's public key\n", sigName)
	fmt.Fprintf(stdout, "  csr:        %s\n", r.out)
	fmt.Fprintf(stdout, "              sha256 %s\n", hex.EncodeToString(sum[:]))
	fmt.Fprintf(stdout, "  request:    sha256 %s (the DER request inside the PEM file)\n", hex.EncodeToString(derSum[:]))
	return nil
}

// signCSR makes the CSR with kp and checks it: it parses, its signature
// verifies, and it holds kp's public key and exactly the subject asked for.
func signCSR(kp *hsm.KeyPair, s *csrSubject) (der []byte, sigName string, err error) {
	sigAlg, sigName, err := csrSignatureAlgorithm(kp.Algorithm)
	if err != nil {
		return nil, "", err
	}
	raw, err := s.der()
	if err != nil {
		return nil, "", err
	}
	der, err = x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		RawSubject:         raw,
		SignatureAlgorithm: sigAlg,
	}, kp)
	if err != nil {
		return nil, "", fmt.Errorf("sign CSR: %w", err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	switch {
	case err != nil:
		return nil, "", fmt.Errorf("the CSR just made does not parse: %w", err)
	case csr.SignatureAlgorithm != sigAlg:
		return nil, "", fmt.Errorf("the CSR just made is signed with %s, not %s", csr.SignatureAlgorithm, sigAlg)
	case !keys.SamePublicKey(csr.PublicKey, kp.Public()):
		return nil, "", errors.New("the CSR just made does not hold the token's public key")
	case !bytes.Equal(csr.RawSubject, raw):
		return nil, "", errors.New("the CSR just made does not hold the subject asked for")
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, "", fmt.Errorf("the CSR's signature does not verify with the token's public key: %w", err)
	}
	return der, sigName, nil
}

// csrSubjectType is an attribute type --subject accepts.
type csrSubjectType struct {
	oid asn1.ObjectIdentifier
	max int // upper bound in characters (RFC 5280, Appendix A)
}

var csrSubjectTypes = map[string]csrSubjectType{
	"C":  {oid: asn1.ObjectIdentifier{2, 5, 4, 6}, max: 2},
	"ST": {oid: asn1.ObjectIdentifier{2, 5, 4, 8}, max: 128},
	"L":  {oid: asn1.ObjectIdentifier{2, 5, 4, 7}, max: 128},
	"O":  {oid: asn1.ObjectIdentifier{2, 5, 4, 10}, max: 64},
	"OU": {oid: asn1.ObjectIdentifier{2, 5, 4, 11}, max: 64},
	"CN": {oid: asn1.ObjectIdentifier{2, 5, 4, 3}, max: 64},
}

const csrSubjectTypeList = "C, ST, L, O, OU, CN"

// csrSubjectAttr is one TYPE=value of a subject.
type csrSubjectAttr struct {
	typ, value string
}

// csrSubject is a distinguished name in the order given, one attribute per
// RDN, as openssl -subj makes it.
type csrSubject struct {
	attrs []csrSubjectAttr
}

// parseCSRSubject parses the openssl -subj form "/C=DE/O=Example/CN=Name":
// TYPE among C, ST, L, O, OU, CN, each at most once, CN required, no empty
// values, printable characters only, "\/" for a slash and "\\" for a
// backslash in a value.
func parseCSRSubject(s string) (*csrSubject, error) {
	if !utf8.ValidString(s) {
		return nil, errors.New("not valid UTF-8")
	}
	if !strings.HasPrefix(s, "/") {
		return nil, fmt.Errorf("%q must start with / (the openssl -subj form, /C=DE/O=Example Devices GmbH/CN=Name)", s)
	}
	// Split at the slashes that are not escaped.
	var (
		parts []string
		cur   strings.Builder
		rest  = s[1:]
	)
	for i := 0; i < len(rest); i++ {
		switch c := rest[i]; c {
		case '\\':
			if i+1 == len(rest) || (rest[i+1] != '/' && rest[i+1] != '\\') {
				return nil, fmt.Errorf("%q: a backslash may only escape / or \\ (component %d)", s, len(parts)+1)
			}
			i++
			cur.WriteByte(rest[i])
		case '/':
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	parts = append(parts, cur.String())

	out := &csrSubject{}
	seen := map[string]bool{}
	for i, p := range parts {
		n := i + 1
		if p == "" {
			return nil, fmt.Errorf("%q: component %d is empty", s, n)
		}
		typ, value, ok := strings.Cut(p, "=")
		if !ok {
			return nil, fmt.Errorf("%q: component %d %q is not TYPE=value", s, n, p)
		}
		st, known := csrSubjectTypes[typ]
		switch {
		case !known:
			return nil, fmt.Errorf("%q: component %d: unknown attribute type %q (use %s)", s, n, typ, csrSubjectTypeList)
		case seen[typ]:
			return nil, fmt.Errorf("%q: component %d: %s given twice (each type at most once)", s, n, typ)
		case value == "":
			return nil, fmt.Errorf("%q: component %d: %s has an empty value", s, n, typ)
		case value[0] == ' ' || value[len(value)-1] == ' ':
			return nil, fmt.Errorf("%q: component %d: %s value %q has leading or trailing spaces", s, n, typ, value)
		case typ == "C" && !isCSRCountryCode(value):
			return nil, fmt.Errorf("%q: component %d: C value %q is not a two-letter country code such as DE", s, n, value)
		case utf8.RuneCountInString(value) > st.max:
			return nil, fmt.Errorf("%q: component %d: %s value is longer than %d characters", s, n, typ, st.max)
		}
		for _, r := range value {
			if !unicode.IsPrint(r) {
				return nil, fmt.Errorf("%q: component %d: %s value contains a non-printable character %U", s, n, typ, r)
			}
		}
		seen[typ] = true
		out.attrs = append(out.attrs, csrSubjectAttr{typ: typ, value: value})
	}
	if !seen["CN"] {
		return nil, fmt.Errorf("%q: CN is required (the common name, such as /CN=Example Factory Berlin Issuing CA)", s)
	}
	return out, nil
}

func isCSRCountryCode(v string) bool {
	return len(v) == 2 && v[0] >= 'A' && v[0] <= 'Z' && v[1] >= 'A' && v[1] <= 'Z'
}

// String returns the subject in the -subj form, escaped as it was parsed.
func (s *csrSubject) String() string {
	var b strings.Builder
	esc := strings.NewReplacer(`\`, `\\`, `/`, `\/`)
	for _, a := range s.attrs {
		b.WriteString("/" + a.typ + "=" + esc.Replace(a.value))
	}
	return b.String()
}

// der encodes the subject as an X.501 Name, one attribute per RDN in the
// order given. Values are PrintableString where the characters allow it,
// UTF8String otherwise (as Go encodes certificate names).
func (s *csrSubject) der() ([]byte, error) {
	var seq pkix.RDNSequence
	for _, a := range s.attrs {
		seq = append(seq, pkix.RelativeDistinguishedNameSET{{Type: csrSubjectTypes[a.typ].oid, Value: a.value}})
	}
	return asn1.Marshal(seq)
}
