package script

import (
	"strings"
	"testing"
)

// noteStep is a kind for these tests: one required field and a nested
// mapping, to show a kind's fields are decoded strictly.
type noteStep struct {
	Note   string  `yaml:"note"`
	Quorum *Quorum `yaml:"quorum"`
}

func (k *noteStep) Validate(c *Check) error {
	return c.Required("note", k.Note, "what to note")
}

// markStep marks a fact, so that the envelope's rules can be met.
type markStep struct {
	fact  string
	Label string `yaml:"label"`
}

func (k *markStep) Validate(c *Check) error { return c.Once(k.fact) }

var testKinds = NewKinds(
	Kind{Name: KindAttendance, New: func() Spec { return &markStep{fact: FactAttendance} }},
	Kind{Name: KindPreflight, New: func() Spec { return &markStep{fact: FactPreflight} }},
	Kind{Name: "note", New: func() Spec { return &noteStep{} }},
	Kind{Name: KindSeal, New: func() Spec { return &markStep{fact: FactSeal} }},
)

const envelope = `version: 1
name: t
title: Test
roles:
  - name: witness
    description: watches
    min: 1
inputs:
  - name: place
    description: where
steps:
  - id: attendance
    kind: attendance
    title: Attendance
  - id: preflight
    kind: preflight
    title: Preflight
  - id: note
    kind: note
    title: Note
    say: At ${place}.
    note: hello
  - id: seal
    kind: seal
    title: Seal
    label: audit
`

func TestEnvelope(t *testing.T) {
	s, err := Parse("s.yaml", []byte(envelope), testKinds)
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := s.Steps[2].Spec.(*noteStep); !ok || n.Note != "hello" || s.Steps[2].Say != "At ${place}." {
		t.Fatalf("step 2 = %+v", s.Steps[2])
	}
	if s.KindAt("note") != 2 || s.StepIndex("seal") != 3 || len(s.SHA256) != 64 {
		t.Fatalf("script %+v", s)
	}
}

// A kind's fields are decoded strictly: a field no kind has is unknown,
// with its line and column; a field another kind has is named as not
// used by this one; nested mappings are strict too.
func TestEnvelopeRejects(t *testing.T) {
	for _, tc := range []struct{ name, old, new, want string }{
		{"unknown field", "    note: hello\n", "    note: hello\n    colour: red\n", `s.yaml:23:5: unknown field "colour"`},
		{"field of another kind", "    note: hello\n", "    note: hello\n    label: x\n", "s.yaml:23: steps[2].label: not used by a note step"},
		{"nested unknown field", "    note: hello\n", "    note: hello\n    quorum: {role: witness, size: 3}\n", `unknown field "size"`},
		{"wrong type", "    note: hello\n", "    note: [hello]\n", "s.yaml:22:11: expected a string"},
		{"kind's own check", "    note: hello\n", "", "steps[2].note: required: what to note"},
		{"unknown kind", "kind: note", "kind: nope", `steps[2].kind: unknown step kind "nope" (known: attendance, preflight, note, seal)`},
		{"undeclared input anywhere", "note: hello", "note: ${who}", "steps[2].note: refers to undeclared input ${who}"},
		{"step not a mapping", "  - id: note\n    kind: note\n    title: Note\n    say: At ${place}.\n    note: hello\n", "  - note\n", "steps[2]: a step is a mapping"},
		{"after the seal", "    label: audit\n", "    label: audit\n  - id: late\n    kind: note\n    title: Late\n    note: x\n", "steps[4].kind: a note step after the seal (steps[3])"},
		{"no attendance", "  - id: attendance\n    kind: attendance\n    title: Attendance\n", "", "steps: no attendance step"},
		{"twice", "  - id: preflight\n    kind: preflight\n", "  - id: preflight\n    kind: attendance\n", "steps[1].kind: only one attendance step (steps[0] is one)"},
		{"no seal", "  - id: seal\n    kind: seal\n    title: Seal\n    label: audit\n", "", "steps[2]: the last step must be a seal step"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(envelope, tc.old) {
				t.Fatalf("case does not apply: %q", tc.old)
			}
			_, err := Parse("s.yaml", []byte(strings.Replace(envelope, tc.old, tc.new, 1)), testKinds)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error = %v\nwant one line with %q", err, tc.want)
			}
		})
	}
}

func TestKindsTable(t *testing.T) {
	k, ok := testKinds.Lookup("note")
	if !ok || strings.Join(k.Fields(), ",") != "note,quorum" {
		t.Fatalf("note kind: %v %v", k.Fields(), ok)
	}
	if len(testKinds.All()) != 4 {
		t.Fatal("table")
	}
	defer func() {
		if recover() == nil {
			t.Error("a kind registered twice was accepted")
		}
	}()
	NewKinds(k, k)
}

