package lint

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"

	zl "github.com/zmap/zlint/v3/lint"
)

// CheckExclusions checks lint names a template wants to exclude: each must
// be the exact name of a registered zlint lint (certificate, CRL or OCSP)
// and appear once. The error names the first offending name and, for an
// unknown one, suggests registered names close to it.
func CheckExclusions(names []string) error {
	if len(names) == 0 {
		return nil
	}
	known := zl.GlobalRegistry().Names()
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		switch {
		case n == "":
			return errors.New("lint exclusion: empty lint name")
		case strings.IndexFunc(n, unicode.IsSpace) >= 0:
			return fmt.Errorf("lint exclusion %q: lint names have no white space; remove it", n)
		case seen[n]:
			return fmt.Errorf("lint exclusion %s: excluded twice", n)
		}
		seen[n] = true
		if _, found := slices.BinarySearch(known, n); found {
			continue
		}
		msg := fmt.Sprintf("lint exclusion %s: zlint %s has no lint of that name", n, zlintVersion())
		if s := suggest(n, known); len(s) > 0 {
			msg += " (did you mean " + strings.Join(s, " or ") + "?)"
		}
		return errors.New(msg)
	}
	return nil
}

// suggest returns up to three known names close to name: the same name
// with another severity prefix (e_, w_, n_), names containing all of its
// words in order (e_ca_country_missing → e_ca_country_name_missing), and
// names a small edit distance away for the name's length, nearest first.
func suggest(name string, known []string) []string {
	type cand struct {
		name string
		dist int
	}
	var cands []cand
	limit := max(2, len(name)/4)
	bare := stripPrefix(name)
	words := strings.Split(bare, "_")
	for _, k := range known {
		switch {
		case stripPrefix(k) == bare:
			cands = append(cands, cand{k, 0})
		case len(words) >= 2 && hasWordsInOrder(stripPrefix(k), words):
			cands = append(cands, cand{k, limit})
		default:
			if d := distance(name, k, limit); d <= limit {
				cands = append(cands, cand{k, d})
			}
		}
	}
	slices.SortFunc(cands, func(a, b cand) int {
		if a.dist != b.dist {
			return a.dist - b.dist
		}
		return strings.Compare(a.name, b.name)
	})
	var out []string
	for _, c := range cands[:min(3, len(cands))] {
		out = append(out, c.name)
	}
	return out
}

// hasWordsInOrder reports whether the underscore-separated words of name
// include words, in order.
func hasWordsInOrder(name string, words []string) bool {
	have := strings.Split(name, "_")
	i := 0
	for _, h := range have {
		if i < len(words) && h == words[i] {
			i++
		}
	}
	return i == len(words)
}

// stripPrefix removes a severity prefix such as "e_" from a lint name.
func stripPrefix(s string) string {
	if len(s) > 2 && s[1] == '_' {
		return s[2:]
	}
	return s
}

// distance is the Levenshtein distance between a and b, or limit+1 once
// it certainly exceeds limit.
func distance(a, b string, limit int) int {
	if d := len(a) - len(b); d > limit || -d > limit {
		return limit + 1
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			rowMin = min(rowMin, cur[j])
		}
		if rowMin > limit {
			return limit + 1
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
