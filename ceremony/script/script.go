// Package script reads ceremony scripts (scripts/*.yaml): the runbook of a
// ceremony as data. A script declares the roles that must be present, the
// named inputs it acts on, and an ordered list of steps. Every step has an
// id, a kind, a title and the text read aloud before it runs; the rest of
// its fields belong to its kind.
//
// This package knows the envelope, not the kinds. The kinds are a table
// (Kinds) that the caller passes to Load: each Kind makes an empty Spec, the
// struct its fields are decoded into, and the Spec checks itself with the
// help of a Check, which knows the whole script. The engine holds the one
// table of the kinds it can run.
//
// Load decodes a script strictly and validates it as a whole before anything
// runs: unknown kinds, fields a kind does not use, duplicate ids, undeclared
// roles and inputs, references to missing or later steps, and steps in an
// impossible order are errors naming the file, line and YAML path. What needs
// other files (templates) is checked by the engine, which also reports by
// YAML path through Errorf.
package script

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/devicepki/ceremony/ceremony/durable"
	"github.com/devicepki/ceremony/ceremony/strictyaml"
)

// FormatVersion is the script format this package reads.
const FormatVersion = 1

// The kinds whose place the envelope fixes: every script records who is
// present and its environment, and ends with a seal, after which only an
// export of what was sealed may come.
const (
	KindAttendance = "attendance"
	KindPreflight  = "preflight"
	KindSeal       = "seal"
	KindExportQR   = "export-qr"
)

// Script is a validated ceremony script.
type Script struct {
	// Path is the file the script was read from; SHA256 the hex digest of
	// its bytes.
	Path   string `yaml:"-"`
	SHA256 string `yaml:"-"`
	// Text is the file's content, recorded in the transcript so that the
	// printed record carries the script as it was run.
	Text string `yaml:"-"`

	Version     int    `yaml:"version"`
	Name        string `yaml:"name"`
	Title       string `yaml:"title"`
	Description string `yaml:"description"`
	// Approval says who approved the script, and when, before any
	// ceremony ran it; nil if the script records none.
	Approval *Approval `yaml:"approval"`
	Roles    []Role    `yaml:"roles"`
	Inputs   []Input   `yaml:"inputs"`
	// Steps are the script's steps, each with its kind's Spec.
	Steps []Step `yaml:"-"`

	RawSteps []strictyaml.Node `yaml:"steps"`
	doc      *strictyaml.Document
	kinds    *Kinds
}

// Approval records the script's approval: the people (or body) who
// approved this text of the script, on what date, and where that decision
// is written down. A change to the script changes its SHA-256, so its
// approval must be given again.
type Approval struct {
	// ApprovedBy names each approver with their function:
	// "Priya Patel, PKI policy authority chair".
	ApprovedBy []string `yaml:"approved_by"`
	// Date is the day of the approval, YYYY-MM-DD; no ceremony may run
	// the script before it.
	Date string `yaml:"date"`
	// Reference points to the record of the decision (minutes, a change
	// ticket); optional.
	Reference string `yaml:"reference"`
}

// Day returns the approval's date.
func (a *Approval) Day() time.Time {
	d, _ := time.Parse(time.DateOnly, a.Date)
	return d
}

// Role is a kind of participant and how many of them must be present.
type Role struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// Min people of this role must attend (at least 1).
	Min int `yaml:"min"`
	// Max people may attend; 0 means no limit.
	Max int `yaml:"max"`
}

// Input is a named value given with --input NAME=VALUE.
type Input struct {
	Name        string  `yaml:"name"`
	Description string  `yaml:"description"`
	Default     *string `yaml:"default"`
}

// Step is one step of a script: the fields every step has, and Spec, the
// fields of its kind.
type Step struct {
	ID    string `yaml:"id"`
	Kind  string `yaml:"kind"`
	Title string `yaml:"title"`
	// Say is read aloud by the administrator before the step runs. It may
	// use ${input} references.
	Say string `yaml:"say"`
	// Spec holds the fields of the step's kind.
	Spec Spec `yaml:"-"`
}

