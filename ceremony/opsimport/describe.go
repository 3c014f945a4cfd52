package opsimport

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/devicepki/ceremony/ceremony/keys"
	"github.com/devicepki/ceremony/ceremony/pki"
	"github.com/devicepki/ceremony/ceremony/record"
	"github.com/devicepki/ceremony/ceremony/seal"
	"github.com/devicepki/ceremony/ceremony/transcript"
)

// registrationCode is the common name of a cloud CA registration
// (verification) certificate: the code AWS IoT or Azure DPS gave, in hex
// (templates/verification.yaml).
var registrationCode = regexp.MustCompile(`^[0-9A-Fa-f]{16,64}$`)

// role says what a verified certificate is for. The firmware-signing and
// transcript-signing roles belong to certificates the root issued itself:
// a factory intermediate (whose rig may be stolen) cannot mint either.
func (c *checker) role(cert *x509.Certificate, chain []*x509.Certificate) (Role, string) {
	n := name(cert)
	byRoot := len(chain) == 2 && chain[1].Equal(c.root)
	switch {
	case cert.Equal(c.root):
		return RoleRoot, fmt.Sprintf("the pinned root %q", n)
	case cert.IsCA:
		return RoleIntermediateCA, fmt.Sprintf("intermediate CA %q", n)
	case byRoot && hasEKU(cert, x509.ExtKeyUsageCodeSigning):
		return RoleFirmwareSigning, fmt.Sprintf("firmware-signing certificate %q", n)
	case byRoot && pki.IsTranscriptSigner(cert):
		return RoleTranscriptSigning, fmt.Sprintf("transcript-signing certificate %q", n)
	case !byRoot && (hasEKU(cert, x509.ExtKeyUsageCodeSigning) || pki.IsTranscriptSigner(cert)):
		return RoleEndEntity, fmt.Sprintf("end-entity certificate %q issued by %q, not by the root: not a firmware-signing or transcript-signing certificate of the root", n, name(chain[1]))
	case registrationCode.MatchString(cert.Subject.CommonName):
		return RoleVerification, fmt.Sprintf("cloud CA registration (verification) certificate for registration code %s", cert.Subject.CommonName)
	}
	return RoleEndEntity, fmt.Sprintf("end-entity certificate %q", n)
}

func hasEKU(c *x509.Certificate, eku x509.ExtKeyUsage) bool {
	for _, e := range c.ExtKeyUsage {
		if e == eku {
			return true
		}
	}
	return false
}

// describeCertificate fills a certificate's fields and notes: the decoded
// certificate, whether it is valid now, its fingerprint and chain, and
// what the CRLs among the inputs say of it and its issuers.
func (c *checker) describeCertificate(ci *Certificate) {
	cert := ci.Cert
	validity, note := validityAt(cert, c.now)
	for _, f := range pki.DescribeCertificate(cert) {
		ci.Fields = append(ci.Fields, f)
		if f.Label == "Valid until" {
			ci.Fields = append(ci.Fields, pki.Field{Label: "Validity", Value: validity})
		}
	}
	ci.Fields = append(ci.Fields,
		pki.Field{Label: "Certificate SHA-256", Value: seal.Fingerprint(cert)},
		pki.Field{Label: "Chain", Value: c.chainText(ci.Chain)})
	if note != "" {
		ci.Notes = append(ci.Notes, note)
	}
	switch {
	case ci.Role != RoleRoot && bytes.Equal(cert.RawSubjectPublicKeyInfo, c.root.RawSubjectPublicKeyInfo):
		ci.Notes = append(ci.Notes, "it certifies the pinned root's own key: another certificate for the root key, not the pinned root certificate")
	case ci.Role == RoleTranscriptSigning && len(cert.UnknownExtKeyUsage) == 0:
		ci.Notes = append(ci.Notes, "no extended key usage: it can seal transcripts, as transcript-signing certificates issued before documentSigning was required do, but is good for any purpose elsewhere")
	}
}

// validityAt says whether cert is valid at now, and returns a note if not.
func validityAt(cert *x509.Certificate, now time.Time) (string, string) {
	from, until := cert.NotBefore.UTC().Format(time.RFC3339), cert.NotAfter.UTC().Format(time.RFC3339)
	switch {
	case now.Before(cert.NotBefore):
		return "NOT YET VALID: valid from " + from, "NOT YET VALID: valid from " + from + " to " + until
	case now.After(cert.NotAfter):
		return "EXPIRED on " + until, "EXPIRED on " + until
	}
	return fmt.Sprintf("valid now (until %s, %d days left)", until, int(cert.NotAfter.Sub(now).Hours()/24)), ""
}

