package engine

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"

	"github.com/devicepki/ceremony/ceremony/backup"
	"github.com/devicepki/ceremony/ceremony/durable"
	"github.com/devicepki/ceremony/ceremony/keys"
	"github.com/devicepki/ceremony/ceremony/pki"
	"github.com/devicepki/ceremony/ceremony/record"
	"github.com/devicepki/ceremony/ceremony/script"
	"github.com/devicepki/ceremony/ceremony/transcript"
)

// KindRebuildBackupKey reads a backup file and the certificate its key
// must match, and rebuilds the backup key from custodians' shares,
// checked against the backup's manifest. It touches no token, so a script
// puts it before init-token: a wrong backup key is refused before
// anything is created. The key is held in memory for the restore-key step
// that names it as its source.
const KindRebuildBackupKey = "rebuild-backup-key"

var rebuildBackupKeyKind = script.Kind{
	Name:    KindRebuildBackupKey,
	Summary: "reads a backup and the certificate its key must match, and rebuilds the backup key from custodians' shares, before any token is touched",
	New:     func() script.Spec { return &rebuildBackupKeyStep{} },
}

type rebuildBackupKeyStep struct {
	// Backup is the path of the backup file to restore, and Certificate
	// the path of the certificate its key must match; both may use
	// ${input}.
	Backup      string `yaml:"backup"`
	Certificate string `yaml:"certificate"`
	// Quorum is the custodians' role; the threshold is on record in the
	// backup.
	Quorum *script.Quorum `yaml:"quorum"`
}

func (k *rebuildBackupKeyStep) StepQuorum() *script.Quorum { return k.Quorum }

func (k *rebuildBackupKeyStep) Validate(c *script.Check) error {
	if err := c.NeedsPeople(); err != nil {
		return err
	}
	if err := c.Required("backup", k.Backup, ""); err != nil {
		return err
	}
	if err := c.Required("certificate", k.Certificate, ""); err != nil {
		return err
	}
	if err := c.Quorum(k.Quorum, false); err != nil {
		return err
	}
	if j := c.At(script.FactToken); j >= 0 && c.Script.Steps[j].Kind == KindInitToken {
		return c.Errorf("", "rebuild-backup-key must come before the init-token step (steps[%d]), so that a wrong backup key is refused before the token is initialised", j)
	}
	c.Finally(func() error {
		id := c.Step.ID
		if len(c.Later(func(st *script.Step) bool {
			r, ok := st.Spec.(*restoreKeyStep)
			return ok && r.Source == id
		})) == 0 {
			return c.Errorf("", "nothing restores with the backup key of step %q: add a %s step with source: %s", id, KindRestoreKey, id)
		}
		return nil
	})
	return nil
}

// prepare reads the backup and the certificate and checks them against
// each other now, before any token is touched; the restore uses these
// very bytes.
func (k *rebuildBackupKeyStep) prepare(p *Plan, i int) error {
	in, field, err := loadRestore(p.expand(k.Backup), p.expand(k.Certificate))
	if err != nil {
		return p.script.Errorf(stepPath(i, field), "%v", err)
	}
	p.restores[i] = in
	return nil
}

func (k *rebuildBackupKeyStep) asks() []Ask { return []Ask{{Kind: AskShares, Role: k.Quorum.Role}} }

func (k *rebuildBackupKeyStep) run(ctx context.Context, r *run, info StepInfo) (string, error) {
	return r.rebuildBackupKey(ctx, info, k, info.Index)
}

