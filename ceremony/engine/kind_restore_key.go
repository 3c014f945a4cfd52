package engine

import (
	"context"
	"encoding/hex"
	"fmt"
	"path/filepath"

	"github.com/devicepki/ceremony/ceremony/backup"
	"github.com/devicepki/ceremony/ceremony/keys"
	"github.com/devicepki/ceremony/ceremony/pki"
	"github.com/devicepki/ceremony/ceremony/record"
	"github.com/devicepki/ceremony/ceremony/script"
	"github.com/devicepki/ceremony/ceremony/transcript"
	"github.com/devicepki/ceremony/hsm"
)

// KindRestoreKey unwraps a backed-up key into the token with the backup
// key an earlier rebuild-backup-key step rebuilt.
const KindRestoreKey = "restore-key"

var restoreKeyKind = script.Kind{
	Name:    KindRestoreKey,
	Summary: "unwraps the backed-up key into the token with the backup key a rebuild-backup-key step rebuilt, and checks it against its certificate",
	New:     func() script.Spec { return &restoreKeyStep{} },
}

type restoreKeyStep struct {
	asksNothing
	// Source is the id of the rebuild-backup-key step whose backup is
	// restored.
	Source string `yaml:"source"`
	// Label is the HSM label of the restored key; may use ${input}.
	Label string `yaml:"label"`
}

func (k *restoreKeyStep) Validate(c *script.Check) error {
	if err := c.NeedsOfficer(); err != nil {
		return err
	}
	if _, err := c.Earlier("source", k.Source, KindRebuildBackupKey); err != nil {
		return err
	}
	if j := c.Before(func(st *script.Step) bool {
		r, ok := st.Spec.(*restoreKeyStep)
		return ok && r.Source == k.Source
	}); len(j) > 0 {
		return c.Errorf("source", "the backup key of step %q is already used by steps[%d]", k.Source, j[0])
	}
	return c.Required("label", k.Label, "the HSM label of the restored key")
}

func (k *restoreKeyStep) prepare(p *Plan, i int) error {
	if err := p.keyLabel(i, k.Label); err != nil {
		return err
	}
	in := p.restores[p.script.StepIndex(k.Source)]
	p.restores[i] = in
	p.restored[p.script.Steps[i].ID] = in.cert
	return nil
}

func (k *restoreKeyStep) run(_ context.Context, r *run, info StepInfo) (string, error) {
	return r.restoreKey(info, k, info.Index)
}

