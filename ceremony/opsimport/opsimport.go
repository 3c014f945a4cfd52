// Package opsimport checks files carried out of a key ceremony against a
// pinned root, before ops import them into online systems, and says what
// each one is. It trusts nothing but the root: every certificate must chain
// to it, every CRL must be signed by it or by a CA among the inputs that
// chains to it, every transcript must be sealed under it, and any other file
// (a public key, say) must be an artifact of such a transcript, whose
// SHA-256 the transcript recorded. It is all or nothing: one file refused
// refuses them all, and Write writes all of them or none.
//
// Files are classified by their content, not their names. Names serve only
// to pair a transcript.jsonl with the transcript.sig, transcript.md,
// transcript.pdf and artifacts/ files of the same ceremony directory. A file carried under
// another name than the one a verified transcript recorded (a hand-made
// bundle that holds artifacts/x.pem as x.pem, say) is matched to that
// artifact by its SHA-256, which the sealed transcript vouches for, if
// exactly one recorded artifact has it; the report says it was matched by
// content.
//
// It is not the transport (the QR layer unpacks a bundle into files first)
// and not the command line; and it checks what the ceremony produced, not
// whether online systems should trust it now (an expired certificate is
// reported, not refused). A certificate that a CRL among the inputs
// revokes, or whose issuer it revokes, is refused: ops must not import it.
// A CRL must be current, though (checkCurrency): a stale one would tell
// online systems that nothing more was revoked; Options.AllowStaleCRL
// imports one anyway, for a reason the report records.
package opsimport

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"time"
	"unicode"

	"github.com/devicepki/ceremony/ceremony/backup"
	"github.com/devicepki/ceremony/ceremony/durable"
	"github.com/devicepki/ceremony/ceremony/keys"
	"github.com/devicepki/ceremony/ceremony/outdir"
	"github.com/devicepki/ceremony/ceremony/pki"
	"github.com/devicepki/ceremony/ceremony/qrtransfer"
	"github.com/devicepki/ceremony/ceremony/record"
	"github.com/devicepki/ceremony/ceremony/record/pdf"
	"github.com/devicepki/ceremony/ceremony/seal"
	"github.com/devicepki/ceremony/ceremony/verify"
)

// Limits on what Check reads.
const (
	// MaxFileSize bounds each input: a transcript of a long ceremony is
	// some tens of KiB, a certificate or CRL a few.
	MaxFileSize = 4 << 20
	// MaxInputs bounds the number of inputs.
	MaxInputs = 1000
)

// Input is one file to check.
type Input struct {
	// Name is where the file goes under the output directory: a relative,
	// slash-separated path ("artifacts/intermediate.crt.pem" for a file of
	// a bundle, the base name for a file given on the command line).
	Name string
	// Path is where to read it.
	Path string
	// Data is its content, if it is already in memory (a file of a bundle
	// just unpacked): then Path is not read, and only names the file.
	Data []byte
	// Origin names the file in messages: the path given, or
	// "bundle ABCD2345: artifacts/intermediate.crt.pem". Path (or Name) if
	// empty.
	Origin string
	// RevocationOnly: a CRL given to check the other inputs against
	// (import --crl), checked as any CRL is and not written.
	RevocationOnly bool
}

func (in Input) origin() string {
	switch {
	case in.Origin != "":
		return in.Origin
	case in.Path != "":
		return in.Path
	}
	return in.Name
}

// Kind is what an accepted file is.
type Kind int

// The kinds of accepted file.
const (
	// KindCertificate: one or more certificates (a certificate file or a
	// chain file), each chaining to the pinned root. See Item.Certificates.
	KindCertificate Kind = iota + 1
	// KindCRL: a CRL signed by the pinned root, or by a CA certificate
	// among the inputs that chains to it. See Item.CRL.
	KindCRL
	// KindTranscript: a transcript.jsonl, sealed, chained to the pinned
	// root, its carried artifacts intact. See Item.Transcript.
	KindTranscript
	// KindSeal: the transcript.sig beside a verified transcript.
	KindSeal
	// KindRecord: the transcript.md or transcript.pdf beside a verified
	// transcript, identical to the record rendered from it.
	KindRecord
	// KindArtifact: any other file that is an artifact of a verified
	// transcript among the inputs (public keys, say).
	KindArtifact
)

