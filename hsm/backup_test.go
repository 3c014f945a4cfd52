package hsm_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/devicepki/ceremony/ceremony/keys"
	"github.com/devicepki/ceremony/ceremony/secret"
	"github.com/devicepki/ceremony/hsm"
	"github.com/devicepki/ceremony/internal/softhsmtest"
	"github.com/miekg/pkcs11"
)

// aesKey returns a fresh random AES-256 key value.
func aesKey(t *testing.T) *secret.Secret {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return secret.New(b)
}

// importKey imports a trusted AES key into tok, failing the test on error.
func importKey(t *testing.T, tok *hsm.Token, tk *softhsmtest.Token, value *secret.Secret, usage hsm.KeyUsage, label string) *hsm.SecretKey {
	t.Helper()
	t0 := time.Now()
	k, err := tok.ImportTrustedAESKey(secret.FromString(tk.SOPIN), secret.FromString(tk.PIN), value, usage, label)
	if err != nil {
		t.Fatalf("ImportTrustedAESKey(%s, %q): %v", usage, label, err)
	}
	t.Logf("ImportTrustedAESKey(%s): %v", usage, time.Since(t0))
	if !tok.LoggedIn() {
		t.Fatal("not logged in as the user after ImportTrustedAESKey")
	}
	return k
}

// hashFor is the hash the tests sign with for alg.
var hashFor = map[keys.Algorithm]crypto.Hash{
	keys.ECDSAP256: crypto.SHA256, keys.ECDSAP384: crypto.SHA384, keys.ECDSAP521: crypto.SHA512,
	keys.RSA3072: crypto.SHA256, keys.RSA4096: crypto.SHA384,
}

// backedUp is a key pair generated for backup on a token A, and its backup.
type backedUp struct {
	pub     crypto.PublicKey
	wrapped []byte
	kek     *secret.Secret // the AES key value both tokens import
}

// makeBackup initialises token "a" on h, generates a key pair of alg for
// backup, wraps it under a trusted key and closes the token again.
func makeBackup(t *testing.T, h *softhsmtest.HSM, label string, alg keys.Algorithm) backedUp {
	t.Helper()
	tok, tk := initBlank(t, h, "a-"+label)
	kp, err := tok.GenerateKeyPairWith(label, alg, hsm.KeyOptions{Backup: true})
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := tok.KeyAttributes(kp)
	if err != nil {
		t.Fatal(err)
	}
	// Modifiable until EndExtraction makes it non-extractable.
	want := hsm.KeyAttributes{Token: true, Private: true, Sensitive: true, Extractable: true, Local: true, AlwaysSensitive: true, Sign: true, WrapWithTrusted: true, Modifiable: true}
	if attrs != want {
		t.Fatalf("backup key attributes %+v, want %+v", attrs, want)
	}

	// A wrapping key the user makes is not trusted, and the user cannot make
	// a trusted one.
	kekValue := aesKey(t)
	if _, err := tok.CreateAESKeyAsUserForTest(kekValue.Bytes(), true, hsm.UsageWrap, "forged-trusted"); err == nil || !strings.Contains(err.Error(), "CKR_ATTRIBUTE_READ_ONLY") || strings.Contains(err.Error(), "LEFTOVER IS TRUSTED") {
		t.Fatalf("user creates a trusted key: %v", err)
	} else {
		t.Logf("user creates a trusted key: %v", err)
	}
	untrusted, err := tok.CreateAESKeyAsUserForTest(kekValue.Bytes(), false, hsm.UsageWrap, "untrusted-wrap")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tok.WrapKeyPair(untrusted, kp); err == nil || !strings.Contains(err.Error(), "only be wrapped under a trusted key") {
		t.Fatalf("wrap under an untrusted key: %v", err)
	}
	if err := tok.DestroySecretKey(untrusted); err != nil {
		t.Fatal(err)
	}

	w := importKey(t, tok, tk, kekValue, hsm.UsageWrap, "ceremony-backup-wrap")
	// The key pair's handles are stale after the SO login; find it again.
	kp, err = tok.FindKeyPair(label)
	if err != nil {
		t.Fatal(err)
	}
	verifySignature(t, kp, hashFor[alg])
	t0 := time.Now()
	wrapped, err := tok.WrapKeyPair(w, kp)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: WrapKeyPair %v, %d bytes", alg, time.Since(t0), len(wrapped))
	// A wrap key cannot unwrap.
	if err := tok.CheckWrapped(w, wrapped, kp.Public()); err == nil || !strings.Contains(err.Error(), "unwrapping needs an unwrap key") {
		t.Fatalf("CheckWrapped with a wrap key: %v", err)
	}
	if err := tok.DestroySecretKey(w); err != nil {
		t.Fatal(err)
	}
	if left, err := tok.SessionObjectsForTest(); err != nil || len(left) != 0 {
		t.Fatalf("session objects left: %q, %v", left, err)
	}
	if _, err := tok.WrapKeyPair(w, kp); !errors.Is(err, hsm.ErrKeyNotFound) {
		t.Fatalf("wrap under a destroyed key: %v", err)
	}
	pub := kp.Public()
	if err := tok.Close(); err != nil {
		t.Fatal(err)
	}
	return backedUp{pub: pub, wrapped: wrapped, kek: kekValue}
}

