package engine

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"filippo.io/age"

	"github.com/devicepki/ceremony/ceremony/backup"
	"github.com/devicepki/ceremony/ceremony/durable"
	"github.com/devicepki/ceremony/ceremony/secret"
	"github.com/devicepki/ceremony/ceremony/shares"
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

// importAES imports an AES key as a session object: a trusted one under
// the security officer's login, with the PINs derived from the activation
// secret, or an untrusted one (opts.Untrusted) as the logged-in user. It
// returns a function that destroys it.
func (r *run) importAES(value *secret.Secret, opts hsm.AESKeyOptions) (*hsm.SecretKey, func() error, error) {
	var so, user *secret.Secret
	if !opts.Untrusted {
		var err error
		if so, user, err = r.pins(); err != nil {
			return nil, nil, err
		}
		defer so.Wipe()
		defer user.Wipe()
	}
	k, err := r.tok.ImportAESKey(so, user, value, opts)
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

// rebuiltKey is a backup key rebuilt from custodians' shares and checked
// against the backup's manifest, held until the restore-key step that
// uses it, and wiped then or when the run ends.
type rebuiltKey struct {
	secret  *secret.Secret
	by      []Participant
	indices []int
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
	back, err := durable.ReadFile(durable.MediaCopy, path)
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
