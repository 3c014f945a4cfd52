package script

import (
	"reflect"
	"strings"
)

// Spec is the part of a step that its kind defines: a struct whose fields
// are decoded strictly from the step's YAML (a field the struct does not
// have is an error), and that checks itself against the whole script.
type Spec interface {
	// Validate checks the step's fields and its place in the script; c
	// says where the step is and what came before it.
	Validate(c *Check) error
}

// Kind is one kind of step.
type Kind struct {
	// Name is the value of a step's kind field.
	Name string
	// Summary says in one line what a step of this kind does, for the
	// reference documentation.
	Summary string
	// New returns an empty Spec (a pointer to a struct) to decode a step
	// of this kind into.
	New func() Spec
	// AfterSeal is true for the one kind that may come after the seal:
	// it records nothing.
	AfterSeal bool
}

// Kinds is a table of step kinds, in the order the documentation lists
// them.
type Kinds struct {
	kinds  []Kind
	byName map[string]int
	fields map[string]bool // every field some kind uses
}

// NewKinds makes a table of kinds. Names must be unique.
func NewKinds(kinds ...Kind) *Kinds {
	t := &Kinds{kinds: kinds, byName: map[string]int{}, fields: map[string]bool{}}
	for i, k := range kinds {
		if _, dup := t.byName[k.Name]; dup {
			panic("script: step kind " + k.Name + " registered twice")
		}
		t.byName[k.Name] = i
		for _, f := range specFields(reflect.TypeOf(k.New())) {
			t.fields[f] = true
		}
	}
	return t
}

// Lookup returns the kind called name.
func (t *Kinds) Lookup(name string) (Kind, bool) {
	i, ok := t.byName[name]
	if !ok {
		return Kind{}, false
	}
	return t.kinds[i], true
}

// All returns the kinds in table order.
func (t *Kinds) All() []Kind { return append([]Kind(nil), t.kinds...) }

// Fields returns the YAML fields a kind's steps may carry besides id,
// kind, title and say.
func (k Kind) Fields() []string { return specFields(reflect.TypeOf(k.New())) }

func (t *Kinds) list() string {
	names := make([]string, len(t.kinds))
	for i, k := range t.kinds {
		names[i] = k.Name
	}
	return strings.Join(names, ", ")
}

// uses reports whether some kind has the field.
func (t *Kinds) uses(field string) bool { return t.fields[field] }
