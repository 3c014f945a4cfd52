package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/devicepki/ceremony/ceremony/script"
	"github.com/devicepki/ceremony/ceremony/transcript"
	"github.com/devicepki/ceremony/hsm"
)

// KindInventory records equipment and its seals, or where things are
// stored: items a participant reads out and types (a tamper-evident bag's
// number, a laptop's asset tag, a safe), or that the token says (its
// serial number), each checked against an expected value where the script
// gives one (the bag number the last ceremony sealed the HSM in).
const KindInventory = "inventory"

var inventoryKind = script.Kind{
	Name:    KindInventory,
	Summary: "records equipment, tamper-evident bag numbers and storage: items one participant types, or the token reports, each checked against an expected value where given",
	New:     func() script.Spec { return &inventoryStep{} },
}

type inventoryStep struct {
	noPrepare
	// By is the role of the participant who reads out and types the
	// items (the first present).
	By string `yaml:"by"`
	// Items are what is recorded, in order.
	Items []inventoryItem `yaml:"items"`
}

// inventoryItem is one thing an inventory step records.
type inventoryItem struct {
	// Name says what it is: "HSM tamper-evident bag number (in)".
	Name string `yaml:"name"`
	// FromToken fills the value from the token: serial, label, model or
	// manufacturer; nobody types it.
	FromToken string `yaml:"from_token"`
	// Expect is the value it must have (may use ${input}): a bag number
	// from the last ceremony's record. A different value stops the
	// ceremony.
	Expect string `yaml:"expect"`
}

// MaxInventoryValue bounds a typed inventory value.
const MaxInventoryValue = 200

func (k *inventoryStep) Validate(c *script.Check) error {
	if err := c.NeedsPeople(); err != nil {
		return err
	}
	if err := c.Role("by", k.By); err != nil {
		return err
	}
	if len(k.Items) == 0 || len(k.Items) > 30 {
		return c.Errorf("items", "list 1 to 30 items to record")
	}
	var names []string
	for j, it := range k.Items {
		field := fmt.Sprintf("items[%d]", j)
		switch {
		case strings.TrimSpace(it.Name) == "" || len(it.Name) > 80 || strings.IndexFunc(it.Name, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
			return c.Errorf(field+".name", "give a name of 1 to 80 printable characters")
		case slices.Contains(names, it.Name):
			return c.Errorf(field+".name", "%q listed twice", it.Name)
		case it.FromToken != "" && !slices.Contains([]string{"serial", "label", "model", "manufacturer"}, it.FromToken):
			return c.Errorf(field+".from_token", "%q: give serial, label, model or manufacturer", it.FromToken)
		case it.FromToken != "" && it.Expect != "":
			return c.Errorf(field+".expect", "an item the token reports is not typed, so nothing is expected of it")
		}
		names = append(names, it.Name)
	}
	return nil
}

func (k *inventoryStep) asks() []Ask {
	var typed []string
	for _, it := range k.Items {
		if it.FromToken == "" {
			typed = append(typed, it.Name)
		}
	}
	return []Ask{{Kind: AskInventory, Role: k.By, Items: typed}}
}

func (k *inventoryStep) run(ctx context.Context, r *run, info StepInfo) (string, error) {
	who := r.inRole(k.By)
	if len(who) == 0 {
		return "", fmt.Errorf("nobody present as %s types the inventory", k.By)
	}
	var ti hsm.TokenInfo
	switch {
	case r.tok != nil:
		ti = r.tok.Info()
	case r.blank != nil:
		ti = r.blank.Info()
	}
	req := InventoryRequest{Step: info, Participant: who[0]}
	for _, it := range k.Items {
		item := InventoryItem{Name: it.Name, Expect: script.Expand(it.Expect, r.inputs)}
		if it.FromToken != "" {
			item.Value = map[string]string{"serial": ti.Serial, "label": ti.Label, "model": ti.Model, "manufacturer": ti.Manufacturer}[it.FromToken]
			item.FromToken = true
			if item.Value == "" {
				return "", fmt.Errorf("the token reports no %s for %q", it.FromToken, it.Name)
			}
		}
		req.Items = append(req.Items, item)
	}
	var entries []transcript.InventoryEntry
	for attempt := 1; ; attempt++ {
		req.Attempt = attempt
		ans, err := r.face.Inventory(ctx, req)
		if err != nil {
			return "", err
		}
		entries, req.Problem = checkInventory(req.Items, ans)
		if req.Problem == "" {
			break
		}
		if attempt == MaxSecretAttempts {
			return "", fmt.Errorf("%s (asked %d times): the ceremony stops; find out why before it runs again", req.Problem, attempt)
		}
	}
	var lines []string
	for _, e := range entries {
		lines = append(lines, e.Name+": "+e.Value)
	}
	text := fmt.Sprintf("%s, recorded by %s: %s", info.Title, who[0].Name, strings.Join(lines, "; "))
	return text, r.record(transcript.Entry{Step: info.ID, Actors: actors(who[0]), Text: text, Data: transcript.Inventory{Items: entries}})
}

// checkInventory checks the values typed for items: each typed item has a
// value of printable characters, within MaxInventoryValue, equal to its
// expected value if it has one. It returns the entries to record, or what
// is wrong.
func checkInventory(items []InventoryItem, typed map[string]string) ([]transcript.InventoryEntry, string) {
	var out []transcript.InventoryEntry
	for _, it := range items {
		e := transcript.InventoryEntry{Name: it.Name, Value: it.Value, Expected: it.Expect, FromToken: it.FromToken}
		if !it.FromToken {
			v := strings.TrimSpace(typed[it.Name])
			switch {
			case v == "":
				return nil, fmt.Sprintf("%q: nothing was typed", it.Name)
			case len(v) > MaxInventoryValue || strings.IndexFunc(v, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
				return nil, fmt.Sprintf("%q: give up to %d printable characters", it.Name, MaxInventoryValue)
			case it.Expect != "" && v != it.Expect:
				return nil, fmt.Sprintf("%q is %q, but %q was expected (a seal or bag that is not the one recorded may have been opened)", it.Name, v, it.Expect)
			}
			e.Value = v
		}
		out = append(out, e)
	}
	return out, ""
}
