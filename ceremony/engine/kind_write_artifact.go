package engine

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"

	"github.com/devicepki/ceremony/ceremony/keys"
	"github.com/devicepki/ceremony/ceremony/pki"
	"github.com/devicepki/ceremony/ceremony/script"
	"github.com/devicepki/ceremony/ceremony/seal"
	"github.com/devicepki/ceremony/ceremony/transcript"
)

// KindWriteArtifact writes the output of an earlier step to artifacts/.
const KindWriteArtifact = "write-artifact"

var writeArtifactKind = script.Kind{
	Name:    KindWriteArtifact,
	Summary: "writes the output of an earlier step (key, certificate or CRL) to artifacts/ in one or more formats, each recorded with its SHA-256",
	New:     func() script.Spec { return &writeArtifactStep{} },
}

// Artifact formats a write-artifact step can write.
const (
	FormatCertificate  = "certificate"    // NAME.crt.pem
	FormatChain        = "chain"          // NAME.chain.pem: the certificate and its issuers up to the root
	FormatPublicKey    = "public-key"     // NAME.pub.pem: SubjectPublicKeyInfo, PEM
	FormatPublicKeyDER = "public-key-der" // NAME.pub.der: SubjectPublicKeyInfo, DER
	FormatPublicKeyRaw = "public-key-raw" // NAME.pub.raw: the bare key (EC point, or PKCS#1 RSA key)
	FormatCRL          = "crl"            // NAME.crl.pem
)

// formatSuffix is the file name suffix of each format.
var formatSuffix = map[string]string{
	FormatCertificate: ".crt.pem", FormatChain: ".chain.pem", FormatPublicKey: ".pub.pem",
	FormatPublicKeyDER: ".pub.der", FormatPublicKeyRaw: ".pub.raw", FormatCRL: ".crl.pem",
}

type writeArtifactStep struct {
	asksNothing
	noPrepare
	// Source is the id of the step whose output is written.
	Source string `yaml:"source"`
	// Name is the artifact's base name: NAME.crt.pem for a certificate,
	// NAME.pub.pem for a public key.
	Name string `yaml:"name"`
	// Formats are the files written; the default is the certificate,
	// the public key, or the CRL, as the source is.
	Formats []string `yaml:"formats"`
}

func (k *writeArtifactStep) Validate(c *script.Check) error {
	src, err := c.Earlier("source", k.Source, KindGenerateKey, KindIssueCertificate, KindIssueCRL)
	if err != nil {
		return err
	}
	var allowed []string
	switch s := src.Spec.(type) {
	case *generateKeyStep:
		allowed = []string{FormatPublicKey, FormatPublicKeyDER, FormatPublicKeyRaw}
	case *issueCertificateStep:
		allowed = []string{FormatCertificate, FormatChain, FormatPublicKey, FormatPublicKeyDER, FormatPublicKeyRaw}
		if s.Issuer == IssuerSelf {
			allowed = slices.DeleteFunc(allowed, func(f string) bool { return f == FormatChain })
		}
	case *issueCRLStep:
		allowed = []string{FormatCRL}
	}
	for j, f := range k.Formats {
		field := fmt.Sprintf("formats[%d]", j)
		if !slices.Contains(allowed, f) {
			return c.Errorf(field, "%q: a %s source can be written as %s", f, src.Kind, strings.Join(allowed, ", "))
		}
		if slices.Index(k.Formats, f) != j {
			return c.Errorf(field, "%q listed twice", f)
		}
	}
	return c.ArtifactName("name", k.Name, k.files(c.Script))
}

// formats returns the formats the step writes: those it lists, or the
// default for its source.
func (k *writeArtifactStep) formats(s *script.Script) []string {
	if len(k.Formats) > 0 {
		return k.Formats
	}
	if src := s.StepIndex(k.Source); src >= 0 {
		switch s.Steps[src].Spec.(type) {
		case *generateKeyStep:
			return []string{FormatPublicKey}
		case *issueCRLStep:
			return []string{FormatCRL}
		}
	}
	return []string{FormatCertificate}
}

