package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	mathrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/devicepki/ceremony/ceremony/activation"
	"github.com/devicepki/ceremony/ceremony/secret"
	"github.com/devicepki/ceremony/ceremony/shares"
	"github.com/devicepki/ceremony/ceremony/transcript"
	"github.com/devicepki/ceremony/internal/pdfcheck"
	"github.com/devicepki/ceremony/internal/softhsmtest"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"ceremony": main})
}

// TestCommandLine runs the stories in testdata/script. Each runs in a fresh
// $WORK holding copies of scripts/ and templates/ (unless the story brings
// its own), a fresh SoftHSM2 token labelled "demo" with a random PIN in
// $WORK/user.pin, an HSM config hsm.yaml and an answers file answers.yaml.
func TestCommandLine(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:   "testdata/script",
		Setup: setup,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"tokenobjects": cmdTokenObjects,
			"objects":      cmdObjects,
			"tokenexists":  cmdTokenExists,
			"keygen":       cmdKeygen,
			"chainok":      cmdChainOK,
			"nosecret":     cmdNoSecret,
			"ecpoint":      cmdECPoint,
			"digestin":     cmdDigestIn,
			"status":       cmdStatus,
			"fingerprint":  cmdFingerprint,
			"subst":        cmdSubst,
			"lines":        cmdLines,
			"appendevent":  cmdAppendEvent,
			"cpdir":        cmdCpDir,
			"derivepin":    cmdDerivePIN,
			"keyaccess":    cmdKeyAccess,
			"keyfixed":     cmdKeyFixed,
			"forgeshare":   cmdForgeShare,
			"mangle":       cmdMangle,
			"agedecrypt":   cmdAgeDecrypt,
			"mtls":         cmdMTLS,
			"fwsign":       cmdFWSign,
			"fwverify":     cmdFWVerify,
			"flipbyte":     cmdFlipByte,
			"pemflip":      cmdPEMFlip,
			"zbarimg":      cmdZbarimg,
			"tmuxwait":     cmdTmuxWait,
			"panedecode":   cmdPaneDecode,
			"tuidrive":     cmdTUIDrive,
			"colourcodes":  cmdColourCodes,
			"panerows":     cmdPaneRows,
			"panesame":     cmdPaneSame,
			"killsealing":  cmdKillSealing,
			"pdfcheck":     cmdPDFCheck,
		},
	})
}

// quorumAnswers answer the shipped root key generation script (officers'
// and custodians' shares; run it with --rehearsal and --config blank.yaml).
const quorumAnswers = `version: 1
script: root-key-generation
attendance:
  administrator: [Ada Administrator]
  witness: [Wanda Witness]
  officer: [Olga Officer, Omar Officer, Otto Officer, Oona Officer, Oscar Officer]
  custodian: [Carla Custodian, Chen Custodian, Cyril Custodian, Cleo Custodian, Cosmo Custodian]
steps:
  welcome: {confirmed_by: [Ada Administrator, Wanda Witness]}
  preflight: {network_override: {by: Ada Administrator, reason: test run on a networked machine}}
  check-clock: {choice: matches}
  equipment-in:
    inventory: {"HSM tamper-evident bag number (in)": TEB-100234, "HSM serial number (on its label)": HSM-0815, "Ceremony machine asset tag": LAPTOP-0042}
  inspect-hsm: {confirmed_by: [Ada Administrator, Wanda Witness]}
  read-fingerprint: {confirmed_by: [Ada Administrator, Wanda Witness]}
  issue-root-certificate: {approved_by: [Olga Officer, Omar Officer, Otto Officer, Oona Officer, Oscar Officer]}
  issue-audit-certificate: {approved_by: [Olga Officer, Omar Officer, Otto Officer, Oona Officer, Oscar Officer]}
  closing: {confirmed_by: [Ada Administrator, Wanda Witness]}
  storage:
    inventory: {"HSM tamper-evident bag number (out)": TEB-100235, "HSM stored in": Safe 2 at the Munich office, "Officers' share cards stored in": each officer's own sealed envelope in Safe 1, "Custodians' share cards stored in": bank deposit boxes A-E}
`

