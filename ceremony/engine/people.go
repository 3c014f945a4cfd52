package engine

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/devicepki/ceremony/ceremony/script"
)

// maxNameLen bounds a participant's name in characters.
const maxNameLen = 100

// CheckPersonName checks a participant's name as it will be recorded: 1 to
// 100 printable characters, no leading, trailing or doubled spaces, and
// letters from one writing system (so that "Ada" in Latin and "Аda" with a
// Cyrillic А cannot pass for two people or for each other).
func CheckPersonName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("empty name")
	case !utf8.ValidString(name):
		return fmt.Errorf("name is not valid UTF-8")
	case utf8.RuneCountInString(name) > maxNameLen:
		return fmt.Errorf("name %q is longer than %d characters", name, maxNameLen)
	case name != strings.TrimSpace(name) || strings.Contains(name, "  "):
		return fmt.Errorf("name %q has leading, trailing or doubled spaces", name)
	case strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
		return fmt.Errorf("name %q contains a control or invisible character", name)
	}
	if scripts := letterScripts(name); len(scripts) > 1 && !compatibleScripts(scripts) {
		return fmt.Errorf("name %q mixes letters of the %s scripts", name, strings.Join(scripts, " and "))
	}
	return nil
}

// PersonKey is the identity under which names are compared: "Ada  Lovelace",
// "ada lovelace" and "ＡＤＡ Lovelace" are the same person.
func PersonKey(name string) string {
	folded := cases.Fold().String(norm.NFKC.String(name))
	return strings.Join(strings.Fields(folded), " ")
}

// letterScripts returns the names of the scripts the letters of s belong to.
func letterScripts(s string) []string {
	seen := map[string]bool{}
	for _, r := range s {
		if !unicode.IsLetter(r) {
			continue
		}
		for name, table := range unicode.Scripts {
			if name != "Common" && name != "Inherited" && unicode.Is(table, r) {
				seen[name] = true
				break
			}
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// compatibleScripts allows the mixtures that real names use: Japanese (Han,
// Hiragana, Katakana) and Korean (Hangul, Han).
func compatibleScripts(scripts []string) bool {
	for _, group := range [][]string{{"Han", "Hiragana", "Katakana"}, {"Hangul", "Han"}} {
		ok := true
		for _, s := range scripts {
			if !slices.Contains(group, s) {
				ok = false
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// CheckAttendance checks recorded attendance against the script's roles:
// every role within its min and max, every name usable, and no person (by
// PersonKey) recorded twice, in one role or in two.
func CheckAttendance(roles []script.Role, got Attendance) error {
	for role := range got {
		if !slices.ContainsFunc(roles, func(r script.Role) bool { return r.Name == role }) {
			return fmt.Errorf("attendance names role %q, which the script does not declare", role)
		}
	}
	seen := map[string]string{} // PersonKey -> "name (role)"
	for _, role := range roles {
		names := got[role.Name]
		switch {
		case len(names) < role.Min:
			return fmt.Errorf("role %s needs at least %d present, %d recorded", role.Name, role.Min, len(names))
		case role.Max > 0 && len(names) > role.Max:
			return fmt.Errorf("role %s allows at most %d present, %d recorded", role.Name, role.Max, len(names))
		}
		for _, n := range names {
			if err := CheckPersonName(n); err != nil {
				return fmt.Errorf("role %s: %v", role.Name, err)
			}
			key := PersonKey(n)
			if other, dup := seen[key]; dup {
				return fmt.Errorf("%q (%s) and %s are the same person; one person holds one role in a ceremony", n, role.Name, other)
			}
			seen[key] = fmt.Sprintf("%q (%s)", n, role.Name)
		}
	}
	return nil
}