// Quorum is an M-of-N split among the people of one role.
type Quorum struct {
	Role string `yaml:"role"`
	// Threshold (M) shares rebuild the secret.
	Threshold int `yaml:"threshold"`
	// Shares (N) is how many keyholders receive one.
	Shares int `yaml:"shares"`
}

// MaxShares bounds N: a share per keyholder, at most 255 (Shamir over
// GF(2^8)); a real quorum is far smaller.
const MaxShares = 255

// QuorumStep is a Spec whose step involves a quorum of keyholders: one
// that splits a secret among them, or one at which they enter their
// shares. The start screen lists these.
type QuorumStep interface {
	StepQuorum() *Quorum
}

var (
	nameRE     = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)
	inputRE    = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
	inputRefRE = regexp.MustCompile(`\$\{([^}]*)\}`)
)

// CheckName checks a name written in lower-case letters, digits and '-'
// (ids, artifact names, option values).
func CheckName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%q: use lower-case letters, digits and '-'", name)
	}
	return nil
}

// Bounds of an approval's fields.
const (
	maxApprovers     = 20
	maxApproverName  = 120
	maxApprovalNotes = 200
)

func (s *Script) validateApproval() error {
	a := s.Approval
	if a == nil {
		return nil
	}
	if len(a.ApprovedBy) == 0 || len(a.ApprovedBy) > maxApprovers {
		return s.Errorf("approval.approved_by", "name 1 to %d approvers, each with their function", maxApprovers)
	}
	for i, name := range a.ApprovedBy {
		p := fmt.Sprintf("approval.approved_by[%d]", i)
		switch {
		case !printableLine(name, maxApproverName):
			return s.Errorf(p, "give a name of 1 to %d printable characters on one line", maxApproverName)
		case slices.Index(a.ApprovedBy, name) != i:
			return s.Errorf(p, "%q listed twice", name)
		}
	}
	if d, err := time.Parse(time.DateOnly, a.Date); err != nil || d.Format(time.DateOnly) != a.Date {
		return s.Errorf("approval.date", "%q: give the day of the approval as YYYY-MM-DD", a.Date)
	}
	if a.Reference != "" && !printableLine(a.Reference, maxApprovalNotes) {
		return s.Errorf("approval.reference", "give at most %d printable characters on one line", maxApprovalNotes)
	}
	return nil
}

// printableLine reports whether text is 1 to max bytes of printable
// characters, not all spaces.
func printableLine(text string, max int) bool {
	return strings.TrimSpace(text) != "" && len(text) <= max &&
		strings.IndexFunc(text, func(r rune) bool { return !unicode.IsPrint(r) }) < 0
}

// Load reads the script at path and validates it against the step kinds.
func Load(path string, kinds *Kinds) (*Script, error) {
	data, err := durable.ReadFile(durable.Script, path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data, kinds)
}

// Parse decodes and validates a script read from path.
func Parse(path string, data []byte, kinds *Kinds) (*Script, error) {
	s := &Script{kinds: kinds}
	doc, err := strictyaml.Decode(path, data, s)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	s.Path, s.SHA256, s.Text, s.doc = path, hex.EncodeToString(sum[:]), string(data), doc
	if err := s.validate(); err != nil {
		return nil, err
	}
	return s, nil
}

// Errorf reports a problem with the value at a YAML path of the script,
// naming the file and line.
func (s *Script) Errorf(path, format string, args ...any) error {
	return s.doc.Errorf(path, format, args...)
}

// Role returns the declared role called name.
func (s *Script) Role(name string) (Role, bool) {
	if i := s.roleIndex(name); i >= 0 {
		return s.Roles[i], true
	}
	return Role{}, false
}

// StepIndex returns the index of the step with the given id, or -1.
func (s *Script) StepIndex(id string) int {
	return slices.IndexFunc(s.Steps, func(st Step) bool { return st.ID == id })
}

