package engine

import (
	"context"
	"crypto/rand"
	"fmt"

	"github.com/devicepki/ceremony/ceremony/backup"
	"github.com/devicepki/ceremony/ceremony/keys"
	"github.com/devicepki/ceremony/ceremony/script"
	"github.com/devicepki/ceremony/ceremony/shares"
	"github.com/devicepki/ceremony/ceremony/transcript"
	"github.com/devicepki/ceremony/hsm"
)

// KindBackupKey wraps a generated key under a fresh backup key and splits
// the backup key among a quorum of custodians.
const KindBackupKey = "backup-key"

var backupKeyKind = script.Kind{
	Name:    KindBackupKey,
	Summary: "wraps a key generated in this ceremony under a fresh backup key (artifacts/NAME.backup) and splits the backup key M-of-N among custodians",
	New:     func() script.Spec { return &backupKeyStep{} },
}

type backupKeyStep struct {
	asksNothing
	// Key is the id of the generate-key step whose key is backed up.
	Key string `yaml:"key"`
	// Name is the artifact's base name: NAME.backup.
	Name string `yaml:"name"`
	// Quorum is the split of the backup key: role, threshold and shares.
	Quorum *script.Quorum `yaml:"quorum"`
	// AllowUntrustedWrap lets a backup go ahead on a module that cannot
	// restrict wrapping to trusted keys. Default: refuse.
	AllowUntrustedWrap bool `yaml:"allow_untrusted_wrap"`
}

func (k *backupKeyStep) StepQuorum() *script.Quorum { return k.Quorum }

// file is the backup's file name under artifacts/.
func (k *backupKeyStep) file() string { return k.Name + ".backup" }

func (k *backupKeyStep) Validate(c *script.Check) error {
	if err := c.NeedsPeople(); err != nil {
		return err
	}
	if err := c.NeedsOfficer(); err != nil {
		return err
	}
	if _, err := c.Earlier("key", k.Key, KindGenerateKey); err != nil {
		return err
	}
	if j := c.Before(func(st *script.Step) bool {
		b, ok := st.Spec.(*backupKeyStep)
		return ok && b.Key == k.Key
	}); len(j) > 0 {
		return c.Errorf("key", "key %q is already backed up by steps[%d]", k.Key, j[0])
	}
	if err := c.ArtifactName("name", k.Name, []string{k.file()}); err != nil {
		return err
	}
	if err := c.Quorum(k.Quorum, true); err != nil {
		return err
	}
	c.Finally(func() error { return needsHandOut(c) })
	return nil
}

func (k *backupKeyStep) prepare(p *Plan, i int) error {
	p.backups[k.Key] = i
	return nil
}

func (k *backupKeyStep) run(_ context.Context, r *run, info StepInfo) (string, error) {
	return r.backupKey(info, k)
}

