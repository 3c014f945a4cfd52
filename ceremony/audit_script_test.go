package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestAuditScript runs scripts/audit/check-transcript.sh (under sh, and
// dash if installed) and 'ceremony transcript verify --root' on a genuine
// root ceremony and sign-intermediate ceremony, which both accept, and on
// forgeries, which both refuse. The first forgery is sealed by a leaf
// issued under the signed intermediate with the documentSigning EKU: the
// lenient 'openssl cms -verify -CAfile ROOT' accepts it, the script not.
func TestAuditScript(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl is needed: ", err)
	}
	script, err := filepath.Abs(filepath.Join("..", "scripts", "audit", "check-transcript.sh"))
	if err != nil {
		t.Fatal(err)
	}
	shells := []string{"sh"}
	if _, err := exec.LookPath("dash"); err == nil {
		shells = append(shells, "dash")
	}
	work := crashWork(t)
	openssl(t, work, "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "factory.key",
		"-subj", "/C=DE/O=Example Devices GmbH/CN=Example Devices Factory Berlin Issuing CA", "-out", "factory.csr.pem")
	root := crashRun(t, work, "audit-root", "")
	sign := signRun(t, work, root, "audit-sign", "")
	rootPEM := filepath.Join(work, root.out, "artifacts", "root-ca.crt.pem")

	// check runs the script under every shell and verify on DIR and
	// reports whether each accepted it.
	check := func(t *testing.T, dir string) (scriptOK []bool, verifyOK bool, out string) {
		t.Helper()
		for _, sh := range shells {
			cmd := exec.Command(sh, script, dir, rootPEM)
			b, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if err != nil && !errors.As(err, &exit) {
				t.Fatalf("%s %s: %v", sh, script, err)
			}
			scriptOK = append(scriptOK, err == nil)
			out += fmt.Sprintf("%s: %s", sh, b)
		}
		code, vout := root.ceremony(t, work, "transcript", "verify", filepath.Join(dir, "transcript.jsonl"), "--root", rootPEM)
		return scriptOK, code == 0, out + "verify: " + vout
	}
	for _, d := range []string{root.out, sign.out} {
		scriptOK, verifyOK, out := check(t, filepath.Join(work, d))
		for i, ok := range scriptOK {
			if !ok {
				t.Errorf("%s: the script under %s refused a genuine ceremony\n%s", d, shells[i], out)
			}
		}
		if !verifyOK {
			t.Errorf("%s: verify refused a genuine ceremony\n%s", d, out)
		}
	}

	t.Run("crl", func(t *testing.T) { auditCRLs(t, work, root, sign, script, shells) })

	// Pinned by the audit certificate's fingerprint as openssl prints it:
	// the genuine ceremony passes; another fingerprint is refused.
	auditFP := strings.TrimSpace(openssl(t, work, "x509", "-in", filepath.Join(work, root.out, "artifacts", "transcript-signing.crt.pem"), "-noout", "-fingerprint", "-sha256"))
	for _, tc := range []struct {
		pin string
		ok  bool
	}{{auditFP, true}, {strings.Repeat("AB:", 31) + "AB", false}} {
		out, err := exec.Command("sh", script, filepath.Join(work, sign.out), rootPEM, tc.pin).CombinedOutput()
		if (err == nil) != tc.ok || (!tc.ok && !strings.Contains(string(out), "not the pinned")) {
			t.Errorf("pinned %q: %v\n%s", tc.pin, err, out)
		}
	}

	// A leaf under the intermediate the sign ceremony issued for our key.
	intermediate := filepath.Join(work, sign.out, "artifacts", "intermediate.crt.pem")
	if err := os.WriteFile(filepath.Join(work, "leaf.ext"), []byte("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=1.3.6.1.5.5.7.3.36\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	openssl(t, work, "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "leaf.key",
		"-subj", "/CN=Forged Transcript Signing", "-out", "leaf.csr.pem")
	openssl(t, work, "x509", "-req", "-in", "leaf.csr.pem", "-CA", intermediate, "-CAkey", "factory.key", "-CAcreateserial",
		"-days", "30", "-extfile", "leaf.ext", "-out", "leaf.crt.pem")
	leafFP := pemFingerprint(t, filepath.Join(work, "leaf.crt.pem"))

	lenient := func(dir string) error {
		cmd := exec.Command("openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", filepath.Join(dir, "transcript.sig"),
			"-content", filepath.Join(dir, "transcript.jsonl"), "-CAfile", rootPEM, "-purpose", "any", "-out", os.DevNull)
		b, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, b)
		}
		return nil
	}

	forgeries := []struct {
		name   string
		forge  func(t *testing.T, dir string)
		openss bool // the lenient one-liner accepts it
	}{
		{"leaf-seal", func(t *testing.T, dir string) { forgeSeal(t, work, dir, leafFP, intermediate) }, true},
		{"leaf-seal-genuine-fingerprint", func(t *testing.T, dir string) { forgeSeal(t, work, dir, "", intermediate) }, true},
		{"artifact-byte", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "artifacts", "intermediate.crt.pem")
			b := readFile(t, p)
			b[len(b)/2] ^= 1
			writeFile(t, p, b)
		}, false},
		{"extra-file", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "artifacts", "extra.pem"), []byte("not recorded\n"))
		}, false},
		// A name with a newline, each line of it a recorded name: a
		// line-by-line lookup would take it for two recorded files.
		{"newline-name", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "artifacts", "intermediate.crt.pem\nintermediate.chain.pem"), []byte("not recorded\n"))
		}, false},
		{"dropped-event", func(t *testing.T, dir string) {
			lines := transcriptLines(t, dir)
			writeLines(t, dir, append(lines[:3:3], lines[4:]...))
		}, false},
		{"swapped-events", func(t *testing.T, dir string) {
			lines := transcriptLines(t, dir)
			lines[3], lines[4] = lines[4], lines[3]
			writeLines(t, dir, lines)
		}, false},
		{"after-seal", func(t *testing.T, dir string) {
			lines := transcriptLines(t, dir)
			last := lines[len(lines)-1]
			n := len(lines)
			next := strings.Replace(last, fmt.Sprintf(`{"seq":%d,`, n), fmt.Sprintf(`{"seq":%d,`, n+1), 1)
			next = strings.Replace(next, prevOf(t, last), sha256Hex(last), 1)
			writeLines(t, dir, append(lines, next))
		}, false},
	}
	for _, f := range forgeries {
		t.Run(f.name, func(t *testing.T) {
			dir := filepath.Join(work, "forged-"+f.name)
			if err := copyMissing(filepath.Join(work, sign.out), dir); err != nil {
				t.Fatal(err)
			}
			f.forge(t, dir)
			if err := lenient(dir); f.openss && err != nil {
				t.Errorf("the lenient openssl line refused the forgery (it is expected to accept it): %v", err)
			}
			scriptOK, verifyOK, out := check(t, dir)
			for i, ok := range scriptOK {
				if ok {
					t.Errorf("the script under %s accepted the forgery\n%s", shells[i], out)
				}
			}
			if i := strings.Index(out, "check-transcript: FAILED: "); i < 0 {
				t.Errorf("no FAILED line\n%s", out)
			} else {
				t.Log(strings.SplitN(out[i:], "\n", 2)[0])
			}
			if verifyOK {
				t.Errorf("verify accepted the forgery\n%s", out)
			}
		})
	}
}

