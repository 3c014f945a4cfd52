package engine

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/devicepki/ceremony/ceremony/keys"
	"github.com/devicepki/ceremony/ceremony/pki"
	"github.com/devicepki/ceremony/ceremony/record"
	"github.com/devicepki/ceremony/ceremony/script"
	"github.com/devicepki/ceremony/ceremony/transcript"
	"github.com/devicepki/ceremony/hsm"
)

// KindGenerateKey generates a key pair in the HSM.
const KindGenerateKey = "generate-key"

var generateKeyKind = script.Kind{
	Name:    KindGenerateKey,
	Summary: "generates a key pair in the token (or a second token) from a template's key algorithm, and checks its attributes",
	New:     func() script.Spec { return &generateKeyStep{} },
}

type generateKeyStep struct {
	asksNothing
	// Template names a certificate template in templates/ whose
	// key.algorithm the key gets.
	Template string `yaml:"template"`
	// Label is the HSM label of the new key; may use ${input}.
	Label string `yaml:"label"`
	// Token names one of the HSM config's other_tokens; empty means the
	// ceremony's main token.
	Token string `yaml:"token"`
	// AllowUsageDefaults lets the key be generated without the explicit
	// usage restrictions (decrypt, unwrap, derive off), for modules that
	// refuse them; the usages the module gives the key are recorded.
	AllowUsageDefaults bool `yaml:"allow_usage_defaults"`
}

func (k *generateKeyStep) Validate(c *script.Check) error {
	if err := c.NeedsToken(); err != nil {
		return err
	}
	if err := c.TemplateName("template", k.Template); err != nil {
		return err
	}
	if k.Label == "" {
		return c.Errorf("label", "required: the HSM label of the new key")
	}
	return needsOtherToken(c, k.Token)
}

func (k *generateKeyStep) prepare(p *Plan, i int) error {
	if err := p.otherToken(i, k.Token); err != nil {
		return err
	}
	prof, err := p.template(stepPath(i, ""), k.Template)
	if err != nil {
		return err
	}
	if prof.Key == "" {
		return p.script.Errorf(stepPath(i, "template"), "template %s lists the keys a CSR may bring (key.allowed); a generate-key step needs a template with key.algorithm", prof.Name)
	}
	return p.keyLabel(i, k.Label)
}

func (k *generateKeyStep) run(_ context.Context, r *run, info StepInfo) (string, error) {
	return r.generateKey(info, k, info.Index)
}

func (r *run) generateKey(info StepInfo, st *generateKeyStep, i int) (string, error) {
	prof := r.templates[st.Template]
	label := r.labels[i]
	var (
		kp   *hsm.KeyPair
		opts hsm.KeyOptions
	)
	bi, backedUp := r.backups[info.ID]
	var bst *backupKeyStep
	if backedUp {
		bst = r.script.Steps[bi].Spec.(*backupKeyStep)
		// A key the script says has no backup (method: none) is
		// generated as one that can never leave the token.
		backedUp = !bst.none()
	}
	if backedUp {
		opts = hsm.KeyOptions{Backup: true, AllowUntrustedWrap: bst.AllowUntrustedWrap}
	}
	opts.UsageDefaults = st.AllowUsageDefaults
	tok := r.tok
	if st.Token != "" {
		tok = r.others[st.Token]
	}
	// The CKA_ID is chosen and recorded first: whatever a crash leaves
	// on the token with it is this ceremony's, and close destroys it.
	if err := tok.CheckLabelFree(label); err != nil {
		return "", err
	}
	id, err := tok.NewKeyID()
	if err != nil {
		return "", err
	}
	opts.ID = id
	if err := r.record(transcript.Entry{Step: info.ID,
		Text: fmt.Sprintf("Generating %s key pair %q (CKA_ID %x) in HSM token %q", prof.Key.Describe(), label, id, tok.Info().Label),
		Data: transcript.KeyGenerating{ID: hex.EncodeToString(id), Label: label, Token: tok.Info().Label}}); err != nil {
		return "", err
	}
	r.changed = true
	if err := r.journalAdd(tok, hex.EncodeToString(id)); err != nil {
		return "", err
	}
	d, err := r.timed(info, fmt.Sprintf("Generating %s key pair %q in HSM token %q", prof.Key.Describe(), label, tok.Info().Label), func() (err error) {
		kp, err = tok.GenerateKeyPairWith(label, prof.Key, opts)
		return err
	})
	if errors.Is(err, hsm.ErrTrustedWrapUnsupported) {
		return "", fmt.Errorf("%w; step %q backs this key up, and the script does not allow a backup without trusted wrapping (allow_untrusted_wrap)", err, r.script.Steps[bi].ID)
	}
	if err != nil {
		return "", err
	}
	hsm.Barrier()
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
	if st.AllowUsageDefaults {
		want.Decrypt, want.Unwrap, want.Derive = attrs.Decrypt, attrs.Unwrap, attrs.Derive
		if extra := extraUsages(attrs); extra != "" {
			r.face.Report(Report{Kind: Notice, Step: info, Text: fmt.Sprintf("WARNING: the HSM gave key %q usages beyond signing (%s); the script allows the module's defaults (allow_usage_defaults)", label, extra)})
			what += ", with the module's default usages"
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
	r.keys[info.ID] = kp
	text := fmt.Sprintf("Generated %s key pair %q in HSM token %q (public key SHA-256 %s)", prof.Key.Describe(), label, tok.Info().Label, fp)
	r.face.Report(Report{Kind: Notice, Step: info, Text: "Public key SHA-256: " + record.GroupHex(fp)})
	return text, r.record(transcript.Entry{Step: info.ID, Text: text, Data: transcript.KeyGenerated{
		Label: label, ID: kp.IDHex(), Algorithm: transcript.V(prof.Key), Template: prof.Name,
		PublicKeySHA256: fp, PublicKeyPEM: string(pubPEM), Attributes: transcript.V(attrs),
		Token: tok.Info().Label, DurationMS: d.Milliseconds(),
	}})
}

// extraUsages names the usages beyond signing a private key has.
func extraUsages(a hsm.KeyAttributes) string {
	var out []string
	for _, u := range []struct {
		on   bool
		name string
	}{{a.Decrypt, "decrypt"}, {a.Unwrap, "unwrap"}, {a.Derive, "derive"}} {
		if u.on {
			out = append(out, u.name)
		}
	}
	return strings.Join(out, ", ")
}