func TestBackupRoundTrip(t *testing.T) {
	for _, alg := range []keys.Algorithm{keys.ECDSAP384, keys.RSA3072, keys.ECDSAP256, keys.ECDSAP521} {
		t.Run(string(alg), func(t *testing.T) {
			h := softhsmtest.New(t)
			bk := makeBackup(t, h, "root", alg)

			tok, tk := initBlank(t, h, "b")
			u := importKey(t, tok, tk, bk.kek, hsm.UsageUnwrap, "ceremony-backup-unwrap")
			t0 := time.Now()
			if err := tok.CheckWrapped(u, bk.wrapped, bk.pub); err != nil {
				t.Fatalf("CheckWrapped: %v", err)
			}
			t.Logf("%s: CheckWrapped %v", alg, time.Since(t0))
			if objs := tk.Objects(t); len(objs) != 0 {
				t.Fatalf("CheckWrapped left token objects: %+v", objs)
			}
			t0 = time.Now()
			kp, err := tok.UnwrapKeyPair(u, bk.wrapped, "restored-root", bk.pub)
			if err != nil {
				t.Fatalf("UnwrapKeyPair: %v", err)
			}
			t.Logf("%s: UnwrapKeyPair %v", alg, time.Since(t0))
			if !keys.SamePublicKey(kp.Public(), bk.pub) || kp.Label != "restored-root" || kp.Algorithm != alg || len(kp.ID) != 16 {
				t.Fatalf("restored key pair %+v", kp)
			}
			attrs, err := tok.KeyAttributes(kp)
			if err != nil {
				t.Fatal(err)
			}
			want := hsm.KeyAttributes{Token: true, Private: true, Sensitive: true, Sign: true}
			if attrs != want {
				t.Fatalf("restored key attributes %+v, want %+v", attrs, want)
			}
			if err := tok.DestroySecretKey(u); err != nil {
				t.Fatal(err)
			}
			if left, err := tok.SessionObjectsForTest(); err != nil || len(left) != 0 {
				t.Fatalf("session objects left: %q, %v", left, err)
			}
			if err := tok.Close(); err != nil {
				t.Fatal(err)
			}

			// A fresh session finds the restored pair; it signs for the
			// original public key.
			tok2 := open(t, tk)
			found, err := tok2.FindKeyPair("restored-root")
			if err != nil {
				t.Fatal(err)
			}
			if !keys.SamePublicKey(found.Public(), bk.pub) {
				t.Fatal("FindKeyPair returns another public key")
			}
			verifyUnder(t, found, bk.pub, hashFor[alg])
			cert := selfSigned(t, found, "Restored")
			if !keys.SamePublicKey(cert.PublicKey, bk.pub) || cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature) != nil {
				t.Fatal("certificate signed by the restored key does not verify under the original public key")
			}

			// pkcs11-tool sees exactly the private and public key, same label
			// and ID, the private key not extractable.
			objs := tk.Objects(t)
			if len(objs) != 2 {
				t.Fatalf("pkcs11-tool objects: %+v", objs)
			}
			for _, o := range objs {
				if o.Label != "restored-root" || o.ID != found.IDHex() {
					t.Fatalf("object %+v", o)
				}
				switch o.Class {
				case "Private Key":
					// Sensitive, not local, and not "extractable" (pkcs11-tool
					// prints that word only for an extractable key).
					t.Logf("pkcs11-tool: private key access %q, usage %q", o.Attrs, o.Usage)
					if o.Attrs != "sensitive" || o.Usage != "sign" {
						t.Fatalf("restored private key: access %q, usage %q", o.Attrs, o.Usage)
					}
				case "Public Key":
					if ecPub, ok := bk.pub.(*ecdsa.PublicKey); ok && o.ECPoint != softhsmtest.ECPointHex(t, ecPub) {
						t.Fatalf("pkcs11-tool EC_POINT %s", o.ECPoint)
					}
				default:
					t.Fatalf("unexpected object %+v", o)
				}
			}
		})
	}
}