// chainText names the certificates on a verified chain, leaf first.
func (c *checker) chainText(chain []*x509.Certificate) string {
	if len(chain) == 1 {
		return "the pinned root itself"
	}
	var parts []string
	for i, cert := range chain {
		s := fmt.Sprintf("%q", name(cert))
		if i > 0 {
			s = "issued by " + s
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ") + " (the pinned root)"
}

// describeCertificateFile fills a certificate file's title, fields and
// notes from its certificates'.
func (c *checker) describeCertificateFile(it *Item) {
	if len(it.Certificates) == 1 {
		ci := it.Certificates[0]
		it.Title, it.Fields, it.Notes = ci.Title, append([]pki.Field{}, ci.Fields...), append([]string{}, ci.Notes...)
		return
	}
	var titles []string
	for i, ci := range it.Certificates {
		titles = append(titles, ci.Title)
		it.Fields = append(it.Fields, pki.Field{Label: fmt.Sprintf("Certificate %d of %d", i+1, len(it.Certificates)), Value: ci.Title})
		it.Fields = append(it.Fields, ci.Fields...)
		for _, n := range ci.Notes {
			it.Notes = append(it.Notes, ci.Title+": "+n)
		}
	}
	it.Title = fmt.Sprintf("%d certificates: %s", len(it.Certificates), strings.Join(titles, ", "))
}

// describeCRL fills a CRL's title, fields and notes: the decoded CRL, who
// signed it, and whether it is current.
func (c *checker) describeCRL(it *Item) {
	crl, signer := it.CRL, it.CRLSigner
	by := fmt.Sprintf("%q", name(signer))
	if signer.Equal(c.root) {
		by = "the pinned root " + by
	}
	it.Title = fmt.Sprintf("CRL %s of %s", crl.Number, by)
	// A certificate among the inputs that it revokes refused the import
	// (refuseRevoked): its entries name serials of certificates elsewhere.
	for _, f := range pki.DescribeCRL(crl) {
		it.Fields = append(it.Fields, f)
		if f.Label == "Next update" {
			v := "current (next update due " + crl.NextUpdate.UTC().Format(time.RFC3339) + ")"
			switch {
			case crl.NextUpdate.IsZero():
				v = "no next update given"
			case c.now.After(crl.NextUpdate):
				v = "PAST ITS NEXT UPDATE"
				it.Notes = append(it.Notes, fmt.Sprintf("PAST ITS NEXT UPDATE (%s): a newer CRL should exist; relying parties may refuse this one as stale", crl.NextUpdate.UTC().Format(time.RFC3339)))
			}
			it.Fields = append(it.Fields, pki.Field{Label: "Currency", Value: v})
		}
	}
	if c.now.Before(crl.ThisUpdate) {
		it.Notes = append(it.Notes, fmt.Sprintf("issued in the future (this update %s): check this machine's clock", crl.ThisUpdate.UTC().Format(time.RFC3339)))
	}
	it.Fields = append(it.Fields, pki.Field{Label: "Signed by", Value: fmt.Sprintf("%s (certificate SHA-256 %s)", by, seal.Fingerprint(signer))})
	for _, other := range c.crls {
		o := other.CRL
		if other != it && pki.SameName(o.Issuer, o.RawIssuer, crl.Issuer, crl.RawIssuer) && bytes.Equal(other.CRLSigner.RawSubjectPublicKeyInfo, signer.RawSubjectPublicKeyInfo) && o.Number.Cmp(crl.Number) > 0 {
			it.Notes = append(it.Notes, fmt.Sprintf("CRL %s of the same issuer (%s) is newer", o.Number, other.Input.origin()))
		}
	}
}

// describeTranscript summarises a verified transcript: the ceremony, its
// time span, its seal, its final digest, and which of its artifacts were
// carried.
func (c *checker) describeTranscript(it *Item) {
	res := it.Transcript
	evs := res.Chain.Events
	first, last := evs[0], evs[len(evs)-1]
	st, _ := transcript.DataAs[transcript.CeremonyStarted](first)
	title := st.Title
	if title == "" {
		title = st.Script.Name
	}
	it.Title = fmt.Sprintf("sealed transcript of the ceremony %q (script %s)", title, st.Script.Name)
	add := func(label, format string, a ...any) {
		it.Fields = append(it.Fields, pki.Field{Label: label, Value: fmt.Sprintf(format, a...)})
	}
	add("Ceremony", "%s", title)
	add("Script", "%s", st.Script.Name)
	if p := st.Inputs["place"]; p != "" {
		add("Place", "%s", p)
	}
	add("Time", "%s to %s (%d events)", first.Time, last.Time, len(evs))
	s := res.Seal
	add("Sealed by", "%q (certificate SHA-256 %s) at %s", name(s.Signer), seal.Fingerprint(s.Signer), s.SigningTime.UTC().Format(time.RFC3339))
	add("Pinned root", "%q (SHA-256 %s)", name(res.Root), seal.Fingerprint(res.Root))
	add("Final digest", "%s", record.GroupHex(res.Chain.Head))
	type art struct {
		record.Artifact
		carried bool
	}
	var arts []art
	for _, a := range res.Artifacts {
		arts = append(arts, art{a, true})
	}
	// Artifacts not carried under their recorded paths may have been
	// carried under other names (matched by content).
	dir, _ := splitName(it.Input.Name)
	cer := c.ceremonies[dir]
	var absent []string
	for _, a := range res.Absent {
		arts = append(arts, art{a, false})
		if len(cer.carriedAs[a.Path]) == 0 {
			absent = append(absent, a.Path)
		}
	}
	sort.SliceStable(arts, func(i, j int) bool { return arts[i].Event < arts[j].Event })
	if len(arts) == 0 {
		add("Artifacts", "none recorded")
	}
	for _, a := range arts {
		state := "carried, checked"
		as := cer.carriedAs[a.Path]
		switch {
		case !a.carried && len(as) > 0:
			state = fmt.Sprintf("carried as %s (matched by content: the same SHA-256), checked", strings.Join(as, ", "))
		case !a.carried:
			state = "not carried"
		case len(as) > 0:
			state = fmt.Sprintf("carried, checked; also as %s (matched by content: the same SHA-256)", strings.Join(as, ", "))
		}
		add("Artifact", "%s: %s (event %d, %d bytes, SHA-256 %s)", a.Path, state, a.Event, a.Size, a.SHA256)
	}
	if st.Rehearsal {
		it.Notes = append(it.Notes, "REHEARSAL: its shares were written to disk; it protects nothing and is no real ceremony")
	}
	if len(absent) > 0 {
		it.Notes = append(it.Notes, fmt.Sprintf("not carried (recorded, but not among the inputs): %s", strings.Join(absent, ", ")))
	}
	it.Notes = append(it.Notes, res.Notes...)
}

// describeSeal summarises the seal beside a verified transcript.
func (c *checker) describeSeal(it *Item, cer *ceremony) {
	s := cer.res.Seal
	it.Title = fmt.Sprintf("seal of the transcript %s, by %q", cer.item.Input.origin(), name(s.Signer))
	it.Fields = []pki.Field{
		{Label: "Sealed by", Value: fmt.Sprintf("%q (certificate SHA-256 %s)", name(s.Signer), seal.Fingerprint(s.Signer))},
		{Label: "Signing time", Value: s.SigningTime.UTC().Format(time.RFC3339)},
		{Label: "Digest", Value: s.Digest},
		{Label: "Chains to", Value: fmt.Sprintf("the pinned root %q", name(c.root))},
	}
}

// describeArtifact says what another file of a verified transcript is: a
// public key (whose, if a certificate among the inputs certifies it), the
// raw form of such a key, or just a file the transcript recorded.
func (c *checker) describeArtifact(it *Item, cer *ceremony) {
	it.Fields = []pki.Field{
		{Label: "Recorded by", Value: fmt.Sprintf("the transcript %s, event %d", cer.item.Input.origin(), it.Event)},
		{Label: "Size", Value: fmt.Sprintf("%d bytes", it.Size)},
		{Label: "SHA-256", Value: it.SHA256},
	}
	if it.ByContent {
		it.Fields[0].Value += ", as " + it.ArtifactPath + " (matched by content)"
		it.Notes = append(it.Notes, fmt.Sprintf("matched by content: the transcript %s records no file by this name, but records %s (event %d) with this file's SHA-256",
			cer.item.Input.origin(), it.ArtifactPath, it.Event))
	}
	it.Title = "file recorded by the transcript"
	if pub := it.content.pub; pub != nil {
		form := "DER"
		if bytes.HasPrefix(it.data, []byte(pemBegin)) {
			form = "PEM"
		}
		alg := "unsupported key type"
		if a, err := keys.AlgorithmOf(pub); err == nil {
			alg = a.Describe()
		}
		it.Title = fmt.Sprintf("public key (%s, %s)", alg, form)
		if owner := c.keyOwner(pub); owner != "" {
			it.Title += " of " + owner
		}
		if fp, err := keys.Fingerprint(pub); err == nil {
			it.Fields = append(it.Fields, pki.Field{Label: "Public key SHA-256", Value: fp})
		}
	} else if owner := c.rawKeyOwner(it.data); owner != "" {
		it.Title = "raw public key of " + owner
	}
}

// rawKeyOwner describes the certificate or public key file among the
// inputs whose key has the bare form raw (keys.Raw), or returns "".
func (c *checker) rawKeyOwner(raw []byte) string {
	matches := func(pub crypto.PublicKey) bool {
		r, err := keys.Raw(pub)
		return err == nil && bytes.Equal(r, raw)
	}
	for _, ci := range c.certs {
		if matches(ci.Cert.PublicKey) {
			return ci.Title
		}
	}
	for _, o := range c.items {
		if o.content.pub != nil && matches(o.content.pub) {
			return "the public key in " + o.Input.origin()
		}
	}
	return ""
}

// sanitize makes a title, fields and notes safe to print.
func sanitize(title *string, fields []pki.Field, notes []string) {
	*title = record.Printable(*title)
	for i := range fields {
		fields[i].Label, fields[i].Value = record.Printable(fields[i].Label), record.Printable(fields[i].Value)
	}
	for i := range notes {
		notes[i] = record.Printable(notes[i])
	}
}
