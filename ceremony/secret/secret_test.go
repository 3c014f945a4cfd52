package secret

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestSecretNeverPrints(t *testing.T) {
	s := FromString("hunter2-4711")
	type holder struct {
		PIN *Secret
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		for _, v := range []any{s, holder{s}, &holder{s}, []*Secret{s}} {
			out := fmt.Sprintf(verb, v)
			if strings.Contains(out, "hunter2") || strings.Contains(out, "68756e74") {
				t.Errorf("Sprintf(%q, %T) = %q leaks the secret", verb, v, out)
			}
		}
	}
	if err := fmt.Errorf("login: %v", s); strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error leaks the secret: %v", err)
	}
}

func TestSecretRefusesSerialisation(t *testing.T) {
	s := FromString("4711")
	if _, err := json.Marshal(struct{ PIN *Secret }{s}); !errors.Is(err, ErrSerialise) {
		t.Fatalf("json.Marshal error = %v, want ErrSerialise", err)
	}
	if _, err := json.Marshal(map[string]any{"pin": s}); !errors.Is(err, ErrSerialise) {
		t.Fatalf("json.Marshal(map) error = %v, want ErrSerialise", err)
	}
}

func TestWipeZeroesTheBytes(t *testing.T) {
	in := []byte("0123456789")
	s := New(in)
	clear(in)
	b := s.Bytes()
	if string(b) != "0123456789" {
		t.Fatalf("New did not copy: %q", b)
	}
	s.Wipe()
	for i, c := range b {
		if c != 0 {
			t.Fatalf("byte %d = %#x after Wipe, want 0", i, c)
		}
	}
	if s.Len() != 0 || s.Bytes() != nil {
		t.Fatal("secret not empty after Wipe")
	}
	var nilSecret *Secret
	nilSecret.Wipe()
	if nilSecret.Len() != 0 || nilSecret.String() != Redacted {
		t.Fatal("nil secret misbehaves")
	}
}
