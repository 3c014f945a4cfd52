package script

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode"
)

// maxInputLen bounds input values; they are read aloud and recorded.
const maxInputLen = 256

// CheckInputValue checks an input value: non-empty, printable, one line.
func CheckInputValue(v string) error {
	switch {
	case strings.TrimSpace(v) == "":
		return errors.New("empty value")
	case len(v) > maxInputLen:
		return fmt.Errorf("longer than %d bytes", maxInputLen)
	case strings.IndexFunc(v, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
		return errors.New("contains a control character or line break")
	}
	return nil
}

// ResolveInputs combines the values given on the command line with the
// script's defaults. Unknown names, missing values and bad values are errors.
func (s *Script) ResolveInputs(given map[string]string) (map[string]string, error) {
	for _, n := range slices.Sorted(maps.Keys(given)) {
		if s.inputIndex(n) < 0 {
			var declared []string
			for _, in := range s.Inputs {
				declared = append(declared, in.Name)
			}
			if len(declared) == 0 {
				return nil, fmt.Errorf("--input %s: script %s takes no inputs", n, s.Name)
			}
			return nil, fmt.Errorf("--input %s: script %s has no such input (it takes: %s)", n, s.Name, strings.Join(declared, ", "))
		}
		if err := CheckInputValue(given[n]); err != nil {
			return nil, fmt.Errorf("--input %s: %v", n, err)
		}
	}
	out := map[string]string{}
	for _, in := range s.Inputs {
		switch v, ok := given[in.Name]; {
		case ok:
			out[in.Name] = v
		case in.Default != nil:
			out[in.Name] = *in.Default
		default:
			return nil, fmt.Errorf("input %s is required (%s): pass --input %s=VALUE", in.Name, strings.TrimSpace(in.Description), in.Name)
		}
	}
	return out, nil
}

// Expand replaces ${name} references in text with input values. Load has
// checked that every reference is declared and ResolveInputs that every
// declared input has a value.
func Expand(text string, values map[string]string) string {
	return inputRefRE.ReplaceAllStringFunc(text, func(ref string) string {
		return values[ref[2:len(ref)-1]]
	})
}

// ParseInputFlag splits a NAME=VALUE command-line input.
func ParseInputFlag(kv string) (string, string, error) {
	name, value, ok := strings.Cut(kv, "=")
	if !ok || !inputRE.MatchString(name) {
		return "", "", fmt.Errorf("--input %q: expected NAME=VALUE with a lower-case NAME", kv)
	}
	return name, value, nil
}
