package engine

import (
	"crypto/x509/pkix"
	"fmt"
)

// This file holds what a cloud CA registration (verification certificate)
// needs beyond plain signing: an issue-certificate step that certifies a
// CSR's key if one is given and a throwaway key if not, and a use-key step
// that finds an intermediate CA's key on a second token, with the
// intermediate's certificate brought as a file and checked to chain to the
// root the main token holds.

// subjectDifference says how the subject a CSR requests differs from the
// one wanted, attribute by attribute (template names).
func subjectDifference(got, want pkix.Name) string {
	one := func(v []string) string {
		if len(v) == 0 {
			return ""
		}
		return v[0]
	}
	for _, a := range []struct{ name, got, want string }{
		{"common_name", got.CommonName, want.CommonName},
		{"organization", one(got.Organization), one(want.Organization)},
		{"organizational_unit", one(got.OrganizationalUnit), one(want.OrganizationalUnit)},
		{"locality", one(got.Locality), one(want.Locality)},
		{"province", one(got.Province), one(want.Province)},
		{"country", one(got.Country), one(want.Country)},
	} {
		if a.got != a.want {
			return fmt.Sprintf("its subject %s %q is not %q", a.name, a.got, a.want)
		}
	}
	return fmt.Sprintf("its subject %s differs from %s", got, want)
}