// loadRestore reads and checks a restore's inputs: a well-formed backup
// file, a self-signed CA certificate, and the same public key in both.
// On error it also names the script field at fault.
func loadRestore(backupPath, certPath string) (*restoreInput, string, error) {
	data, err := durable.ReadRegularFile(backupPath, maxInputFile)
	if err != nil {
		return nil, "backup", fmt.Errorf("backup file %s: %w", backupPath, err)
	}
	b, err := backup.Decode(data)
	if err != nil {
		return nil, "backup", fmt.Errorf("%s: %w", backupPath, err)
	}
	cert, err := pki.ReadCertificateFile("certificate", certPath)
	if err != nil {
		return nil, "certificate", err
	}
	if !cert.IsCA || !bytes.Equal(cert.RawIssuer, cert.RawSubject) || cert.CheckSignatureFrom(cert) != nil {
		return nil, "certificate", fmt.Errorf("certificate %s (%q) is not a self-signed CA certificate: a backup restores a root key against its root certificate", certPath, cert.Subject)
	}
	if !keys.SamePublicKey(b.PublicKey, cert.PublicKey) {
		certFP, _ := keys.Fingerprint(cert.PublicKey)
		return nil, "backup", fmt.Errorf("backup %s holds key %q with public key SHA-256 %s, but certificate %s (%q) is for public key %s",
			backupPath, b.Label, b.PublicKeySHA256, certPath, cert.Subject, certFP)
	}
	return &restoreInput{backupPath: backupPath, certPath: certPath, data: data, backup: b, cert: cert}, "", nil
}

// rebuildBackupKey has custodians enter their backup shares, rebuilds the
// backup key and checks it against the manifest in the backup file, which
// was checked against the certificate before the ceremony started. It
// touches no token: a wrong, foreign or altered share is refused before
// a blank token is initialised.
func (r *run) rebuildBackupKey(ctx context.Context, info StepInfo, st *rebuildBackupKeyStep, i int) (string, error) {
	in := r.restores[i]
	b, cert := in.backup, in.cert
	iss := &pki.Issued{Cert: cert, DER: cert.Raw}
	r.face.Report(Report{Kind: Notice, Step: info, Text: "Certificate SHA-256: " + record.GroupHex(iss.SHA256())})
	sec, by, indices, err := r.collectShares(ctx, info, st.Quorum.Role, b.Manifest, b.HolderOf)
	if err != nil {
		return "", err
	}
	checks := []string{"backup public key equals the certificate's", "every share matched the manifest", "backup key matched its commitment"}
	if b.HasMAC() {
		if err := b.CheckMAC(sec.Bytes()); err != nil {
			sec.Wipe()
			return "", fmt.Errorf("backup %s: %w", in.backupPath, err)
		}
		checks = append(checks, "the backup file's MAC matched the rebuilt backup key: its ciphertext and headers are as written")
	} else {
		r.face.Report(Report{Kind: Notice, Step: info, Text: fmt.Sprintf("NOTE: backup %s has no Backup-MAC (it was written before backups carried one): its ciphertext is checked only when the HSM unwraps it, after the new token is initialised", filepath.Base(in.backupPath))})
		checks = append(checks, "the backup file has no MAC: its ciphertext is checked when the HSM unwraps it")
	}
	r.rebuilt[info.ID] = &rebuiltKey{secret: sec, by: by, indices: indices}
	text := fmt.Sprintf("Rebuilt the backup key of %s (key %q) from %d %s shares of split %s; every share and the rebuilt key matched the backup's manifest, and the backup's public key matches certificate %q (SHA-256 %s); nothing was written to a token",
		filepath.Base(in.backupPath), b.Label, len(indices), st.Quorum.Role, b.Manifest.Split, cert.Subject.String(), iss.SHA256())
	return text, r.record(transcript.Entry{Step: info.ID, Actors: actors(by...), Text: text, Data: transcript.BackupKeyRebuilt{
		BackupLabel: b.Label, Algorithm: transcript.V(b.Algorithm),
		BackupFile:      transcript.File{Path: in.backupPath, SHA256: sha256Hex(in.data)},
		Certificate:     transcript.CertificateRef{Path: in.certPath, Subject: cert.Subject.String(), SHA256: iss.SHA256()},
		PublicKeySHA256: b.PublicKeySHA256, BackupKeySplit: b.Manifest.Split, Shares: indices, EnteredBy: nameList(by),
		Checks: checks,
	}})
}
