// Package docs_test checks the documentation: every relative link in the
// README and the pages under docs/ points at a file (and heading) that
// exists, and every test a page names as proof exists.
package docs_test

import (
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// pages returns the Markdown files whose links are checked, relative to
// this directory.
func pages(t *testing.T) []string {
	t.Helper()
	ps, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) == 0 {
		t.Fatal("no pages in docs/")
	}
	return append(ps, "../README.md")
}

// prose returns the lines of a Markdown file outside fenced code blocks,
// by their 1-based line number.
func prose(data string) map[int]string {
	out := map[int]string{}
	fenced := false
	n := 0
	for line := range strings.Lines(data) {
		n++
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if !fenced {
			out[n] = line
		}
	}
	return out
}

// slug is the anchor GitHub gives a heading: lower case, only letters,
// digits, spaces, hyphens and underscores kept, spaces made hyphens.
func slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// anchors returns the anchors of the headings of the Markdown file at path.
func anchors(t *testing.T, path string) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	out := map[string]bool{}
	lines := prose(string(data))
	for _, n := range slices.Sorted(maps.Keys(lines)) {
		line := lines[n]
		if !strings.HasPrefix(line, "#") {
			continue
		}
		a := slug(strings.TrimSpace(strings.TrimLeft(line, "#")))
		if n := seen[a]; n > 0 {
			out[a+"-"+strconv.Itoa(n)] = true
		} else {
			out[a] = true
		}
		seen[a]++
	}
	return out
}

var linkRE = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// TestLinksResolve checks every relative link in the README and docs/*.md:
// the file must exist, and a #fragment must name a heading in it.
func TestLinksResolve(t *testing.T) {
	t.Parallel()
	checked := 0
	for _, page := range pages(t) {
		data, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for n, line := range prose(string(data)) {
			for _, m := range linkRE.FindAllStringSubmatch(line, -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				file, frag, _ := strings.Cut(target, "#")
				path := page
				if file != "" {
					path = filepath.Join(filepath.Dir(page), file)
					if _, err := os.Stat(path); err != nil {
						t.Errorf("%s:%d: link %q: %v", page, n, target, err)
						continue
					}
				}
				if frag != "" {
					if !strings.HasSuffix(path, ".md") {
						t.Errorf("%s:%d: link %q: a fragment into a file that is not Markdown", page, n, target)
					} else if !anchors(t, path)[frag] {
						t.Errorf("%s:%d: link %q: %s has no heading with the anchor #%s", page, n, target, path, frag)
					}
				}
				checked++
			}
		}
	}
	if checked < 50 {
		t.Errorf("only %d links checked: is the link pattern still right?", checked)
	}
}

// testNames returns the names of every Test and Fuzz function in the
// module's test files, and the names of the command-line stories.
func testNames(t *testing.T) map[string]bool {
	t.Helper()
	funcRE := regexp.MustCompile(`(?m)^func ((?:Test|Fuzz)[A-Za-z0-9_]*)\(`)
	names := map[string]bool{}
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != ".." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "transcripts" || d.Name() == "bin") {
			return filepath.SkipDir
		}
		switch {
		case strings.HasSuffix(path, "_test.go"):
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, m := range funcRE.FindAllStringSubmatch(string(data), -1) {
				names[m[1]] = true
			}
		case strings.HasSuffix(path, ".txtar") && filepath.Base(filepath.Dir(path)) == "script":
			names[filepath.Base(path)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// TestNamedTestsExist checks that every Go test and command-line story the
// security, formats and testing pages name exists, so a renamed test
// cannot leave a page citing a proof that is gone.
func TestNamedTestsExist(t *testing.T) {
	t.Parallel()
	have := testNames(t)
	nameRE := regexp.MustCompile("`((?:Test|Fuzz)[A-Za-z0-9_]+|[a-z0-9_]+\\.txtar)`")
	for _, page := range []string{"security.md", "formats.md", "testing.md"} {
		data, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		var named []string
		for _, m := range nameRE.FindAllStringSubmatch(string(data), -1) {
			named = append(named, m[1])
		}
		if page == "security.md" && len(named) < 40 {
			t.Errorf("%s names only %d tests", page, len(named))
		}
		slices.Sort(named)
		for _, n := range slices.Compact(named) {
			if !have[n] {
				t.Errorf("%s names %s, which is not a test or story in this module", page, n)
			}
		}
	}
}
