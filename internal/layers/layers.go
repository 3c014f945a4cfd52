// Package layers declares the order of this module's packages: each may
// import only packages of a layer below its own, never one above it, so
// that a package can be read, tested and changed knowing only what is
// beneath it. The test in this package checks the whole module's import
// graph (test files aside) against [Order].
//
// From the bottom up:
//
//   - leaves: helpers that import nothing from this module (durable
//     files, key algorithms, strict YAML, words, ...);
//   - leaf helpers: helpers built only on leaves (secret reads secrets
//     with durable's regular-file reader);
//   - hsm: everything PKCS#11, on leaves and leaf helpers only;
//   - domain: what a ceremony is made of (scripts, templates and
//     certificates, CSRs, shares, backups, transcripts, seals, records,
//     QR transfer, verification, import); these may import one another;
//   - engine: runs a ceremony script step by step;
//   - faces: the answers file and the TUI, the engine's two faces;
//   - cli: the command line;
//   - main: the ceremony command;
//   - test support: imported by tests only.
//
// A package not listed takes the layer of its nearest listed parent
// directory (ceremony/script/kinds is domain, like ceremony/script).
package layers

import (
	"slices"
	"strings"
)

// Layer is a named set of packages, given by their paths inside the
// module ("" for the module root).
type Layer struct {
	// Name is how errors call the layer.
	Name string
	// Packages are the package paths relative to the module.
	Packages []string
	// Peers allows imports between packages of the same layer.
	Peers bool
	// Alone keeps the layer from packages in subdirectories of its own.
	Alone bool
}

// Order lists the layers from the bottom up.
var Order = []Layer{
	{Name: "leaves", Packages: []string{
		"ceremony/bundle", "ceremony/durable", "ceremony/keys", "ceremony/lint",
		"ceremony/qrshow", "ceremony/register", "ceremony/strictyaml", "ceremony/words",
	}},
	{Name: "leaf helpers", Packages: []string{"ceremony/secret"}},
	{Name: "hsm", Packages: []string{"hsm"}},
	{Name: "domain", Peers: true, Packages: []string{
		"ceremony/activation", "ceremony/backup", "ceremony/csr", "ceremony/opsimport",
		"ceremony/outdir", "ceremony/pki", "ceremony/qrframe", "ceremony/qrimage",
		"ceremony/qrtransfer", "ceremony/record", "ceremony/revoke", "ceremony/script",
		"ceremony/seal", "ceremony/shares", "ceremony/transcript", "ceremony/verify",
	}},
	{Name: "engine", Packages: []string{"ceremony/engine"}},
	{Name: "faces", Packages: []string{"ceremony/answers", "ceremony/tui"}},
	{Name: "cli", Packages: []string{"ceremony/cli"}},
	{Name: "main", Alone: true, Packages: []string{"ceremony"}},
	{Name: "test support", Packages: []string{"internal"}},
}

// Of returns the index in Order of the layer holding pkg (a path inside
// the module), found by pkg itself or its nearest listed parent, or -1.
func Of(pkg string) int {
	for p := pkg; ; {
		for i, l := range Order {
			if slices.Contains(l.Packages, p) && (p == pkg || !l.Alone) {
				return i
			}
		}
		j := strings.LastIndexByte(p, '/')
		if j < 0 {
			return -1
		}
		p = p[:j]
	}
}