// restoreKey restores a backed-up key into the token with the backup key
// an earlier rebuild-backup-key step rebuilt: the backup key is imported
// as a trusted unwrapping key, the key unwrapped as sensitive and
// non-extractable beside a public-key object made from the certificate, a
// test signature checked with the certificate's key, and the backup key
// destroyed on the token and wiped from memory.
func (r *run) restoreKey(info StepInfo, st *restoreKeyStep, i int) (string, error) {
	in, label := r.restores[i], r.labels[i]
	b, cert, data := in.backup, in.cert, in.data
	paths := [2]string{in.backupPath, in.certPath}
	certFP, _ := keys.Fingerprint(cert.PublicKey)
	iss := &pki.Issued{Cert: cert, DER: cert.Raw}
	r.face.Report(Report{Kind: Notice, Step: info, Text: "Certificate SHA-256: " + record.GroupHex(iss.SHA256())})
	rk := r.rebuilt[st.Source]
	if rk == nil {
		return "", fmt.Errorf("step %q has no rebuilt backup key: step %q did not complete", info.ID, st.Source)
	}
	defer func() {
		rk.secret.Wipe()
		delete(r.rebuilt, st.Source)
	}()
	sec, by, indices := rk.secret, rk.by, rk.indices
	inUse, err := r.tok.LabelInUse(label)
	if err != nil {
		return "", err
	}
	if inUse {
		return "", fmt.Errorf("token %q already holds an object labelled %q; refusing to restore over it", r.tok.Info().Label, label)
	}
	// An RFC 5649 backup is unwrapped with whichever mechanism is RFC 5649
	// on this module (its output does not depend on the constant); a
	// CBC_PAD one with the IV its file names.
	mech, mechCheck := b.Mechanism, ""
	if b.Method() == hsm.MethodRFC5649 {
		m, check, err := r.tok.FindRFC5649(false, true)
		if err != nil {
			sec.Wipe()
			return "", fmt.Errorf("cannot restore %s, an RFC 5649 backup: %w", filepath.Base(paths[0]), err)
		}
		mech, mechCheck = m, check
		r.face.Report(Report{Kind: Notice, Step: info, Text: mechCheck})
	}
	// CKA_TRUSTED means nothing to an unwrapping key; it is set where the
	// module takes it, and left off where it refuses it.
	untrusted := r.caps != nil && r.caps.Trust.Trusted != ""
	var kp *hsm.KeyPair
	if err := r.tok.CheckLabelFree(label); err != nil {
		sec.Wipe()
		return "", err
	}
	id, err := r.tok.NewKeyID()
	if err != nil {
		sec.Wipe()
		return "", err
	}
	// The CKA_ID is recorded first: whatever a kill leaves of the
	// restored key carries it, and close destroys it.
	if err := r.record(transcript.Entry{Step: info.ID,
		Text: fmt.Sprintf("Restoring key %q (CKA_ID %x) into HSM token %q", label, id, r.tok.Info().Label),
		Data: transcript.KeyRestoring{ID: hex.EncodeToString(id), Label: label, Token: r.tok.Info().Label}}); err != nil {
		sec.Wipe()
		return "", err
	}
	r.changed = true
	if err := r.journalAdd(r.tok, hex.EncodeToString(id)); err != nil {
		sec.Wipe()
		return "", err
	}
	d, err := r.timed(info, fmt.Sprintf("Unwrapping key %q into the HSM with %s", label, mech), func() error {
		u, destroy, err := r.importAES(sec, hsm.AESKeyOptions{Usage: hsm.UsageUnwrap, Label: restoreKeyLabel, Mechanism: mech, Untrusted: untrusted})
		if err != nil {
			return err
		}
		defer destroy()
		if kp, err = r.tok.UnwrapKeyPairID(u, b.Wrapped, label, cert.PublicKey, id); err != nil {
			return err
		}
		hsm.Barrier()
		r.generated = append(r.generated, kp)
		r.changed = true
		return destroy()
	})
	sec.Wipe()
	if err != nil {
		return "", err
	}
	if err := testSignature(kp, cert.PublicKey, fmt.Sprintf("the public key of certificate %q", cert.Subject)); err != nil {
		return "", err
	}
	if err := r.tok.StoreCertificate(kp, cert); err != nil {
		return "", err
	}
	attrs, err := r.tok.KeyAttributes(kp)
	if err != nil {
		return "", err
	}
	if !attrs.Token || !attrs.Private || !attrs.Sensitive || attrs.Extractable || !attrs.Sign || attrs.Decrypt || attrs.Unwrap || attrs.Derive {
		return "", fmt.Errorf("restored key %q: the HSM reports %+v; it must be a private, sensitive, non-extractable token key for signing only", label, attrs)
	}
	r.keys[info.ID] = kp
	r.certs[info.ID] = iss
	text := fmt.Sprintf("Restored key %q from %s into HSM token %q as %q: its public key matches certificate %q (SHA-256 %s), and a test signature verified with it; the backup key was destroyed on the token",
		b.Label, filepath.Base(paths[0]), r.tok.Info().Label, label, cert.Subject.String(), iss.SHA256())
	return text, r.record(transcript.Entry{Step: info.ID, Actors: actors(by...), Text: text, Data: transcript.KeyRestored{
		Label: label, ID: kp.IDHex(), Token: r.tok.Info().Label, BackupLabel: b.Label, Algorithm: transcript.V(b.Algorithm),
		BackupFile:      transcript.File{Path: paths[0], SHA256: sha256Hex(data)},
		Certificate:     transcript.CertificateRef{Path: paths[1], Subject: cert.Subject.String(), SHA256: iss.SHA256()},
		PublicKeySHA256: certFP, BackupKeySplit: b.Manifest.Split, Shares: indices,
		Checks:     restoreChecks(b, mech, mechCheck),
		Attributes: transcript.V(attrs), StoredOnToken: true, DurationMS: d.Milliseconds(),
	}})
}

// restoreChecks lists what a restore checked, for its transcript event.
func restoreChecks(b *backup.Backup, mech hsm.WrapMechanism, mechCheck string) []string {
	checks := []string{"backup public key equals the certificate's", "every share matched the manifest", "backup key matched its commitment"}
	if b.Method() == hsm.MethodAESCBCPad {
		checks = append(checks, "the ciphertext matched the backup's Ciphertext-SHA256 "+b.CiphertextSHA256())
	}
	if mechCheck != "" {
		checks = append(checks, mechCheck)
	}
	checks = append(checks, "unwrapped with "+mech.String(), "unwrapped key signed a test message that verified with the certificate's public key")
	return checks
}
