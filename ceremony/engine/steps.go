package engine

import (
	"context"
	"encoding/hex"
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
		return r.issueCertificate(info, st, i)
	case script.KindWriteArtifact:
		return r.writeArtifact(info, st)
	case script.KindSeal:
		return r.seal(info, i)
	case script.KindInitToken:
		return r.initToken(ctx, info, st)
	case script.KindHandOutShares:
		return r.handOut(ctx, info, st)
	case script.KindBackupKey:
		return r.backupKey(info, st)
	case script.KindRestoreKey:
		return r.restoreKey(ctx, info, st, i)
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
	candidates := r.inRole(st.By)
	what := fmt.Sprintf("HSM user PIN for token %q", r.tok.Info().Label)
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
		err = r.tok.Login(ans.Secret)
		ans.Secret.Wipe()
		if err == nil {
			text := fmt.Sprintf("%s logged in to HSM token %q", by.Name, r.tok.Info().Label)
			return text, r.record(transcript.Entry{Type: "hsm-login", Step: info.ID, Actors: actors(by), Text: text,
				Data: map[string]any{"token": r.tok.Info(), "attempt": attempt}})
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
	d, err := r.timed(info, fmt.Sprintf("Generating %s key pair %q in the HSM", prof.Key.Describe(), label), func() (err error) {
		kp, err = r.tok.GenerateKeyPairWith(label, prof.Key, opts)
		return err
	})
	if errors.Is(err, hsm.ErrTrustedWrapUnsupported) {
		return "", fmt.Errorf("%w; step %q backs this key up, and the script does not allow a backup without trusted wrapping (allow_untrusted_wrap)", err, bst.ID)
	}
	if err != nil {
		return "", err
	}
	r.generated = append(r.generated, kp)
	r.changed = true
	attrs, err := r.tok.KeyAttributes(kp)
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
	text := fmt.Sprintf("Generated %s key pair %q in the HSM (public key SHA-256 %s)", prof.Key.Describe(), label, fp)
	r.face.Report(Report{Kind: Notice, Step: info, Text: "Public key SHA-256: " + record.GroupHex(fp)})
	return text, r.record(transcript.Entry{Type: "key-generated", Step: info.ID, Text: text, Data: map[string]any{
		"label": label, "id": kp.IDHex(), "algorithm": prof.Key, "template": prof.Name,
		"public_key_sha256": fp, "public_key_pem": string(pubPEM), "attributes": attrs,
		"token": r.tok.Info().Label, "duration_ms": d.Milliseconds(),
	}})
}

func (r *run) issueCertificate(info StepInfo, st *script.Step, i int) (string, error) {
	prof := r.templates[st.Template]
	// Find the keys again by label: the certificate is signed by the key the
	// token holds under that label, and checked with the public key it holds.
	kp, err := r.refind(r.keys[st.Key])
	if err != nil {
		return "", err
	}
	serial, err := pki.NewSerial(tokenRand{r.tok})
	if err != nil {
		return "", err
	}
	var (
		iss    *pki.Issued
		signer = kp
		what   string
	)
	if st.Issuer == script.IssuerSelf {
		what = fmt.Sprintf("Signing certificate %q with key %q in the HSM", prof.Subject.CommonName, kp.Label)
	} else {
		issuerStep := &r.script.Steps[r.script.StepIndex(st.Issuer)]
		issuerKey := issuerStep.Key
		if issuerStep.Kind == script.KindRestoreKey {
			issuerKey = issuerStep.ID // the restored key and its certificate
		}
		if signer, err = r.refind(r.keys[issuerKey]); err != nil {
			return "", err
		}
		what = fmt.Sprintf("Signing certificate %q for key %q with key %q in the HSM", prof.Subject.CommonName, kp.Label, signer.Label)
	}
	d, err := r.timed(info, what, func() (err error) {
		if st.Issuer == script.IssuerSelf {
			iss, err = pki.SelfSign(prof, r.validities[i], serial, kp)
		} else {
			iss, err = pki.Issue(prof, r.validities[i], serial, kp.Public(), r.certs[st.Issuer].Cert, signer)
		}
		return err
	})
	if err != nil {
		return "", err
	}
	// The certificate is kept on the token beside its key, where later
	// ceremonies find it (the root's, the audit key's).
	if err := r.tok.StoreCertificate(kp, iss.Cert); err != nil {
		return "", err
	}
	fp, _ := keys.Fingerprint(iss.Cert.PublicKey)
	c := iss.Cert
	r.certs[st.ID] = iss
	kind := "self-signed certificate"
	if st.Issuer != script.IssuerSelf {
		kind = fmt.Sprintf("certificate (issued by %q)", c.Issuer.String())
	}
	text := fmt.Sprintf("Issued %s %q, serial %s, valid %s to %s (SHA-256 %s); stored on the token beside key %q",
		kind, c.Subject.String(), serialHex(c.SerialNumber.Bytes()), c.NotBefore.Format(time.DateOnly), c.NotAfter.Format(time.DateOnly), iss.SHA256(), kp.Label)
	r.face.Report(Report{Kind: Notice, Step: info, Text: "Certificate SHA-256: " + record.GroupHex(iss.SHA256())})
	checks := []string{"signature verified with the HSM's public key", "fields match the template"}
	if st.Issuer != script.IssuerSelf {
		checks = append(checks, "chains to the issuer certificate", "validity inside the issuer's")
	}
	return text, r.record(transcript.Entry{Type: "certificate-issued", Step: info.ID, Text: text, Data: map[string]any{
		"template": prof.Name, "template_sha256": prof.SHA256, "profile": prof.Kind,
		"subject": c.Subject.String(), "issuer": c.Issuer.String(), "serial": serialHex(c.SerialNumber.Bytes()),
		"not_before": c.NotBefore.UTC().Format(time.RFC3339), "not_after": c.NotAfter.UTC().Format(time.RFC3339),
		"signature_algorithm": c.SignatureAlgorithm.String(), "key_label": kp.Label, "key_id": kp.IDHex(),
		"signed_by_key": signer.Label, "public_key_sha256": fp, "sha256": iss.SHA256(), "duration_ms": d.Milliseconds(),
		"stored_on_token": true, "checks": checks,
	}})
}

// refind finds a key pair generated earlier in the run again on the token,
// by label, and checks it is the same key.
func (r *run) refind(generated *hsm.KeyPair) (*hsm.KeyPair, error) {
	kp, err := r.tok.FindKeyPair(generated.Label)
	if err != nil {
		return nil, err
	}
	if !keys.SamePublicKey(kp.Public(), generated.Public()) || kp.IDHex() != generated.IDHex() {
		return nil, fmt.Errorf("key pair %q found on the token differs from the one generated", generated.Label)
	}
	return kp, nil
}

func (r *run) writeArtifact(info StepInfo, st *script.Step) (string, error) {
	file := r.script.ArtifactFile(st)
	var (
		data []byte
		what string
		err  error
	)
	if iss, ok := r.certs[st.Source]; ok {
		data, what = iss.PEM(), "certificate"
	} else {
		data, err = pki.PublicKeyPEM(r.keys[st.Source].Public())
		if err != nil {
			return "", err
		}
		what = "public key"
	}
	art, err := r.out.WriteArtifact(file, data)
	if err != nil {
		return "", err
	}
	r.changed = true
	r.artifacts = append(r.artifacts, art)
	text := fmt.Sprintf("Wrote %s %s (%d bytes, SHA-256 %s)", what, art.Path, art.Size, art.SHA256)
	return text, r.record(transcript.Entry{Type: "artifact-written", Step: info.ID, Text: text, Data: map[string]any{
		"path": art.Path, "sha256": art.SHA256, "size": art.Size, "source": st.Source, "content": what,
	}})
}

// serialHex writes a serial number as whole bytes of hex, as openssl
// shows it (without the colons).
func serialHex(b []byte) string { return hex.EncodeToString(b) }
