package engine

import (
	"os"
	"strings"
	"testing"
)

// The step-kind table in docs/reference.md lists the kinds of the table
// in Kinds, in its order, and names every field each kind takes.
func TestKindsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/reference.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	start := strings.Index(text, "<!-- step kinds:")
	if start < 0 {
		t.Fatal("docs/reference.md has no step-kind table")
	}
	text = text[start:]
	text = text[:strings.Index(text, "\n\n")]
	var rows [][]string
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "| `") {
			rows = append(rows, strings.Split(line, " | "))
		}
	}
	kinds := Kinds.All()
	if len(rows) != len(kinds) {
		t.Fatalf("the table has %d rows, the engine %d kinds", len(rows), len(kinds))
	}
	for i, k := range kinds {
		row := rows[i]
		if row[0] != "| `"+k.Name+"`" {
			t.Errorf("row %d is %s, want the kind %s", i+1, row[0], k.Name)
			continue
		}
		for _, f := range k.Fields() {
			if !strings.Contains(row[len(row)-1], "`"+f) {
				t.Errorf("%s: the table does not name its field %s", k.Name, f)
			}
		}
	}
}