// Keys may be quoted and values written as blocks, as YAML allows; a
// kind that is not text, or a misspelt field hiding the kind, is named as
// such, with no Go type names.
func TestEnvelopeYAMLForms(t *testing.T) {
	for _, tc := range []struct{ name, old, new, want string }{
		{"quoted keys", "    title: Note\n    say: At ${place}.\n    note: hello\n", "    'title': Note\n    \"note\": hello\n", ""},
		{"quoted kind key", "    kind: note\n", "    \"kind\": note\n", ""},
		{"block kind", "    kind: note\n", "    kind: >-\n      note\n", ""},
		{"numeric kind", "    kind: note\n", "    kind: 5\n", `steps[2].kind: unknown step kind "5"`},
		{"boolean kind", "    kind: note\n", "    kind: true\n", `steps[2].kind: unknown step kind "true"`},
		{"list kind", "    kind: note\n", "    kind: [note]\n", "s.yaml:19:11: expected a string, found a list"},
		{"misspelt kind", "    kind: note\n", "    knid: note\n", `s.yaml:19:5: unknown field "knid"`},
		{"mapping title", "    title: Note\n", "    title: {a: b}\n", "expected a string, found a mapping"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(envelope, tc.old) {
				t.Fatalf("case does not apply: %q", tc.old)
			}
			s, err := Parse("s.yaml", []byte(strings.Replace(envelope, tc.old, tc.new, 1)), testKinds)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want == "" && s.Steps[2].Kind != "note":
				t.Fatalf("kind %q", s.Steps[2].Kind)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "interface")):
				t.Fatalf("error = %v\nwant one with %q", err, tc.want)
			}
		})
	}
}

// A script may record its approval: who, on which day, and where the
// decision is written down. What it records is checked like the rest.
func TestApproval(t *testing.T) {
	const approval = "approval:\n  approved_by: [\"Priya Patel, PKI policy authority chair\", \"Sam Ortiz, security officer\"]\n  date: 2026-11-20\n  reference: PA minutes 2026-11, item 3\n"
	s, err := Parse("s.yaml", []byte(strings.Replace(envelope, "roles:\n", approval+"roles:\n", 1)), testKinds)
	if err != nil {
		t.Fatal(err)
	}
	if a := s.Approval; a == nil || len(a.ApprovedBy) != 2 || a.ApprovedBy[1] != "Sam Ortiz, security officer" ||
		a.Day().Format("2006-01-02") != "2026-11-20" || a.Reference != "PA minutes 2026-11, item 3" {
		t.Fatalf("approval %+v", s.Approval)
	}
	if s, err := Parse("s.yaml", []byte(envelope), testKinds); err != nil || s.Approval != nil {
		t.Fatalf("without approval: %v %+v", err, s)
	}
	for _, tc := range []struct{ old, new, want string }{
		{"  approved_by: [\"Priya Patel, PKI policy authority chair\", \"Sam Ortiz, security officer\"]\n", "", "s.yaml: approval.approved_by: name 1 to 20 approvers"},
		{"Sam Ortiz, security officer", "Priya Patel, PKI policy authority chair", `s.yaml:5: approval.approved_by[1]: "Priya Patel, PKI policy authority chair" listed twice`},
		{"Sam Ortiz, security officer", "Sam\\u001b[2JOrtiz", "s.yaml:5:60: the text holds the control character U+001B"},
		{"Sam Ortiz, security officer", "  ", "approval.approved_by[1]: give a name"},
		{"Sam Ortiz, security officer", strings.Repeat("x", 121), "approval.approved_by[1]: give a name"},
		{"date: 2026-11-20", "date: 2026-02-30", `s.yaml:6: approval.date: "2026-02-30": give the day of the approval as YYYY-MM-DD`},
		{"date: 2026-11-20", "date: 20.11.2026", `approval.date: "20.11.2026"`},
		{"  date: 2026-11-20\n", "", `approval.date: "": give the day`},
		{"PA minutes 2026-11, item 3", `"line\nbreak"`, "approval.reference: give at most 200 printable characters on one line"},
		{"  reference:", "  signed: yes\n  reference:", `unknown field "signed"`},
	} {
		text := strings.Replace(envelope, "roles:\n", strings.Replace(approval, tc.old, tc.new, 1)+"roles:\n", 1)
		_, err := Parse("s.yaml", []byte(text), testKinds)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q -> %q: error = %v, want %q", tc.old, tc.new, err, tc.want)
		}
	}
}
