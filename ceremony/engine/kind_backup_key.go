package engine

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/miekg/pkcs11"

	"github.com/devicepki/ceremony/ceremony/backup"
	"github.com/devicepki/ceremony/ceremony/keys"
	"github.com/devicepki/ceremony/ceremony/outdir"
	"github.com/devicepki/ceremony/ceremony/pki"
	"github.com/devicepki/ceremony/ceremony/script"
	"github.com/devicepki/ceremony/ceremony/shares"
	"github.com/devicepki/ceremony/ceremony/transcript"
	"github.com/devicepki/ceremony/ceremony/words"
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
	// Key is the id of the generate-key step whose key is backed up.
	Key string `yaml:"key"`
	// Name is the artifact's base name: NAME.backup.
	Name string `yaml:"name"`
	// Method is how the key is wrapped: rfc5649 (the default),
	// aes-cbc-pad, or none (no backup: the key never leaves the module).
	Method string `yaml:"method"`
	// Quorum is the split of the backup key: role, threshold and shares.
	Quorum *script.Quorum `yaml:"quorum"`
	// AllowUntrustedWrap lets a backup go ahead on a module that cannot
	// restrict wrapping to trusted keys, or refuses CKA_TRUSTED on the
	// wrapping key. Default: refuse.
	AllowUntrustedWrap bool `yaml:"allow_untrusted_wrap"`
	// ApprovedBy is the role whose every present member approves that
	// the key has no backup (method: none only).
	ApprovedBy string `yaml:"approved_by"`
}

// The values of a backup-key step's method.
const (
	backupRFC5649   = string(hsm.MethodRFC5649)
	backupAESCBCPad = string(hsm.MethodAESCBCPad)
	backupNone      = "none"
)

// method returns the step's method, rfc5649 if the script names none.
func (k *backupKeyStep) method() string {
	if k.Method == "" {
		return backupRFC5649
	}
	return k.Method
}

// none reports whether the step makes no backup.
func (k *backupKeyStep) none() bool { return k.Method == backupNone }

func (k *backupKeyStep) StepQuorum() *script.Quorum { return k.Quorum }

func (k *backupKeyStep) asks() []Ask {
	if k.none() {
		return []Ask{{Kind: AskApprove, Role: k.ApprovedBy}}
	}
	return nil
}

// file is the backup's file name under artifacts/.
func (k *backupKeyStep) file() string { return k.Name + ".backup" }

