package hsm

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/devicepki/ceremony/ceremony/durable"
	"github.com/devicepki/ceremony/ceremony/strictyaml"
)

// Config names the PKCS#11 module and the token a ceremony uses, and the
// other tokens, by name, that a script may use beside it. It never holds a
// PIN.
//
//	module: /usr/lib/softhsm/libsofthsm2.so
//	token:
//	  label: company-root
//	other_tokens:
//	  firmware-build:
//	    module: /usr/lib/softhsm/libsofthsm2.so   # optional: defaults to the module above
//	    token: {label: fw-build}
type Config struct {
	// Module is the absolute path of the PKCS#11 shared library.
	Module string `yaml:"module" json:"module"`
	// Token selects the token.
	Token TokenSelector `yaml:"token" json:"token"`
	// OtherTokens are the other tokens a script may use, by name (lower-case
	// letters, digits and '-'). An entry without a module uses Module; an
	// entry has no other_tokens of its own. Use Other to get one.
	OtherTokens map[string]Config `yaml:"other_tokens,omitempty" json:"other_tokens,omitempty"`
	// ActivationRecord is the file holding the token's activation record
	// (the root ceremony's artifacts/activation-record.json), for a module
	// that keeps no public data objects; relative to the config file.
	// Where the token holds the record too, the two must be the same.
	ActivationRecord string `yaml:"activation_record,omitempty" json:"activation_record,omitempty"`
}

// MaxOtherTokenNameLen bounds the names of other_tokens entries.
const MaxOtherTokenNameLen = 32

// Other returns the configuration of the other token called name: its module
// (the main module if the entry names none) and its token selector, with no
// other_tokens. It is an error, listing the names there are, if the config
// has no such entry, and an error if the entry is not valid.
func (c Config) Other(name string) (Config, error) {
	o, ok := c.OtherTokens[name]
	if !ok {
		names := c.otherNames()
		if len(names) == 0 {
			return Config{}, fmt.Errorf("hsm config: no other token named %q: the config has no other_tokens", name)
		}
		return Config{}, fmt.Errorf("hsm config: no other token named %q; other_tokens has %s", name, strings.Join(quoteAll(names), ", "))
	}
	if len(o.OtherTokens) > 0 {
		return Config{}, fmt.Errorf("hsm config: other_tokens.%s: other_tokens cannot be nested", name)
	}
	if o.Module == "" {
		o.Module = c.Module
	}
	if err := o.validateToken(); err != nil {
		return Config{}, fmt.Errorf("hsm config: other_tokens.%s: %w", name, err)
	}
	return o, nil
}

// otherNames returns the names of the other tokens, sorted.
func (c Config) otherNames() []string {
	names := make([]string, 0, len(c.OtherTokens))
	for n := range c.OtherTokens {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strconv.Quote(s)
	}
	return out
}

// TokenSelector selects a token by its label or its serial number, exactly
// one of the two.
type TokenSelector struct {
	Label  string `yaml:"label,omitempty" json:"label,omitempty"`
	Serial string `yaml:"serial,omitempty" json:"serial,omitempty"`
}

// String describes the selector for error messages: `"root" ` or `serial 1234`.
func (s TokenSelector) String() string {
	if s.Serial != "" {
		return "with serial " + s.Serial
	}
	return fmt.Sprintf("%q", s.Label)
}

func (s TokenSelector) matches(info TokenInfo) bool {
	if s.Serial != "" {
		return info.Serial == s.Serial
	}
	return info.Label == s.Label
}

// Validate checks the configuration without loading the module: the main
// module and token, and each other token (its name, its module and token,
// no nested other_tokens). No two of them may select the same token of the
// same module; modules are compared by path with symbolic links evaluated
// where the file exists. A label selector and a serial selector that name
// one token cannot be told apart without the module; Open refuses the second
// of them (ErrTokenInUse).
func (c Config) Validate() error {
	if err := c.validateToken(); err != nil {
		return fmt.Errorf("hsm config: %w", err)
	}
	seen := map[string]string{c.selects(): "the main token"}
	for _, name := range c.otherNames() {
		o := c.OtherTokens[name]
		if !validOtherName(name) {
			return fmt.Errorf("hsm config: other_tokens: %q is not a valid name: use 1 to %d lower-case letters, digits and '-', starting with a letter or digit", name, MaxOtherTokenNameLen)
		}
		where := "hsm config: other_tokens." + name
		if len(o.OtherTokens) > 0 {
			return fmt.Errorf("%s: other_tokens cannot be nested", where)
		}
		if o.Module == "" {
			o.Module = c.Module
		}
		if err := o.validateToken(); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		sel := o.selects()
		if other, dup := seen[sel]; dup {
			return fmt.Errorf("%s: token %s of %s is %s already; each entry must select a different token", where, o.Token, o.Module, other)
		}
		seen[sel] = "other_tokens." + name
	}
	return nil
}

// validateToken checks the module path and the token selector.
func (c Config) validateToken() error {
	switch {
	case c.Module == "":
		return errors.New("module: required (path of the PKCS#11 library)")
	case !filepath.IsAbs(c.Module):
		return fmt.Errorf("module: %q must be an absolute path (loading a library from a relative path would run whatever is in the working directory)", c.Module)
	case c.Token.Label == "" && c.Token.Serial == "":
		return errors.New("token: give a label or a serial")
	case c.Token.Label != "" && c.Token.Serial != "":
		return errors.New("token: give a label or a serial, not both")
	case len(c.Token.Label) > 32:
		return fmt.Errorf("token.label: %q is longer than 32 bytes, the PKCS#11 limit", c.Token.Label)
	case len(c.Token.Serial) > 16:
		return fmt.Errorf("token.serial: %q is longer than 16 bytes, the PKCS#11 limit", c.Token.Serial)
	}
	return nil
}

// selects returns a key that two configs share when they select the same
// token of the same module: the module path (symbolic links evaluated when
// the file exists) and the selector.
func (c Config) selects() string {
	mod := filepath.Clean(c.Module)
	if real, err := filepath.EvalSymlinks(mod); err == nil {
		mod = real
	}
	if c.Token.Serial != "" {
		return mod + "\x00serial\x00" + c.Token.Serial
	}
	return mod + "\x00label\x00" + c.Token.Label
}

// validOtherName reports whether name is a valid other_tokens name.
func validOtherName(name string) bool {
	if name == "" || len(name) > MaxOtherTokenNameLen || name[0] == '-' {
		return false
	}
	for _, r := range name {
		if !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// LoadConfig reads and validates an HSM config file.
func LoadConfig(path string) (Config, error) {
	data, err := readConfigFile(path)
	if err != nil {
		return Config{}, err
	}
	return parseConfig(path, data)
}

// parseConfig decodes and validates an HSM config read from path.
func parseConfig(path string, data []byte) (Config, error) {
	var c Config
	doc, err := strictyaml.Decode(path, data, &c)
	if err != nil {
		return Config{}, err
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("%s: %w", doc.Name(), err)
	}
	if c.ActivationRecord != "" && !filepath.IsAbs(c.ActivationRecord) {
		c.ActivationRecord = filepath.Join(filepath.Dir(path), c.ActivationRecord)
	}
	return c, nil
}

// configFile is the kind of an HSM config, for durable.ReadFile: a few
// lines, so 64 KiB.
var configFile = durable.Kind{Name: "hsm config", Max: 64 << 10}

// readConfigFile reads an HSM config: a regular file (a FIFO or device is
// refused by what it is, not waited on) of at most 64 KiB.
func readConfigFile(path string) ([]byte, error) {
	return durable.ReadFile(configFile, path)
}
