package transcript

import (
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// jsonFields returns the JSON names of a payload's top-level fields.
// countOmitEmpty counts the fields of p that are left out when empty.
func countOmitEmpty(p Payload) int {
	t := reflect.TypeOf(p)
	n := 0
	for i := range t.NumField() {
		if strings.Contains(t.Field(i).Tag.Get("json"), ",omitempty") {
			n++
		}
	}
	return n
}

func jsonFields(p Payload) []string {
	t := reflect.TypeOf(p)
	var out []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out = append(out, name)
		}
	}
	return out
}

// Every payload has its own type, and its fields are declared in the
// order of their JSON names: events read as they always have.
func TestPayloads(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range Payloads {
		typ := p.EventType()
		if seen[typ] {
			t.Errorf("two payloads for %s", typ)
		}
		seen[typ] = true
		if f := jsonFields(p); !slices.IsSorted(f) {
			t.Errorf("%s: fields %v are not in the order of their names", typ, f)
		}
	}
	if len(seen) != 43 {
		t.Errorf("%d event types", len(seen))
	}
}

// The event table in transcripts/README.md lists every type, and names
// every field of its data; it lists nothing else.
func TestEventTable(t *testing.T) {
	doc, err := os.ReadFile("../../transcripts/README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	text = text[strings.Index(text, "### Event types"):]
	start := strings.Index(text, "| type |")
	text = text[start : start+strings.Index(text[start:], "\n\n")]
	rows := map[string]string{}
	code := regexp.MustCompile("`([a-z_-]+)`")
	for _, line := range strings.Split(text, "\n") {
		cells := strings.Split(line, " | ")
		if !strings.HasPrefix(line, "| `") || len(cells) != 3 {
			continue
		}
		for _, m := range code.FindAllStringSubmatch(cells[0], -1) {
			rows[m[1]] = cells[2]
		}
	}
	for _, p := range Payloads {
		data, ok := rows[p.EventType()]
		if !ok {
			t.Errorf("%s: not in the table", p.EventType())
			continue
		}
		delete(rows, p.EventType())
		for _, f := range jsonFields(p) {
			if !strings.Contains(data, "`"+f+"`") {
				t.Errorf("%s: the table does not name its field %s", p.EventType(), f)
			}
		}
	}
	for typ := range rows {
		t.Errorf("the table lists %s, which no payload has", typ)
	}
}

// Writers give the payload; the type follows from it, and a payload
// under another type is refused. Readers get the payload back, under the
// type's old spelling too, and never under another type.
func TestTypedEvents(t *testing.T) {
	w, err := Create(t.TempDir()+"/t.jsonl", func() time.Time { return time.Unix(0, 0) })
	if err != nil {
		t.Fatal(err)
	}
	ev, err := w.Append(Entry{Text: "t", Data: TokenInitialised{PINLength: 16, Token: V(map[string]string{"label": "root"})}})
	if err != nil || ev.Type != TypeTokenInitialised {
		t.Fatalf("append: %v, type %q", err, ev.Type)
	}
	if _, err := w.Append(Entry{Type: TypeKeyGenerated, Text: "t", Data: KeyDestroyed{Label: "x"}}); err == nil {
		t.Fatal("a key-destroyed payload written as key-generated")
	}
	got, err := DataAs[TokenInitialised](ev)
	if err != nil || got.PINLength != 16 {
		t.Fatalf("read back: %+v, %v", got, err)
	}
	var tok map[string]string
	if err := got.Token.Decode(&tok); err != nil || tok["label"] != "root" {
		t.Fatalf("token: %v, %v", tok, err)
	}
	old := ev
	old.Type = "token-initialized"
	if _, err := DataAs[TokenInitialised](old); err != nil || !old.Is(TypeTokenInitialised) {
		t.Errorf("the old spelling is refused: %v", err)
	}
	if _, err := DataAs[KeyGenerated](ev); err == nil {
		t.Error("a token-initialised event read as key-generated")
	}
	if _, err := DataAs[TokenInitialised](Event{Seq: 3, Type: TypeTokenInitialised}); err == nil {
		t.Error("an event without data read as a payload")
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(ev.Data, &raw); err != nil || len(raw) != len(jsonFields(TokenInitialised{}))-countOmitEmpty(TokenInitialised{}) {
		t.Errorf("data %s", ev.Data)
	}
}
