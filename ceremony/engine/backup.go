package engine

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"filippo.io/age"

	"github.com/devicepki/ceremony/ceremony/backup"
	"github.com/devicepki/ceremony/ceremony/durable"
	"github.com/devicepki/ceremony/ceremony/keys"
	"github.com/devicepki/ceremony/ceremony/pki"
	"github.com/devicepki/ceremony/ceremony/record"
	"github.com/devicepki/ceremony/ceremony/script"
	"github.com/devicepki/ceremony/ceremony/secret"
	"github.com/devicepki/ceremony/ceremony/shares"
	"github.com/devicepki/ceremony/ceremony/transcript"
	"github.com/devicepki/ceremony/hsm"
)

// backupKeyLen is the backup key's length: AES-256.
const backupKeyLen = 32

// Labels of the short-lived AES key objects (session objects, destroyed
// right after use).
const (
	wrapKeyLabel    = "ceremony-backup-wrap"
	checkKeyLabel   = "ceremony-backup-check"
	restoreKeyLabel = "ceremony-restore-unwrap"
)

// importTrusted imports an AES key as a trusted session object under the
// security officer's login, with the PINs derived from the activation
// secret, and returns a function that destroys it.
func (r *run) importTrusted(value *secret.Secret, usage hsm.KeyUsage, label string) (*hsm.SecretKey, func() error, error) {
	so, user, err := r.pins()
	if err != nil {
		return nil, nil, err
	}
	defer so.Wipe()
	defer user.Wipe()
	k, err := r.tok.ImportTrustedAESKey(so, user, value, usage, label)
	if err != nil {
		return nil, nil, err
	}
	destroyed := false
	return k, func() error {
		if destroyed {
			return nil
		}
		destroyed = true
		return r.tok.DestroySecretKey(k)
	}, nil
}

// backupKey wraps a generated key under a fresh AES-256 backup key inside
// the HSM, checks inside the HSM that the backup unwraps to the same key,
// writes the ciphertext as an artifact, and splits the backup key among
// the custodians. The backup key exists in clear only in this process's
// memory until it is split, and afterwards only as shares.
func (r *run) backupKey(info StepInfo, st *script.Step) (string, error) {
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
	r.pending[st.ID] = &pendingSplit{role: q.Role, manifest: man, shares: list}
	value.Wipe()

	data, err := backup.Encode(&backup.Backup{Label: kp.Label, Algorithm: kp.Algorithm, PublicKey: kp.Public(), Manifest: man, Wrapped: wrapped})
	if err != nil {
		return "", err
	}
	art, err := r.out.WriteArtifact(r.script.ArtifactFile(st), data)
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
	if err := r.record(transcript.Entry{Type: "key-backed-up", Step: info.ID, Text: text, Data: map[string]any{
		"label": kp.Label, "id": kp.IDHex(), "public_key_sha256": fp, "path": art.Path, "sha256": art.SHA256, "size": art.Size,
		"mechanism": backup.Mechanism, "wrapping_key": "AES-256, imported as a trusted session object by the security officer, destroyed after wrapping",
		"checked_in_hsm": "the backup was unwrapped inside the HSM as a session key, which signed a test message that verified with the public key, and was destroyed",
		"attributes":     attrs, "backup_key_split": man.Split, "duration_ms": d.Milliseconds(),
	}}); err != nil {
		return "", err
	}
	if err := r.record(transcript.Entry{Type: "artifact-written", Step: info.ID, Text: fmt.Sprintf("Wrote key backup %s (%d bytes, SHA-256 %s)", art.Path, art.Size, art.SHA256),
		Data: map[string]any{"path": art.Path, "sha256": art.SHA256, "size": art.Size, "source": st.Key, "content": "key backup"}}); err != nil {
		return "", err
	}
	if err := r.recordSplit(info, fmt.Sprintf("backup key of %q", kp.Label), man, holders); err != nil {
		return "", err
	}
	return text, nil
}

// maxInputFile bounds the backup and certificate files a restore reads.
const maxInputFile = 1 << 16

