package engine

import (
	"strings"
	"testing"
)

// Typed inventory values are checked: present, printable, bounded, and
// equal to the expected value (a bag number from the last ceremony) where
// one is given; items the token reports are taken as they are.
func TestCheckInventory(t *testing.T) {
	items := []InventoryItem{
		{Name: "HSM serial number", Value: "5974c997e402e139", FromToken: true},
		{Name: "HSM bag (in)", Expect: "TEB-100235"},
		{Name: "Asset tag"},
	}
	for _, tc := range []struct {
		typed   map[string]string
		problem string
	}{
		{map[string]string{"HSM bag (in)": " TEB-100235 ", "Asset tag": "LAPTOP-0042"}, ""},
		{map[string]string{"HSM bag (in)": "TEB-100299", "Asset tag": "LAPTOP-0042"}, `"HSM bag (in)" is "TEB-100299", but "TEB-100235" was expected`},
		{map[string]string{"HSM bag (in)": "TEB-100235"}, `"Asset tag": nothing was typed`},
		{map[string]string{"HSM bag (in)": "TEB-100235", "Asset tag": "a\x1b[2Jb"}, `"Asset tag": give up to 200 printable characters`},
		{map[string]string{"HSM bag (in)": "TEB-100235", "Asset tag": strings.Repeat("x", 201)}, `"Asset tag": give up to 200 printable characters`},
	} {
		entries, problem := checkInventory(items, tc.typed)
		if tc.problem == "" {
			if problem != "" || len(entries) != 3 || entries[0].Value != "5974c997e402e139" || !entries[0].FromToken || entries[1].Value != "TEB-100235" || entries[1].Expected != "TEB-100235" {
				t.Errorf("%v: %q %+v", tc.typed, problem, entries)
			}
			continue
		}
		if !strings.Contains(problem, tc.problem) || entries != nil {
			t.Errorf("%v: problem %q, want %q", tc.typed, problem, tc.problem)
		}
	}
}
