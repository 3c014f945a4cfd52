package engine

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/devicepki/ceremony/ceremony/keys"
	"github.com/devicepki/ceremony/ceremony/pki"
	"github.com/devicepki/ceremony/ceremony/record"
	"github.com/devicepki/ceremony/ceremony/script"
	"github.com/devicepki/ceremony/ceremony/transcript"
	"github.com/devicepki/ceremony/hsm"
)

// step runs step i and returns a one-line summary of what happened.
func (r *run) step(ctx context.Context, i int) (string, error) {
	st := &r.script.Steps[i]
	info := r.info(i)
	switch st.Kind {
	case script.KindAttendance:
		return r.attendance(ctx, info)
	case script.KindConfirm:
		return r.confirm(ctx, info, st)
	case script.KindChoose:
		return r.choose(ctx, info, st)
	case script.KindPreflight:
		return r.preflight(ctx, info, st)
	case script.KindHSMLogin:
		if st.Quorum != nil {
			return r.quorumLogin(ctx, info, st)
		}
		return r.login(ctx, info, st)
	case script.KindGenerateKey:
		return r.generateKey(info, st, i)
	case script.KindIssueCertificate:
		return r.issueCertificate(ctx, info, st, i)
	case script.KindUseKey:
		return r.useKey(info, st, i)
	case script.KindIssueCRL:
		return r.issueCRL(ctx, info, st, i)
	case script.KindWriteArtifact:
		return r.writeArtifact(info, st)
	case script.KindSeal:
		return r.seal(info, i)
	case script.KindExportQR:
		return r.exportQR(info, st)
	case script.KindInitToken:
		return r.initToken(ctx, info, st)
	case script.KindHandOutShares:
		return r.handOut(ctx, info, st)
	case script.KindBackupKey:
		return r.backupKey(info, st)
	case script.KindRebuildBackupKey:
		return r.rebuildBackupKey(ctx, info, st, i)
	case script.KindRestoreKey:
		return r.restoreKey(info, st, i)
	}
	return "", fmt.Errorf("step kind %q has no implementation", st.Kind)
}

func actors(ps ...Participant) []transcript.Actor {
	out := make([]transcript.Actor, len(ps))
	for i, p := range ps {
		out[i] = transcript.Actor{Role: p.Role, Name: p.Name}
	}
	return out
}

func (r *run) inRole(role string) []Participant {
	var out []Participant
	for _, p := range r.present {
		if p.Role == role {
			out = append(out, p)
		}
	}
	return out
}

// pick checks that the face's answer came from one of the candidates.
func pick(by Participant, candidates []Participant) (Participant, error) {
	if len(candidates) == 1 && by.Name == "" {
		return candidates[0], nil
	}
	for _, c := range candidates {
		if c.Name == by.Name && (by.Role == "" || by.Role == c.Role) {
			return c, nil
		}
	}
	var names []string
	for _, c := range candidates {
		names = append(names, fmt.Sprintf("%q", c.Name))
	}
	return Participant{}, fmt.Errorf("%q may not act here; one of %s must", by.Name, strings.Join(names, ", "))
}

func (r *run) attendance(ctx context.Context, info StepInfo) (string, error) {
	got, err := r.face.Attendance(ctx, AttendanceRequest{Step: info, Roles: r.script.Roles})
	if err != nil {
		return "", err
	}
	for role := range got {
		if _, ok := r.script.Role(role); !ok {
			return "", fmt.Errorf("attendance names role %q, which the script does not declare", role)
		}
	}
	if err := CheckAttendance(r.script.Roles, got); err != nil {
		return "", err
	}
	var present []Participant
	var parts []string
	for _, role := range r.script.Roles {
		for _, n := range got[role.Name] {
			present = append(present, Participant{Role: role.Name, Name: n})
			parts = append(parts, fmt.Sprintf("%s (%s)", n, role.Name))
		}
	}
	r.present = present
	text := "Present: " + strings.Join(parts, ", ")
	return text, r.record(transcript.Entry{Type: "attendance", Step: info.ID, Actors: actors(present...), Text: text})
}

func (r *run) confirm(ctx context.Context, info StepInfo, st *script.Step) (string, error) {
	var who []Participant
	for _, role := range st.Confirm {
		for _, p := range r.inRole(role) {
			if err := r.face.Confirm(ctx, ConfirmRequest{Step: info, Participant: p}); err != nil {
				return "", err
			}
			who = append(who, p)
		}
	}
	var names []string
	for _, p := range who {
		names = append(names, p.Name)
	}
	text := fmt.Sprintf("%s: confirmed by %s", info.Title, strings.Join(names, ", "))
	return text, r.record(transcript.Entry{Type: "confirmed", Step: info.ID, Actors: actors(who...), Text: text,
		Data: map[string]any{"said": info.Say}})
}