// verifyUnder signs a message with kp in the token and verifies the
// signature under pub, not under the public key the token holds.
func verifyUnder(t *testing.T, kp *hsm.KeyPair, pub crypto.PublicKey, h crypto.Hash) {
	t.Helper()
	hh := h.New()
	hh.Write([]byte("signed by the restored key"))
	digest := hh.Sum(nil)
	sig, err := kp.Sign(rand.Reader, digest, h)
	if err != nil {
		t.Fatal(err)
	}
	switch pub := pub.(type) {
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pub, digest, sig) {
			t.Fatal("signature does not verify under the original public key")
		}
	case *rsa.PublicKey:
		if err := rsa.VerifyPKCS1v15(pub, h, digest, sig); err != nil {
			t.Fatalf("signature under the original public key: %v", err)
		}
	default:
		t.Fatalf("public key type %T", pub)
	}
}

func TestUnwrapFailuresLeaveNothing(t *testing.T) {
	h := softhsmtest.New(t)
	bk := makeBackup(t, h, "root", keys.ECDSAP384)
	other, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherRSA, err := rsa.GenerateKey(rand.Reader, 3072)
	if err != nil {
		t.Fatal(err)
	}

	tok, tk := initBlank(t, h, "b")
	if _, err := tok.GenerateKeyPair("taken", keys.ECDSAP256); err != nil {
		t.Fatal(err)
	}
	right := importKey(t, tok, tk, bk.kek, hsm.UsageUnwrap, "right-unwrap")
	wrong := importKey(t, tok, tk, aesKey(t), hsm.UsageUnwrap, "wrong-unwrap")
	before := tk.Objects(t)
	flipped := append([]byte{}, bk.wrapped...)
	flipped[len(flipped)/2] ^= 0x04

	for _, tc := range []struct {
		name    string
		key     *hsm.SecretKey
		wrapped []byte
		label   string
		pub     crypto.PublicKey
		is      error
		want    string
	}{
		{"wrong key", wrong, bk.wrapped, "restored", bk.pub, hsm.ErrUnwrapFailed, "does not unwrap under this key (wrong key or damaged backup)"},
		{"flipped bit", right, flipped, "restored", bk.pub, hsm.ErrUnwrapFailed, "does not unwrap under this key (wrong key or damaged backup)"},
		{"truncated", right, bk.wrapped[:len(bk.wrapped)-8], "restored", bk.pub, hsm.ErrUnwrapFailed, "does not unwrap"},
		{"odd length", right, bk.wrapped[:len(bk.wrapped)-3], "restored", bk.pub, hsm.ErrUnwrapFailed, "does not unwrap"},
		{"empty", right, nil, "restored", bk.pub, hsm.ErrUnwrapFailed, "empty"},
		{"another key's public key", right, bk.wrapped, "restored", &other.PublicKey, hsm.ErrBackupMismatch, "does not verify under the expected public key"},
		{"an RSA public key", right, bk.wrapped, "restored", &otherRSA.PublicKey, hsm.ErrBackupMismatch, "holds no RSA 3072 key"},
		{"label in use", right, bk.wrapped, "taken", bk.pub, hsm.ErrLabelInUse, `labelled "taken"`},
		{"label of the unwrap key", right, bk.wrapped, "right-unwrap", bk.pub, hsm.ErrLabelInUse, `labelled "right-unwrap"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.is != hsm.ErrLabelInUse {
				err := tok.CheckWrapped(tc.key, tc.wrapped, tc.pub)
				if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("CheckWrapped: %v", err)
				}
				noPIN(t, err, tk.PIN, tk.SOPIN)
			}
			_, err := tok.UnwrapKeyPair(tc.key, tc.wrapped, tc.label, tc.pub)
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("UnwrapKeyPair: %v", err)
			}
			t.Logf("error: %v", err)
			noPIN(t, err, tk.PIN, tk.SOPIN)
			if after := tk.Objects(t); len(after) != len(before) {
				t.Fatalf("token objects went from %d to %d: %+v", len(before), len(after), after)
			}
			left, err := tok.SessionObjectsForTest()
			if err != nil || len(left) != 2 {
				t.Fatalf("session objects: %q, %v", left, err)
			}
		})
	}
	// The right key still restores, and the usable key pair is the original.
	kp, err := tok.UnwrapKeyPair(right, bk.wrapped, "restored", bk.pub)
	if err != nil {
		t.Fatal(err)
	}
	verifySignature(t, kp, crypto.SHA384)
	if !keys.SamePublicKey(kp.Public(), bk.pub) {
		t.Fatal("restored another key")
	}
	// Restoring twice under the same label is refused.
	if _, err := tok.UnwrapKeyPair(right, bk.wrapped, "restored", bk.pub); !errors.Is(err, hsm.ErrLabelInUse) {
		t.Fatalf("second restore: %v", err)
	}
	// An unwrap key cannot wrap.
	if _, err := tok.WrapKeyPair(right, kp); err == nil || !strings.Contains(err.Error(), "wrapping needs a wrap key") {
		t.Fatalf("wrap with an unwrap key: %v", err)
	}
	// Neither can the restored key be backed up again: it is not extractable.
	w := importKey(t, tok, tk, aesKey(t), hsm.UsageWrap, "w")
	kp, err = tok.FindKeyPair("restored")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tok.WrapKeyPair(w, kp); err == nil || !strings.Contains(err.Error(), "not extractable") {
		t.Fatalf("wrap a restored key: %v", err)
	}
}

func TestDefaultKeysCannotBeWrapped(t *testing.T) {
	h := softhsmtest.New(t)
	tok, tk := initBlank(t, h, "a")
	kp, err := tok.GenerateKeyPair("root", keys.ECDSAP384)
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := tok.KeyAttributes(kp)
	if err != nil {
		t.Fatal(err)
	}
	if attrs.Extractable || attrs.WrapWithTrusted || !attrs.NeverExtractable || !attrs.Sensitive {
		t.Fatalf("default key attributes %+v", attrs)
	}
	w := importKey(t, tok, tk, aesKey(t), hsm.UsageWrap, "ceremony-backup-wrap")
	kp, err = tok.FindKeyPair("root")
	if err != nil {
		t.Fatal(err)
	}
	_, err = tok.WrapKeyPair(w, kp)
	if err == nil || !strings.Contains(err.Error(), `key pair "root" cannot be backed up: it is not extractable`) {
		t.Fatalf("wrap a default key: %v", err)
	}
	// Still logged in as the user: the key signs.
	verifySignature(t, kp, crypto.SHA384)
}

// Once its backup is made, a key can no longer be wrapped under any key,
// even a trusted one the security officer imports: whoever can derive the
// SO PIN cannot take the key out again.
func TestEndExtraction(t *testing.T) {
	h := softhsmtest.New(t)
	tok, tk := initBlank(t, h, "a")
	if _, err := tok.GenerateKeyPairWith("root", keys.ECDSAP384, hsm.KeyOptions{Backup: true}); err != nil {
		t.Fatal(err)
	}
	// The SO login voids earlier handles: find the key again.
	w := importKey(t, tok, tk, aesKey(t), hsm.UsageWrap, "ceremony-backup-wrap")
	kp, err := tok.FindKeyPair("root")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tok.WrapKeyPair(w, kp); err != nil {
		t.Fatalf("the backup wrap: %v", err)
	}
	if kp, err = tok.EndExtraction(kp); err != nil {
		t.Fatal(err)
	}
	attrs, err := tok.KeyAttributes(kp)
	if err != nil {
		t.Fatal(err)
	}
	// The copy that replaced the modifiable key kept what the key was
	// (generated on the token, always sensitive) and can no longer change.
	want := hsm.KeyAttributes{Token: true, Private: true, Sensitive: true, Local: true, AlwaysSensitive: true, Sign: true, WrapWithTrusted: true}
	if attrs != want {
		t.Fatalf("attributes after EndExtraction %+v, want %+v", attrs, want)
	}
	if n, err := tok.PrivateKeyCountForTest("root"); err != nil || n != 1 {
		t.Fatalf("%d private keys labelled root after EndExtraction (%v), want 1", n, err)
	}
	// Whoever holds the user PIN cannot switch a usage on, nor make the
	// key extractable again.
	for _, typ := range []uint{pkcs11.CKA_DERIVE, pkcs11.CKA_DECRYPT, pkcs11.CKA_UNWRAP, pkcs11.CKA_EXTRACTABLE} {
		if err := tok.SetPrivateKeyBoolForTest(kp, typ, true); err == nil {
			t.Errorf("attribute %#x switched on after EndExtraction", typ)
		}
	}
	if again, err := tok.KeyAttributes(kp); err != nil || again != want {
		t.Fatalf("attributes after the attempts %+v (%v), want %+v", again, err, want)
	}
	w2 := importKey(t, tok, tk, aesKey(t), hsm.UsageWrap, "attacker-wrap")
	if kp, err = tok.FindKeyPair("root"); err != nil {
		t.Fatal(err)
	}
	if _, err := tok.WrapKeyPair(w2, kp); err == nil {
		t.Fatal("a key whose extraction ended was wrapped under a trusted key")
	}
	// pkcs11-tool agrees: neither extractable nor never-extractable.
	found := false
	for _, o := range tk.Objects(t) {
		if o.Class == "Private Key" && o.Label == "root" {
			found = true
			if o.Attrs != "sensitive, always sensitive, local" {
				t.Fatalf("pkcs11-tool: Access: %q", o.Attrs)
			}
		}
	}
	if !found {
		t.Fatal("pkcs11-tool lists no private key root")
	}
	verifySignature(t, kp, crypto.SHA384)
}

func TestImportTrustedKeyFailures(t *testing.T) {
	h := softhsmtest.New(t)
	tok, tk := initBlank(t, h, "a")
	if _, err := tok.GenerateKeyPairWith("root", keys.ECDSAP256, hsm.KeyOptions{Backup: true}); err != nil {
		t.Fatal(err)
	}
	so, user := secret.FromString(tk.SOPIN), secret.FromString(tk.PIN)
	wrongPIN := softhsmtest.RandomPIN(t)

	// Refused before any login change.
	for name, call := range map[string]func() error{
		"short key": func() error {
			_, err := tok.ImportTrustedAESKey(so, user, secret.New(make([]byte, 20)), hsm.UsageWrap, "k")
			return err
		},
		"no usage": func() error {
			_, err := tok.ImportTrustedAESKey(so, user, aesKey(t), 0, "k")
			return err
		},
		"label in use": func() error {
			_, err := tok.ImportTrustedAESKey(so, user, aesKey(t), hsm.UsageWrap, "root")
			if !errors.Is(err, hsm.ErrLabelInUse) {
				t.Errorf("label in use: %v", err)
			}
			return err
		},
		"bad label": func() error {
			_, err := tok.ImportTrustedAESKey(so, user, aesKey(t), hsm.UsageWrap, " k")
			return err
		},
		"no SO PIN": func() error {
			_, err := tok.ImportTrustedAESKey(nil, user, aesKey(t), hsm.UsageWrap, "k")
			return err
		},
	} {
		if err := call(); err == nil {
			t.Errorf("%s: accepted", name)
		} else {
			noPIN(t, err, tk.PIN, tk.SOPIN)
		}
	}

	// A wrong SO PIN: refused, and the user is logged in again.
	_, err := tok.ImportTrustedAESKey(secret.FromString(wrongPIN), user, aesKey(t), hsm.UsageWrap, "k")
	if !errors.Is(err, hsm.ErrPINIncorrect) || !strings.Contains(err.Error(), "security officer") {
		t.Fatalf("wrong SO PIN: %v", err)
	}
	noPIN(t, err, tk.PIN, tk.SOPIN, wrongPIN)
	if !tok.LoggedIn() {
		t.Fatal("not logged in after a wrong SO PIN")
	}
	kp, err := tok.FindKeyPair("root")
	if err != nil {
		t.Fatal(err)
	}
	verifySignature(t, kp, crypto.SHA256)
	if left, _ := tok.SessionObjectsForTest(); len(left) != 0 {
		t.Fatalf("session objects after a wrong SO PIN: %q", left)
	}

	// A wrong user PIN: the key is made, but the user cannot log in again;
	// the error says so and the key is gone.
	_, err = tok.ImportTrustedAESKey(so, secret.FromString(wrongPIN), aesKey(t), hsm.UsageWrap, "k")
	if err == nil || !strings.Contains(err.Error(), "the user could not log in again") || !errors.Is(err, hsm.ErrPINIncorrect) {
		t.Fatalf("wrong user PIN: %v", err)
	}
	noPIN(t, err, tk.PIN, tk.SOPIN, wrongPIN)
	if tok.LoggedIn() {
		t.Fatal("LoggedIn after a failed re-login")
	}
	if _, err := tok.FindKeyPair("root"); !errors.Is(err, hsm.ErrNotLoggedIn) {
		t.Fatalf("FindKeyPair after a failed re-login: %v", err)
	}
	if err := tok.Login(user); err != nil {
		t.Fatal(err)
	}
	if left, _ := tok.SessionObjectsForTest(); len(left) != 0 {
		t.Fatalf("session objects after a wrong user PIN: %q", left)
	}

	// Not logged in at all: refused.
	if err := tok.Logout(); err != nil {
		t.Fatal(err)
	}
	if _, err := tok.ImportTrustedAESKey(so, user, aesKey(t), hsm.UsageWrap, "k"); !errors.Is(err, hsm.ErrNotLoggedIn) {
		t.Fatalf("import without login: %v", err)
	}
}

func TestImportedKeyIsSessionOnly(t *testing.T) {
	h := softhsmtest.New(t)
	tok, tk := initBlank(t, h, "a")
	kp, err := tok.GenerateKeyPairWith("root", keys.ECDSAP384, hsm.KeyOptions{Backup: true})
	if err != nil {
		t.Fatal(err)
	}
	w := importKey(t, tok, tk, aesKey(t), hsm.UsageWrap, "ceremony-backup-wrap")
	// The key is not on the token: other processes do not see it.
	for _, o := range tk.Objects(t) {
		if o.Label == "ceremony-backup-wrap" {
			t.Fatalf("the wrapping key is a token object: %+v", o)
		}
	}
	// The old handle may be stale: SoftHSM2 invalidates private-object
	// handles at logout (CKR_KEY_HANDLE_INVALID). Found again by label, the
	// key signs and wraps.
	_, err = kp.Sign(nil, make([]byte, 48), crypto.SHA384)
	t.Logf("the key pair found before the SO login signs: %v", err)
	kp, err = tok.FindKeyPair("root")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tok.WrapKeyPair(w, kp); err != nil {
		t.Fatal(err)
	}
	// A second import (an unwrap key) keeps the first key usable.
	importKey(t, tok, tk, aesKey(t), hsm.UsageUnwrap, "ceremony-backup-unwrap")
	kp, err = tok.FindKeyPair("root")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tok.WrapKeyPair(w, kp); err != nil {
		t.Fatalf("wrap after a second SO login: %v", err)
	}
	// Closing the token ends the session and the keys with it.
	if err := tok.Close(); err != nil {
		t.Fatal(err)
	}
	tok2 := open(t, tk)
	if left, err := tok2.SessionObjectsForTest(); err != nil || len(left) != 0 {
		t.Fatalf("session objects in a new session: %q, %v", left, err)
	}
	// A key from another Token is refused.
	if _, err := tok2.WrapKeyPair(w, kp); err == nil || !strings.Contains(err.Error(), "does not belong to this token") {
		t.Fatalf("wrap with another token's key: %v", err)
	}
}

func TestTrustedWrapUnsupported(t *testing.T) {
	h := softhsmtest.New(t)
	tok, tk := initBlank(t, h, "a")
	restore := hsm.ReplaceTrustedWrapAttrForTest(hsm.VendorAttributeForTest)
	defer restore()
	_, err := tok.GenerateKeyPairWith("root", keys.ECDSAP256, hsm.KeyOptions{Backup: true})
	if !errors.Is(err, hsm.ErrTrustedWrapUnsupported) || !strings.Contains(err.Error(), "cannot restrict wrapping to trusted keys") {
		t.Fatalf("module rejecting the attribute: %v", err)
	}
	if objs := tk.Objects(t); len(objs) != 0 {
		t.Fatalf("objects left: %+v", objs)
	}
	kp, err := tok.GenerateKeyPairWith("root", keys.ECDSAP256, hsm.KeyOptions{Backup: true, AllowUntrustedWrap: true})
	if err != nil {
		t.Fatal(err)
	}
	restore()
	attrs, err := tok.KeyAttributes(kp)
	if err != nil {
		t.Fatal(err)
	}
	if !attrs.Extractable || attrs.WrapWithTrusted || !attrs.Sensitive {
		t.Fatalf("fallback key attributes %+v", attrs)
	}
	// Without the restriction, an untrusted key can wrap it.
	untrusted, err := tok.CreateAESKeyAsUserForTest(make([]byte, 32), false, hsm.UsageWrap, "untrusted")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tok.WrapKeyPair(untrusted, kp); err != nil {
		t.Fatalf("wrap a key without CKA_WRAP_WITH_TRUSTED: %v", err)
	}
}

func TestKeyAttributesToleratesUnknownAttribute(t *testing.T) {
	h := softhsmtest.New(t)
	tok, _ := initBlank(t, h, "a")
	kp, err := tok.GenerateKeyPairWith("root", keys.ECDSAP256, hsm.KeyOptions{Backup: true})
	if err != nil {
		t.Fatal(err)
	}
	defer hsm.AddKeyAttributeForTest(hsm.VendorAttributeForTest)()
	attrs, err := tok.KeyAttributes(kp)
	if err != nil {
		t.Fatal(err)
	}
	if !attrs.WrapWithTrusted || !attrs.Extractable || !attrs.Sign || attrs.Decrypt {
		t.Fatalf("attributes read one by one: %+v", attrs)
	}
}
