package script

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Facts a step establishes for the steps after it (Check.Mark, Check.At).
const (
	// FactAttendance: who is present is recorded.
	FactAttendance = "attendance"
	// FactPreflight: the environment is recorded.
	FactPreflight = "preflight"
	// FactToken: the ceremony's main token is open (a login, or an
	// initialisation).
	FactToken = "token"
	// FactOfficer: the token's security officer can act, because the
	// activation shares are on hand (init-token, or a quorum login).
	FactOfficer = "officer"
	// FactSeal: the transcript is sealed.
	FactSeal = "seal"
)

// FactOtherToken is the fact that a step opened the second token called
// name.
func FactOtherToken(name string) string { return "token:" + name }

// Check is what a Spec's Validate knows: the script, the step being
// checked, and the facts the steps before it established. Its methods
// report problems by YAML path below the step ("label", "quorum.role").
type Check struct {
	Script *Script
	// Index is the step's position; Step the step.
	Index int
	Step  *Step

	path  string
	facts map[string]int // fact -> the step that established it
	files map[string]int // artifact file -> the step that writes it
	later []deferred
}

// deferred is a check that needs the whole script, and the step it is
// about.
type deferred struct {
	index int
	check func() error
}

// Finally runs check once every step is validated, with the Check back
// at this step: for what a later step must do (hand out the shares this
// step makes).
func (c *Check) Finally(check func() error) {
	c.later = append(c.later, deferred{c.Index, check})
}

// finish runs the deferred checks in the order they were made.
func (c *Check) finish() error {
	for _, d := range c.later {
		c.at(d.index)
		if err := d.check(); err != nil {
			return err
		}
	}
	return nil
}

// at moves the Check to step i.
func (c *Check) at(i int) {
	c.Index, c.Step, c.path = i, &c.Script.Steps[i], fmt.Sprintf("steps[%d]", i)
}

// Path returns the YAML path of a field of the step ("" for the step).
func (c *Check) Path(field string) string {
	if field == "" {
		return c.path
	}
	return c.path + "." + field
}

// Errorf reports a problem with a field of the step ("" for the step
// itself), naming the file and line.
func (c *Check) Errorf(field, format string, args ...any) error {
	return c.Script.Errorf(c.Path(field), format, args...)
}

// Mark records that this step establishes fact.
func (c *Check) Mark(fact string) { c.facts[fact] = c.Index }

// At returns the index of the step that established fact, or -1.
func (c *Check) At(fact string) int {
	if i, ok := c.facts[fact]; ok {
		return i
	}
	return -1
}

// Once checks that no earlier step established fact, which this step
// establishes, and marks it: "only one attendance step".
func (c *Check) Once(fact string) error {
	if j := c.At(fact); j >= 0 {
		return c.Errorf("kind", "only one %s step (steps[%d] is one)", c.Step.Kind, j)
	}
	c.Mark(fact)
	return nil
}

// NeedsPeople checks that attendance comes before this step, which asks
// people to act.
func (c *Check) NeedsPeople() error {
	if c.At(FactAttendance) < 0 {
		return c.Errorf("", "a %s step needs people: put the attendance step before it", c.Step.Kind)
	}
	return nil
}

// NeedsToken checks that the ceremony's main token is open before this
// step.
func (c *Check) NeedsToken() error {
	if c.At(FactToken) < 0 {
		return c.Errorf("", "%s needs the HSM: put an hsm-login or init-token step before it", c.Step.Kind)
	}
	return nil
}

// NeedsOfficer checks that the security officer can act at this step.
func (c *Check) NeedsOfficer() error {
	if c.At(FactOfficer) < 0 {
		return c.Errorf("", "%s needs the HSM's security officer, whose PIN comes from the activation shares: put an init-token step, or an hsm-login step with a quorum, before it", c.Step.Kind)
	}
	return nil
}

// Role checks that role names a declared role.
func (c *Check) Role(field, role string) error {
	if role == "" {
		return c.Errorf(field, "required: the role that acts")
	}
	if _, ok := c.Script.Role(role); !ok {
		var names []string
		for _, r := range c.Script.Roles {
			names = append(names, r.Name)
		}
		return c.Errorf(field, "undeclared role %q (roles: %s)", role, strings.Join(names, ", "))
	}
	return nil
}