func (r *run) choose(ctx context.Context, info StepInfo, st *script.Step) (string, error) {
	candidates := r.inRole(st.By)
	c, err := r.face.Choose(ctx, ChoiceRequest{Step: info, Candidates: candidates, Options: st.Options})
	if err != nil {
		return "", err
	}
	by, err := pick(c.By, candidates)
	if err != nil {
		return "", err
	}
	var opt *script.Option
	for k := range st.Options {
		if st.Options[k].Value == c.Value {
			opt = &st.Options[k]
		}
	}
	if opt == nil {
		return "", fmt.Errorf("%q is not one of the options", c.Value)
	}
	text := fmt.Sprintf("%s: %s chose %q", info.Title, by.Name, opt.Text)
	if err := r.record(transcript.Entry{Type: "choice", Step: info.ID, Actors: actors(by), Text: text,
		Data: map[string]any{"question": info.Say, "value": opt.Value, "abort": opt.Abort}}); err != nil {
		return "", err
	}
	if opt.Abort {
		return "", fmt.Errorf("%w: %s chose %q", ErrAborted, by.Name, opt.Text)
	}
	return text, nil
}

func (r *run) login(ctx context.Context, info StepInfo, st *script.Step) (string, error) {
	tok := r.tok
	if st.Token != "" {
		cfg, err := r.opts.HSM.Other(st.Token)
		if err != nil {
			return "", err
		}
		if tok, err = hsm.Open(cfg); err != nil {
			return "", err
		}
		r.others[st.Token] = tok
	}
	candidates := r.inRole(st.By)
	what := fmt.Sprintf("HSM user PIN for token %q", tok.Info().Label)
	var lastErr error
	for attempt := 1; attempt <= MaxSecretAttempts; attempt++ {
		ans, err := r.face.Secret(ctx, SecretRequest{Step: info, What: what, Candidates: candidates, Attempt: attempt})
		if errors.Is(err, ErrNoRetry) && lastErr != nil {
			return "", lastErr
		}
		if err != nil {
			return "", err
		}
		if attempt > 1 {
			// Repeated PIN attempts count against the HSM's retry limit:
			// from here on the record is kept whatever happens.
			r.changed = true
		}
		by, err := pick(ans.By, candidates)
		if err != nil {
			ans.Secret.Wipe()
			return "", err
		}
		err = tok.Login(ans.Secret)
		ans.Secret.Wipe()
		if err == nil {
			text := fmt.Sprintf("%s logged in to HSM token %q", by.Name, tok.Info().Label)
			return text, r.record(transcript.Entry{Type: "hsm-login", Step: info.ID, Actors: actors(by), Text: text,
				Data: map[string]any{"token": tok.Info(), "attempt": attempt}})
		}
		if !errors.Is(err, hsm.ErrPINIncorrect) {
			return "", err
		}
		lastErr = err
		if rerr := r.record(transcript.Entry{Type: "hsm-login-failed", Step: info.ID, Actors: actors(by),
			Text: fmt.Sprintf("The HSM rejected the PIN entered by %s (attempt %d of %d)", by.Name, attempt, MaxSecretAttempts),
			Data: map[string]any{"attempt": attempt}}); rerr != nil {
			return "", rerr
		}
	}
	return "", lastErr
}

// timed reports a long operation to the room while it runs.
func (r *run) timed(info StepInfo, what string, op func() error) (time.Duration, error) {
	r.face.Report(Report{Kind: OperationStarted, Step: info, Text: what})
	t0 := time.Now()
	err := op()
	d := time.Since(t0)
	r.face.Report(Report{Kind: OperationDone, Step: info, Text: what, Elapsed: d})
	return d, err
}