// forgeSeal edits event 2's text in DIR, sets the seal's audit
// certificate fingerprint to fp (unless ""), re-chains every prev and
// signs the result with the leaf, carrying the intermediate.
func forgeSeal(t *testing.T, work, dir, fp, intermediate string) {
	t.Helper()
	lines := transcriptLines(t, dir)
	if !strings.Contains(lines[1], `"text":"`) {
		t.Fatalf("event 2 has no text: %s", lines[1])
	}
	lines[1] = strings.Replace(lines[1], `"text":"`, `"text":"FORGED `, 1)
	if fp != "" {
		seal := lines[len(lines)-1]
		i := strings.Index(seal, `"audit_certificate":{`)
		j := strings.Index(seal[i:], `"sha256":"`)
		if i < 0 || j < 0 {
			t.Fatalf("no audit_certificate.sha256 in the seal: %s", seal)
		}
		k := i + j + len(`"sha256":"`)
		lines[len(lines)-1] = seal[:k] + fp + seal[k+64:]
	}
	writeLines(t, dir, lines)
	openssl(t, work, "cms", "-sign", "-binary", "-outform", "DER", "-in", filepath.Join(dir, "transcript.jsonl"),
		"-signer", "leaf.crt.pem", "-inkey", "leaf.key", "-certfile", intermediate, "-out", filepath.Join(dir, "transcript.sig"))
}

func openssl(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("openssl", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func pemFingerprint(t *testing.T, path string) string {
	t.Helper()
	b, _ := pem.Decode(readFile(t, path))
	if b == nil {
		t.Fatalf("%s: no PEM", path)
	}
	sum := sha256.Sum256(b.Bytes)
	return hex.EncodeToString(sum[:])
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func prevOf(t *testing.T, line string) string {
	t.Helper()
	i := strings.Index(line, `"prev":"`)
	if i < 0 || len(line) < i+8+64 {
		t.Fatalf("no prev: %s", line)
	}
	return line[i+8 : i+8+64]
}

func transcriptLines(t *testing.T, dir string) []string {
	t.Helper()
	return strings.Split(strings.TrimSuffix(string(readFile(t, filepath.Join(dir, "transcript.jsonl"))), "\n"), "\n")
}

// writeLines writes the lines as DIR's transcript with every prev
// recomputed from the line before (seq is left as it is).
func writeLines(t *testing.T, dir string, lines []string) {
	t.Helper()
	prev := strings.Repeat("0", 64)
	for i, l := range lines {
		lines[i] = strings.Replace(l, `"prev":"`+prevOf(t, l)+`"`, `"prev":"`+prev+`"`, 1)
		prev = sha256Hex(lines[i])
	}
	writeFile(t, filepath.Join(dir, "transcript.jsonl"), []byte(strings.Join(lines, "\n")+"\n"))
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
