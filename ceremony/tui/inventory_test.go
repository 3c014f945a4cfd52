package tui

import (
	"strings"
	"testing"

	"github.com/devicepki/ceremony/ceremony/engine"
)

// The inventory form shows the token's items filled in and takes the
// typed ones one field after another: Enter on an empty field is refused
// with a word on screen, and Enter on the last records them all.
func TestInventoryForm(t *testing.T) {
	req := engine.InventoryRequest{
		Step:        engine.StepInfo{ID: "storage"},
		Participant: engine.Participant{Role: "administrator", Name: "Ada Admin"},
		Items: []engine.InventoryItem{
			{Name: "HSM serial number", Value: "5974c997e402e139", FromToken: true},
			{Name: "HSM bag (out)", Expect: "TEB-2"},
			{Name: "HSM stored in"},
		},
		Problem: `"HSM bag (out)" is "TEB-3", but "TEB-2" was expected`,
	}
	p := newInventoryPrompt(req)
	th := theme{plain: true}
	v := strings.Join(p.view(th, 80), "\n")
	for _, want := range []string{"INVENTORY: Ada Admin (administrator), read out each item and type it:", `! "HSM bag (out)" is "TEB-3"`,
		"  HSM serial number: 5974c997e402e139 (from the token)", "> HSM bag (out): "} {
		if !strings.Contains(v, want) {
			t.Fatalf("the form lacks %q:\n%s", want, v)
		}
	}
	if r := p.key(keyEnter); r != nil || !strings.Contains(strings.Join(p.view(th, 80), "\n"), "! type the value read out") {
		t.Fatal("an empty field was taken")
	}
	for _, k := range "TEB-2" {
		p.key(runes(string(k)))
	}
	if r := p.key(keyEnter); r != nil {
		t.Fatal("the form ended before its last field")
	}
	if v := strings.Join(p.view(th, 80), "\n"); !strings.Contains(v, "  HSM bag (out): TEB-2") || !strings.Contains(v, "> HSM stored in: ") {
		t.Fatalf("the form did not move to the next field:\n%s", v)
	}
	for _, k := range "Safe 2" {
		p.key(runes(string(k)))
	}
	r := p.key(keyEnter)
	if r == nil {
		t.Fatal("Enter on the last field recorded nothing")
	}
	got, _ := r.val.(map[string]string)
	if len(got) != 2 || got["HSM bag (out)"] != "TEB-2" || got["HSM stored in"] != "Safe 2" {
		t.Fatalf("recorded %v", r.val)
	}
}
