package engine_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/devicepki/ceremony/ceremony/engine"
	"github.com/devicepki/ceremony/hsm"
)

// The plan is checked against what the module says of itself: on
// SoftHSM2 the root ceremony needs nothing it lacks; on a module like
// opencryptoki's soft token (no EC at all, no AES key wrap, PINs of 4 to 8
// characters) each step that would fail is named with what it lacks.
func TestCheckHSM(t *testing.T) {
	r := newRig(t)
	opts := r.options(t)
	opts.ScriptPath, opts.TemplatesDir = "../../scripts/root-key-generation.yaml", "../../templates"
	plan, err := engine.Prepare(opts)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := hsm.Open(r.cfg)
	if err != nil {
		t.Fatal(err)
	}
	caps, err := tok.Capabilities()
	tok.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(caps.Mechanisms) < 10 || caps.MaxPIN < 16 {
		t.Fatalf("SoftHSM2 reports %d mechanisms, PINs up to %d", len(caps.Mechanisms), caps.MaxPIN)
	}
	if p := plan.CheckHSM(caps); len(p) != 0 {
		t.Fatalf("SoftHSM2 lacks %v", p)
	}

	limited := *caps
	limited.MinPIN, limited.MaxPIN = 4, 8
	limited.Mechanisms = slices.DeleteFunc(slices.Clone(caps.Mechanisms), func(m hsm.Mechanism) bool {
		return m.Name == "CKM_EC_KEY_PAIR_GEN" || m.Name == "CKM_AES_KEY_WRAP_PAD"
	})
	got := map[string][]string{}
	for _, p := range plan.CheckHSM(&limited) {
		got[p.ID] = append(got[p.ID], p.Text)
	}
	want := map[string]string{
		"initialise-hsm":     "the token accepts PINs of 4 to 8 characters",
		"generate-root-key":  "the module offers no CKM_EC_KEY_PAIR_GEN, needed to generate ecdsa-p384 keys",
		"back-up-root-key":   "the module offers no CKM_AES_KEY_WRAP_PAD or CKM_AES_KEY_WRAP_KWP, needed to wrap the key for its backup (RFC 5649) and check the backup inside the HSM; instead: method: aes-cbc-pad (CKM_AES_CBC_PAD; with allow_untrusted_wrap if the module refuses CKA_TRUSTED or CKA_WRAP_WITH_TRUSTED), or method: none (no backup; approved_by a role)",
		"generate-audit-key": "the module offers no CKM_EC_KEY_PAIR_GEN",
	}
	for id, text := range want {
		if len(got[id]) != 1 || !strings.Contains(got[id][0], text) {
			t.Errorf("step %s: %q, want one problem with %q", id, got[id], text)
		}
		delete(got, id)
	}
	if len(got) != 0 {
		t.Errorf("other problems: %v", got)
	}

	// A mechanism without the flag a step needs, or without the key size.
	for i, m := range limited.Mechanisms {
		switch m.Name {
		case "CKM_ECDSA":
			limited.Mechanisms[i].Flags = 0
		}
	}
	limited.Mechanisms = append(limited.Mechanisms, hsm.Mechanism{Type: 0x1040, Name: "CKM_EC_KEY_PAIR_GEN", MinKeySize: 256, MaxKeySize: 256, Flags: 0x10000})
	var texts []string
	for _, p := range plan.CheckHSM(&limited) {
		if p.ID == "generate-root-key" {
			texts = append(texts, p.Text)
		}
	}
	if len(texts) != 2 || !strings.Contains(texts[0], "takes keys of 256 to 256 bits, not 384") || !strings.Contains(texts[1], "CKM_ECDSA without CKF_SIGN") {
		t.Errorf("generate-root-key: %q", texts)
	}
}