func (k Kind) String() string {
	switch k {
	case KindCertificate:
		return "certificate"
	case KindCRL:
		return "CRL"
	case KindTranscript:
		return "transcript"
	case KindSeal:
		return "transcript seal"
	case KindRecord:
		return "transcript record"
	case KindArtifact:
		return "artifact"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Role is what a certificate is for.
type Role int

// The roles of certificates.
const (
	// RoleRoot: the pinned root itself.
	RoleRoot Role = iota + 1
	// RoleIntermediateCA: a CA below the root (a factory or server CA).
	RoleIntermediateCA
	// RoleFirmwareSigning: an end-entity certificate with the extended key
	// usage codeSigning.
	RoleFirmwareSigning
	// RoleTranscriptSigning: a certificate fit to seal transcripts
	// (digitalSignature alone, extended key usage documentSigning).
	RoleTranscriptSigning
	// RoleVerification: a cloud CA registration (verification)
	// certificate: an end-entity certificate whose common name is the
	// registration code the cloud service gave.
	RoleVerification
	// RoleEndEntity: any other end-entity certificate.
	RoleEndEntity
)

func (r Role) String() string {
	switch r {
	case RoleRoot:
		return "pinned root"
	case RoleIntermediateCA:
		return "intermediate CA"
	case RoleFirmwareSigning:
		return "firmware signing"
	case RoleTranscriptSigning:
		return "transcript signing"
	case RoleVerification:
		return "verification"
	case RoleEndEntity:
		return "end entity"
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

// Report is the outcome of a Check that accepted every input.
type Report struct {
	// Root is the pinned root.
	Root *x509.Certificate
	// Items are the inputs, in the order given.
	Items []*Item
	// AllowStaleCRL is the reason given to import CRLs that are not
	// current (Options.AllowStaleCRL); each such CRL's Item has it as
	// StaleReason.
	AllowStaleCRL string
}

// Item is one accepted input and what it is. Title, Fields and Notes are
// for people (one line each, safe to print); the other fields for programs.
type Item struct {
	Input Input
	Kind  Kind
	// Title says what it is: `intermediate CA "Example Devices Factory
	// Berlin CA 1"`.
	Title  string
	Fields []pki.Field
	// Notes are what ops must not miss: REVOKED, EXPIRED, NOT YET VALID, a
	// CRL past its next update, a rehearsal, artifacts not carried.
	Notes  []string
	Size   int
	SHA256 string

	// Certificates are a KindCertificate file's certificates, in file order.
	Certificates []*Certificate
	// CRL and CRLSigner are a KindCRL file's CRL and the certificate whose
	// key signed it.
	CRL       *x509.RevocationList
	CRLSigner *x509.Certificate
	// StaleReason is set for a CRL that is not current (past its next
	// update, not yet valid, or without one), imported because of this
	// reason (Options.AllowStaleCRL); its Notes give the dates.
	StaleReason string
	// Transcript is a KindTranscript file's verification; for any other
	// file of a verified transcript's ceremony directory (its seal, its
	// record, an artifact it records, which may be a certificate or a
	// CRL), that transcript's.
	Transcript *verify.Result
	// Event is the event of Transcript that recorded the file as an
	// artifact, or 0.
	Event int
	// ArtifactPath is the path (relative to its ceremony directory) under
	// which Transcript recorded the file, if Event is set: the file's own
	// name, or, if ByContent, another one whose recorded SHA-256 the file
	// has.
	ArtifactPath string
	ByContent    bool

	data    []byte
	content content
	// match is the one recorded artifact of a verified transcript among
	// the inputs with this file's content, if the file is not recorded
	// under its own name; ambiguous lists them if there are several.
	match     *artifactMatch
	ambiguous []artifactMatch
}

// artifactMatch is an artifact a verified transcript records.
type artifactMatch struct {
	cer *ceremony
	a   record.Artifact
}

// Certificate is one certificate of a KindCertificate file.
type Certificate struct {
	Cert  *x509.Certificate
	Role  Role
	Title string
	// Fields and Notes are as the Item's; a one-certificate file's Item has
	// the same ones.
	Fields []pki.Field
	Notes  []string
	// Chain is the verified path from Cert to the pinned root, both
	// included (just the root for the root).
	Chain []*x509.Certificate
	// Revoked lists the CRLs among the inputs that revoke it.
	Revoked []Revocation
}

// Revocation is a CRL entry that revokes a certificate among the inputs.
type Revocation struct {
	CRL    *x509.RevocationList
	Origin string // the CRL file's Origin
	Reason int    // RFC 5280 reason code (pki.ReasonName)
	Time   time.Time
}

// Refusal is why Check refused: one line naming the input.
type Refusal struct {
	Origin string // the input's Origin; empty if no one input is at fault
	Reason string
}

func (r *Refusal) Error() string {
	if r.Origin == "" {
		return record.Printable(r.Reason)
	}
	return record.Printable(r.Origin + ": " + r.Reason)
}

func refuse(it *Item, format string, a ...any) error {
	return &Refusal{Origin: it.Input.origin(), Reason: fmt.Sprintf(format, a...)}
}

// checker holds what Check learns as it goes.
type checker struct {
	now time.Time
	// allowStale is the reason a CRL that is not current is imported.
	allowStale string
	root       *x509.Certificate
	// roots holds the pinned root; inter every other certificate among
	// the inputs, as candidate intermediates (made on first use).
	roots, inter *x509.CertPool
	items        []*Item
	byName       map[string]*Item
	// certs are the verified certificates of every KindCertificate input.
	certs []*Certificate
	// ceremonies are the verified transcripts, by ceremony directory.
	ceremonies map[string]*ceremony
	crls       []*Item
}

// ceremony is a verified transcript and the directory its Name sits in.
type ceremony struct {
	dir  string // "" for the top level, else "DIR/"
	item *Item
	res  *verify.Result
	// carriedAs names the inputs matched by content to each recorded
	// artifact path.
	carriedAs map[string][]string
}

// Check reads and checks every input against the pinned root (pin.Root, or
// pin.Fingerprint, whose certificate must then be among the inputs or
// carried in a transcript seal among them), and says what each one is. now
// is the time certificates' and CRLs' validity is judged at. The error is
// the first refusal, a *Refusal; no report comes with it. A CRL that is
// not current at now is refused (see CheckWith to import one anyway).
func Check(inputs []Input, pin verify.Pin, now time.Time) (*Report, error) {
	return check(inputs, pin, Options{Now: now})
}

func check(inputs []Input, pin verify.Pin, opts Options) (*Report, error) {
	now := opts.Now
	if len(inputs) == 0 {
		return nil, &Refusal{Reason: "no files to import"}
	}
	if len(inputs) > MaxInputs {
		return nil, &Refusal{Reason: fmt.Sprintf("%d files: at most %d are imported at once", len(inputs), MaxInputs)}
	}
	if now.IsZero() {
		now = time.Now()
	}
	c := &checker{now: now, allowStale: opts.AllowStaleCRL, byName: map[string]*Item{}, ceremonies: map[string]*ceremony{}}
	for _, in := range inputs {
		if err := c.read(in); err != nil {
			return nil, err
		}
	}
	if err := c.checkNames(); err != nil {
		return nil, err
	}
	if err := c.pinRoot(pin); err != nil {
		return nil, err
	}
	steps := []func(*Item) error{c.checkCertificates, c.checkTranscript, c.matchContent, c.describeTranscriptItem, c.checkCRL, c.checkRest}
	for _, step := range steps {
		for _, it := range c.items {
			if err := step(it); err != nil {
				return nil, err
			}
		}
	}
	c.annotate()
	if err := c.refuseRevoked(); err != nil {
		return nil, err
	}
	if err := c.checkCurrency(); err != nil {
		return nil, err
	}
	return &Report{Root: c.root, Items: c.items, AllowStaleCRL: opts.AllowStaleCRL}, nil
}

// read reads one input and decides what it holds.
func (c *checker) read(in Input) error {
	it := &Item{Input: in}
	if err := checkName(in.Name); err != nil {
		return refuse(it, "%v", err)
	}
	if other := c.byName[in.Name]; other != nil {
		return refuse(it, "output name %q is also that of %s", in.Name, other.Input.origin())
	}
	data, err := in.Data, error(nil)
	if data == nil {
		data, err = durable.ReadRegularFile(in.Path, MaxFileSize)
	} else if len(data) > MaxFileSize {
		err = durable.ErrTooLarge
	}
	switch {
	case errors.Is(err, durable.ErrNotRegular):
		return refuse(it, "not a regular file")
	case errors.Is(err, durable.ErrTooLarge):
		return refuse(it, "larger than %d bytes: no ceremony file is", MaxFileSize)
	case err != nil:
		return refuse(it, "%v", durable.Cause(err))
	}
	sum := sha256.Sum256(data)
	it.data, it.Size, it.SHA256 = data, len(data), hex.EncodeToString(sum[:])
	if it.content, err = parseContent(data); err != nil {
		return refuse(it, "%v", err)
	}
	if in.RevocationOnly && it.content.crl == nil {
		return refuse(it, "given with --crl, but it is not a CRL")
	}
	c.items = append(c.items, it)
	c.byName[in.Name] = it
	return nil
}

// checkName checks an output name: a clean relative slash-separated path
// inside the output directory, of visible names.
func checkName(name string) error {
	if name == "" {
		return errors.New("no output name")
	}
	if !fs.ValidPath(name) || name == "." || strings.ContainsAny(name, `\`) || len(name) > 1024 {
		return fmt.Errorf("output name %q is not a relative path inside the output directory", name)
	}
	for _, el := range strings.Split(name, "/") {
		if strings.HasPrefix(el, ".") || len(el) > 255 {
			return fmt.Errorf("output name %q: %q is a hidden or overlong name", name, el)
		}
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("output name %q holds a control or invisible character", name)
		}
	}
	return nil
}

// checkNames refuses an output name that another needs as a directory.
func (c *checker) checkNames() error {
	for _, it := range c.items {
		for d := path.Dir(it.Input.Name); d != "."; d = path.Dir(d) {
			if other := c.byName[d]; other != nil {
				return refuse(it, "output name %q needs a directory %q, which is the output name of %s", it.Input.Name, d, other.Input.origin())
			}
		}
	}
	return nil
}

// pinRoot finds the pinned root and checks that it is one.
func (c *checker) pinRoot(pin verify.Pin) error {
	root := pin.Root
	var fp string
	if pin.Fingerprint != "" {
		var err error
		if fp, err = seal.NormalizeFingerprint(pin.Fingerprint); err != nil {
			return &Refusal{Reason: fmt.Sprintf("the pinned root's fingerprint: %v", err)}
		}
	}
	switch {
	case root != nil && fp != "" && seal.Fingerprint(root) != fp:
		return &Refusal{Reason: fmt.Sprintf("the pinned root certificate has SHA-256 %s, not the pinned fingerprint %s", seal.Fingerprint(root), fp)}
	case root == nil && fp == "":
		return &Refusal{Reason: "no pinned root: give the root certificate or its SHA-256 fingerprint"}
	case root == nil:
		root = c.findRoot(fp)
		for _, it := range c.items {
			if root == nil && it.SHA256 == fp && len(it.content.certs) > 0 {
				return &Refusal{Reason: fmt.Sprintf("%s is the SHA-256 of the file %s (its bytes, as sha256sum prints it), not a certificate's fingerprint: pin the root by its certificate SHA-256 (fingerprint) from the paper record, as openssl x509 -noout -fingerprint -sha256 prints it",
					record.GroupHex(fp), it.Input.origin())}
			}
		}
		if root == nil {
			return &Refusal{Reason: fmt.Sprintf("the pinned root (SHA-256 %s) is not among the inputs: add the root certificate file (root-ca.crt.pem) to them, or pin the root certificate file instead of its fingerprint", record.GroupHex(fp))}
		}
	}
	if err := verify.CheckRoot(root); err != nil {
		return &Refusal{Reason: err.Error()}
	}
	c.root = root
	return nil
}

// findRoot returns the certificate among the inputs, or carried in a seal
// among them, whose SHA-256 is fp.
func (c *checker) findRoot(fp string) *x509.Certificate {
	for _, it := range c.items {
		for _, cert := range it.content.certs {
			if seal.Fingerprint(cert) == fp {
				return cert
			}
		}
	}
	for _, it := range c.items {
		if s := it.content.seal; s != nil {
			if cert := s.CertificateBySHA256(fp); cert != nil {
				return cert
			}
		}
	}
	return nil
}

// checkCertificates verifies the certificates of a certificate file: each
// must be the pinned root or chain to it, other certificates among the
// inputs serving as intermediates.
func (c *checker) checkCertificates(it *Item) error {
	if len(it.content.certs) == 0 {
		return nil
	}
	if c.roots == nil {
		c.roots, c.inter = x509.NewCertPool(), x509.NewCertPool()
		c.roots.AddCert(c.root)
		for _, o := range c.items {
			for _, cert := range o.content.certs {
				if !cert.Equal(c.root) {
					c.inter.AddCert(cert)
				}
			}
		}
	}
	certs := it.content.certs
	for i, cert := range certs {
		ci := &Certificate{Cert: cert}
		if cert.Equal(c.root) {
			ci.Chain = []*x509.Certificate{c.root}
		} else {
			chain, err := c.chain(cert)
			if err != nil {
				which := ""
				if len(certs) > 1 {
					which = fmt.Sprintf(" (%d of %d)", i+1, len(certs))
				}
				return refuse(it, "certificate %q%s does not chain to the pinned root %q: %v", name(cert), which, name(c.root), err)
			}
			ci.Chain = chain
		}
		ci.Role, ci.Title = c.role(cert, ci.Chain)
		it.Certificates = append(it.Certificates, ci)
		c.certs = append(c.certs, ci)
	}
	it.Kind = KindCertificate
	return nil
}

// chain verifies cert against the pinned root at a time within cert's
// validity (now, if it is valid now): an expired or not yet valid
// certificate is reported, not refused, but its issuers must have been
// valid when it was.
func (c *checker) chain(cert *x509.Certificate) ([]*x509.Certificate, error) {
	at := c.now
	if at.Before(cert.NotBefore) {
		at = cert.NotBefore
	}
	if at.After(cert.NotAfter) {
		at = cert.NotAfter
	}
	chains, err := cert.Verify(x509.VerifyOptions{
		Roots:         c.roots,
		Intermediates: c.inter,
		CurrentTime:   at,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err == nil {
		// An issuer may not grant an extended key usage it does not
		// hold itself (checked now: ExtKeyUsageAny above skips it).
		if uses := cert.ExtKeyUsage; len(uses) > 0 && !hasEKU(cert, x509.ExtKeyUsageAny) {
			if _, err := cert.Verify(x509.VerifyOptions{Roots: c.roots, Intermediates: c.inter, CurrentTime: at, KeyUsages: uses}); err != nil {
				return nil, fmt.Errorf("its extended key usage (%s) is not within its issuers' extended key usages: an issuer may not grant what it does not hold", pki.EKUNames(cert))
			}
		}
		return chains[0], nil
	}
	root := c.root
	selfSigned := bytes.Equal(cert.RawSubject, cert.RawIssuer) && cert.CheckSignatureFrom(cert) == nil
	var ua x509.UnknownAuthorityError
	switch {
	case selfSigned && pki.SameName(cert.Subject, cert.RawSubject, root.Subject, root.RawSubject):
		return nil, fmt.Errorf("it is self-signed with the pinned root's name, but it is not the pinned root (its SHA-256 is %s, the pinned root's %s)", short(seal.Fingerprint(cert)), short(seal.Fingerprint(root)))
	case selfSigned:
		return nil, fmt.Errorf("it is a self-signed certificate of another root (SHA-256 %s)", short(seal.Fingerprint(cert)))
	case errors.As(err, &ua) && pki.SameName(cert.Issuer, cert.RawIssuer, root.Subject, root.RawSubject):
		return nil, errors.New("it names the pinned root as its issuer, but the pinned root's key did not sign it: another key with the same name did")
	case errors.As(err, &ua):
		return nil, fmt.Errorf("it was issued by %q, which is neither the pinned root nor a certificate among the inputs that chains to it", cert.Issuer.String())
	}
	var inv x509.CertificateInvalidError
	if errors.As(err, &inv) && inv.Reason == x509.Expired && inv.Cert != nil {
		// Go calls the time a chain is checked at "current time"; here it
		// is a moment inside this certificate's own validity.
		day := func(t time.Time) string { return t.UTC().Format("2006-01-02") }
		if inv.Cert.Equal(cert) {
			return nil, fmt.Errorf("its validity (%s to %s) is out of order: it is valid at no time", day(cert.NotBefore), day(cert.NotAfter))
		}
		return nil, fmt.Errorf("its issuer %q was not valid when it was: it is valid from %s to %s, its issuer only from %s to %s (a certificate cannot be valid outside its issuer's validity)",
			inv.Cert.Subject.String(), day(cert.NotBefore), day(cert.NotAfter), day(inv.Cert.NotBefore), day(inv.Cert.NotAfter))
	}
	return nil, fmt.Errorf("%v (checked at %s)", err, at.UTC().Format(time.RFC3339))
}

// checkCRL verifies a CRL's signature with the pinned root, or with a CA
// certificate among the inputs that chains to it. Issuer names are
// compared as the chain check compares them (pki.SameName): a CRL in the
// pinned root's name, however encoded, that the pinned root's key did not
// sign is called what it is, a CRL of a look-alike.
func (c *checker) checkCRL(it *Item) error {
	crl := it.content.crl
	if crl == nil {
		return nil
	}
	signers := []*x509.Certificate{c.root}
	for _, ci := range c.certs {
		if ci.Cert.IsCA && !ci.Cert.Equal(c.root) {
			signers = append(signers, ci.Cert)
		}
	}
	var named *x509.Certificate
	var lastErr error
	for _, s := range signers {
		err := pki.CheckCRLIssuer(crl, s)
		if errors.Is(err, pki.ErrCRLOtherIssuer) {
			continue
		}
		named = s
		if lastErr = err; lastErr == nil {
			it.Kind, it.CRL, it.CRLSigner = KindCRL, crl, s
			c.crls = append(c.crls, it)
			return nil
		}
	}
	switch {
	case named == nil:
		return refuse(it, "CRL %s was issued by %q, which is neither the pinned root nor a CA certificate among the inputs that chains to it: add the issuing CA's certificate", crl.Number, crl.Issuer.String())
	case errors.As(lastErr, new(x509.ConstraintViolationError)):
		return refuse(it, "CRL %s names %q as its issuer, which may not sign CRLs (it is not a CA with cRLSign)", crl.Number, name(named))
	case named.Equal(c.root):
		return refuse(it, "CRL %s names the pinned root %q as its issuer, but the pinned root's key did not sign it: another key with the same name did", crl.Number, name(named))
	}
	return refuse(it, "CRL %s names %q as its issuer, but that certificate's key did not sign it: %v", crl.Number, name(named), lastErr)
}

// checkRest checks seals, records and any other file: each must belong to
// a verified transcript among the inputs.
func (c *checker) checkRest(it *Item) error {
	if it.Kind != 0 {
		return nil
	}
	dir, base := splitName(it.Input.Name)
	cer := c.ceremonies[dir]
	secret := qrtransfer.Secret(it.data)
	switch {
	case it.content.backup:
		return refuse(it, "a wrapped key backup (%s): key backups stay in the ceremony room; remove it from what you import", backup.PEMType)
	case secret != "":
		// A private key, a share or an encrypted copy of one: say what it
		// is, not that no chain covers it.
		return refuse(it, "%s: secrets never leave the ceremony room or their token, and ops imports only public files; remove it from what you import (and treat it as exposed if it was carried out)", secret)
	case base == outdir.SealFile && cer == nil:
		return refuse(it, "a transcript seal without a verified %s beside it: carry the transcript with it", outdir.TranscriptFile)
	case base == outdir.SealFile:
		// verify checked it as the seal of the transcript beside it.
		it.Kind, it.Transcript = KindSeal, cer.res
		c.describeSeal(it, cer)
		return nil
	case base == outdir.TranscriptFile:
		return refuse(it, "named %s, but it is no ceremony transcript (one begins {\"seq\":1,)", outdir.TranscriptFile)
	case (base == outdir.RecordFile || base == outdir.RecordPDFFile) && cer == nil:
		return refuse(it, "a printable record without a verified %s beside it: carry the transcript with it", outdir.TranscriptFile)
	case base == outdir.RecordFile:
		if !bytes.Equal(it.data, []byte(record.Render(cer.res.Chain))) {
			return refuse(it, "does not match the transcript beside it (%s): it is not that transcript's record (render it again with ceremony transcript show)", cer.item.Input.origin())
		}
		it.Kind, it.Transcript = KindRecord, cer.res
		it.Title = fmt.Sprintf("printable record of the transcript %s", cer.item.Input.origin())
		it.Fields = []pki.Field{{Label: "Matches", Value: "the record rendered from the verified transcript, byte for byte"}}
		return nil
	case base == outdir.RecordPDFFile:
		// The PDF is rendered deterministically from the transcript, so
		// it is checked the same way as transcript.md.
		want, err := pdf.Render(cer.res.Chain)
		if err != nil {
			return refuse(it, "the PDF record of the transcript beside it (%s) could not be rendered to compare: %v", cer.item.Input.origin(), err)
		}
		if !bytes.Equal(it.data, want) {
			return refuse(it, "does not match the transcript beside it (%s): it is not that transcript's PDF record (render it again with ceremony transcript show --pdf)", cer.item.Input.origin())
		}
		it.Kind, it.Transcript = KindRecord, cer.res
		it.Title = fmt.Sprintf("PDF record of the transcript %s", cer.item.Input.origin())
		it.Fields = []pki.Field{{Label: "Matches", Value: "the PDF record rendered from the verified transcript, byte for byte"}}
		return nil
	}
	if cer, a, ok := c.artifactOf(it.Input.Name); ok {
		it.Kind, it.Transcript, it.Event, it.ArtifactPath = KindArtifact, cer.res, a.Event, a.Path
		c.describeArtifact(it, cer)
		return nil
	}
	if m := it.match; m != nil {
		it.Kind, it.Transcript, it.Event, it.ArtifactPath, it.ByContent = KindArtifact, m.cer.res, m.a.Event, m.a.Path, true
		c.describeArtifact(it, m.cer)
		return nil
	}
	if len(it.ambiguous) > 0 {
		return refuse(it, "not recorded under this name, and its SHA-256 is that of %d recorded artifacts (%s): carry it under its recorded path beside its transcript", len(it.ambiguous), describeMatches(it.ambiguous))
	}
	what := "it"
	switch {
	case it.content.seal != nil:
		what = "a transcript seal not named " + outdir.SealFile + ": it"
	case it.content.transcript:
		what = "it looks like a transcript but"
	}
	return refuse(it, "%s is not covered by a certificate chain to the pinned root or a verified transcript", what)
}

// splitName splits an output name into its directory ("" or "DIR/") and
// base name.
func splitName(name string) (dir, base string) {
	i := strings.LastIndexByte(name, '/')
	return name[:i+1], name[i+1:]
}

// artifactOf returns the verified transcript among the inputs that records
// the file named name as a carried artifact, and the artifact.
func (c *checker) artifactOf(name string) (*ceremony, record.Artifact, bool) {
	for dir, cer := range c.ceremonies {
		rel, ok := strings.CutPrefix(name, dir)
		if !ok {
			continue
		}
		for _, a := range cer.res.Artifacts {
			if a.Path == rel {
				return cer, a, true
			}
		}
	}
	return nil, record.Artifact{}, false
}

// annotate adds what one input says about another: revocations, and which
// transcript recorded a certificate or CRL.
func (c *checker) annotate() {
	for _, ci := range c.certs {
		c.revocations(ci)
	}
	for _, it := range c.items {
		switch it.Kind {
		case KindCertificate:
			for _, ci := range it.Certificates {
				c.describeCertificate(ci)
			}
			c.describeCertificateFile(it)
		case KindCRL:
			c.describeCRL(it)
		}
		if it.Kind == KindCertificate || it.Kind == KindCRL {
			if cer, a, ok := c.artifactOf(it.Input.Name); ok {
				it.Transcript, it.Event, it.ArtifactPath = cer.res, a.Event, a.Path
				it.Notes = append(it.Notes, fmt.Sprintf("also recorded by the transcript %s at event %d", cer.item.Input.origin(), a.Event))
			} else if m := it.match; m != nil {
				it.Transcript, it.Event, it.ArtifactPath, it.ByContent = m.cer.res, m.a.Event, m.a.Path, true
				it.Notes = append(it.Notes, fmt.Sprintf("also recorded by the transcript %s at event %d as %s (matched by content: the same SHA-256)", m.cer.item.Input.origin(), m.a.Event, m.a.Path))
			}
		}
		sanitize(&it.Title, it.Fields, it.Notes)
		for _, ci := range it.Certificates {
			sanitize(&ci.Title, ci.Fields, ci.Notes)
		}
	}
}

// refuseRevoked refuses the import if a CRL among the inputs revokes a
// certificate among them, or the issuer of one: a revoked certificate must
// not reach online systems, whatever else travels with it.
func (c *checker) refuseRevoked() error {
	for _, it := range c.items {
		if it.Kind != KindCertificate {
			continue
		}
		for _, ci := range it.Certificates {
			if len(ci.Revoked) > 0 {
				r := ci.Revoked[0]
				return refuse(it, "%s (serial %s) is revoked by CRL %s (%s), reason %s, since %s: a revoked certificate is not imported",
					ci.Title, hex.EncodeToString(ci.Cert.SerialNumber.Bytes()), r.CRL.Number, r.Origin, pki.ReasonName(r.Reason), r.Time.UTC().Format(time.RFC3339))
			}
			for i := 1; i < len(ci.Chain)-1; i++ {
				issuer := &Certificate{Cert: ci.Chain[i], Chain: ci.Chain[i:]}
				for _, crl := range c.crls {
					if e, ok := revokes(crl, issuer); ok {
						return refuse(it, "%s was issued by %q (serial %s), which CRL %s (%s) revokes, reason %s, since %s: a certificate under a revoked CA is not imported",
							ci.Title, name(issuer.Cert), hex.EncodeToString(issuer.Cert.SerialNumber.Bytes()), crl.CRL.Number, crl.Input.origin(), pki.ReasonName(e.ReasonCode), e.RevocationTime.UTC().Format(time.RFC3339))
					}
				}
			}
		}
	}
	return nil
}

// revocations finds the CRLs among the inputs that revoke ci: signed by
// the key that issued it, in its issuer's name, listing its serial.
func (c *checker) revocations(ci *Certificate) {
	if len(ci.Chain) < 2 {
		return
	}
	for _, it := range c.crls {
		if e, ok := revokes(it, ci); ok {
			ci.Revoked = append(ci.Revoked, Revocation{CRL: it.CRL, Origin: it.Input.origin(), Reason: e.ReasonCode, Time: e.RevocationTime})
		}
	}
}

func revokes(crlItem *Item, ci *Certificate) (x509.RevocationListEntry, bool) {
	if len(ci.Chain) < 2 {
		return x509.RevocationListEntry{}, false
	}
	return pki.RevokedBy(crlItem.CRL, crlItem.CRLSigner, ci.Cert, ci.Chain[1])
}

// keyOwner describes the certificate among the inputs that certifies pub,
// or returns "".
func (c *checker) keyOwner(pub crypto.PublicKey) string {
	for _, ci := range c.certs {
		if keys.SamePublicKey(ci.Cert.PublicKey, pub) {
			return ci.Title
		}
	}
	return ""
}

// Write writes every accepted file under dir, by its Name, all or nothing.
// It checks every destination first: a file already there with the same
// content is left as it is (Written.AlreadyPresent); one with different
// content, or anything in the way (a symbolic link, a directory, a file
// where a directory belongs), refuses the whole write before anything is
// written. Files are then written atomically and exclusively
// (durable.WriteAll: never outside dir, even through a symbolic link),
// creating directories as needed; if one fails, what this call wrote and
// the directories it made are removed.
func (r *Report) Write(dir string) ([]Written, error) {
	return r.write(dir)
}

// Written is one file Write put in place, or found in place.
type Written struct {
	Name string // the Input's Name
	Path string // where it is
	// AlreadyPresent: the file was there with the same content, and was
	// left as it was.
	AlreadyPresent bool
}

// sha256Hex returns the hex SHA-256 of b.

// name is what a certificate is called in messages: its common name, or
// its whole subject.
func name(c *x509.Certificate) string {
	if c.Subject.CommonName != "" {
		return c.Subject.CommonName
	}
	return c.Subject.String()
}

// short abbreviates a hex digest for messages.
func short(h string) string {
	if len(h) > 16 {
		return h[:16] + "…"
	}
	return h
}