// KindAt returns the index of the first step of kind, or -1.
func (s *Script) KindAt(kind string) int {
	return slices.IndexFunc(s.Steps, func(st Step) bool { return st.Kind == kind })
}

// Input returns the declared input called name.
func (s *Script) Input(name string) (Input, bool) {
	if i := s.inputIndex(name); i >= 0 {
		return s.Inputs[i], true
	}
	return Input{}, false
}

func (s *Script) roleIndex(name string) int {
	return slices.IndexFunc(s.Roles, func(r Role) bool { return r.Name == name })
}

func (s *Script) inputIndex(name string) int {
	return slices.IndexFunc(s.Inputs, func(in Input) bool { return in.Name == name })
}

func (s *Script) validate() error {
	switch {
	case s.Version != FormatVersion:
		return s.Errorf("version", "must be %d (this tool reads script format %d)", FormatVersion, FormatVersion)
	case !nameRE.MatchString(s.Name):
		return s.Errorf("name", "%q: use lower-case letters, digits and '-'", s.Name)
	case strings.TrimSpace(s.Title) == "":
		return s.Errorf("title", "required")
	case len(s.Roles) == 0:
		return s.Errorf("roles", "declare at least one role")
	case len(s.RawSteps) == 0:
		return s.Errorf("steps", "a script needs steps")
	}
	if err := s.validateApproval(); err != nil {
		return err
	}
	for i, r := range s.Roles {
		p := fmt.Sprintf("roles[%d]", i)
		switch {
		case !nameRE.MatchString(r.Name):
			return s.Errorf(p+".name", "%q: use lower-case letters, digits and '-'", r.Name)
		case s.roleIndex(r.Name) != i:
			return s.Errorf(p+".name", "role %q declared twice", r.Name)
		case r.Min < 1:
			return s.Errorf(p+".min", "must be at least 1")
		case r.Max != 0 && r.Max < r.Min:
			return s.Errorf(p+".max", "%d is less than min %d (0 means no limit)", r.Max, r.Min)
		}
	}
	for i, in := range s.Inputs {
		p := fmt.Sprintf("inputs[%d]", i)
		switch {
		case !inputRE.MatchString(in.Name):
			return s.Errorf(p+".name", "%q: use lower-case letters, digits and '_'", in.Name)
		case s.inputIndex(in.Name) != i:
			return s.Errorf(p+".name", "input %q declared twice", in.Name)
		case strings.TrimSpace(in.Description) == "":
			return s.Errorf(p+".description", "required: say what the value is")
		}
		if in.Default != nil {
			if err := CheckInputValue(*in.Default); err != nil {
				return s.Errorf(p+".default", "%v", err)
			}
		}
	}
	if err := s.decodeSteps(); err != nil {
		return err
	}

	c := &Check{Script: s, facts: map[string]int{}, files: map[string]int{}}
	for i := range s.Steps {
		st := &s.Steps[i]
		p := fmt.Sprintf("steps[%d]", i)
		k, _ := s.kinds.Lookup(st.Kind)
		if sealAt := c.At(FactSeal); sealAt >= 0 && !k.AfterSeal {
			return s.Errorf(p+".kind", "a %s step after the seal (steps[%d]): nothing may be recorded after it; only %s may follow", st.Kind, sealAt, KindExportQR)
		}
		switch {
		case !nameRE.MatchString(st.ID):
			return s.Errorf(p+".id", "%q: use lower-case letters, digits and '-'", st.ID)
		case s.StepIndex(st.ID) != i:
			return s.Errorf(p+".id", "duplicate step id %q (first used by steps[%d])", st.ID, s.StepIndex(st.ID))
		case strings.TrimSpace(st.Title) == "":
			return s.Errorf(p+".title", "required: a short heading for the step list")
		}
		var refErr error
		s.RawSteps[i].Strings(func(field, text string) {
			if refErr == nil {
				refErr = c.refs(p+"."+field, text)
			}
		})
		if refErr != nil {
			return refErr
		}
		c.at(i)
		if err := st.Spec.Validate(c); err != nil {
			return err
		}
	}
	if c.At(FactAttendance) < 0 {
		return s.Errorf("steps", "no %s step: a ceremony records who is present", KindAttendance)
	}
	if c.At(FactPreflight) < 0 {
		return s.Errorf("steps", "no %s step: a ceremony records its environment", KindPreflight)
	}
	if err := c.finish(); err != nil {
		return err
	}
	if c.At(FactSeal) < 0 {
		return s.Errorf(fmt.Sprintf("steps[%d]", len(s.Steps)-1), "the last step must be a seal step (followed at most by %s): every transcript ends sealed by the audit key", KindExportQR)
	}
	return nil
}