// backupKey wraps a generated key under a fresh AES-256 backup key inside
// the HSM, checks inside the HSM that the backup unwraps to the same key,
// writes the ciphertext as an artifact, and splits the backup key among
// the custodians. The backup key exists in clear only in this process's
// memory until it is split, and afterwards only as shares.
func (r *run) backupKey(info StepInfo, st *backupKeyStep) (string, error) {
	q := st.Quorum
	holders, err := r.holders(q)
	if err != nil {
		return "", err
	}
	kp, err := r.refind(r.keys[st.Key])
	if err != nil {
		return "", err
	}
	value, err := r.randomSecret(backupKeyLen)
	if err != nil {
		return "", err
	}
	defer value.Wipe()

	var wrapped []byte
	d, err := r.timed(info, fmt.Sprintf("Wrapping key %q under a new backup key in the HSM", kp.Label), func() error {
		w, destroy, err := r.importTrusted(value, hsm.UsageWrap, wrapKeyLabel)
		if err != nil {
			return err
		}
		defer destroy()
		// The login changed: key handles from before are void.
		if kp, err = r.refind(r.keys[st.Key]); err != nil {
			return err
		}
		if wrapped, err = r.tok.WrapKeyPair(w, kp); err != nil {
			return err
		}
		return destroy()
	})
	if err != nil {
		return "", err
	}
	_, err = r.timed(info, "Checking inside the HSM that the backup unwraps to the same key", func() error {
		u, destroy, err := r.importTrusted(value, hsm.UsageUnwrap, checkKeyLabel)
		if err != nil {
			return err
		}
		defer destroy()
		if err := r.tok.CheckWrapped(u, wrapped, kp.Public()); err != nil {
			return fmt.Errorf("the backup just made does not restore to key %q: %w", kp.Label, err)
		}
		return destroy()
	})
	if err != nil {
		return "", err
	}
	// The backup is made and checked: from now on the key never leaves
	// the HSM again, whoever logs in as security officer.
	if kp, err = r.refind(r.keys[st.Key]); err != nil {
		return "", err
	}
	if kp, err = r.tok.EndExtraction(kp); err != nil {
		return "", err
	}
	list, man, err := shares.Split(rand.Reader, value, shares.Backup, q.Threshold, q.Shares)
	if err != nil {
		return "", err
	}
	r.pending[info.ID] = &pendingSplit{role: q.Role, manifest: man, shares: list}
	value.Wipe()

	data, err := backup.Encode(&backup.Backup{Label: kp.Label, Algorithm: kp.Algorithm, PublicKey: kp.Public(), Manifest: man, Wrapped: wrapped})
	if err != nil {
		return "", err
	}
	art, err := r.out.WriteArtifact(st.file(), data)
	if err != nil {
		return "", err
	}
	r.changed = true
	r.artifacts = append(r.artifacts, art)
	r.inRoom[art.Path] = true
	if kp, err = r.refind(r.keys[st.Key]); err != nil {
		return "", err
	}
	attrs, err := r.tok.KeyAttributes(kp)
	if err != nil {
		return "", err
	}
	if attrs.Extractable || !attrs.Sensitive || attrs.Modifiable {
		return "", fmt.Errorf("key %q: the HSM reports %+v after the backup; it must be sensitive, non-extractable and unmodifiable", kp.Label, attrs)
	}
	fp, _ := keys.Fingerprint(kp.Public())
	text := fmt.Sprintf("Backed up key %q to %s (%d bytes, SHA-256 %s): wrapped with %s under a new AES-256 backup key, which was split among the %ss; the wrapping key (a session object) was destroyed and the key made non-extractable and unmodifiable for good",
		kp.Label, art.Path, art.Size, art.SHA256, backup.Mechanism, q.Role)
	if err := r.record(transcript.Entry{Step: info.ID, Text: text, Data: transcript.KeyBackedUp{
		Label: kp.Label, ID: kp.IDHex(), PublicKeySHA256: fp, Path: art.Path, SHA256: art.SHA256, Size: art.Size,
		Mechanism: backup.Mechanism, WrappingKey: "AES-256, imported as a trusted session object by the security officer, destroyed after wrapping",
		CheckedInHSM: "the backup was unwrapped inside the HSM as a session key, which signed a test message that verified with the public key, and was destroyed",
		Attributes:   transcript.V(attrs), BackupKeySplit: man.Split, DurationMS: d.Milliseconds(),
	}}); err != nil {
		return "", err
	}
	if err := r.record(transcript.Entry{Step: info.ID, Text: fmt.Sprintf("Wrote key backup %s (%d bytes, SHA-256 %s)", art.Path, art.Size, art.SHA256),
		Data: transcript.ArtifactWritten{Path: art.Path, SHA256: art.SHA256, Size: art.Size, Source: st.Key, Content: "key backup"}}); err != nil {
		return "", err
	}
	if err := r.recordSplit(info, fmt.Sprintf("backup key of %q", kp.Label), man, holders); err != nil {
		return "", err
	}
	return text, nil
}
