package hsm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/devicepki/ceremony/ceremony/strictyaml"
)

// Config names the PKCS#11 module and the token a ceremony uses. It never
// holds a PIN.
//
//	module: /usr/lib/softhsm/libsofthsm2.so
//	token:
//	  label: company-root
type Config struct {
	// Module is the absolute path of the PKCS#11 shared library.
	Module string `yaml:"module" json:"module"`
	// Token selects the token.
	Token TokenSelector `yaml:"token" json:"token"`
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

// Validate checks the configuration without touching the module.
func (c Config) Validate() error {
	switch {
	case c.Module == "":
		return errors.New("hsm config: module: required (path of the PKCS#11 library)")
	case !filepath.IsAbs(c.Module):
		return fmt.Errorf("hsm config: module: %q must be an absolute path (loading a library from a relative path would run whatever is in the working directory)", c.Module)
	case c.Token.Label == "" && c.Token.Serial == "":
		return errors.New("hsm config: token: give a label or a serial")
	case c.Token.Label != "" && c.Token.Serial != "":
		return errors.New("hsm config: token: give a label or a serial, not both")
	case len(c.Token.Label) > 32:
		return fmt.Errorf("hsm config: token.label: %q is longer than 32 bytes, the PKCS#11 limit", c.Token.Label)
	case len(c.Token.Serial) > 16:
		return fmt.Errorf("hsm config: token.serial: %q is longer than 16 bytes, the PKCS#11 limit", c.Token.Serial)
	}
	return nil
}

// LoadConfig reads and validates an HSM config file.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("hsm config: %w", err)
	}
	var c Config
	doc, err := strictyaml.Decode(path, data, &c)
	if err != nil {
		return Config{}, err
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("%s: %w", doc.Name(), err)
	}
	return c, nil
}