// Earlier checks that ref names a step before this one, of one of kinds,
// and returns it.
func (c *Check) Earlier(field, ref string, kinds ...string) (*Step, error) {
	if ref == "" {
		return nil, c.Errorf(field, "required: the id of an earlier %s step", strings.Join(kinds, " or "))
	}
	s := c.Script
	j := s.StepIndex(ref)
	switch {
	case j < 0:
		return nil, c.Errorf(field, "no step with id %q", ref)
	case j >= c.Index:
		return nil, c.Errorf(field, "step %q comes later; refer to an earlier step", ref)
	case !slices.Contains(kinds, s.Steps[j].Kind):
		return nil, c.Errorf(field, "step %q is %s %s step, not %s", ref, article(s.Steps[j].Kind), s.Steps[j].Kind, strings.Join(kinds, " or "))
	}
	return &s.Steps[j], nil
}

// Later returns the steps after this one for which match is true.
func (c *Check) Later(match func(*Step) bool) []int {
	var out []int
	for j := c.Index + 1; j < len(c.Script.Steps); j++ {
		if match(&c.Script.Steps[j]) {
			out = append(out, j)
		}
	}
	return out
}

// Before returns the steps before this one for which match is true.
func (c *Check) Before(match func(*Step) bool) []int {
	var out []int
	for j := range c.Index {
		if match(&c.Script.Steps[j]) {
			out = append(out, j)
		}
	}
	return out
}

// Quorum checks a step's quorum: a declared role, and for a new split
// (full) a threshold of at least 2 and no more shares than MaxShares and
// the role admits; for a split on record only the role.
func (c *Check) Quorum(q *Quorum, full bool) error {
	if q == nil {
		if full {
			return c.Errorf("quorum", "required: {role: ROLE, threshold: M, shares: N}")
		}
		return c.Errorf("quorum", "required: {role: ROLE}")
	}
	if err := c.Role("quorum.role", q.Role); err != nil {
		return err
	}
	if !full {
		if q.Threshold != 0 || q.Shares != 0 {
			return c.Errorf("quorum", "give only the role: the threshold is on record with the split")
		}
		return nil
	}
	r, _ := c.Script.Role(q.Role)
	switch {
	case q.Threshold < 2:
		return c.Errorf("quorum.threshold", "must be at least 2: one keyholder alone must not suffice")
	case q.Shares < q.Threshold:
		return c.Errorf("quorum.shares", "%d is less than the threshold %d", q.Shares, q.Threshold)
	case q.Shares > MaxShares:
		return c.Errorf("quorum.shares", "at most %d", MaxShares)
	case r.Min != q.Shares || r.Max != q.Shares:
		return c.Errorf("quorum.shares", "every %s receives a share, so exactly %d must attend: set the role's min and max to %d", q.Role, q.Shares, q.Shares)
	}
	return nil
}

// TemplateName checks a template name: templates/NAME.yaml, not a path.
func (c *Check) TemplateName(field, name string) error {
	if name == "" {
		return c.Errorf(field, "required: a template name from templates/")
	}
	if !templateNameRE.MatchString(name) {
		return c.Errorf(field, "%q: give the template's name (templates/NAME.yaml), not a path", name)
	}
	return nil
}

var templateNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// ArtifactName checks the artifact name in field and claims the files the
// step writes under artifacts/: no other step may write the same file.
func (c *Check) ArtifactName(field, name string, files []string) error {
	if err := CheckName(name); err != nil {
		return c.Errorf(field, "%v", err)
	}
	for _, file := range files {
		if j, dup := c.files[file]; dup {
			return c.Errorf(field, "artifact %s is already written by steps[%d]", file, j)
		}
		c.files[file] = c.Index
	}
	return nil
}

// Required checks that a text field is not empty; why says what it holds.
func (c *Check) Required(field, value, why string) error {
	if strings.TrimSpace(value) == "" {
		if why == "" {
			return c.Errorf(field, "required")
		}
		return c.Errorf(field, "required: %s", why)
	}
	return nil
}

// refs checks that every ${input} reference in text is declared.
func (c *Check) refs(path, text string) error {
	for _, m := range inputRefRE.FindAllStringSubmatch(text, -1) {
		if c.Script.inputIndex(m[1]) < 0 {
			return c.Script.Errorf(path, "refers to undeclared input ${%s}", m[1])
		}
	}
	return nil
}

// article returns "an" before a vowel, else "a".
func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}

// SoleRef returns the input name if text is one ${input} reference alone.
func SoleRef(text string) (string, bool) {
	m := soleRefRE.FindStringSubmatch(text)
	if m == nil {
		return "", false
	}
	return m[1], true
}

var soleRefRE = regexp.MustCompile(`^\$\{([a-z][a-z0-9_]{0,62})\}$`)