// restoreInput is a restore's backup file and certificate, read once and
// checked against each other before the ceremony starts.
type restoreInput struct {
	backupPath, certPath string
	data                 []byte // the backup file's bytes
	backup               *backup.Backup
	cert                 *x509.Certificate
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

// rebuiltKey is a backup key rebuilt from custodians' shares and checked
// against the backup's manifest, held until the restore-key step that
// uses it, and wiped then or when the run ends.
type rebuiltKey struct {
	secret  *secret.Secret
	by      []Participant
	indices []int
}

// rebuildBackupKey has custodians enter their backup shares, rebuilds the
// backup key and checks it against the manifest in the backup file, which
// was checked against the certificate before the ceremony started. It
// touches no token: a wrong, foreign or altered share is refused before
// a blank token is initialised.
func (r *run) rebuildBackupKey(ctx context.Context, info StepInfo, st *script.Step, i int) (string, error) {
	in := r.restores[i]
	b, cert := in.backup, in.cert
	iss := &pki.Issued{Cert: cert, DER: cert.Raw}
	r.face.Report(Report{Kind: Notice, Step: info, Text: "Certificate SHA-256: " + record.GroupHex(iss.SHA256())})
	sec, by, indices, err := r.collectShares(ctx, info, st.Quorum.Role, b.Manifest)
	if err != nil {
		return "", err
	}
	r.rebuilt[st.ID] = &rebuiltKey{secret: sec, by: by, indices: indices}
	text := fmt.Sprintf("Rebuilt the backup key of %s (key %q) from %d %s shares of split %s; every share and the rebuilt key matched the backup's manifest, and the backup's public key matches certificate %q (SHA-256 %s); nothing was written to a token",
		filepath.Base(in.backupPath), b.Label, len(indices), st.Quorum.Role, b.Manifest.Split, cert.Subject.String(), iss.SHA256())
	return text, r.record(transcript.Entry{Type: "backup-key-rebuilt", Step: info.ID, Actors: actors(by...), Text: text, Data: map[string]any{
		"backup_label": b.Label, "algorithm": b.Algorithm,
		"backup_file":       map[string]string{"path": in.backupPath, "sha256": sha256Hex(in.data)},
		"certificate":       map[string]string{"path": in.certPath, "subject": cert.Subject.String(), "sha256": iss.SHA256()},
		"public_key_sha256": b.PublicKeySHA256, "backup_key_split": b.Manifest.Split, "shares": indices,
		"checks": []string{"backup public key equals the certificate's", "every share matched the manifest", "backup key matched its commitment"},
	}})
}

// restoreKey restores a backed-up key into the token with the backup key
// an earlier rebuild-backup-key step rebuilt: the backup key is imported
// as a trusted unwrapping key, the key unwrapped as sensitive and
// non-extractable beside a public-key object made from the certificate, a
// test signature checked with the certificate's key, and the backup key
// destroyed on the token and wiped from memory.
func (r *run) restoreKey(info StepInfo, st *script.Step, i int) (string, error) {
	in, label := r.restores[i], r.labels[i]
	b, cert, data := in.backup, in.cert, in.data
	paths := [2]string{in.backupPath, in.certPath}
	certFP, _ := keys.Fingerprint(cert.PublicKey)
	iss := &pki.Issued{Cert: cert, DER: cert.Raw}
	r.face.Report(Report{Kind: Notice, Step: info, Text: "Certificate SHA-256: " + record.GroupHex(iss.SHA256())})
	rk := r.rebuilt[st.Source]
	if rk == nil {
		return "", fmt.Errorf("step %q has no rebuilt backup key: step %q did not complete", st.ID, st.Source)
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
	var kp *hsm.KeyPair
	d, err := r.timed(info, fmt.Sprintf("Unwrapping key %q into the HSM", label), func() error {
		u, destroy, err := r.importTrusted(sec, hsm.UsageUnwrap, restoreKeyLabel)
		if err != nil {
			return err
		}
		defer destroy()
		if kp, err = r.tok.UnwrapKeyPair(u, b.Wrapped, label, cert.PublicKey); err != nil {
			return err
		}
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
	r.keys[st.ID] = kp
	r.certs[st.ID] = iss
	text := fmt.Sprintf("Restored key %q from %s into HSM token %q as %q: its public key matches certificate %q (SHA-256 %s), and a test signature verified with it; the backup key was destroyed on the token",
		b.Label, filepath.Base(paths[0]), r.tok.Info().Label, label, cert.Subject.String(), iss.SHA256())
	return text, r.record(transcript.Entry{Type: "key-restored", Step: info.ID, Actors: actors(by...), Text: text, Data: map[string]any{
		"label": label, "id": kp.IDHex(), "token": r.tok.Info().Label, "backup_label": b.Label, "algorithm": b.Algorithm,
		"backup_file":       map[string]string{"path": paths[0], "sha256": sha256Hex(data)},
		"certificate":       map[string]string{"path": paths[1], "subject": cert.Subject.String(), "sha256": iss.SHA256()},
		"public_key_sha256": certFP, "backup_key_split": b.Manifest.Split, "shares": indices,
		"checks": []string{"backup public key equals the certificate's", "every share matched the manifest", "backup key matched its commitment",
			"unwrapped key signed a test message that verified with the certificate's public key"},
		"attributes": attrs, "stored_on_token": true, "duration_ms": d.Milliseconds(),
	}})
}

// MinPassphraseLen is the shortest passphrase a media copy of a share is
// encrypted with (age's scrypt makes each guess slow, not a short
// passphrase safe).
const MinPassphraseLen = 12

// writeMedia writes a keyholder's share to their removable media,
// encrypted to their passphrase with age (scrypt), and reads it back to
// check it decrypts to the share.
func (r *run) writeMedia(ans HandOutAnswer, holder Participant, sh *shares.Share, text *secret.Secret) (map[string]any, error) {
	if ans.Passphrase.Len() < MinPassphraseLen {
		return nil, fmt.Errorf("the passphrase for %s's media copy is shorter than %d characters", holder.Name, MinPassphraseLen)
	}
	rcpt, err := age.NewScryptRecipient(string(ans.Passphrase.Bytes()))
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, rcpt)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(text.Bytes()); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	name := fmt.Sprintf("%s-%d.share.age", holder.Role, sh.Index)
	path := filepath.Join(ans.MediaDir, name)
	if err := durable.WriteFileExclusive(path, buf.Bytes(), 0o600); err != nil {
		return nil, fmt.Errorf("media copy for %s: %w", holder.Name, err)
	}
	// Read back what the media holds, as a later audit would.
	back, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("media copy for %s: read back: %w", holder.Name, err)
	}
	id, err := age.NewScryptIdentity(string(ans.Passphrase.Bytes()))
	if err != nil {
		return nil, err
	}
	rd, err := age.Decrypt(bytes.NewReader(back), id)
	if err != nil {
		return nil, fmt.Errorf("media copy for %s does not decrypt with the passphrase: %w", holder.Name, err)
	}
	plain, err := io.ReadAll(rd)
	defer clear(plain)
	if err != nil || !bytes.Equal(plain, text.Bytes()) {
		return nil, fmt.Errorf("media copy for %s does not read back as the share", holder.Name)
	}
	return map[string]any{"file": name, "sha256": sha256Hex(back), "encryption": "age, scrypt passphrase", "written": r.opts.Now().UTC().Format(time.RFC3339)}, nil
}
