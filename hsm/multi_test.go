package hsm_test

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/devicepki/ceremony/ceremony/keys"
	"github.com/devicepki/ceremony/ceremony/secret"
	"github.com/devicepki/ceremony/hsm"
	"github.com/devicepki/ceremony/internal/softhsmtest"
)

// noModulesOpen fails the test if any module is still loaded.
func noModulesOpen(t *testing.T) {
	t.Helper()
	if mods := hsm.OpenModules(); len(mods) != 0 {
		t.Fatalf("modules still loaded: %v", mods)
	}
}

// openAs opens the token cfg selects and logs in with pin. The tests close
// tokens themselves, in a chosen order; the cleanup closes what a failed test
// left open, so that the next test loads the module with its own
// SOFTHSM2_CONF.
func openAs(t *testing.T, cfg hsm.Config, pin string) *hsm.Token {
	t.Helper()
	tok, err := hsm.Open(cfg)
	if err != nil {
		t.Fatalf("Open(%s): %v", cfg.Token, err)
	}
	t.Cleanup(func() { _ = tok.Close() })
	if err := tok.Login(secret.FromString(pin)); err != nil {
		tok.Close()
		t.Fatalf("Login(%s): %v", cfg.Token, err)
	}
	return tok
}

// openBlank opens a blank slot for label, closed when the test ends.
func openBlank(t *testing.T, h *softhsmtest.HSM, label string) *hsm.Blank {
	t.Helper()
	b, err := hsm.OpenBlank(h.Config(label))
	if err != nil {
		t.Fatalf("OpenBlank(%q): %v", label, err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// initialize initialises b and logs the user in.
func initialize(t *testing.T, b *hsm.Blank, so, user string) *hsm.Token {
	t.Helper()
	tok, err := b.Initialize(secret.FromString(so), secret.FromString(user))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tok.Close() })
	if err := tok.Login(secret.FromString(user)); err != nil {
		t.Fatal(err)
	}
	return tok
}

// mustClose closes tok and fails the test on an error.
func mustClose(t *testing.T, tok interface{ Close() error }) {
	t.Helper()
	if err := tok.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// useToken exercises tok: it finds key pair label, signs with it and checks
// the signature, generates and destroys another key pair, and reads random
// bytes.
func useToken(t *testing.T, tok *hsm.Token, label string) {
	t.Helper()
	kp, err := tok.FindKeyPair(label)
	if err != nil {
		t.Fatalf("token %q: %v", tok.Info().Label, err)
	}
	verifySignature(t, kp, crypto.SHA256)
	extra, err := tok.GenerateKeyPair("extra", keys.ECDSAP256)
	if err != nil {
		t.Fatalf("token %q: generate: %v", tok.Info().Label, err)
	}
	verifySignature(t, extra, crypto.SHA256)
	if err := tok.DestroyKeyPair(extra); err != nil {
		t.Fatal(err)
	}
	if _, err := tok.Random(16); err != nil {
		t.Fatal(err)
	}
}

// objectLabels returns the labels pkcs11-tool sees on tk.
func objectLabels(t *testing.T, tk *softhsmtest.Token) []string {
	t.Helper()
	var labels []string
	for _, o := range tk.Objects(t) {
		labels = append(labels, o.Class+":"+o.Label)
	}
	return labels
}

func TestTwoTokensOfOneModule(t *testing.T) {
	h := softhsmtest.New(t)
	tkA := h.InitToken(t, "root")
	tkB := h.InitToken(t, "fw-build")

	a := openAs(t, h.Config("root"), tkA.PIN)
	b := openAs(t, h.Config("fw-build"), tkB.PIN)
	if mods := hsm.OpenModules(); len(mods) != 1 {
		t.Fatalf("modules loaded: %v, want one", mods)
	}
	// The same label on both tokens: each token sees its own key only.
	ka, err := a.GenerateKeyPair("signing", keys.ECDSAP384)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := b.GenerateKeyPair("signing", keys.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	verifySignature(t, ka, crypto.SHA384)
	verifySignature(t, kb, crypto.SHA256)
	for _, c := range []struct {
		tok  *hsm.Token
		want *hsm.KeyPair
	}{{a, ka}, {b, kb}} {
		found, err := c.tok.FindKeyPair("signing")
		if err != nil || !keys.SamePublicKey(found.Public(), c.want.Public()) {
			t.Fatalf("token %q: FindKeyPair found another key (%v)", c.tok.Info().Label, err)
		}
	}
	if got := objectLabels(t, tkA); len(got) != 2 {
		t.Fatalf("pkcs11-tool on root: %v", got)
	}
	if got := objectLabels(t, tkB); len(got) != 2 {
		t.Fatalf("pkcs11-tool on fw-build: %v", got)
	}

	// Closing root leaves fw-build working: the signer found before, and
	// everything else.
	mustClose(t, a)
	verifySignature(t, kb, crypto.SHA256)
	useToken(t, b, "signing")
	if err := b.StoreData("build-info", []byte("fw 1.2")); err != nil {
		t.Fatal(err)
	}
	if _, err := a.FindKeyPair("signing"); err == nil || !strings.Contains(err.Error(), "already closed") {
		t.Fatalf("closed token: %v", err)
	}

	// Root opens again beside fw-build and finds its key.
	a = openAs(t, h.Config("root"), tkA.PIN)
	useToken(t, a, "signing")
	useToken(t, b, "signing")

	// Logging out of one token leaves the other logged in.
	if err := b.Logout(); err != nil {
		t.Fatal(err)
	}
	useToken(t, a, "signing")
	if _, err := b.FindKeyPair("signing"); !errors.Is(err, hsm.ErrNotLoggedIn) {
		t.Fatalf("FindKeyPair on the logged-out token: %v", err)
	}
	if err := b.Login(secret.FromString(tkB.PIN)); err != nil {
		t.Fatal(err)
	}

	// Closing in the other order; the module is unloaded after the last.
	mustClose(t, b)
	useToken(t, a, "signing")
	mustClose(t, a)
	noModulesOpen(t)

	// And it loads again.
	a = openAs(t, h.Config("root"), tkA.PIN)
	useToken(t, a, "signing")
	mustClose(t, a)
	noModulesOpen(t)
}

// copyModule copies the SoftHSM2 library to a new file, which dlopen loads
// as a second, separate library.
func copyModule(t *testing.T, src string) string {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	dst := filepath.Join(t.TempDir(), "libsofthsm2-copy.so")
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o700)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestTokensOfTwoModuleFiles(t *testing.T) {
	h := softhsmtest.New(t)
	tkA := h.InitToken(t, "root")
	tkB := h.InitToken(t, "fw-build")
	second := copyModule(t, h.Module)

	a := openAs(t, h.Config("root"), tkA.PIN)
	cfgB := hsm.Config{Module: second, Token: hsm.TokenSelector{Label: "fw-build"}}
	b := openAs(t, cfgB, tkB.PIN)
	if mods := hsm.OpenModules(); len(mods) != 2 {
		t.Fatalf("modules loaded: %v, want two", mods)
	}
	for _, tok := range []*hsm.Token{a, b} {
		if _, err := tok.GenerateKeyPair("signing", keys.ECDSAP256); err != nil {
			t.Fatal(err)
		}
	}
	useToken(t, a, "signing")
	useToken(t, b, "signing")

	mustClose(t, a)
	useToken(t, b, "signing")
	a = openAs(t, h.Config("root"), tkA.PIN)
	useToken(t, a, "signing")
	mustClose(t, b)
	if mods := hsm.OpenModules(); len(mods) != 1 {
		t.Fatalf("modules loaded after closing the copy's token: %v", mods)
	}
	useToken(t, a, "signing")
	mustClose(t, a)
	noModulesOpen(t)
}

func TestModuleNamedThroughASymlinkIsTheSameModule(t *testing.T) {
	h := softhsmtest.New(t)
	tkA := h.InitToken(t, "root")
	tkB := h.InitToken(t, "fw-build")
	link := filepath.Join(t.TempDir(), "libpkcs11.so")
	if err := os.Symlink(h.Module, link); err != nil {
		t.Fatal(err)
	}
	a := openAs(t, h.Config("root"), tkA.PIN)
	defer a.Close()
	viaLink := hsm.Config{Module: link, Token: hsm.TokenSelector{Label: "fw-build"}}
	b := openAs(t, viaLink, tkB.PIN)
	defer b.Close()
	if mods := hsm.OpenModules(); len(mods) != 1 {
		t.Fatalf("modules loaded: %v, want one", mods)
	}
	// The registry knows root is open, whichever name the module has.
	_, err := hsm.Open(hsm.Config{Module: link, Token: hsm.TokenSelector{Label: "root"}})
	if !errors.Is(err, hsm.ErrTokenInUse) {
		t.Fatalf("root again through the symlink: %v", err)
	}
	if _, err := a.GenerateKeyPair("k", keys.ECDSAP256); err != nil {
		t.Fatal(err)
	}
	if _, err := b.GenerateKeyPair("k", keys.ECDSAP256); err != nil {
		t.Fatal(err)
	}
	mustClose(t, a)
	useToken(t, b, "k")
}

func TestSameTokenTwiceIsRefused(t *testing.T) {
	h := softhsmtest.New(t)
	tk := h.InitToken(t, "root")
	a := openAs(t, h.Config("root"), tk.PIN)
	if _, err := a.GenerateKeyPair("k", keys.ECDSAP256); err != nil {
		t.Fatal(err)
	}
	serial := a.Info().Serial
	for name, cfg := range map[string]hsm.Config{
		"by label":  h.Config("root"),
		"by serial": {Module: h.Module, Token: hsm.TokenSelector{Serial: serial}},
	} {
		_, err := hsm.Open(cfg)
		if !errors.Is(err, hsm.ErrTokenInUse) {
			t.Fatalf("%s: second Open: %v", name, err)
		}
		want := fmt.Sprintf(`token "root" (serial %s) of %s is already open in this process`, serial, h.Module)
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: error %q does not say %q", name, err, want)
		}
	}
	// The refused Open changed nothing: the first is still logged in.
	if !a.LoggedIn() {
		t.Fatal("the open token was logged out")
	}
	useToken(t, a, "k")
	mustClose(t, a)
	a = openAs(t, h.Config("root"), tk.PIN)
	useToken(t, a, "k")
	mustClose(t, a)
	noModulesOpen(t)
}

func TestBlankBesideAnOpenToken(t *testing.T) {
	h := softhsmtest.New(t)
	tkRoot := h.InitToken(t, "root")
	root := openAs(t, h.Config("root"), tkRoot.PIN)
	if _, err := root.GenerateKeyPair("root-ca", keys.ECDSAP384); err != nil {
		t.Fatal(err)
	}

	// A second token is initialised while root stays open and logged in.
	blank := openBlank(t, h, "fw-build")
	useToken(t, root, "root-ca")
	so, user := softhsmtest.RandomPIN(t), softhsmtest.RandomPIN(t)
	fw := initialize(t, blank, so, user)
	kp, err := fw.GenerateKeyPair("firmware", keys.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	verifySignature(t, kp, crypto.SHA256)
	useToken(t, root, "root-ca")
	mustClose(t, fw)
	useToken(t, root, "root-ca")
	mustClose(t, root)
	noModulesOpen(t)

	// The other order: a blank first, then a token of the same module,
	// then the blank is initialised beside it.
	blank = openBlank(t, h, "fw-build-2")
	root = openAs(t, h.Config("root"), tkRoot.PIN)
	useToken(t, root, "root-ca")
	// Closing root hands the module back to the blank, which still works.
	mustClose(t, root)
	root = openAs(t, h.Config("root"), tkRoot.PIN)
	fw2 := initialize(t, blank, so, user)
	if _, err := fw2.GenerateKeyPair("k", keys.ECDSAP256); err != nil {
		t.Fatal(err)
	}
	useToken(t, fw2, "k")
	useToken(t, root, "root-ca")
	mustClose(t, root)
	mustClose(t, fw2)
	noModulesOpen(t)

	// A blank that a token opened and closed beside initialises alone.
	blank = openBlank(t, h, "fw-build-3")
	root = openAs(t, h.Config("root"), tkRoot.PIN)
	mustClose(t, root)
	fw3 := initialize(t, blank, so, user)
	if _, err := fw3.GenerateKeyPair("k", keys.ECDSAP256); err != nil {
		t.Fatal(err)
	}
	mustClose(t, fw3)
	noModulesOpen(t)

	// A blank closed without initialising unloads the module.
	blank = openBlank(t, h, "never")
	mustClose(t, blank)
	noModulesOpen(t)

	out, err := h.Run("pkcs11-tool", "--module", h.Module, "--list-token-slots")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"root", "fw-build", "fw-build-2", "fw-build-3"} {
		if !strings.Contains(out, "token label        : "+l+"\n") {
			t.Fatalf("pkcs11-tool does not list %q:\n%s", l, out)
		}
	}
}

func TestOneBlankPerModule(t *testing.T) {
	h := softhsmtest.New(t)
	tk := h.InitToken(t, "root")
	root := openAs(t, h.Config("root"), tk.PIN)
	defer root.Close()
	b := openBlank(t, h, "one")
	_, err := hsm.OpenBlank(h.Config("two"))
	if err == nil || !strings.Contains(err.Error(), `already in use by this process for blank token "one"`) {
		t.Fatalf("second blank: %v", err)
	}
	// OpenBlank refuses the label of the open token.
	mustClose(t, b)
	if _, err := hsm.OpenBlank(h.Config("root")); err == nil || !strings.Contains(err.Error(), `token "root" is already initialised`) {
		t.Fatalf("blank for the label of the open token: %v", err)
	}
	if _, err := root.Random(8); err != nil {
		t.Fatal(err)
	}
}

// TestFailedConfigureBreaksTheModuleClearly plays crypto11.Configure failing
// after its own token search while another token of the module is open:
// crypto11 then calls C_Finalize under the open token. The open token must
// say so instead of acting on a finalised library, and everything must work
// again once it is closed.
func TestFailedConfigureBreaksTheModuleClearly(t *testing.T) {
	h := softhsmtest.New(t)
	tkA := h.InitToken(t, "root")
	h.InitToken(t, "fw-build")
	a := openAs(t, h.Config("root"), tkA.PIN)
	if _, err := a.GenerateKeyPair("k", keys.ECDSAP256); err != nil {
		t.Fatal(err)
	}

	restore := hsm.FailCrypto11ConfigureForTest()
	_, err := hsm.Open(h.Config("fw-build"))
	restore()
	if err == nil || !strings.Contains(err.Error(), `token "fw-build"`) || !strings.Contains(err.Error(), "was finalised by crypto11") {
		t.Fatalf("Open with a failing Configure: %v", err)
	}
	_, err = a.FindKeyPair("k")
	if err == nil || !strings.Contains(err.Error(), `token "root": pkcs11 module `) || !strings.Contains(err.Error(), "close every token of this module") {
		t.Fatalf("the open token after the module was finalised: %v", err)
	}
	if _, err := hsm.Open(h.Config("fw-build")); err == nil || !strings.Contains(err.Error(), "was finalised by crypto11") {
		t.Fatalf("Open of a broken module: %v", err)
	}
	mustClose(t, a)
	noModulesOpen(t)
	a = openAs(t, h.Config("root"), tkA.PIN)
	useToken(t, a, "k")
	mustClose(t, a)

	// The first token of a module failing leaves nothing loaded.
	restore = hsm.FailCrypto11ConfigureForTest()
	_, err = hsm.Open(h.Config("root"))
	restore()
	if err == nil {
		t.Fatal("Open with a failing Configure succeeded")
	}
	noModulesOpen(t)
	a = openAs(t, h.Config("root"), tkA.PIN)
	useToken(t, a, "k")
	mustClose(t, a)
}

// TestConcurrentTokens opens, uses and closes several tokens of one module
// from several goroutines at once; run it with -race.
func TestConcurrentTokens(t *testing.T) {
	h := softhsmtest.New(t)
	const n = 4
	tks := make([]*softhsmtest.Token, n)
	for i := range tks {
		tks[i] = h.InitToken(t, fmt.Sprintf("t%d", i))
	}
	// One token stays open throughout, one key pair per token.
	keep := openAs(t, h.Config("t0"), tks[0].PIN)
	defer keep.Close()
	for i, tk := range tks {
		tok := keep
		if i > 0 {
			tok = openAs(t, h.Config(tk.Label), tk.PIN)
		}
		if _, err := tok.GenerateKeyPair("k", keys.ECDSAP256); err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			mustClose(t, tok)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, n*10)
	for i := 1; i < n; i++ {
		wg.Add(1)
		go func(tk *softhsmtest.Token) {
			defer wg.Done()
			for range 5 {
				tok, err := hsm.Open(h.Config(tk.Label))
				if err != nil {
					errs <- err
					return
				}
				err = tok.Login(secret.FromString(tk.PIN))
				var kp *hsm.KeyPair
				if err == nil {
					kp, err = tok.FindKeyPair("k")
				}
				if err == nil {
					_, err = kp.Sign(nil, bytes.Repeat([]byte{1}, 32), crypto.SHA256)
				}
				if cerr := tok.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					errs <- fmt.Errorf("token %s: %w", tk.Label, err)
					return
				}
			}
		}(tks[i])
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		kp, err := keep.FindKeyPair("k")
		if err != nil {
			errs <- err
			return
		}
		for range 50 {
			if _, err := kp.Sign(nil, bytes.Repeat([]byte{2}, 32), crypto.SHA256); err != nil {
				errs <- err
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	mustClose(t, keep)
	noModulesOpen(t)
}

// TestTokenInitialisedElsewhereWhileLoaded: SoftHSM2 reads its tokens when
// it is initialised, so a token another program initialises while a token
// of the module is open here is not found until the module is loaded again.
// The error says so.
func TestTokenInitialisedElsewhereWhileLoaded(t *testing.T) {
	h := softhsmtest.New(t)
	tk := h.InitToken(t, "root")
	a := openAs(t, h.Config("root"), tk.PIN)
	later := h.InitToken(t, "later")
	if b, err := hsm.Open(h.Config("later")); err == nil {
		// A module that looks again finds it, and the hint is moot.
		mustClose(t, b)
	} else if !errors.Is(err, hsm.ErrTokenNotFound) || !strings.Contains(err.Error(), "the module is in use by 1 open token(s) of this process, and a token initialised by another program since the module was loaded may only appear after they are all closed") {
		t.Fatalf("Open of a token initialised elsewhere: %v", err)
	}
	mustClose(t, a)
	b := openAs(t, h.Config("later"), later.PIN)
	mustClose(t, b)
}