// files returns the file names the step writes under artifacts/, in the
// order of its formats.
func (k *writeArtifactStep) files(s *script.Script) []string {
	var out []string
	for _, f := range k.formats(s) {
		out = append(out, k.Name+formatSuffix[f])
	}
	return out
}

// run writes the files of a write-artifact step, in the order of its
// formats, each recorded with its digest.
func (k *writeArtifactStep) run(_ context.Context, r *run, info StepInfo) (string, error) {
	var texts []string
	files := k.files(r.script)
	for j, format := range k.formats(r.script) {
		data, what, err := r.artifactContent(k.Source, format)
		if err != nil {
			return "", err
		}
		art, err := r.writeArtifact(info, files[j], data)
		if err != nil {
			return "", err
		}
		r.changed = true
		r.artifacts = append(r.artifacts, art)
		text := fmt.Sprintf("Wrote %s %s (%d bytes, SHA-256 %s)", what, art.Path, art.Size, art.SHA256)
		fingerprint := ""
		if iss := r.certs[k.Source]; iss != nil && format == FormatCertificate {
			fingerprint = seal.Fingerprint(iss.Cert)
			r.fingerprints[art.Path] = fingerprint
			text += "; certificate SHA-256 (fingerprint) " + fingerprint
		}
		if err := r.record(transcript.Entry{Step: info.ID, Text: text, Data: transcript.ArtifactWritten{
			Path: art.Path, SHA256: art.SHA256, Size: art.Size, Source: k.Source, Content: what, Format: format,
			CertificateSHA256: fingerprint,
		}}); err != nil {
			return "", err
		}
		texts = append(texts, text)
	}
	return strings.Join(texts, "; "), nil
}

// artifactContent returns the bytes of one format of a step's output and
// what they are.
func (r *run) artifactContent(source, format string) ([]byte, string, error) {
	var pub crypto.PublicKey
	switch {
	case r.crls[source] != nil:
		return r.crls[source].PEM(), "CRL", nil
	case r.certs[source] != nil:
		iss := r.certs[source]
		switch format {
		case FormatCertificate:
			return iss.PEM(), "certificate", nil
		case FormatChain:
			chain, err := r.chain(iss.Cert)
			return chain, "certificate chain", err
		}
		pub = iss.Cert.PublicKey
	case r.keys[source] != nil:
		pub = r.keys[source].Public()
	default:
		return nil, "", fmt.Errorf("step %q has no output to write", source)
	}
	switch format {
	case FormatPublicKey:
		data, err := pki.PublicKeyPEM(pub)
		return data, "public key", err
	case FormatPublicKeyDER:
		data, err := x509.MarshalPKIXPublicKey(pub)
		return data, "public key (DER SubjectPublicKeyInfo)", err
	case FormatPublicKeyRaw:
		data, err := keys.Raw(pub)
		return data, "raw public key", err
	}
	return nil, "", fmt.Errorf("format %q does not apply to the output of step %q", format, source)
}

// chain returns c and its issuers up to a self-signed root, in PEM: the
// certificates of this run and those stored on the token.
func (r *run) chain(c *x509.Certificate) ([]byte, error) {
	pool := []*x509.Certificate{}
	for _, iss := range r.certs {
		pool = append(pool, iss.Cert)
	}
	onToken, err := r.tok.Certificates()
	if err != nil {
		return nil, err
	}
	pool = append(pool, onToken...)
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	for depth := 0; !bytes.Equal(c.RawIssuer, c.RawSubject); depth++ {
		var parent *x509.Certificate
		for _, p := range pool {
			if bytes.Equal(p.RawSubject, c.RawIssuer) && c.CheckSignatureFrom(p) == nil {
				parent = p
				break
			}
		}
		if parent == nil || depth > 8 {
			return nil, fmt.Errorf("certificate %q: its issuer %q is neither on the token nor issued in this ceremony, so the chain cannot be written", c.Subject, c.Issuer)
		}
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: parent.Raw})...)
		c = parent
	}
	return out, nil
}
