package hsm_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/devicepki/ceremony/hsm"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "hsm.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestOtherTokens(t *testing.T) {
	c, err := hsm.LoadConfig(writeConfig(t, `module: /usr/lib/softhsm/libsofthsm2.so
token: {label: root}
other_tokens:
  firmware-build:
    token: {label: fw-build}
  vendor-2:
    module: /opt/vendor/libp11.so
    token: {serial: "0123456789"}
`))
	if err != nil {
		t.Fatal(err)
	}
	fw, err := c.Other("firmware-build")
	if err != nil {
		t.Fatal(err)
	}
	if fw.Module != "/usr/lib/softhsm/libsofthsm2.so" || fw.Token != (hsm.TokenSelector{Label: "fw-build"}) || fw.OtherTokens != nil {
		t.Fatalf("Other(firmware-build) = %+v", fw)
	}
	if err := fw.Validate(); err != nil {
		t.Fatal(err)
	}
	v, err := c.Other("vendor-2")
	if err != nil || v.Module != "/opt/vendor/libp11.so" || v.Token.Serial != "0123456789" {
		t.Fatalf("Other(vendor-2) = %+v, %v", v, err)
	}
	// The main config is unchanged: the default is filled in the copy.
	if c.OtherTokens["firmware-build"].Module != "" {
		t.Fatal("Other changed the config")
	}

	_, err = c.Other("firmware")
	if err == nil || err.Error() != `hsm config: no other token named "firmware"; other_tokens has "firmware-build", "vendor-2"` {
		t.Fatalf("Other(firmware): %v", err)
	}
	_, err = hsm.Config{Module: "/x.so", Token: hsm.TokenSelector{Label: "root"}}.Other("fw")
	if err == nil || err.Error() != `hsm config: no other token named "fw": the config has no other_tokens` {
		t.Fatalf("Other without other_tokens: %v", err)
	}
	// Other checks an entry of a config that was built, not loaded.
	built := hsm.Config{Module: "/x.so", Token: hsm.TokenSelector{Label: "root"},
		OtherTokens: map[string]hsm.Config{"fw": {Token: hsm.TokenSelector{}}}}
	if _, err := built.Other("fw"); err == nil || err.Error() != "hsm config: other_tokens.fw: token: give a label or a serial" {
		t.Fatalf("Other of an invalid entry: %v", err)
	}
}

func TestOtherTokensErrors(t *testing.T) {
	link := filepath.Join(t.TempDir(), "link.so")
	target := filepath.Join(t.TempDir(), "lib.so")
	if err := os.WriteFile(target, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	head := "module: /usr/lib/x.so\ntoken: {label: root}\nother_tokens:\n"
	for name, tc := range map[string]struct{ body, want string }{
		"upper-case name": {head + "  Firmware:\n    token: {label: fw}\n",
			`hsm.yaml: hsm config: other_tokens: "Firmware" is not a valid name: use 1 to 32 lower-case letters, digits and '-', starting with a letter or digit`},
		"underscore":   {head + "  fw_build:\n    token: {label: fw}\n", `"fw_build" is not a valid name`},
		"leading dash": {head + "  -fw:\n    token: {label: fw}\n", `"-fw" is not a valid name`},
		"empty name":   {head + "  \"\":\n    token: {label: fw}\n", `"" is not a valid name`},
		"long name":    {head + "  " + strings.Repeat("a", 33) + ":\n    token: {label: fw}\n", "is not a valid name"},
		"no selector": {head + "  fw:\n    module: /usr/lib/y.so\n",
			"hsm.yaml: hsm config: other_tokens.fw: token: give a label or a serial"},
		"empty entry": {head + "  fw:\n", "hsm config: other_tokens.fw: token: give a label or a serial"},
		"both selectors": {head + "  fw:\n    token: {label: a, serial: b}\n",
			"hsm config: other_tokens.fw: token: give a label or a serial, not both"},
		"relative module": {head + "  fw:\n    module: lib.so\n    token: {label: fw}\n",
			`hsm config: other_tokens.fw: module: "lib.so" must be an absolute path`},
		"long label": {head + "  fw:\n    token: {label: " + strings.Repeat("l", 33) + "}\n",
			"hsm config: other_tokens.fw: token.label: "},
		"nested": {head + "  fw:\n    token: {label: fw}\n    other_tokens:\n      inner:\n        token: {label: in}\n",
			"hsm config: other_tokens.fw: other_tokens cannot be nested"},
		"same as main, module defaulted": {head + "  fw:\n    token: {label: root}\n",
			`hsm config: other_tokens.fw: token "root" of /usr/lib/x.so is the main token already; each entry must select a different token`},
		"same as main, module spelt out": {head + "  fw:\n    module: /usr/lib/../lib/x.so\n    token: {label: root}\n",
			"is the main token already"},
		"same as another entry": {head + "  a:\n    token: {serial: \"42\"}\n  b:\n    token: {serial: \"42\"}\n",
			`hsm config: other_tokens.b: token with serial 42 of /usr/lib/x.so is other_tokens.a already`},
		"same module through a symlink": {"module: " + target + "\ntoken: {label: root}\nother_tokens:\n  fw:\n    module: " + link + "\n    token: {label: root}\n",
			"other_tokens.fw: token \"root\" of " + link + " is the main token already"},
		"unknown field": {head + "  fw:\n    token: {label: fw}\n    pin: 1234\n", `unknown field "pin"`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := hsm.LoadConfig(writeConfig(t, tc.body))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("LoadConfig:\n%s\nerror %v\nwant %q", tc.body, err, tc.want)
			}
		})
	}

	// The same label in another module, or a different token of the same
	// module, is fine.
	ok := head + "  fw:\n    token: {label: fw}\n  other-vendor:\n    module: /opt/v/lib.so\n    token: {label: root}\n"
	if _, err := hsm.LoadConfig(writeConfig(t, ok)); err != nil {
		t.Fatal(err)
	}
}

// activation_record is relative to the config file; an absolute path is
// kept as it is.
func TestActivationRecordPath(t *testing.T) {
	p := writeConfig(t, "module: /usr/lib/softhsm/libsofthsm2.so\ntoken: {label: root}\nactivation_record: ../root/artifacts/activation-record.json\n")
	c, err := hsm.LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(filepath.Dir(p), "..", "root", "artifacts", "activation-record.json"); c.ActivationRecord != want {
		t.Errorf("ActivationRecord = %q, want %q", c.ActivationRecord, want)
	}
	c, err = hsm.LoadConfig(writeConfig(t, "module: /usr/lib/softhsm/libsofthsm2.so\ntoken: {label: root}\nactivation_record: /srv/root/activation-record.json\n"))
	if err != nil || c.ActivationRecord != "/srv/root/activation-record.json" {
		t.Errorf("absolute: %q, %v", c.ActivationRecord, err)
	}
}

// A config that is a FIFO or too large is refused at once, not waited on
// or read to the end.
func TestConfigNotRegularOrLarge(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "hsm.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := hsm.LoadConfig(fifo); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("FIFO: %v", err)
	}
	big := writeConfig(t, "module: /usr/lib/softhsm/libsofthsm2.so\ntoken: {label: root}\n#"+strings.Repeat("x", 70<<10)+"\n")
	if _, err := hsm.LoadConfig(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("large: %v", err)
	}
}
