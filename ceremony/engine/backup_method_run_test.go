package engine_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/pkcs11"

	"github.com/devicepki/ceremony/ceremony/backup"
	"github.com/devicepki/ceremony/ceremony/engine"
	"github.com/devicepki/ceremony/ceremony/keys"
	"github.com/devicepki/ceremony/ceremony/secret"
	"github.com/devicepki/ceremony/ceremony/shares"
	"github.com/devicepki/ceremony/ceremony/transcript"
	"github.com/devicepki/ceremony/hsm"
	"github.com/devicepki/ceremony/internal/softhsmtest"
)

// The shipped script's backup step and the custodians' hand-out.
const (
	shippedBackup  = "    key: generate-root-key\n    name: root-ca\n    quorum: {role: custodian, threshold: 3, shares: 5}\n"
	shippedHandOut = "  - id: hand-out-backup-shares\n"
)

// noBackupRig is the shipped root key generation script with the root key
// under method: none, approved by the officers.
func noBackupRig(t *testing.T) *rig {
	t.Helper()
	r := newQuorumRig(t)
	r.edit(t, "scripts/root-key-generation.yaml", shippedBackup, "    key: generate-root-key\n    method: none\n    approved_by: officer\n")
	path := filepath.Join(r.dir, "scripts/root-key-generation.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	i := strings.Index(s, shippedHandOut)
	j := strings.Index(s, "  - id: generate-audit-key\n")
	if i < 0 || j < i {
		t.Fatal("the shipped script changed")
	}
	writeFile(t, path, s[:i]+s[j:])
	return r
}

// With method: none the root key is generated never extractable, every
// officer present approves that it has no backup, and a backup-exception
// event says so; no backup file is written and no backup shares exist.
func TestNoBackupIsApprovedAndRecorded(t *testing.T) {
	r := noBackupRig(t)
	face := &scriptedFace{people: quorumPeople}
	opts := r.options(t)
	opts.Rehearsal = true
	plan, err := engine.Prepare(opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plan.Run(context.Background(), face); err != nil {
		t.Fatal(err)
	}
	var approvers []string
	for _, a := range face.approvals {
		if a.Step.ID == "back-up-root-key" {
			approvers = append(approvers, a.Participant.Name)
			if a.What != "exception: no backup" || !a.NotSigned || len(a.TBSSHA256) != 64 || a.Words == "" {
				t.Errorf("approval request %+v", a)
			}
		}
	}
	if !slices.Equal(approvers, []string{"O1", "O2", "O3", "O4", "O5"}) {
		t.Errorf("approved by %v", approvers)
	}
	if len(face.handedOut) != 5 {
		t.Errorf("%d shares handed out; only the officers' 5", len(face.handedOut))
	}
	if _, err := os.Stat(filepath.Join(r.out, "artifacts", "root-ca.backup")); !os.IsNotExist(err) {
		t.Errorf("a backup file: %v", err)
	}
	chain, err := transcript.ReadFile(filepath.Join(r.out, "transcript.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var exc []transcript.BackupException
	for _, ev := range chain.Events {
		switch ev.Type {
		case transcript.TypeKeyBackedUp:
			t.Errorf("a key-backed-up event: %s", ev.Text)
		case transcript.TypeBackupException:
			p, err := transcript.DataAs[transcript.BackupException](ev)
			if err != nil {
				t.Fatal(err)
			}
			exc = append(exc, p)
			if !strings.HasPrefix(ev.Text, `EXCEPTION: key "root-ca" has no backup (the script says method: none`) || len(ev.Actors) != 5 {
				t.Errorf("event %q by %v", ev.Text, ev.Actors)
			}
		case transcript.TypeKeyGenerated:
			p, err := transcript.DataAs[transcript.KeyGenerated](ev)
			if err != nil {
				t.Fatal(err)
			}
			var attrs hsm.KeyAttributes
			if err := p.Attributes.Decode(&attrs); err != nil {
				t.Fatal(err)
			}
			if p.Label == "root-ca" && (attrs.Extractable || !attrs.NeverExtractable || attrs.WrapWithTrusted) {
				t.Errorf("root key generated %+v", attrs)
			}
		}
	}
	if len(exc) != 1 {
		t.Fatalf("%d backup-exception events", len(exc))
	}
	rec, err := os.ReadFile(filepath.Join(r.out, "transcript.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rec), "step `back-up-root-key`: key `root-ca` has no backup (the script says method: none") ||
		!strings.Contains(string(rec), "  - No backup, approved by: O1, O2, O3, O4, O5\n") {
		t.Errorf("the paper record does not show the exception:\n%s", rec)
	}
	e := exc[0]
	if e.Label != "root-ca" || len(e.ID) != 32 || e.ApprovedBy != "O1, O2, O3, O4, O5" || len(e.StatementSHA256) != 64 ||
		!strings.Contains(e.Statement, "has no backup") || !strings.Contains(e.Statement, e.PublicKeySHA256) {
		t.Errorf("backup-exception %+v", e)
	}
}

// An officer who refuses the exception stops the ceremony; the root key
// generated for it is destroyed with the rest.
func TestNoBackupRefused(t *testing.T) {
	r := noBackupRig(t)
	face := &scriptedFace{people: quorumPeople, refuseAt: "back-up-root-key"}
	opts := r.options(t)
	opts.Rehearsal = true
	plan, err := engine.Prepare(opts)
	if err != nil {
		t.Fatal(err)
	}
	_, err = plan.Run(context.Background(), face)
	t.Logf("refused: %v", err)
	if !errors.Is(err, engine.ErrAborted) || !strings.Contains(err.Error(), `O1 did not approve that key "root-ca" has no backup`) {
		t.Fatalf("run: %v", err)
	}
	chain, err := transcript.ReadFile(filepath.Join(r.out, "transcript.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	destroyed := false
	for _, ev := range chain.Events {
		if ev.Type == transcript.TypeKeyDestroyed && strings.Contains(ev.Text, "root-ca") {
			destroyed = true
		}
		if ev.Type == transcript.TypeBackupException {
			t.Errorf("a backup-exception event after a refusal: %s", ev.Text)
		}
	}
	if !destroyed {
		t.Errorf("no key-destroyed event for the root key: %v", eventTypes(chain))
	}
}

// SoftHSM2 offers CKM_AES_CBC_PAD for encryption only: a script asking
// for method: aes-cbc-pad is refused before anyone acts, naming the step,
// the mechanism, what it lacks and what the script could do instead.
func TestCBCPadRefusedBeforeAnyoneActsOnSoftHSM(t *testing.T) {
	r := newQuorumRig(t)
	r.edit(t, "scripts/root-key-generation.yaml", shippedBackup, shippedBackup+"    method: aes-cbc-pad\n")
	plan, err := engine.Prepare(r.options(t))
	if err != nil {
		t.Fatal(err)
	}
	_, err = plan.Run(context.Background(), noFace{t: t})
	t.Logf("%v", err)
	want := "step back-up-root-key (steps[13], backup-key): the module offers CKM_AES_CBC_PAD without CKF_WRAP and CKF_UNWRAP, needed to wrap the key for its backup (AES-CBC with padding) and check the backup inside the HSM; instead: method: rfc5649 (CKM_AES_KEY_WRAP_PAD or CKM_AES_KEY_WRAP_KWP), or method: none (no backup; approved_by a role)"
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("run: %v\nwant %q", err, want)
	}
	if _, err := os.Lstat(r.out); !os.IsNotExist(err) {
		t.Errorf("the output directory was created (%v)", err)
	}
}

// The default method's backup names the mechanism the known-answer test
// chose on SoftHSM2, and the transcript says what the test found.
func TestBackupRecordsTheKnownAnswerTest(t *testing.T) {
	r := newQuorumRig(t)
	face := &scriptedFace{people: quorumPeople}
	opts := r.options(t)
	opts.Rehearsal = true
	plan, err := engine.Prepare(opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plan.Run(context.Background(), face); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(r.out, "artifacts", "root-ca.backup"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "\nWrap-Mechanism: CKM_AES_KEY_WRAP_PAD (0x210A), RFC 5649\n") || strings.Contains(string(data), "Wrap-IV") {
		t.Errorf("backup file:\n%s", data)
	}
	chain, err := transcript.ReadFile(filepath.Join(r.out, "transcript.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range chain.Events {
		if ev.Type != transcript.TypeKeyBackedUp {
			continue
		}
		n++
		p, err := transcript.DataAs[transcript.KeyBackedUp](ev)
		if err != nil {
			t.Fatal(err)
		}
		if p.Method != "rfc5649" || p.Mechanism != "CKM_AES_KEY_WRAP_PAD (0x210A), RFC 5649" || p.CiphertextSHA256 != "" ||
			!strings.Contains(p.MechanismCheck, "CKM_AES_KEY_WRAP_KWP (0x210B): C_WrapKey of the 20-byte test key: pkcs11: 0x70: CKR_MECHANISM_INVALID") ||
			!strings.HasSuffix(p.MechanismCheck, "; using CKM_AES_KEY_WRAP_PAD (0x210A)") ||
			!strings.Contains(p.WrappingKey, "trusted session object by the security officer") {
			t.Errorf("key-backed-up %+v", p)
		}
	}
	if n != 1 {
		t.Errorf("%d key-backed-up events", n)
	}
	var notices []string
	for _, rep := range face.reports {
		if strings.HasPrefix(rep.Text, "RFC 5649 known-answer test") {
			notices = append(notices, rep.Text)
		}
	}
	if len(notices) != 1 {
		t.Errorf("known-answer test notices: %q", notices)
	}
}

// A module that refuses CKA_TRUSTED or CKA_WRAP_WITH_TRUSTED cannot keep a
// backup under a trusted key: the backup step is refused at plan time,
// naming what the module refused and the alternatives, unless the script
// allows an untrusted wrap or makes no backup.
func TestTrustRefusedAtPlanTime(t *testing.T) {
	for _, tc := range []struct {
		name, edit string
		refused    bool
	}{
		{"trusted only", "", true},
		{"allow_untrusted_wrap", shippedBackup + "    allow_untrusted_wrap: true\n", false},
		{"method none", "none", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r *rig
			switch tc.edit {
			case "none":
				r = noBackupRig(t)
			case "":
				r = newQuorumRig(t)
			default:
				r = newQuorumRig(t)
				r.edit(t, "scripts/root-key-generation.yaml", shippedBackup, tc.edit)
			}
			plan, err := engine.Prepare(r.options(t))
			if err != nil {
				t.Fatal(err)
			}
			b, err := hsm.OpenBlank(r.cfg)
			if err != nil {
				t.Fatal(err)
			}
			caps, err := b.Capabilities()
			b.Close()
			if err != nil {
				t.Fatal(err)
			}
			if caps.Trust.Probed {
				t.Errorf("a blank SoftHSM2 slot was probed: %+v", caps.Trust)
			}
			caps.Trust = hsm.Trust{Probed: true, Trusted: "C_CreateObject: pkcs11: 0xD1: CKR_TEMPLATE_INCONSISTENT"}
			var got []string
			for _, p := range plan.CheckHSM(caps) {
				got = append(got, p.String())
			}
			want := "step back-up-root-key (steps[13], backup-key): the module refuses CKA_TRUSTED on a wrapping key (C_CreateObject: pkcs11: 0xD1: CKR_TEMPLATE_INCONSISTENT), needed to keep the key's backup under a wrapping key the security officer marked trusted; instead: allow_untrusted_wrap: true (the wrapping key is imported by the user without CKA_TRUSTED; recorded, with a warning), or method: none (no backup; approved_by a role)"
			if tc.refused && (len(got) != 1 || got[0] != want) || !tc.refused && len(got) != 0 {
				t.Errorf("problems %q", got)
			}
		})
	}
}

// A CBC_PAD backup whose ciphertext no longer matches its recorded
// SHA-256 is refused when the restore is prepared, naming the script
// field and the file, before any token is touched; the intact file is
// taken.
func TestTamperedCBCBackupRefusedBeforeRestore(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"scripts/restore-backup.yaml", "templates/transcript-signing.yaml"} {
		data, err := os.ReadFile(filepath.Join("..", "..", f))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, f), string(data))
	}
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test Root"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	certPath := filepath.Join(dir, "root-ca.crt.pem")
	writeFile(t, certPath, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	_, man, err := shares.Split(rand.Reader, secret.New(bytes.Repeat([]byte{7}, 32)), shares.Backup, 3, 5)
	if err != nil {
		t.Fatal(err)
	}
	ct := make([]byte, 208)
	if _, err := rand.Read(ct); err != nil {
		t.Fatal(err)
	}
	good, err := backup.Encode(&backup.Backup{Label: "root-ca", Algorithm: keys.ECDSAP384, PublicKey: &k.PublicKey, Manifest: man,
		Mechanism: hsm.WrapMechanism{Type: pkcs11.CKM_AES_CBC_PAD, IV: bytes.Repeat([]byte{1}, 16)}, Wrapped: ct})
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(good)
	block.Bytes[100] ^= 1
	bad := pem.EncodeToMemory(block)
	h := softhsmtest.New(t)
	for name, data := range map[string][]byte{"good": good, "tampered": bad} {
		path := filepath.Join(dir, name+".backup")
		writeFile(t, path, string(data))
		_, err := engine.Prepare(engine.Options{
			ScriptPath: filepath.Join(dir, "scripts", "restore-backup.yaml"), TemplatesDir: filepath.Join(dir, "templates"),
			Inputs: map[string]string{"place": "Lab", "backup": path, "root_certificate": certPath}, HSM: h.Config("restored"),
			OutDir: filepath.Join(dir, "out-"+name), Tool: engine.CurrentTool("test"),
		})
		t.Logf("%s: %v", name, err)
		switch {
		case name == "good" && err != nil:
			t.Errorf("the intact backup: %v", err)
		case name == "tampered" && (err == nil || !strings.Contains(err.Error(), "steps[6].backup: "+path+": backup file: the ciphertext hashes to SHA-256 ") ||
			!strings.Contains(err.Error(), "it was altered or damaged") || strings.Contains(err.Error(), "\n")):
			t.Errorf("the tampered backup: %v", err)
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, "out-tampered")); !os.IsNotExist(err) {
		t.Errorf("an output directory for the tampered backup: %v", err)
	}
}
