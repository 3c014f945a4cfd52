package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/devicepki/ceremony/ceremony/pki"
	"github.com/devicepki/ceremony/ceremony/transcript"
	"github.com/devicepki/ceremony/hsm"
)

// auditCRLs checks that the audit script (-c) and verify (--crl) refuse a
// seal by an audit certificate that a CRL signed by the ceremony's root
// revokes, by the time rule: a key-compromise (or unspecified) revocation
// refuses it whatever its date, another reason only if dated at or before
// the seal. A CRL revoking another serial, or the audit certificate as
// superseded after the seal, passes; a CRL signed by another key is a bad
// argument (exit 2) to both.
func auditCRLs(t *testing.T, work string, root, sign crashResult, script string, shells []string) {
	rootPEM := filepath.Join(work, root.out, "artifacts", "root-ca.crt.pem")
	var certs []*x509.Certificate
	for _, p := range []string{rootPEM, filepath.Join(work, root.out, "artifacts", "transcript-signing.crt.pem"), filepath.Join(work, sign.out, "artifacts", "intermediate.crt.pem")} {
		c, err := pki.ReadCertificateFile("certificate", p)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, c)
	}
	rootCert, audit, inter := certs[0], certs[1], certs[2]
	sealAt := sealTime(t, filepath.Join(work, sign.out))
	if st := sealTime(t, filepath.Join(work, root.out)); st.After(sealAt) {
		t.Fatalf("the root ceremony was sealed after the sign ceremony: %s, %s", st, sealAt)
	}

	// CRLs by the root's key, in the token, and one by another key in the
	// root's name.
	entry := func(c *x509.Certificate, reason int, at time.Time) x509.RevocationListEntry {
		return x509.RevocationListEntry{SerialNumber: c.SerialNumber, RevocationTime: at.UTC().Truncate(time.Second), ReasonCode: reason}
	}
	other := &x509.Certificate{SerialNumber: big.NewInt(424242)}
	hour := time.Hour
	crls := map[string][]x509.RevocationListEntry{
		"audit-key-compromise-later.crl.pem": {entry(audit, 1, sealAt.Add(hour))},
		"audit-unspecified-later.crl.pem":    {entry(audit, 0, sealAt.Add(hour))},
		"audit-superseded-later.crl.pem":     {entry(other, 1, sealAt), entry(audit, 4, sealAt.Add(hour))},
		"audit-superseded-before.crl.pem":    {entry(audit, 4, sealAt.Add(-hour))},
		"other-serial.crl.pem":               {entry(other, 1, sealAt.Add(-hour))},
		"intermediate-compromised.crl.pem":   {entry(inter, 1, sealAt.Add(hour))},
		"empty.crl.pem":                      nil,
	}
	withRootKey(t, work, root, func(key crypto.Signer) {
		n := int64(1)
		for name, entries := range crls {
			writeCRL(t, filepath.Join(work, name), rootCert, key, n, entries)
			n++
		}
	})
	forger, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	lookalike := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: rootCert.Subject, NotBefore: rootCert.NotBefore, NotAfter: rootCert.NotAfter,
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, lookalike, lookalike, forger.Public(), forger)
	if err != nil {
		t.Fatal(err)
	}
	if lookalike, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	writeCRL(t, filepath.Join(work, "forged-root.crl.pem"), lookalike, forger, 99, []x509.RevocationListEntry{entry(other, 1, sealAt)})

	auditSerial := hex.EncodeToString(audit.SerialNumber.Bytes())
	for _, tc := range []struct {
		crl, dir string
		// exit statuses of the script and of verify
		script, verify int
		want           []string // in the output, besides the CRL's name
	}{
		{"audit-key-compromise-later.crl.pem", sign.out, 1, 1, []string{auditSerial, "key-compromise", "Key Compromise", "whatever its date"}},
		{"audit-key-compromise-later.crl.pem", root.out, 1, 1, []string{auditSerial, "key-compromise", "Key Compromise"}},
		{"audit-unspecified-later.crl.pem", sign.out, 1, 1, []string{auditSerial, "unspecified", "Unspecified"}},
		{"audit-superseded-later.crl.pem", sign.out, 0, 0, []string{"does not reach back", "Superseded", "superseded"}},
		{"audit-superseded-before.crl.pem", sign.out, 1, 1, []string{auditSerial, "at or before the seal", "Superseded", "superseded"}},
		{"other-serial.crl.pem", sign.out, 0, 0, []string{"CRL OK: ", "does not list the audit certificate"}},
		{"empty.crl.pem", root.out, 0, 0, []string{"CRL OK: "}},
		// verify looks at every certificate the root issued that the
		// transcript records; the script only at the audit certificate.
		{"intermediate-compromised.crl.pem", sign.out, 0, 1, []string{hex.EncodeToString(inter.SerialNumber.Bytes()), "intermediate.crt.pem"}},
		{"forged-root.crl.pem", sign.out, 2, 2, []string{"not signed by", "verify failure", "did not sign it"}},
	} {
		t.Run(strings.TrimSuffix(tc.crl, ".crl.pem")+"/"+tc.dir, func(t *testing.T) {
			dir := filepath.Join(work, tc.dir)
			crl := filepath.Join(work, tc.crl)
			var out string
			for _, sh := range shells {
				code, o := exitStatus(t, exec.Command(sh, script, "-c", crl, dir, rootPEM))
				out += fmt.Sprintf("%s (exit %d): %s", sh, code, o)
				if code != tc.script {
					t.Errorf("the script under %s: exit %d, want %d", sh, code, tc.script)
				}
				if code == 1 && !strings.Contains(o, "FAILED: CRL "+crl+" revokes the audit certificate (serial "+strings.ToUpper(strings.TrimLeft(auditSerial, "0"))+")") {
					t.Errorf("the script's FAILED line names neither the CRL nor the serial")
				}
			}
			code, o := root.ceremony(t, work, "transcript", "verify", filepath.Join(dir, "transcript.jsonl"), "--root", rootPEM, "--crl", crl)
			out += fmt.Sprintf("verify (exit %d): %s", code, o)
			if code != tc.verify {
				t.Errorf("verify: exit %d, want %d", code, tc.verify)
			}
			if code != 0 && strings.Count(strings.TrimSpace(o), "\n") != 0 {
				t.Errorf("verify refused with more than one line")
			}
			// The script says "Key Compromise", verify "key-compromise":
			// each word wanted is said by one of them.
			for _, w := range append(tc.want, tc.crl) {
				if !strings.Contains(strings.ToLower(out), strings.ToLower(w)) {
					t.Errorf("the output does not say %q", w)
				}
			}
			t.Logf("\n%s", out)
		})
	}

	// Two CRLs: an OK line for each; the second one revokes.
	code, o := root.ceremony(t, work, "transcript", "verify", filepath.Join(work, sign.out, "transcript.jsonl"), "--root", rootPEM,
		"--crl", filepath.Join(work, "other-serial.crl.pem"), "--crl", filepath.Join(work, "empty.crl.pem"))
	if code != 0 || strings.Count(o, "CRL OK: ") != 2 {
		t.Errorf("two CRLs that revoke nothing of the transcript's: exit %d\n%s", code, o)
	}
	code, o = root.ceremony(t, work, "transcript", "verify", filepath.Join(work, sign.out, "transcript.jsonl"), "--root", rootPEM,
		"--crl", filepath.Join(work, "other-serial.crl.pem"), "--crl", filepath.Join(work, "audit-key-compromise-later.crl.pem"))
	if code != 1 || !strings.Contains(o, "audit-key-compromise-later.crl.pem") || strings.Contains(o, "VERIFIED") {
		t.Errorf("the second of two CRLs revokes the audit certificate: exit %d\n%s", code, o)
	}
	// Pinned by fingerprint, the root comes from the seal: same answer.
	fp := strings.TrimSpace(openssl(t, work, "x509", "-in", rootPEM, "-noout", "-fingerprint", "-sha256"))
	code, o = root.ceremony(t, work, "transcript", "verify", filepath.Join(work, sign.out, "transcript.jsonl"), "--root-fingerprint", strings.TrimPrefix(fp, "sha256 Fingerprint="),
		"--crl", filepath.Join(work, "audit-key-compromise-later.crl.pem"))
	if code != 1 {
		t.Errorf("pinned by fingerprint, a revoked audit certificate: exit %d\n%s", code, o)
	}
	// --crl without a pinned root is a usage error.
	code, o = root.ceremony(t, work, "transcript", "verify", filepath.Join(work, sign.out, "transcript.jsonl"), "--crl", filepath.Join(work, "empty.crl.pem"))
	if code != 2 {
		t.Errorf("--crl without a pinned root: exit %d\n%s", code, o)
	}
}

