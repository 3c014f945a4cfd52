package hsm_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/devicepki/ceremony/ceremony/secret"
	"github.com/devicepki/ceremony/hsm"
)

// TestMain runs the test binary as a helper process when asked to: see
// replaceForever.
func TestMain(m *testing.M) {
	if label := os.Getenv("HSM_TEST_REPLACE_FOREVER"); label != "" {
		if err := replaceForever(label, os.Getenv("HSM_TEST_PIN")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// replaceForever opens the token labelled label (of the SoftHSM2 module in
// SOFTHSM2_MODULE, with the SOFTHSM2_CONF of the environment), and replaces
// the private data object "register" with "value 1", "value 2", ... until
// it is killed, printing each number once its replace has returned.
func replaceForever(label, pin string) error {
	tok, err := hsm.Open(hsm.Config{Module: os.Getenv("SOFTHSM2_MODULE"), Token: hsm.TokenSelector{Label: label}})
	if err != nil {
		return err
	}
	if err := tok.Login(secret.FromString(pin)); err != nil {
		return err
	}
	for i := 1; ; i++ {
		if err := tok.ReplacePrivateData("register", fmt.Appendf(nil, "value %d", i)); err != nil {
			return err
		}
		fmt.Println(i)
	}
}