func (k *backupKeyStep) Validate(c *script.Check) error {
	switch k.Method {
	case "", backupRFC5649, backupAESCBCPad, backupNone:
	default:
		return c.Errorf("method", "unknown backup method %q: %s (the default), %s (where the module has no RFC 5649) or %s (no backup, approved by a role)",
			k.Method, backupRFC5649, backupAESCBCPad, backupNone)
	}
	if err := c.NeedsPeople(); err != nil {
		return err
	}
	if !k.none() {
		if err := c.NeedsOfficer(); err != nil {
			return err
		}
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
	if k.none() {
		return k.validateNone(c)
	}
	if k.ApprovedBy != "" {
		return c.Errorf("approved_by", "only method: %s is approved by a role; a backup of method %s is not", backupNone, k.method())
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

// validateNone checks a step that makes no backup: nothing to write, split
// or hand out, and a role that approves the exception.
func (k *backupKeyStep) validateNone(c *script.Check) error {
	const why = "method: none makes no backup"
	switch {
	case k.Name != "":
		return c.Errorf("name", "%s, so no file is named", why)
	case k.Quorum != nil:
		return c.Errorf("quorum", "%s, so there is no backup key to split", why)
	case k.AllowUntrustedWrap:
		return c.Errorf("allow_untrusted_wrap", "%s, so nothing is wrapped", why)
	case k.ApprovedBy == "":
		return c.Errorf("approved_by", "required with method: none: the role whose every member approves that the key has no backup")
	}
	return c.Role("approved_by", k.ApprovedBy)
}

func (k *backupKeyStep) prepare(p *Plan, i int) error {
	p.backups[k.Key] = i
	return nil
}

func (k *backupKeyStep) run(ctx context.Context, r *run, info StepInfo) (string, error) {
	if k.none() {
		return r.noBackup(ctx, info, k)
	}
	return r.backupKey(info, k)
}

// backupKey wraps a generated key under a fresh AES-256 backup key inside
// the HSM with the step's method, checks inside the HSM that the backup
// unwraps to the same key, writes the ciphertext as an artifact, and
// splits the backup key among the custodians. The backup key exists in
// clear only in this process's memory until it is split, and afterwards
// only as shares.
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
	mech, mechCheck, err := r.backupMechanism(info, st)
	if err != nil {
		return "", err
	}
	// A key the module restricts to trusted wrapping keys is wrapped under
	// a trusted key. Only a key the module could not so restrict, where
	// the script allows it, is wrapped under a key the user imports
	// without CKA_TRUSTED (which some modules refuse).
	before, err := r.tok.KeyAttributes(kp)
	if err != nil {
		return "", err
	}
	untrusted := st.AllowUntrustedWrap && !before.WrapWithTrusted
	if untrusted {
		r.face.Report(Report{Kind: Notice, Step: info, Text: "WARNING: the wrapping key is imported by the user without CKA_TRUSTED: the HSM cannot restrict wrapping of this key to trusted keys; the script allows it (allow_untrusted_wrap)"})
	}
	value, err := r.randomSecret(backupKeyLen)
	if err != nil {
		return "", err
	}
	defer value.Wipe()

	var wrapped []byte
	d, err := r.timed(info, fmt.Sprintf("Wrapping key %q under a new backup key in the HSM with %s", kp.Label, mech), func() error {
		w, destroy, err := r.importAES(value, hsm.AESKeyOptions{Usage: hsm.UsageWrap, Label: wrapKeyLabel, Mechanism: mech, Untrusted: untrusted})
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
		u, destroy, err := r.importAES(value, hsm.AESKeyOptions{Usage: hsm.UsageUnwrap, Label: checkKeyLabel, Mechanism: mech, Untrusted: untrusted})
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
	// Announced first: a kill between the copy and the destruction of
	// the original leaves the key twice under its id, which close
	// destroys by that id.
	if err := r.record(transcript.Entry{Step: info.ID,
		Text: fmt.Sprintf("Ending extraction of key %q (id %s): copying it unmodifiable and non-extractable, then destroying the original", kp.Label, kp.IDHex()),
		Data: transcript.ExtractionEnding{ID: kp.IDHex(), Label: kp.Label}}); err != nil {
		return "", err
	}
	if kp, err = r.tok.EndExtraction(kp); err != nil {
		return "", err
	}
	hsm.Barrier()
	list, man, err := shares.Split(rand.Reader, value, shares.Backup, q.Threshold, q.Shares)
	if err != nil {
		return "", err
	}
	r.pending[info.ID] = &pendingSplit{role: q.Role, manifest: man, shares: list}

	var hs []shares.Holder
	for i, p := range holders {
		hs = append(hs, shares.Holder{Share: i + 1, Name: p.Name, Role: p.Role})
	}
	b := &backup.Backup{Label: kp.Label, Algorithm: kp.Algorithm, PublicKey: kp.Public(), Manifest: man, Mechanism: mech, Wrapped: wrapped, Holders: hs}
	// The file's MAC is under a key derived from the backup key: the
	// restore checks it with the key rebuilt from the shares before it
	// touches a token.
	data, err := backup.EncodeSealed(b, value.Bytes())
	value.Wipe()
	if err != nil {
		return "", err
	}
	art, err := r.writeArtifact(info, st.file(), data)
	if err != nil {
		return "", err
	}
	r.changed = true
	r.artifacts = append(r.artifacts, art)
	r.inRoom[art.Path] = outdir.StaysInRoom(outdir.ContentKeyBackup)
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
	wrappingKey := "AES-256, imported as a trusted session object by the security officer, destroyed after wrapping"
	if untrusted {
		wrappingKey = "AES-256, imported without CKA_TRUSTED as a session object by the user (the module cannot restrict wrapping to trusted keys; the script allows it: allow_untrusted_wrap), destroyed after wrapping"
	}
	checked := "the backup was unwrapped inside the HSM as a session key, which signed a test message that verified with the public key, and was destroyed"
	ctSum := ""
	if mech.Method() == hsm.MethodAESCBCPad {
		ctSum = b.CiphertextSHA256()
		checked += "; CBC has no integrity check of its own, so the ciphertext's SHA-256 is recorded here and in the file (Ciphertext-SHA256), and a restore refuses a file whose ciphertext does not match it"
	}
	text := fmt.Sprintf("Backed up key %q to %s (%d bytes, SHA-256 %s): wrapped with %s under a new AES-256 backup key, which was split among the %ss; the wrapping key (a session object) was destroyed and the key made non-extractable and unmodifiable for good",
		kp.Label, art.Path, art.Size, art.SHA256, backup.MechanismHeader(mech), q.Role)
	if ctSum != "" {
		text += fmt.Sprintf("; ciphertext SHA-256 %s", ctSum)
	}
	if err := r.record(transcript.Entry{Step: info.ID, Text: text, Data: transcript.KeyBackedUp{
		Label: kp.Label, ID: kp.IDHex(), PublicKeySHA256: fp, Path: art.Path, SHA256: art.SHA256, Size: art.Size,
		Method: string(mech.Method()), Mechanism: backup.MechanismHeader(mech), MechanismCheck: mechCheck, CiphertextSHA256: ctSum,
		WrappingKey: wrappingKey, CheckedInHSM: checked,
		Attributes: transcript.V(attrs), BackupKeySplit: man.Split, DurationMS: d.Milliseconds(),
	}}); err != nil {
		return "", err
	}
	if err := r.record(transcript.Entry{Step: info.ID, Text: fmt.Sprintf("Wrote key backup %s (%d bytes, SHA-256 %s)", art.Path, art.Size, art.SHA256),
		Data: transcript.ArtifactWritten{Path: art.Path, SHA256: art.SHA256, Size: art.Size, Source: st.Key, Content: outdir.ContentKeyBackup}}); err != nil {
		return "", err
	}
	if err := r.recordSplit(info, fmt.Sprintf("backup key of %q", kp.Label), man, holders); err != nil {
		return "", err
	}
	return text, nil
}

// backupMechanism chooses the mechanism of a backup: for rfc5649 the
// first whose known-answer test on the module gives RFC 5649's answers,
// for aes-cbc-pad CKM_AES_CBC_PAD with a fresh random IV. It returns what
// the known-answer test found, for the transcript.
func (r *run) backupMechanism(info StepInfo, st *backupKeyStep) (hsm.WrapMechanism, string, error) {
	if st.method() == backupAESCBCPad {
		iv, err := r.randomSecret(16)
		if err != nil {
			return hsm.WrapMechanism{}, "", err
		}
		return hsm.WrapMechanism{Type: pkcs11.CKM_AES_CBC_PAD, IV: append([]byte(nil), iv.Bytes()...)}, "", nil
	}
	m, check, err := r.tok.FindRFC5649(true, true)
	if err != nil {
		return m, "", fmt.Errorf("%w; instead: method: %s, or method: %s", err, backupAESCBCPad, backupNone)
	}
	r.face.Report(Report{Kind: Notice, Step: info, Text: check})
	return m, check, nil
}

// noBackup is a backup-key step with method: none. The key was generated
// non-extractable; every present member of the approving role approves
// that it has no backup, and the exception is recorded.
func (r *run) noBackup(ctx context.Context, info StepInfo, st *backupKeyStep) (string, error) {
	kp, err := r.refind(r.keys[st.Key])
	if err != nil {
		return "", err
	}
	attrs, err := r.tok.KeyAttributes(kp)
	if err != nil {
		return "", err
	}
	if attrs.Extractable || !attrs.NeverExtractable || !attrs.Sensitive {
		return "", fmt.Errorf("key %q: the HSM reports %+v; a key without a backup must be sensitive and never extractable", kp.Label, attrs)
	}
	fp, err := keys.Fingerprint(kp.Public())
	if err != nil {
		return "", err
	}
	token := r.tok.Info().Label
	reason := fmt.Sprintf("the script says method: %s: the key was generated non-extractable and can never leave HSM token %q", backupNone, token)
	statement := fmt.Sprintf("Key %q (id %s, %s, public key SHA-256 %s) has no backup: %s. If the token is lost or fails, the key is gone and nothing can restore it.",
		kp.Label, kp.IDHex(), kp.Algorithm.Describe(), fp, reason)
	sum := sha256.Sum256([]byte(statement))
	digest := hex.EncodeToString(sum[:])
	ws, err := words.FromHex(digest)
	if err != nil {
		return "", err
	}
	fields := []pki.Field{
		{Label: "Key", Value: kp.Label}, {Label: "ID", Value: kp.IDHex()}, {Label: "Algorithm", Value: kp.Algorithm.Describe()},
		{Label: "Public key SHA-256", Value: fp}, {Label: "Token", Value: token},
		{Label: "Backup", Value: "none: generated non-extractable, it can never leave the token"},
		{Label: "If the token is lost", Value: "the key is gone; nothing can restore it"},
	}
	var who []Participant
	for _, p := range r.inRole(st.ApprovedBy) {
		err := r.face.Approve(ctx, ApprovalRequest{Step: info, Participant: p, What: "exception: no backup", Fields: fields, TBSSHA256: digest, Words: strings.Join(ws, " "), NotSigned: true})
		if err != nil {
			return "", fmt.Errorf("%s did not approve that key %q has no backup: %w", p.Name, kp.Label, err)
		}
		who = append(who, p)
	}
	if len(who) == 0 {
		return "", fmt.Errorf("nobody present as %s to approve that key %q has no backup", st.ApprovedBy, kp.Label)
	}
	text := fmt.Sprintf("EXCEPTION: key %q has no backup (%s); approved by %s", kp.Label, reason, names(who))
	return text, r.record(transcript.Entry{Step: info.ID, Actors: actors(who...), Text: text, Data: transcript.BackupException{
		Label: kp.Label, ID: kp.IDHex(), Algorithm: transcript.V(kp.Algorithm), PublicKeySHA256: fp, Attributes: transcript.V(attrs),
		Reason: reason, Statement: statement, StatementSHA256: digest, ApprovedBy: names(who),
	}})
}
