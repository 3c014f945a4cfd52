package hsm

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/devicepki/ceremony/internal/fuzzcheck"
)

// FuzzParseConfig: an HSM config never panics the parser; an error is one
// printable line; an accepted config validates, names an absolute module,
// and every other token it lists can be opened by name.
func FuzzParseConfig(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "examples", "*", "hsm.yaml"))
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("module: /usr/lib/softhsm/libsofthsm2.so\ntoken:\n  label: ceremony-demo\n"))
	f.Add([]byte("module: /usr/lib/softhsm/libsofthsm2.so\ntoken:\n  serial: 3a7c1f0e\nother_tokens:\n  firmware-build:\n    token:\n      label: firmware\n  backup:\n    module: /opt/other.so\n    token:\n      label: b\nactivation_record: ../artifacts/activation-record.json\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseConfig("/etc/ceremony/hsm.yaml", data)
		if err != nil {
			fuzzcheck.OneLine(t, err)
			return
		}
		if err := c.Validate(); err != nil || !filepath.IsAbs(c.Module) {
			t.Fatalf("accepted config does not validate: %v", err)
		}
		if c.ActivationRecord != "" && !filepath.IsAbs(c.ActivationRecord) {
			t.Fatalf("activation record %q is relative", c.ActivationRecord)
		}
		for name := range c.OtherTokens {
			if o, err := c.Other(name); err != nil || !filepath.IsAbs(o.Module) {
				t.Fatalf("other token %q of an accepted config: %v", name, err)
			}
		}
	})
}