// defaultAnswers answer scripts/pin-login.yaml, the root key generation
// script as it was before quorums (one PIN logs in to the "demo" token).
const defaultAnswers = `version: 1
script: root-key-generation
attendance:
  administrator: [Ada Administrator]
  witness: [Wanda Witness]
steps:
  welcome: {confirmed_by: [Ada Administrator, Wanda Witness]}
  preflight: {network_override: {by: Ada Administrator, reason: test run on a networked machine}}
  check-clock: {choice: matches}
  inspect-hsm: {confirmed_by: [Ada Administrator, Wanda Witness]}
  activate-hsm: {pin: {file: user.pin}}
  read-fingerprint: {confirmed_by: [Ada Administrator, Wanda Witness]}
  issue-root-certificate: {approved_by: [Wanda Witness]}
  issue-audit-certificate: {approved_by: [Wanda Witness]}
  closing: {confirmed_by: [Ada Administrator, Wanda Witness]}
`

func setup(env *testscript.Env) error {
	for _, dir := range []string{"scripts", "templates"} {
		if err := copyMissing(filepath.Join("..", dir), filepath.Join(env.WorkDir, dir)); err != nil {
			return err
		}
	}
	h, err := softhsmtest.Create(filepath.Join(env.WorkDir, ".hsm"))
	if err != nil {
		return err
	}
	tok, err := h.Init("demo")
	if err != nil {
		return err
	}
	env.Setenv("SOFTHSM2_CONF", h.Conf)
	env.Setenv("MODULE", h.Module)
	env.Setenv("TEST_PIN", tok.PIN)
	env.Setenv("TEST_SO_PIN", tok.SOPIN)
	pinScript, err := os.ReadFile(filepath.Join("answers", "testdata", "pin-login.yaml"))
	if err != nil {
		return err
	}
	files := map[string]string{
		"user.pin":               tok.PIN + "\n",
		"hsm.yaml":               fmt.Sprintf("module: %s\ntoken:\n  label: demo\n", h.Module),
		"blank.yaml":             fmt.Sprintf("module: %s\ntoken:\n  label: root\n", h.Module),
		"answers.yaml":           defaultAnswers,
		"quorum.yaml":            quorumAnswers,
		"scripts/pin-login.yaml": string(pinScript),
	}
	for name, body := range files {
		path := filepath.Join(env.WorkDir, name)
		if _, err := os.Stat(path); err == nil {
			continue // the story brings its own
		}
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// copyMissing copies the files of src into dst, keeping files dst has.
func copyMissing(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if _, err := os.Stat(target); err == nil {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}

func token(ts *testscript.TestScript) *softhsmtest.Token {
	h := &softhsmtest.HSM{Conf: ts.Getenv("SOFTHSM2_CONF"), Module: ts.Getenv("MODULE")}
	return &softhsmtest.Token{HSM: h, Label: "demo", PIN: ts.Getenv("TEST_PIN")}
}

// tokenNamed returns the token labelled label: "demo" (initialised by the
// test) or one a ceremony initialised, whose PIN derivepin wrote to
// LABEL.pin.
func tokenNamed(ts *testscript.TestScript, label string) *softhsmtest.Token {
	if label == "demo" {
		return token(ts)
	}
	tk := token(ts)
	tk.Label = label
	pin, err := os.ReadFile(ts.MkAbs(label + ".pin"))
	ts.Check(err)
	tk.PIN = strings.TrimSpace(string(pin))
	return tk
}

// tokenobjects N [LABEL]: the token (default "demo") holds exactly N
// objects (pkcs11-tool, logged in).
func cmdTokenObjects(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 && len(args) != 2 {
		ts.Fatalf("usage: tokenobjects N [LABEL]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	label := "demo"
	if len(args) == 2 {
		label = args[1]
	}
	objs, err := tokenNamed(ts, label).ListObjects()
	ts.Check(err)
	if (len(objs) == want) == neg {
		ts.Fatalf("token holds %d objects: %+v", len(objs), objs)
	}
}

// tokenexists LABEL: pkcs11-tool lists an initialised token labelled
// exactly LABEL; with !, none is (the blank slot was left alone).
func cmdTokenExists(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: tokenexists LABEL")
	}
	labels, err := token(ts).HSM.TokenLabels()
	ts.Check(err)
	if slices.Contains(labels, args[0]) == neg {
		ts.Fatalf("initialised tokens: %q", labels)
	}
}

// objects [LABEL]: prints the objects pkcs11-tool (logged in) lists on the
// token (default "demo"), one a line: class, label, then the type, ID,
// usage and "Access:" line pkcs11-tool shows, for stdout to match.
func cmdObjects(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) > 1 || neg {
		ts.Fatalf("usage: objects [LABEL]")
	}
	label := "demo"
	if len(args) == 1 {
		label = args[0]
	}
	objs, err := tokenNamed(ts, label).ListObjects()
	ts.Check(err)
	for _, o := range objs {
		fmt.Fprintf(ts.Stdout(), "%s %q type=%q id=%s usage=%q access=%q\n", o.Class, o.Label, o.Type, o.ID, o.Usage, o.Attrs)
	}
}

// keygen LABEL: pkcs11-tool generates a P-256 key pair labelled LABEL.
func cmdKeygen(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 || neg {
		ts.Fatalf("usage: keygen LABEL")
	}
	tk := token(ts)
	_, err := tk.HSM.Run("pkcs11-tool", "--module", tk.HSM.Module, "--token-label", tk.Label, "--login", "--pin", tk.PIN,
		"--keypairgen", "--key-type", "EC:prime256v1", "--label", args[0], "--id", "ee")
	ts.Check(err)
}

// chainok TRANSCRIPT: recomputes the hash chain with nothing but SHA-256
// over the raw lines, independently of package transcript.
func cmdChainOK(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: chainok TRANSCRIPT")
	}
	data, err := os.ReadFile(ts.MkAbs(args[0]))
	ts.Check(err)
	prev := strings.Repeat("0", 64)
	var problem string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		var ev struct {
			Seq  int    `json:"seq"`
			Prev string `json:"prev"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			problem = fmt.Sprintf("line %d: %v", n, err)
			break
		}
		if ev.Seq != n || ev.Prev != prev {
			problem = fmt.Sprintf("line %d: seq %d prev %s, want seq %d prev %s", n, ev.Seq, ev.Prev, n, prev)
			break
		}
		sum := sha256.Sum256(sc.Bytes())
		prev = hex.EncodeToString(sum[:])
	}
	if (problem == "") == neg {
		ts.Fatalf("chain check: %q (negated: %t)", problem, neg)
	}
}

// nosecret DIR: no file under DIR contains the token's PINs.
func cmdNoSecret(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: nosecret DIR")
	}
	dir := ts.MkAbs(args[0])
	found := ""
	secrets := map[string]string{"the test token's PIN": ts.Getenv("TEST_PIN"), "the test token's SO PIN": ts.Getenv("TEST_SO_PIN")}
	// PINs derivepin derived from a ceremony's activation shares.
	pins, _ := filepath.Glob(ts.MkAbs("*.pin"))
	sopins, _ := filepath.Glob(ts.MkAbs("*.sopin"))
	for _, f := range append(pins, sopins...) {
		b, err := os.ReadFile(f)
		ts.Check(err)
		secrets["the PIN in "+filepath.Base(f)] = strings.TrimSpace(string(b))
	}
	// The rehearsal shares of every ceremony directory in $WORK, line by
	// line and whole, and the secrets they rebuild.
	outs, _ := filepath.Glob(ts.MkAbs(filepath.Join("*", "shares")))
	for _, o := range outs {
		for what, v := range rehearsalSecrets(ts, filepath.Dir(o)) {
			secrets[what] = v
		}
	}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path == filepath.Join(dir, "shares") {
				return filepath.SkipDir // where a rehearsal writes them, on purpose
			}
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for what, s := range secrets {
			if s != "" && bytes.Contains(data, []byte(s)) && found == "" {
				found = fmt.Sprintf("%s contains %s", path, what)
			}
		}
		return nil
	})
	ts.Check(err)
	switch {
	case found != "" && !neg:
		ts.Fatalf("%s", found)
	case found == "" && neg:
		ts.Fatalf("no secret found under %s", args[0])
	}
}

// rehearsalSecrets returns what must appear nowhere but in DIR/shares: each
// share's text lines and compact form, and the secret each split's shares
// rebuild (raw and hex), checked against the manifests in DIR's transcript.
func rehearsalSecrets(ts *testscript.TestScript, dir string) map[string]string {
	out := map[string]string{}
	files, _ := filepath.Glob(filepath.Join(dir, "shares", "*.share"))
	if len(files) == 0 {
		return out
	}
	mans := manifests(ts, filepath.Join(dir, "transcript.jsonl"))
	bySplit := map[string][]*shares.Share{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		ts.Check(err)
		for i, line := range strings.Split(string(b), "\n") {
			if line = strings.TrimSpace(line); len(line) > 8 && !strings.HasPrefix(line, "#") {
				out[fmt.Sprintf("line %d of %s", i+1, filepath.Base(f))] = line
			}
		}
		sh, err := shares.Parse(b)
		ts.Check(err)
		out["the compact form of "+filepath.Base(f)] = string(sh.Compact().Bytes())
		bySplit[sh.Split.String()] = append(bySplit[sh.Split.String()], sh)
	}
	for id, list := range bySplit {
		man := mans[id]
		if man == nil || len(list) < man.Threshold {
			continue
		}
		sec, err := shares.Combine(list, man)
		ts.Check(err)
		out["the "+man.Purpose+" secret"] = string(sec.Bytes())
		out["the "+man.Purpose+" secret in hex"] = hex.EncodeToString(sec.Bytes())
		out["the "+man.Purpose+" secret in HEX"] = strings.ToUpper(hex.EncodeToString(sec.Bytes()))
	}
	return out
}

// manifests returns the share manifests a transcript records, by split id.
func manifests(ts *testscript.TestScript, path string) map[string]*shares.Manifest {
	out, err := readManifests(path)
	ts.Check(err)
	return out
}

// readManifests returns the share manifests the transcript at path
// records, by split.
func readManifests(path string) (map[string]*shares.Manifest, error) {
	chain, _, err := transcript.ReadIntact(path)
	if err != nil {
		return nil, err
	}
	out := map[string]*shares.Manifest{}
	for _, ev := range chain.Events {
		if ev.Type != "shares-split" {
			continue
		}
		var d struct {
			Manifest *shares.Manifest `json:"manifest"`
		}
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			return nil, err
		}
		out[d.Manifest.Split] = d.Manifest
	}
	return out, nil
}

// keyaccess TOKEN KEYLABEL ACCESS: pkcs11-tool lists the private key
// labelled KEYLABEL on token TOKEN with exactly the "Access:" line ACCESS.
func cmdKeyAccess(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 || neg {
		ts.Fatalf("usage: keyaccess TOKEN KEYLABEL ACCESS")
	}
	objs, err := tokenNamed(ts, args[0]).ListObjects()
	ts.Check(err)
	for _, o := range objs {
		if o.Class == "Private Key" && o.Label == args[1] {
			if o.Attrs != args[2] {
				ts.Fatalf("private key %q: Access: %q, want %q", args[1], o.Attrs, args[2])
			}
			return
		}
	}
	ts.Fatalf("no private key labelled %q on token %q", args[1], args[0])
}

// keyfixed TOKEN KEYLABEL: pkcs11-tool, logged in with the user PIN,
// cannot change the private key's CKA_ID: the key is unmodifiable, so no
// usage (derive, decrypt, unwrap) can be switched on either. Its ID is
// the same afterwards.
func cmdKeyFixed(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 || neg {
		ts.Fatalf("usage: keyfixed TOKEN KEYLABEL")
	}
	tk := tokenNamed(ts, args[0])
	idOf := func() string {
		objs, err := tk.ListObjects()
		ts.Check(err)
		for _, o := range objs {
			if o.Class == "Private Key" && o.Label == args[1] {
				return o.ID
			}
		}
		ts.Fatalf("no private key labelled %q on token %q", args[1], args[0])
		return ""
	}
	before := idOf()
	if out, err := tk.SetPrivateKeyID(args[1], "c0ffee"); err == nil {
		ts.Fatalf("pkcs11-tool changed the CKA_ID of private key %q:\n%s", args[1], out)
	} else if !strings.Contains(err.Error(), "(0x1b)") && !strings.Contains(err.Error(), "CKR_ACTION_PROHIBITED") {
		// OpenSC 0.23 names 0x1b, CKR_ACTION_PROHIBITED, "unknown".
		ts.Fatalf("pkcs11-tool --set-id failed, but not because the key is unmodifiable: %v", err)
	}
	if after := idOf(); after != before {
		ts.Fatalf("private key %q: CKA_ID %s became %s", args[1], before, after)
	}
}

// forgeshare IN OUT: writes to OUT the share in IN with one byte of its
// value changed and every checksum recomputed: well-formed, but not the
// share that was handed out.
func cmdForgeShare(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 || neg {
		ts.Fatalf("usage: forgeshare IN OUT")
	}
	b, err := os.ReadFile(ts.MkAbs(args[0]))
	ts.Check(err)
	sh, err := shares.Parse(b)
	ts.Check(err)
	v := append([]byte(nil), sh.Value.Bytes()...)
	v[0] ^= 0x01
	forged := *sh
	forged.Value = secret.New(v)
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), forged.Text().Bytes(), 0o600))
}

// mangle IN OUT change|swap N: copies the share text IN to OUT with its
// N-th group character (0-based, after the CS1 tag line) changed to
// another, or swapped with the next different one, as a tired typist
// would.
func cmdMangle(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 4 || neg {
		ts.Fatalf("usage: mangle IN OUT change|swap N")
	}
	b, err := os.ReadFile(ts.MkAbs(args[0]))
	ts.Check(err)
	n, err := strconv.Atoi(args[3])
	ts.Check(err)
	var pos []int // offsets of group characters
	tagSeen := false
	lineStart := 0
	for _, line := range bytes.SplitAfter(b, []byte("\n")) {
		t := strings.TrimSpace(string(line))
		switch {
		case strings.HasPrefix(t, "#"):
		case !tagSeen && strings.HasPrefix(t, "CS1"):
			tagSeen = true
		case tagSeen:
			for i, c := range line {
				if c != ' ' && c != '\n' && c != '\r' && c != '-' {
					pos = append(pos, lineStart+i)
				}
			}
		}
		lineStart += len(line)
	}
	if n < 0 || n+1 >= len(pos) {
		ts.Fatalf("share has %d group characters", len(pos))
	}
	out := append([]byte(nil), b...)
	switch args[2] {
	case "change":
		if out[pos[n]] == 'X' {
			out[pos[n]] = 'Y'
		} else {
			out[pos[n]] = 'X'
		}
	case "swap":
		for n+1 < len(pos) && out[pos[n]] == out[pos[n+1]] {
			n++
		}
		out[pos[n]], out[pos[n+1]] = out[pos[n+1]], out[pos[n]]
	default:
		ts.Fatalf("mangle: change or swap")
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), out, 0o600))
}

// agedecrypt FILE PASSFILE OUT: decrypts the age file FILE with the scrypt
// passphrase in PASSFILE (as age -d would) into OUT.
func cmdAgeDecrypt(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: agedecrypt FILE PASSFILE OUT")
	}
	pass, err := os.ReadFile(ts.MkAbs(args[1]))
	ts.Check(err)
	id, err := age.NewScryptIdentity(strings.TrimSpace(string(pass)))
	ts.Check(err)
	f, err := os.Open(ts.MkAbs(args[0]))
	ts.Check(err)
	defer f.Close()
	r, err := age.Decrypt(f, id)
	if err == nil {
		var plain []byte
		if plain, err = io.ReadAll(r); err == nil {
			ts.Check(os.WriteFile(ts.MkAbs(args[2]), plain, 0o600))
		}
	}
	if (err != nil) != neg {
		ts.Fatalf("age decrypt: %v", err)
	}
}

// derivepin OUT LABEL: rebuilds the activation secret of the ceremony in
// OUT from its rehearsal officer shares, derives the token's PINs as the
// ceremony does, and writes them to LABEL.pin and LABEL.sopin, so that
// pkcs11-tool can log in to look at the token.
func cmdDerivePIN(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 || neg {
		ts.Fatalf("usage: derivepin OUT LABEL")
	}
	so, user, err := rehearsalPINs(ts.MkAbs(args[0]))
	ts.Check(err)
	defer so.Wipe()
	defer user.Wipe()
	ts.Check(os.WriteFile(ts.MkAbs(args[1]+".pin"), user.Bytes(), 0o600))
	ts.Check(os.WriteFile(ts.MkAbs(args[1]+".sopin"), so.Bytes(), 0o600))
}

// rehearsalPINs rebuilds the activation secret of the rehearsal ceremony
// in dir from its officer shares and derives the token's PINs from it as
// the ceremony does.
func rehearsalPINs(dir string) (so, user *secret.Secret, err error) {
	chain, _, err := transcript.ReadIntact(filepath.Join(dir, "transcript.jsonl"))
	if err != nil {
		return nil, nil, err
	}
	var format activation.PINFormat
	var mans map[string]*shares.Manifest
	for _, ev := range chain.Events {
		if ev.Is(transcript.TypeTokenInitialised) {
			d, err := transcript.DataAs[transcript.TokenInitialised](ev)
			if err != nil {
				return nil, nil, err
			}
			format = activation.PINFormat{Derivation: d.PINDerivation, Length: d.PINLength}
		}
	}
	if format.Length == 0 {
		return nil, nil, fmt.Errorf("%s records no token initialisation", dir)
	}
	if mans, err = readManifests(filepath.Join(dir, "transcript.jsonl")); err != nil {
		return nil, nil, err
	}
	files, _ := filepath.Glob(filepath.Join(dir, "shares", "officer-*.share"))
	var list []*shares.Share
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, nil, err
		}
		sh, err := shares.Parse(b)
		if err != nil {
			return nil, nil, err
		}
		list = append(list, sh)
	}
	if len(list) == 0 {
		return nil, nil, fmt.Errorf("no officer shares in %s/shares", dir)
	}
	man := mans[list[0].Split.String()]
	sec, err := shares.Combine(list, man)
	if err != nil {
		return nil, nil, err
	}
	defer sec.Wipe()
	id, err := man.SplitID()
	if err != nil {
		return nil, nil, err
	}
	return activation.PINs(sec, id, format)
}

// ecpoint CERT LABEL [TOKEN]: the EC point pkcs11-tool lists for the
// public key labelled LABEL (on TOKEN, default "demo") is the
// certificate's public key.
func cmdECPoint(ts *testscript.TestScript, neg bool, args []string) {
	if (len(args) != 2 && len(args) != 3) || neg {
		ts.Fatalf("usage: ecpoint CERT.pem LABEL [TOKEN]")
	}
	label := "demo"
	if len(args) == 3 {
		label = args[2]
	}
	cert := readCert(ts, args[0])
	objs, err := tokenNamed(ts, label).ListObjects()
	ts.Check(err)
	for _, o := range objs {
		if o.Class == "Public Key" && o.Label == args[1] {
			want, err := softhsmtest.ECPoint(cert.PublicKey)
			ts.Check(err)
			if o.ECPoint != want {
				ts.Fatalf("EC point %s is not the certificate's key", o.ECPoint)
			}
			return
		}
	}
	ts.Fatalf("no public key labelled %q on the token", args[1])
}

// digestin FILE TRANSCRIPT: FILE's SHA-256 is recorded in TRANSCRIPT; for a
// PEM certificate, its DER fingerprint is too.
func cmdDigestIn(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 || neg {
		ts.Fatalf("usage: digestin FILE TRANSCRIPT")
	}
	data, err := os.ReadFile(ts.MkAbs(args[0]))
	ts.Check(err)
	tr, err := os.ReadFile(ts.MkAbs(args[1]))
	ts.Check(err)
	sums := [][32]byte{sha256.Sum256(data)}
	if b, _ := pem.Decode(data); b != nil && b.Type == "CERTIFICATE" {
		sums = append(sums, sha256.Sum256(b.Bytes))
	}
	for _, s := range sums {
		if !bytes.Contains(tr, []byte(`"sha256":"`+hex.EncodeToString(s[:])+`"`)) {
			ts.Fatalf("SHA-256 %x of %s is not in %s", s, args[0], args[1])
		}
	}
}

func readCert(ts *testscript.TestScript, path string) *x509.Certificate {
	data, err := os.ReadFile(ts.MkAbs(path))
	ts.Check(err)
	b, _ := pem.Decode(data)
	if b == nil {
		ts.Fatalf("%s: no PEM block", path)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	ts.Check(err)
	return c
}

// status N ARGS...: ceremony ARGS exits with status N exactly (exec only
// tells zero from non-zero).
func cmdStatus(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 || neg {
		ts.Fatalf("usage: status N ARGS...")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	got := 0
	if err := ts.Exec("ceremony", args[1:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("ceremony: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("exit status %d, want %d", got, want)
	}
}

// fingerprint CERT VAR: sets $VAR to the certificate's SHA-256 as openssl
// prints it (upper case, colon-separated).
func cmdFingerprint(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 || neg {
		ts.Fatalf("usage: fingerprint CERT VAR")
	}
	sum := sha256.Sum256(readCert(ts, args[0]).Raw)
	var parts []string
	for _, b := range sum {
		parts = append(parts, fmt.Sprintf("%02X", b))
	}
	ts.Setenv(args[1], strings.Join(parts, ":"))
}

// subst FILE OLD NEW: replaces the first OLD in FILE with NEW; OLD must be
// there.
func cmdSubst(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 || neg {
		ts.Fatalf("usage: subst FILE OLD NEW")
	}
	path := ts.MkAbs(args[0])
	data, err := os.ReadFile(path)
	ts.Check(err)
	if !bytes.Contains(data, []byte(args[1])) {
		ts.Fatalf("%s does not contain %q", args[0], args[1])
	}
	ts.Check(os.WriteFile(path, bytes.Replace(data, []byte(args[1]), []byte(args[2]), 1), 0o644))
}

// lines FILE drop N | swap A B | dropfrom N | cut N | shuffle SEED: edits
// FILE's lines (1-based); shuffle puts them in a random order, a fixed one
// for SEED, different from the original.
func cmdLines(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 3 || neg {
		ts.Fatalf("usage: lines FILE drop N | swap A B | dropfrom N | cut N | shuffle SEED | dropafterlast TYPE")
	}
	path := ts.MkAbs(args[0])
	data, err := os.ReadFile(path)
	ts.Check(err)
	lines := strings.SplitAfter(string(data), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if args[1] == "dropafterlast" { // keep up to the last event of a type
		last := -1
		for i, l := range lines {
			if strings.Contains(l, `"type":"`+args[2]+`"`) {
				last = i
			}
		}
		if last < 0 {
			ts.Fatalf("lines: no %s event in %s", args[2], args[0])
		}
		ts.Check(os.WriteFile(path, []byte(strings.Join(lines[:last+1], "")), 0o644))
		return
	}
	n, err := strconv.Atoi(args[2])
	ts.Check(err)
	switch args[1] {
	case "drop":
		lines = append(lines[:n-1], lines[n:]...)
	case "dropfrom":
		lines = lines[:n-1]
	case "cut": // line N half written, as a crash leaves it
		lines = append(lines[:n-1], lines[n-1][:len(lines[n-1])/2])
	case "shuffle":
		orig := slices.Clone(lines)
		r := mathrand.New(mathrand.NewPCG(uint64(n), 7))
		for slices.Equal(lines, orig) && len(lines) > 1 {
			r.Shuffle(len(lines), func(i, j int) { lines[i], lines[j] = lines[j], lines[i] })
		}
	case "swap":
		m, err := strconv.Atoi(args[3])
		ts.Check(err)
		lines[n-1], lines[m-1] = lines[m-1], lines[n-1]
	default:
		ts.Fatalf("lines: unknown edit %q", args[1])
	}
	ts.Check(os.WriteFile(path, []byte(strings.Join(lines, "")), 0o644))
}

// appendevent TRANSCRIPT: appends a well-formed event, correctly chained,
// as someone with a text editor and sha256sum could.
func cmdAppendEvent(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 || neg {
		ts.Fatalf("usage: appendevent TRANSCRIPT")
	}
	path := ts.MkAbs(args[0])
	data, err := os.ReadFile(path)
	ts.Check(err)
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	var last struct {
		Seq  int    `json:"seq"`
		Time string `json:"time"`
	}
	ts.Check(json.Unmarshal([]byte(lines[len(lines)-1]), &last))
	sum := sha256.Sum256([]byte(lines[len(lines)-1]))
	line := fmt.Sprintf(`{"seq":%d,"time":%q,"prev":"%x","type":"confirmed","text":"Added after the ceremony"}`, last.Seq+1, last.Time, sum)
	ts.Check(os.WriteFile(path, append(data, line+"\n"...), 0o644))
}

// cpdir SRC [DST]: replaces DST (default t1) with a copy of directory SRC.
func cmdCpDir(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 || len(args) > 2 || neg {
		ts.Fatalf("usage: cpdir SRC [DST]")
	}
	dst := "t1"
	if len(args) == 2 {
		dst = args[1]
	}
	ts.Check(os.RemoveAll(ts.MkAbs(dst)))
	ts.Check(copyMissing(ts.MkAbs(args[0]), ts.MkAbs(dst)))
}

// colourcodes FILE: FILE (a pane captured with tmux capture-pane -e, or
// the bytes a program wrote to its terminal) holds an SGR sequence that
// sets a colour: a foreground, background or underline colour (30–37, 38,
// 40–47, 48, 58, 90–97, 100–107, with their 38;5;N / 38;2;R;G;B forms);
// with !, none does, and it lists those it found. Bold, faint, reverse
// and the like are not colours, nor are 39, 49 and 59 (back to the
// default colour): capture-pane -e writes them after every attribute
// reset, whether any colour was drawn or not.
func cmdColourCodes(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: colourcodes FILE")
	}
	data, err := os.ReadFile(ts.MkAbs(args[0]))
	ts.Check(err)
	found := colourCodes(data)
	switch {
	case neg && len(found) > 0:
		ts.Fatalf("%s holds %d colour sequences, the first ones: %q", args[0], len(found), found[:min(len(found), 10)])
	case !neg && len(found) == 0:
		ts.Fatalf("%s holds no colour sequence", args[0])
	}
}

// sgrSequence is an SGR (Select Graphic Rendition) escape sequence; its
// parameters are separated by ";", their sub-parameters by ":".
var sgrSequence = regexp.MustCompile(`\x1b\[([0-9;:]*)m`)

// colourCodes returns the SGR sequences in data that set a colour.
func colourCodes(data []byte) []string {
	var found []string
	for _, m := range sgrSequence.FindAllSubmatch(data, -1) {
		for _, p := range strings.Split(string(m[1]), ";") {
			code, _, _ := strings.Cut(p, ":")
			n, err := strconv.Atoi(code)
			if err == nil && (n >= 30 && n <= 38 || n >= 40 && n <= 48 || n == 58 || n >= 90 && n <= 97 || n >= 100 && n <= 107) {
				// The parameters after 38, 48 or 58 (5;N, 2;R;G;B) are
				// its colour: the sequence sets a colour either way.
				found = append(found, string(m[0]))
				break
			}
		}
	}
	return found
}

// paneRows returns the rows of a pane captured with tmux capture-pane -p
// (one line per row of the pane, trailing spaces trimmed).
func paneRows(ts *testscript.TestScript, file string) []string {
	data, err := os.ReadFile(ts.MkAbs(file))
	ts.Check(err)
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

// panerows FILE ROWS REGEX: every row ROWS (N, or A..B; the first row is
// 1) of the pane captured in FILE matches REGEX; with !, none does. The
// rows must be in the pane.
func cmdPaneRows(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: panerows FILE ROWS REGEX")
	}
	rows := paneRows(ts, args[0])
	from, to, isRange := strings.Cut(args[1], "..")
	if !isRange {
		to = from
	}
	a, errA := strconv.Atoi(from)
	b, errB := strconv.Atoi(to)
	if errA != nil || errB != nil || a < 1 || b < a {
		ts.Fatalf("panerows: rows %q: N or A..B, from 1", args[1])
	}
	if b > len(rows) {
		ts.Fatalf("%s has %d rows, not %d:\n%s", args[0], len(rows), b, strings.Join(rows, "\n"))
	}
	re, err := regexp.Compile(args[2])
	ts.Check(err)
	what := "does not match"
	if neg {
		what = "matches"
	}
	for i := a; i <= b; i++ {
		if re.MatchString(rows[i-1]) == neg {
			ts.Fatalf("%s row %d %s %q: %q\n%s", args[0], i, what, args[2], rows[i-1], strings.Join(rows, "\n"))
		}
	}
}

// panesame FILE1 FILE2: the panes captured in FILE1 and FILE2 are the
// same, row for row, the clock and the spinner's line aside; with !,
// they differ.
func cmdPaneSame(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: panesame FILE1 FILE2")
	}
	a, b := paneRows(ts, args[0]), paneRows(ts, args[1])
	diff := ""
	if len(a) != len(b) {
		diff = fmt.Sprintf("%s has %d rows, %s %d", args[0], len(a), args[1], len(b))
	}
	for i := 0; i < len(a) && i < len(b) && diff == ""; i++ {
		if volatile.ReplaceAllString(a[i], "") != volatile.ReplaceAllString(b[i], "") {
			diff = fmt.Sprintf("row %d differs:\n%s: %q\n%s: %q", i+1, args[0], a[i], args[1], b[i])
		}
	}
	switch {
	case diff != "" && !neg:
		ts.Fatalf("%s", diff)
	case diff == "" && neg:
		ts.Fatalf("%s and %s are the same", args[0], args[1])
	}
}

// killsealing DIR before|after: turns a sealed ceremony into one killed
// while sealing, as the seal step leaves it: the pending seal (the seal
// event's line and the signature) written, and the seal event not yet
// appended (before) or appended (after); transcript.sig and the record
// not yet written.
func cmdKillSealing(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 || (args[1] != "before" && args[1] != "after") {
		ts.Fatalf("usage: killsealing DIR before|after")
	}
	dir := ts.MkAbs(args[0])
	data, err := os.ReadFile(filepath.Join(dir, "transcript.jsonl"))
	ts.Check(err)
	sig, err := os.ReadFile(filepath.Join(dir, "transcript.sig"))
	ts.Check(err)
	body := bytes.TrimSuffix(data, []byte("\n"))
	cut := bytes.LastIndexByte(body, '\n') + 1
	pending, err := json.Marshal(map[string]any{"seal_line": string(body[cut:]), "signature": sig})
	ts.Check(err)
	ts.Check(os.WriteFile(filepath.Join(dir, "transcript.sig.pending"), pending, 0o644))
	if args[1] == "before" {
		ts.Check(os.WriteFile(filepath.Join(dir, "transcript.jsonl"), data[:cut], 0o644))
	}
	for _, f := range []string{"transcript.sig", "transcript.md", "qr"} {
		ts.Check(os.RemoveAll(filepath.Join(dir, f)))
	}
}

// cmdPDFCheck checks DIR/transcript.pdf against DIR/transcript.jsonl:
// pdfcheck DIR (pdftotext and pdfinfo must be installed).
func cmdPDFCheck(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: pdfcheck DIR")
	}
	dir := ts.MkAbs(args[0])
	c, err := transcript.ReadFile(filepath.Join(dir, "transcript.jsonl"))
	ts.Check(err)
	ts.Check(pdfcheck.Check(filepath.Join(dir, "transcript.pdf"), c))
}