func (r *run) generateKey(info StepInfo, st *script.Step, i int) (string, error) {
	prof := r.templates[st.Template]
	label := r.labels[i]
	var (
		kp   *hsm.KeyPair
		opts hsm.KeyOptions
	)
	bst, backedUp := r.backups[st.ID]
	if backedUp {
		opts = hsm.KeyOptions{Backup: true, AllowUntrustedWrap: bst.AllowUntrustedWrap}
	}
	tok := r.tok
	if st.Token != "" {
		tok = r.others[st.Token]
	}
	d, err := r.timed(info, fmt.Sprintf("Generating %s key pair %q in HSM token %q", prof.Key.Describe(), label, tok.Info().Label), func() (err error) {
		kp, err = tok.GenerateKeyPairWith(label, prof.Key, opts)
		return err
	})
	if errors.Is(err, hsm.ErrTrustedWrapUnsupported) {
		return "", fmt.Errorf("%w; step %q backs this key up, and the script does not allow a backup without trusted wrapping (allow_untrusted_wrap)", err, bst.ID)
	}
	if err != nil {
		return "", err
	}
	r.generated = append(r.generated, kp)
	if tok != r.tok {
		r.keyToken[kp] = tok
	}
	r.changed = true
	attrs, err := tok.KeyAttributes(kp)
	if err != nil {
		return "", err
	}
	want := hsm.KeyAttributes{Token: true, Private: true, Sensitive: true, Local: true, AlwaysSensitive: true, NeverExtractable: true, Sign: true}
	what := "a private, sensitive, non-extractable, unmodifiable token object generated on the token, for signing only"
	if backedUp {
		// Extractable for the backup, but only under a trusted key.
		// Modifiable only until the backup makes it non-extractable.
		want.NeverExtractable, want.Extractable, want.WrapWithTrusted, want.Modifiable = false, true, true, true
		what = "a private, sensitive token object generated on the token, for signing only, extractable only wrapped under a trusted key until its backup is made"
		if !attrs.WrapWithTrusted && bst.AllowUntrustedWrap {
			want.WrapWithTrusted = false
			r.face.Report(Report{Kind: Notice, Step: info, Text: "WARNING: the HSM cannot restrict wrapping of this key to trusted keys; the script allows it (allow_untrusted_wrap)"})
		}
	}
	if attrs != want {
		return "", fmt.Errorf("key pair %q: the HSM reports %+v; the key must be %s", label, attrs, what)
	}
	fp, err := keys.Fingerprint(kp.Public())
	if err != nil {
		return "", err
	}
	pubPEM, err := pki.PublicKeyPEM(kp.Public())
	if err != nil {
		return "", err
	}
	r.keys[st.ID] = kp
	text := fmt.Sprintf("Generated %s key pair %q in HSM token %q (public key SHA-256 %s)", prof.Key.Describe(), label, tok.Info().Label, fp)
	r.face.Report(Report{Kind: Notice, Step: info, Text: "Public key SHA-256: " + record.GroupHex(fp)})
	return text, r.record(transcript.Entry{Type: "key-generated", Step: info.ID, Text: text, Data: map[string]any{
		"label": label, "id": kp.IDHex(), "algorithm": prof.Key, "template": prof.Name,
		"public_key_sha256": fp, "public_key_pem": string(pubPEM), "attributes": attrs,
		"token": tok.Info().Label, "duration_ms": d.Milliseconds(),
	}})
}

// refind finds a key pair generated earlier in the run again on the token,
// by label, and checks it is the same key.
func (r *run) refind(generated *hsm.KeyPair) (*hsm.KeyPair, error) {
	tok := r.tok
	if t, ok := r.keyToken[generated]; ok {
		tok = t
	}
	kp, err := tok.FindKeyPair(generated.Label)
	if err != nil {
		return nil, err
	}
	if !keys.SamePublicKey(kp.Public(), generated.Public()) || kp.IDHex() != generated.IDHex() {
		return nil, fmt.Errorf("key pair %q found on the token differs from the one generated", generated.Label)
	}
	return kp, nil
}

// writeArtifact writes the files of a write-artifact step, in the order of
// its formats, each recorded with its digest.
func (r *run) writeArtifact(info StepInfo, st *script.Step) (string, error) {
	var texts []string
	files := r.script.ArtifactFiles(st)
	for k, format := range r.script.ArtifactFormats(st) {
		data, what, err := r.artifactContent(st.Source, format)
		if err != nil {
			return "", err
		}
		art, err := r.out.WriteArtifact(files[k], data)
		if err != nil {
			return "", err
		}
		r.changed = true
		r.artifacts = append(r.artifacts, art)
		text := fmt.Sprintf("Wrote %s %s (%d bytes, SHA-256 %s)", what, art.Path, art.Size, art.SHA256)
		if err := r.record(transcript.Entry{Type: "artifact-written", Step: info.ID, Text: text, Data: map[string]any{
			"path": art.Path, "sha256": art.SHA256, "size": art.Size, "source": st.Source, "content": what, "format": format,
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
		case script.FormatCertificate:
			return iss.PEM(), "certificate", nil
		case script.FormatChain:
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
	case script.FormatPublicKey:
		data, err := pki.PublicKeyPEM(pub)
		return data, "public key", err
	case script.FormatPublicKeyDER:
		data, err := x509.MarshalPKIXPublicKey(pub)
		return data, "public key (DER SubjectPublicKeyInfo)", err
	case script.FormatPublicKeyRaw:
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

// tokenOf returns the other token a generate-key step uses ("" for the
// ceremony's main token).
func (r *run) tokenOf(stepID string) string {
	if j := r.script.StepIndex(stepID); j >= 0 {
		return r.script.Steps[j].Token
	}
	return ""
}

// serialHex writes a serial number as whole bytes of hex, as openssl
// shows it (without the colons).
func serialHex(b []byte) string { return hex.EncodeToString(b) }
