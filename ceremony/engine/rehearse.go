package engine

import (
	"crypto/rand"

	"github.com/miekg/pkcs11"

	"github.com/devicepki/ceremony/ceremony/secret"
	"github.com/devicepki/ceremony/hsm"
)

// Rehearse tries, on an initialised token the user is logged in to, what
// the plan's steps will ask of the main token's module, with session
// objects only (token objects labelled ceremony-rehearsal, destroyed at
// once, where the module makes no session key pairs): each generate-key
// step's key pair with the exact templates, each backup's wrapping-key
// import, wrap and unwrap check, and init-token's public data object. so
// is the security officer's PIN where the login came from activation
// shares (nil otherwise: a trusted import is then not rehearsed). It
// returns what would fail, and notes on what was not rehearsed or will
// be done another way.
func (p *Plan) Rehearse(tok *hsm.Token, caps *hsm.Capabilities, so, user *secret.Secret) (problems, notes []HSMProblem) {
	trustRefused := caps != nil && caps.Trust.Refused() != ""
	for i := range p.script.Steps {
		st := &p.script.Steps[i]
		add := func(list *[]HSMProblem, text string) {
			*list = append(*list, HSMProblem{Index: i, ID: st.ID, Kind: st.Kind, Text: text})
		}
		switch k := st.Spec.(type) {
		case *generateKeyStep:
			if k.Token != "" {
				continue
			}
			opts := p.rehearsalKeyOptions(st.ID, k, trustRefused)
			if err := tok.RehearseKeyPair(p.templates[k.Template].Key, opts); err != nil {
				add(&problems, err.Error())
			}
		case *backupKeyStep:
			if k.none() {
				continue
			}
			gi := p.script.StepIndex(k.Key)
			gen, ok := p.script.Steps[gi].Spec.(*generateKeyStep)
			if !ok || gen.Token != "" {
				continue
			}
			untrusted := k.AllowUntrustedWrap && trustRefused
			if !untrusted && so == nil {
				add(&notes, "the trusted wrapping key was not rehearsed: importing it needs the security officer, whose PIN activation shares give (--share)")
				continue
			}
			var mech hsm.WrapMechanism
			if k.method() == backupAESCBCPad {
				iv := make([]byte, 16)
				if _, err := rand.Read(iv); err != nil {
					add(&problems, err.Error())
					continue
				}
				mech = hsm.WrapMechanism{Type: pkcs11.CKM_AES_CBC_PAD, IV: iv}
			} else {
				m, _, err := tok.FindRFC5649(true, true)
				if err != nil {
					add(&problems, err.Error())
					continue
				}
				mech = m
			}
			opts := p.rehearsalKeyOptions(k.Key, gen, trustRefused)
			if err := tok.RehearseBackup(so, user, p.templates[gen.Template].Key, opts, mech, untrusted); err != nil {
				add(&problems, err.Error())
			}
		case *initTokenStep:
			if err := tok.RehearseDataObject(); err != nil {
				add(&notes, "the activation record will be kept only as artifacts/activation-record.json, which later ceremonies' HSM config names (activation_record: PATH): "+err.Error())
			}
		}
	}
	return problems, notes
}

// rehearsalKeyOptions are the options the ceremony generates the key of
// generate-key step id with.
func (p *Plan) rehearsalKeyOptions(id string, k *generateKeyStep, trustRefused bool) hsm.KeyOptions {
	opts := hsm.KeyOptions{UsageDefaults: k.AllowUsageDefaults}
	if bi, ok := p.backups[id]; ok {
		if b := p.script.Steps[bi].Spec.(*backupKeyStep); !b.none() {
			opts.Backup = true
			opts.AllowUntrustedWrap = b.AllowUntrustedWrap && trustRefused
		}
	}
	return opts
}
