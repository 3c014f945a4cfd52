package engine

import (
	"strings"
	"testing"
)

// A seal whose label is the key a restore-key step restores (the root)
// is refused by name; it made the plan panic before.
func TestSealWithRestoredKeyRefused(t *testing.T) {
	text := shippedScript(t, "restore-backup")
	seal := "  - id: seal\n"
	i := strings.Index(text, seal)
	if i < 0 || !strings.Contains(text[i:], "    label: ${audit_key_label}\n") {
		t.Fatal("the restore script's seal does not use ${audit_key_label}")
	}
	text = text[:i] + strings.Replace(text[i:], "    label: ${audit_key_label}\n", "    label: ${key_label}\n", 1)
	s, err := ParseScript("r.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	restore, at := s.StepIndex("restore-root-key"), s.KindAt("seal")
	p := &Plan{script: s, inputs: map[string]string{"key_label": "root-ca", "audit_key_label": "ceremony-audit"},
		labels: map[int]string{restore: "root-ca"}, labelAt: map[string]int{"root-ca": restore}}
	err = kindOf(s, at).prepare(p, at)
	if err == nil || !strings.Contains(err.Error(), `key "root-ca" is restored by steps[`) || !strings.Contains(err.Error(), "only a transcript-signing key seals transcripts") {
		t.Fatalf("error = %v", err)
	}
}
