package engine

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"strings"

	"github.com/devicepki/ceremony/ceremony/outdir"
	"github.com/devicepki/ceremony/ceremony/pki"
	"github.com/devicepki/ceremony/ceremony/record"
	"github.com/devicepki/ceremony/ceremony/seal"
	"github.com/devicepki/ceremony/ceremony/transcript"
	"github.com/devicepki/ceremony/ceremony/words"
	"github.com/devicepki/ceremony/hsm"
)

// auditKey finds the transcript-signing key labelled label on the token,
// with the certificate stored beside it, and the root certificate (also on
// the token) it chains to. The certificate must be fit to seal and only
// that: not a CA, digitalSignature alone, extended key usage
// documentSigning alone, valid now.
func (r *run) auditKey(label string) (*hsm.KeyPair, *x509.Certificate, *x509.Certificate, error) {
	kp, err := r.tok.FindKeyPair(label)
	if err != nil {
		return nil, nil, nil, err
	}
	cert, err := r.tok.FindCertificate(kp)
	if err != nil {
		return nil, nil, nil, err
	}
	now := r.opts.Now()
	switch {
	case !pki.IsTranscriptSigner(cert):
		return nil, nil, nil, fmt.Errorf("key %q is not a transcript-signing key: its certificate %q must be a non-CA certificate for digitalSignature only, with extended key usage documentSigning", label, cert.Subject)
	case now.Before(cert.NotBefore) || now.After(cert.NotAfter):
		return nil, nil, nil, fmt.Errorf("the audit certificate %q is not valid now (valid %s to %s)", cert.Subject, cert.NotBefore.UTC(), cert.NotAfter.UTC())
	}
	if rv, err := r.revocation(cert); err != nil {
		return nil, nil, nil, err
	} else if rv != nil {
		return nil, nil, nil, fmt.Errorf("the audit certificate %q was revoked (CRL number %d, %s): certify a new audit key before sealing", cert.Subject, rv.CRLNumber, rv.Reason)
	}
	all, err := r.tok.Certificates()
	if err != nil {
		return nil, nil, nil, err
	}
	roots := x509.NewCertPool()
	for _, c := range all {
		if c.IsCA && bytes.Equal(c.RawSubject, c.RawIssuer) && c.CheckSignatureFrom(c) == nil {
			roots.AddCert(c)
		}
	}
	chains, err := cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("the audit certificate %q does not chain to a root certificate stored on token %q: %v", cert.Subject, r.tok.Info().Label, err)
	}
	chain := chains[0]
	return kp, cert, chain[len(chain)-1], nil
}

// sealLabel is the label of the audit key the seal step uses.
func (r *run) sealLabel() string {
	return r.labels[r.script.StepIndex(sealStep(r.script))]
}

// seal is the last step: the audit key signs the transcript, the seal goes
// to transcript.sig, and the printable record to transcript.md.
func (r *run) seal(info StepInfo, i int) (string, error) {
	kp, cert, root, err := r.auditKey(r.labels[i])
	if err != nil {
		return "", err
	}
	events, head := r.tw.Len(), r.tw.Head()
	text := fmt.Sprintf("Ceremony %s completed: %d steps, %d artifacts. Transcript sealed by audit key %q (certificate %q, SHA-256 %s, issued by %q, SHA-256 %s) after event %d, chain hash %s",
		r.script.Name, len(r.script.Steps), len(r.artifacts), kp.Label, cert.Subject.CommonName, seal.Fingerprint(cert),
		root.Subject.CommonName, seal.Fingerprint(root), events, head)
	entry := transcript.Entry{Type: "transcript-sealed", Step: info.ID, Text: text, Data: map[string]any{
		"events_before_seal": events,
		"chain_hash":         head,
		"steps":              len(r.script.Steps),
		"artifacts":          nonNil(r.artifacts),
		"audit_key":          map[string]string{"label": kp.Label, "id": kp.IDHex(), "token": r.tok.Info().Label},
		"audit_certificate": map[string]string{"subject": cert.Subject.String(), "serial": serialHex(cert.SerialNumber.Bytes()),
			"sha256": seal.Fingerprint(cert), "not_after": cert.NotAfter.UTC().Format("2006-01-02T15:04:05Z")},
		"root_certificate": map[string]string{"subject": root.Subject.String(), "sha256": seal.Fingerprint(root)},
		"seal_file":        outdir.SealFile,
		"seal_format":      "CMS SignedData (RFC 5652), detached, DER",
	}}
	var sig []byte
	if _, err := r.timed(info, fmt.Sprintf("Sealing the transcript with audit key %q", kp.Label), func() error {
		_, err := r.tw.Seal(entry, func(content []byte) (err error) {
			sig, err = seal.Sign(content, kp, cert, []*x509.Certificate{root})
			return err
		})
		return err
	}); err != nil {
		return "", err
	}
	r.sealed = true
	if err := r.out.WriteFile(outdir.SealFile, sig); err != nil {
		return "", fmt.Errorf("the transcript is sealed but the seal could not be written: %w", err)
	}
	chain, err := transcript.ReadFile(r.tw.Path())
	if err != nil {
		return "", fmt.Errorf("read back the sealed transcript: %w", err)
	}
	if err := r.out.WriteFile(outdir.RecordFile, []byte(record.Render(chain))); err != nil {
		return "", fmt.Errorf("write the printable record: %w", err)
	}
	ws, _ := words.FromHex(chain.Head)
	r.face.Report(Report{Kind: Notice, Step: info, Text: "Final digest: " + record.GroupHex(chain.Head)})
	r.face.Report(Report{Kind: Notice, Step: info, Text: "Final digest as words: " + strings.Join(ws, " ")})
	return fmt.Sprintf("Transcript sealed by audit key %q: %s, %s", kp.Label, outdir.SealFile, outdir.RecordFile), nil
}
