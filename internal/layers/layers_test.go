package layers

import (
	"errors"
	"go/build"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// moduleImports returns every package of the module found under root (a
// path relative to the module) with the module packages its non-test files
// import.
func moduleImports(t *testing.T, root string) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(data), "\n")
	module, ok := strings.CutPrefix(first, "module ")
	if !ok {
		t.Fatalf("go.mod: first line %q is not a module line", first)
	}
	module = strings.TrimSpace(module)
	out := map[string][]string{}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		name := d.Name()
		if path != root && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
			return filepath.SkipDir
		}
		p, err := build.ImportDir(path, 0)
		var noGo *build.NoGoError
		if errors.As(err, &noGo) {
			return nil
		}
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			rel = ""
		}
		var imports []string
		for _, imp := range p.Imports {
			if imp == module {
				imports = append(imports, "")
			} else if r, ok := strings.CutPrefix(imp, module+"/"); ok {
				imports = append(imports, r)
			}
		}
		if len(p.GoFiles) > 0 || len(p.CgoFiles) > 0 {
			out[rel] = imports
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// No package imports a package of a layer above its own, nor of its own
// layer unless that layer allows it, and every package has a layer.
func TestNoPackageImportsAbove(t *testing.T) {
	pkgs := moduleImports(t, filepath.Join("..", ".."))
	if len(pkgs) < 10 {
		t.Fatalf("found only %d packages: is the module root ../..?", len(pkgs))
	}
	for pkg, imports := range pkgs {
		if Of(pkg) < 0 {
			t.Errorf("%s has no layer: add it to layers.Order", pkg)
			continue
		}
		for _, imp := range imports {
			if msg := violation(pkg, imp); msg != "" {
				t.Error(msg)
			}
		}
	}
	// Every package Order names exists, so the table does not rot.
	for _, l := range Order {
		for _, p := range l.Packages {
			if _, ok := pkgs[p]; !ok && !hasChild(pkgs, p) {
				t.Errorf("layers.Order lists %s (%s), which is not a package of the module", p, l.Name)
			}
		}
	}
}

// violation says why pkg may not import imp, or returns "".
func violation(pkg, imp string) string {
	lp, li := Of(pkg), Of(imp)
	switch {
	case lp < 0:
		return pkg + " has no layer: add it to layers.Order"
	case li < 0:
		return pkg + " imports " + imp + ", which has no layer: add it to layers.Order"
	case li > lp:
		return pkg + " (" + Order[lp].Name + ") imports " + imp + " (" + Order[li].Name + "), a layer above it"
	case li == lp && !Order[lp].Peers:
		return pkg + " imports " + imp + ", both " + Order[lp].Name + ": packages of that layer do not import one another"
	}
	return ""
}

func hasChild(pkgs map[string][]string, dir string) bool {
	for p := range pkgs {
		if strings.HasPrefix(p, dir+"/") {
			return true
		}
	}
	return false
}

// The check itself refuses what it should: a leaf importing anything, hsm
// a domain package, a domain package the engine, one face the other,
// production code the test support, and a package with no layer.
func TestLayerCheckCatches(t *testing.T) {
	cases := []struct {
		pkg, imp string
		bad      bool
	}{
		{"hsm", "ceremony/keys", false},
		{"hsm", "ceremony/secret", false},
		{"ceremony/secret", "ceremony/durable", false},
		{"ceremony/keys", "ceremony/durable", true},
		{"hsm", "ceremony/pki", true},
		{"ceremony/pki", "ceremony/seal", false},
		{"ceremony/pki", "ceremony/engine", true},
		{"ceremony/script/kinds", "ceremony/engine", true},
		{"ceremony/answers", "ceremony/tui", true},
		{"ceremony/cli", "ceremony/tui", false},
		{"ceremony/engine", "internal/softhsmtest", true},
		{"ceremony/newthing", "ceremony/keys", true}, // no layer
	}
	for _, c := range cases {
		if msg := violation(c.pkg, c.imp); (msg != "") != c.bad {
			t.Errorf("%s importing %s: %q, want refused %v", c.pkg, c.imp, msg, c.bad)
		}
	}
}

func TestModuleImportsSeesImports(t *testing.T) {
	pkgs := moduleImports(t, filepath.Join("..", ".."))
	found := false
	for _, imp := range pkgs["hsm"] {
		found = found || imp == "ceremony/secret"
	}
	if !found {
		t.Fatalf("hsm's imports %q do not include ceremony/secret: the graph is not read", pkgs["hsm"])
	}
	if _, ok := pkgs["ceremony"]; !ok {
		t.Fatalf("the ceremony command is missing from %d packages", len(pkgs))
	}
}