// sealTime is the time of the seal event of the transcript in dir.
func sealTime(t *testing.T, dir string) time.Time {
	t.Helper()
	c, err := transcript.ReadFile(filepath.Join(dir, "transcript.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	last := c.Events[len(c.Events)-1]
	if !last.Is(transcript.TypeTranscriptSealed) {
		t.Fatalf("%s: not sealed", dir)
	}
	at, err := time.Parse(time.RFC3339Nano, last.Time)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// withRootKey logs in to root's token (in this process, under softHSMMu)
// with the user PIN derived from the rehearsal ceremony's officer shares
// and calls f with the root key.
func withRootKey(t *testing.T, work string, root crashResult, f func(crypto.Signer)) {
	t.Helper()
	softHSMMu.Lock()
	defer softHSMMu.Unlock()
	for _, kv := range root.env {
		if v, ok := strings.CutPrefix(kv, "SOFTHSM2_CONF="); ok {
			t.Setenv("SOFTHSM2_CONF", v)
		}
	}
	cfg, err := hsm.LoadConfig(filepath.Join(work, root.config))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := hsm.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := tok.Close(); err != nil {
			t.Error(err)
		}
	}()
	so, user, err := rehearsalPINs(filepath.Join(work, root.out))
	if err != nil {
		t.Fatal(err)
	}
	so.Wipe()
	err = tok.Login(user)
	user.Wipe()
	if err != nil {
		t.Fatal(err)
	}
	key, err := tok.FindKeyPair("root-ca")
	if err != nil {
		t.Fatal(err)
	}
	f(key)
}

// writeCRL writes a CRL issued by issuer, signed with key, to path.
func writeCRL(t *testing.T, path string, issuer *x509.Certificate, key crypto.Signer, number int64, entries []x509.RevocationListEntry) {
	t.Helper()
	now := time.Now()
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(number), ThisUpdate: now, NextUpdate: now.Add(30 * 24 * time.Hour), RevokedCertificateEntries: entries,
	}, issuer, key)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}))
}

// exitStatus runs cmd and returns its exit status and output.
func exitStatus(t *testing.T, cmd *exec.Cmd) (int, string) {
	t.Helper()
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return exit.ExitCode(), string(out)
	case err != nil:
		t.Fatalf("%s: %v", cmd, err)
	}
	return 0, string(out)
}