// header holds the fields every step has; the kind's Spec the rest.
var headerFields = []string{"id", "kind", "title", "say"}

// decodeSteps decodes each step: the fields every step has, then, by its
// kind, its Spec, strictly. A field another kind uses is named as not used
// by this kind; a field no kind uses is an unknown field.
func (s *Script) decodeSteps() error {
	s.Steps = make([]Step, len(s.RawSteps))
	for i, raw := range s.RawSteps {
		p := fmt.Sprintf("steps[%d]", i)
		keys, ok := raw.Keys()
		if !ok {
			return s.Errorf(p, "a step is a mapping (id, kind, title, ...)")
		}
		st := &s.Steps[i]
		var head struct {
			ID    string `yaml:"id"`
			Kind  string `yaml:"kind"`
			Title string `yaml:"title"`
			Say   string `yaml:"say"`
		}
		known := map[string]bool{}
		for _, f := range headerFields {
			known[f] = true
		}
		isHeader := func(key string) bool { return slices.Contains(headerFields, key) }
		kind, scalar, present := raw.Scalar("kind")
		if present && !scalar {
			// Not text: the strict decode says what it is, and where.
			if err := s.doc.DecodeNode(raw.Only(isHeader), &head); err != nil {
				return err
			}
		}
		k, kindOK := s.kinds.Lookup(kind)
		if !kindOK {
			// A misspelt field (knid) is named before the kind it hides.
			for _, key := range keys {
				if !isHeader(key.Name) && !s.kinds.uses(key.Name) {
					return fmt.Errorf("%s:%d:%d: unknown field %q", s.Path, key.Line, key.Column, key.Name)
				}
			}
		}
		switch {
		case !present || kind == "":
			return s.Errorf(p+".kind", "required (one of: %s)", s.kinds.list())
		case !kindOK:
			return s.Errorf(p+".kind", "unknown step kind %q (known: %s)", kind, s.kinds.list())
		}
		spec := k.New()
		for _, f := range specFields(reflect.TypeOf(spec)) {
			known[f] = true
		}
		for _, key := range keys {
			switch {
			case known[key.Name]:
			case s.kinds.uses(key.Name):
				return s.Errorf(p+"."+key.Name, "not used by a %s step", kind)
			default:
				return fmt.Errorf("%s:%d:%d: unknown field %q", s.Path, key.Line, key.Column, key.Name)
			}
		}
		if err := s.doc.DecodeNode(raw.Only(isHeader), &head); err != nil {
			return err
		}
		if err := s.doc.DecodeNode(raw.Only(func(key string) bool { return !isHeader(key) }), spec); err != nil {
			return err
		}
		*st = Step{ID: head.ID, Kind: head.Kind, Title: head.Title, Say: head.Say, Spec: spec}
	}
	return nil
}

// specFields returns the YAML field names of a Spec's struct.
func specFields(t reflect.Type) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []string
	for i := range t.NumField() {
		name, opts, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		switch {
		case name == "-":
		case opts == "inline":
			out = append(out, specFields(t.Field(i).Type)...)
		case name != "":
			out = append(out, name)
		}
	}
	return out
}
