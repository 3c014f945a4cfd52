package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/devicepki/ceremony/ceremony/transcript"
	"github.com/devicepki/ceremony/internal/softhsmtest"
)

// The root key generation ceremony is killed (SIGKILL, as a power cut
// stops it) just before and just after each of its events is written, and
// in the middle of writing some of them (transcript.FaultEnv). After each
// kill: verify exits 3 (0 once sealed), and says nothing is foreign;
// close, or seal for a kill while sealing, ends it; then verify reports
// it closed (or sealed), the token holds no key pair or certificate of
// the ceremony (pkcs11-tool's view through token inspect), and the
// directory holds only the record.
func TestKillAtEveryEvent(t *testing.T) {
	work := crashWork(t)
	events := crashRun(t, work, "baseline", "").events
	if events < 30 {
		t.Fatalf("the baseline ceremony wrote %d events", events)
	}
	var points []string
	for n := 1; n <= events; n++ {
		points = append(points, fmt.Sprintf("before:%d", n), fmt.Sprintf("after:%d", n))
		if n%4 == 2 || n >= events-3 {
			points = append(points, fmt.Sprintf("torn:%d", n))
		}
	}
	for _, p := range points {
		t.Run(strings.ReplaceAll(p, ":", "-"), func(t *testing.T) {
			t.Parallel()
			checkKilled(t, work, p)
		})
	}
}

type crashResult struct {
	out, config string
	env         []string
	events      int
}

// crashWork makes a work directory with the scripts, the templates and
// the root ceremony's answers.
func crashWork(t *testing.T) string {
	t.Helper()
	work := t.TempDir()
	for _, dir := range []string{"scripts", "templates"} {
		if err := copyMissing(filepath.Join("..", dir), filepath.Join(work, dir)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(work, "quorum.yaml"), []byte(quorumAnswers), 0o644); err != nil {
		t.Fatal(err)
	}
	return work
}

// freshToken gives a ceremony into WORK/name a fresh SoftHSM2
// installation with a blank slot that the HSM config WORK/name.yaml
// names by label.
func freshToken(t *testing.T, work, name, label string) crashResult {
	t.Helper()
	h, err := softhsmtest.Create(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r := crashResult{out: name, config: name + ".yaml", env: append(os.Environ(), h.Env()...)}
	if err := os.WriteFile(filepath.Join(work, r.config), []byte(fmt.Sprintf("module: %s\ntoken:\n  label: %s\n", h.Module, label)), 0o644); err != nil {
		t.Fatal(err)
	}
	return r
}

// runKilled runs 'ceremony run SCRIPT ... --out OUT' with r's environment,
// killed at fault ("" for none: then it must succeed), and counts the
// events its transcript holds.
func (r crashResult) runKilled(t *testing.T, work, fault, script string, args ...string) crashResult {
	t.Helper()
	cmd := exec.Command("ceremony", append(append([]string{"run", script, "--config", r.config}, args...), "--out", r.out)...)
	cmd.Dir = work
	cmd.Env = append(r.env, transcript.FaultEnv+"="+fault)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case fault == "" && err != nil:
		t.Fatalf("%s into %s: %v\n%s", script, r.out, err, out)
	case fault != "" && (!errors.As(err, &exit) || exit.ExitCode() != -1):
		t.Fatalf("%s killed at %s: %v (not killed)\n%s", script, fault, err, out)
	}
	if c, err := transcript.ReadFile(filepath.Join(work, r.out, "transcript.jsonl")); err == nil {
		r.events = len(c.Events)
	}
	return r
}

// lastArtifactWritten runs the root ceremony once into WORK/baseline and
// returns the number of its last artifact-written event: a root ceremony
// killed just after it leaves two key pairs and five files to close.
func lastArtifactWritten(t *testing.T, work string) int {
	t.Helper()
	base := crashRun(t, work, "baseline", "")
	c, err := transcript.ReadFile(filepath.Join(work, base.out, "transcript.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	last := 0
	for _, ev := range c.Events {
		if ev.Is(transcript.TypeArtifactWritten) {
			last = ev.Seq
		}
	}
	return last
}

// login returns the arguments that log in to r's token with the given
// officers' rehearsal shares of the ceremony in out: --config and the
// share files.
func (r crashResult) login(out string, officers ...int) []string {
	args := []string{"--config", r.config}
	for _, i := range officers {
		args = append(args, filepath.Join(out, "shares", fmt.Sprintf("officer-%d.share", i)))
	}
	return args
}

// crashRun runs the root ceremony on a fresh SoftHSM2 installation into
// WORK/name, killed at fault ("" for none).
func crashRun(t *testing.T, work, name, fault string) crashResult {
	t.Helper()
	return freshToken(t, work, name, "root").runKilled(t, work, fault, "scripts/root-key-generation.yaml",
		"--rehearsal", "--answers", "quorum.yaml", "--input", "place=Crash lab")
}

// ceremony runs the program in work and returns its exit status and
// output.
func (r crashResult) ceremony(t *testing.T, work string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command("ceremony", args...)
	cmd.Dir = work
	cmd.Env = r.env
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), string(out)
	}
	if err != nil {
		t.Fatalf("ceremony %v: %v", args, err)
	}
	return 0, string(out)
}

var keyObjectLine = regexp.MustCompile(`(?m)^(private-key|public-key|certificate|secret-key) `)

func checkKilled(t *testing.T, work, fault string) {
	r := crashRun(t, work, "k-"+strings.ReplaceAll(fault, ":", "-"), fault)
	endKilled(t, work, r)
}

// endKilled checks a ceremony killed into r.out that made keys on r's
// token: verify exits 3 (or it is sealed); seal finishes a seal the kill
// interrupted, close (with the ceremony's own officers' shares where it
// handed them out) ends anything else; then verify agrees, the token holds
// no key pair or certificate of the ceremony, and the directory holds only
// the record.
func endKilled(t *testing.T, work string, r crashResult) {
	t.Helper()
	dir := filepath.Join(work, r.out)
	transcriptPath := filepath.Join(r.out, "transcript.jsonl")
	if _, err := os.Lstat(filepath.Join(dir, "transcript.jsonl")); errors.Is(err, os.ErrNotExist) {
		// Killed before the first event: nothing was made, but the
		// first event's temporary file may be there, which close tidies.
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			if code, out := r.ceremony(t, work, "close", r.out, "--confirm"); code != 0 || !strings.Contains(out, "nothing to close") {
				t.Fatalf("close of a ceremony killed before its first event: exit %d\n%s", code, out)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Fatalf("no transcript, but after close %s holds %s", r.out, entries[0].Name())
			}
		}
		return
	}
	code, out := r.ceremony(t, work, "transcript", "verify", transcriptPath)
	switch {
	case code == 0 || code == 4:
		// Sealed: the kill came after the seal was complete. close
		// tidies what the kill may have left around it.
		if code, out := r.ceremony(t, work, "close", r.out, "--confirm"); !strings.Contains(out, "nothing to close") {
			t.Fatalf("close of a sealed ceremony: exit %d\n%s", code, out)
		}
		if _, err := os.Stat(filepath.Join(dir, "transcript.md")); err != nil {
			t.Errorf("sealed, and after close: %v", err)
		}
		noTempFiles(t, dir)
		return
	case code != 3:
		t.Fatalf("verify after the kill: exit %d\n%s", code, out)
	case strings.Contains(out, "killed while sealing, before its signature was made"):
		// Signed now, under the ceremony's own officers' shares.
		args := append([]string{"seal", r.out}, r.login(r.out, 1, 2, 3)...)
		if code, out := r.ceremony(t, work, args...); code != 0 {
			t.Fatalf("seal with a login: exit %d\n%s", code, out)
		}
		if code, out := r.ceremony(t, work, "transcript", "verify", transcriptPath); code != 4 {
			t.Fatalf("verify after seal: exit %d\n%s", code, out)
		}
		return
	case strings.Contains(out, "killed while sealing"):
		if code, out := r.ceremony(t, work, "seal", r.out); code != 0 {
			t.Fatalf("seal: exit %d\n%s", code, out)
		}
		if code, out := r.ceremony(t, work, "transcript", "verify", transcriptPath); code != 4 {
			t.Fatalf("verify after seal: exit %d\n%s", code, out)
		}
		return
	}
	if code, out := r.ceremony(t, work, "close", r.out); code != 0 && !strings.Contains(out, "there is nothing to close") {
		t.Fatalf("close (list): exit %d\n%s", code, out)
	}
	var shares []string
	for i := 1; i <= 3; i++ {
		s := filepath.Join(r.out, "shares", fmt.Sprintf("officer-%d.share", i))
		if _, err := os.Stat(filepath.Join(work, s)); err == nil {
			shares = append(shares, s)
		}
	}
	args := []string{"close", r.out, "--confirm"}
	if len(shares) == 3 {
		args = append(args, append([]string{"--config", r.config}, shares...)...)
	}
	code, out = r.ceremony(t, work, args...)
	if code != 0 && strings.Contains(out, "token not found") && r.softHSMLostToken() {
		// SoftHSM2 rewrites its token file in place: killed between the
		// truncation and the write, the token is gone, and its keys are
		// unreadable with it. close records them so.
		code, out = r.ceremony(t, work, "close", r.out, "--confirm", "--token-gone", "SoftHSM2 emptied token.object: a kill cut its rewrite", "--config", r.config)
		shares = nil
	}
	if code != 0 && !strings.Contains(out, "there is nothing to close") {
		t.Fatalf("close --confirm: exit %d\n%s", code, out)
	}
	if code, out := r.ceremony(t, work, "transcript", "verify", transcriptPath); code != 3 || strings.Contains(out, "not the ceremony's") {
		t.Fatalf("verify after close: exit %d\n%s", code, out)
	}
	if len(shares) == 3 {
		if _, inv := r.ceremony(t, work, append([]string{"token", "inspect", "--config", r.config}, shares...)...); keyObjectLine.MatchString(inv) {
			t.Errorf("after close the token still holds the ceremony's keys or certificates:\n%s", inv)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "artifacts"))
	for _, e := range entries {
		if e.Name() != "activation-record.json" {
			t.Errorf("after close artifacts/ still holds %s", e.Name())
		}
	}
	noTempFiles(t, dir)
	top, _ := os.ReadDir(dir)
	for _, e := range top {
		switch n := e.Name(); {
		case n == "transcript.jsonl", n == "transcript.md", n == "artifacts", n == "shares", strings.HasPrefix(n, "transcript.jsonl.torn-"):
		default:
			t.Errorf("after close the directory still holds %s", n)
		}
	}
}

// softHSMLostToken reports whether r's SoftHSM2 store holds a token whose
// own file (token.object) is empty: a kill cut SoftHSM2's in-place
// rewrite of it, and the module no longer knows the token.
func (r crashResult) softHSMLostToken() bool {
	for _, e := range r.env {
		if conf, ok := strings.CutPrefix(e, "SOFTHSM2_CONF="); ok {
			files, _ := filepath.Glob(filepath.Join(filepath.Dir(conf), "tokens", "*", "token.object"))
			for _, f := range files {
				if st, err := os.Stat(f); err == nil && st.Size() == 0 {
					return true
				}
			}
		}
	}
	return false
}

// noTempFiles fails t if a temporary file of a write cut short is left
// anywhere in the ceremony directory dir.
func noTempFiles(t *testing.T, dir string) {
	t.Helper()
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".tmp-") {
			t.Errorf("after close %s is left", p)
		}
		return nil
	})
}

// close itself is killed before and after each event it writes, on a root
// ceremony killed after its last artifact was written (two key pairs and
// five files left); a second close finishes the job: the token holds no
// key pair of the ceremony, artifacts/ only the activation record, and
// verify reports the ceremony closed.
func TestKillCloseAtEveryEvent(t *testing.T) {
	work := crashWork(t)
	lastArtifact := lastArtifactWritten(t, work)
	// A close of that ceremony writes ceremony-closing, 2 key-destroyed,
	// 4 artifact-withdrawn and one ceremony-closed event.
	for m := 1; m <= 8; m++ {
		for _, when := range []string{"before", "after"} {
			fault := fmt.Sprintf("%s:%d", when, lastArtifact+m)
			t.Run(strings.ReplaceAll(fault, ":", "-"), func(t *testing.T) {
				t.Parallel()
				r := crashRun(t, work, "c-"+strings.ReplaceAll(fault, ":", "-"), fmt.Sprintf("after:%d", lastArtifact))
				shares := r.login(r.out, 1, 2, 3)
				cmd := exec.Command("ceremony", append([]string{"close", r.out, "--confirm"}, shares...)...)
				cmd.Dir = work
				cmd.Env = append(r.env, transcript.FaultEnv+"="+fault)
				out, err := cmd.CombinedOutput()
				var exit *exec.ExitError
				if !errors.As(err, &exit) || exit.ExitCode() != -1 {
					t.Fatalf("close killed at %s: %v (not killed)\n%s", fault, err, out)
				}
				code, text := r.ceremony(t, work, append([]string{"close", r.out, "--confirm"}, shares...)...)
				if code != 0 && !strings.Contains(text, "there is nothing to close") {
					t.Fatalf("second close: exit %d\n%s", code, text)
				}
				code, text = r.ceremony(t, work, "transcript", "verify", filepath.Join(r.out, "transcript.jsonl"))
				if code != 3 || strings.Contains(text, "not the ceremony's") {
					t.Fatalf("verify after the second close: exit %d\n%s", code, text)
				}
				_, inv := r.ceremony(t, work, append([]string{"token", "inspect"}, shares...)...)
				if keyObjectLine.MatchString(inv) {
					t.Errorf("the token still holds the ceremony's keys:\n%s", inv)
				}
				entries, _ := os.ReadDir(filepath.Join(work, r.out, "artifacts"))
				for _, e := range entries {
					if e.Name() != "activation-record.json" {
						t.Errorf("artifacts/ still holds %s", e.Name())
					}
				}
			})
		}
	}
}

const signAnswers = `version: 1
script: sign-intermediate
attendance:
  administrator: [Ada Administrator]
  witness: [Wanda Witness]
  officer: [Olga Officer, Otto Officer, Oscar Officer]
steps:
  equipment-in: {inventory: {"HSM tamper-evident bag number (in)": TEB-100235, "Ceremony machine asset tag": LAPTOP-0042}}
  storage: {inventory: {"HSM tamper-evident bag number (out)": TEB-100236, "HSM stored in": Safe 2, "Officers' share cards stored in": Safe 1}}
  welcome: {confirmed_by: [Ada Administrator, Wanda Witness]}
  preflight: {network_override: {by: Ada Administrator, reason: crash test on a networked machine}}
  check-clock: {choice: matches}
  inspect-request: {confirmed_by: [Ada Administrator, Wanda Witness]}
  activate-hsm:
    shares:
      - {by: Olga Officer, file: ROOT/shares/officer-1.share}
      - {by: Otto Officer, file: ROOT/shares/officer-3.share}
      - {by: Oscar Officer, file: ROOT/shares/officer-5.share}
  sign-intermediate: {approved_by: [Olga Officer, Otto Officer, Oscar Officer]}
  closing: {confirmed_by: [Ada Administrator, Wanda Witness]}
`

// The sign-intermediate ceremony is killed before and after each of its
// events, on a root token of its own; after close (or seal), verify
// agrees, no certificate is left under artifacts/, and the same request
// is signed again by a ceremony that completes and verifies: the token's
// issuance register is left consistent at every kill point.
func TestKillSigningAtEveryEvent(t *testing.T) {
	work := crashWork(t)
	req := exec.Command("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "factory.key",
		"-subj", "/C=DE/O=Example Devices GmbH/CN=Example Devices Factory Berlin Issuing CA", "-out", "factory.csr.pem")
	req.Dir = work
	if out, err := req.CombinedOutput(); err != nil {
		t.Fatalf("openssl req: %v\n%s", err, out)
	}
	root := crashRun(t, work, "sign-baseline-root", "")
	base := signRun(t, work, root, "sign-baseline", "")
	if base.events < 10 {
		t.Fatalf("the baseline signing wrote %d events", base.events)
	}
	for n := 1; n <= base.events; n++ {
		for _, when := range []string{"before", "after"} {
			fault := fmt.Sprintf("%s:%d", when, n)
			t.Run(strings.ReplaceAll(fault, ":", "-"), func(t *testing.T) {
				t.Parallel()
				name := "s-" + strings.ReplaceAll(fault, ":", "-")
				root := crashRun(t, work, name+"-root", "")
				r := signRun(t, work, root, name, fault)
				endSigningKilled(t, work, root, r)
			})
		}
	}
}

// endSigningKilled ends a signing ceremony killed into r.out on root's
// token (close, or seal, with root's officers' shares) and checks that
// verify agrees, nothing is left under artifacts/, and the same request
// is signed again by a ceremony that verifies.
func endSigningKilled(t *testing.T, work string, root, r crashResult) {
	t.Helper()
	if root.softHSMLostToken() {
		// SoftHSM2's in-place rewrite of token.object was cut: the root
		// token itself is gone (docs/operator-guide.md says so), and
		// nothing can sign again.
		t.Logf("SoftHSM2 lost the root token")
		return
	}
	transcriptPath := filepath.Join(r.out, "transcript.jsonl")
	if _, err := os.Lstat(filepath.Join(work, transcriptPath)); err == nil {
		code, out := r.ceremony(t, work, "transcript", "verify", transcriptPath)
		shares := root.login(root.out, 1, 3, 5)
		switch {
		case code == 3 && strings.Contains(out, "killed while sealing, before its signature was made"):
			if code, out := r.ceremony(t, work, append([]string{"seal", r.out}, shares...)...); code != 0 {
				t.Fatalf("seal with a login: exit %d\n%s", code, out)
			}
		case code == 3 && strings.Contains(out, "killed while sealing"):
			if code, out := r.ceremony(t, work, "seal", r.out); code != 0 {
				t.Fatalf("seal: exit %d\n%s", code, out)
			}
		case code == 3:
			code, out := r.ceremony(t, work, append([]string{"close", r.out, "--confirm"}, shares...)...)
			if code != 0 && !strings.Contains(out, "there is nothing to close") {
				t.Fatalf("close --confirm: exit %d\n%s", code, out)
			}
			if code, out := r.ceremony(t, work, "transcript", "verify", transcriptPath); code != 3 {
				t.Fatalf("verify after close: exit %d\n%s", code, out)
			}
			entries, _ := os.ReadDir(filepath.Join(work, r.out, "artifacts"))
			if len(entries) != 0 {
				t.Errorf("artifacts/ still holds %d files after close", len(entries))
			}
		case code != 0 && code != 4:
			t.Fatalf("verify after the kill: exit %d\n%s", code, out)
		default:
			// Sealed: close tidies what the kill left around it.
			if code, out := r.ceremony(t, work, "close", r.out, "--confirm"); !strings.Contains(out, "nothing to close") {
				t.Fatalf("close of a sealed ceremony: exit %d\n%s", code, out)
			}
		}
		noTempFiles(t, filepath.Join(work, r.out))
	}
	again := signRun(t, work, root, r.out+"-again", "")
	if code, out := again.ceremony(t, work, "transcript", "verify", filepath.Join(again.out, "transcript.jsonl"),
		"--root", filepath.Join(root.out, "artifacts", "root-ca.crt.pem")); code != 0 {
		t.Fatalf("signing again after the kill: verify exit %d\n%s", code, out)
	}
}

// signRun runs sign-intermediate on root's token into WORK/name, killed
// at fault ("" for none).
func signRun(t *testing.T, work string, root crashResult, name, fault string) crashResult {
	t.Helper()
	answers := name + ".answers.yaml"
	if err := os.WriteFile(filepath.Join(work, answers), []byte(strings.ReplaceAll(signAnswers, "ROOT", root.out)), 0o644); err != nil {
		t.Fatal(err)
	}
	r := crashResult{out: name, config: root.config, env: root.env}
	return r.runKilled(t, work, fault, "scripts/sign-intermediate.yaml", "--answers", answers,
		"--input", "place=Crash lab", "--input", "root_certificate="+filepath.Join(root.out, "artifacts", "root-ca.crt.pem"),
		"--input", "csr=factory.csr.pem", "--input", "hsm_bag_in=TEB-100235")
}

const restoreAnswers = `version: 1
script: restore-backup
attendance:
  administrator: [Ada Administrator]
  witness: [Wanda Witness]
  officer: [Olga Officer, Omar Officer, Otto Officer, Oona Officer, Oscar Officer]
  custodian: [Carla Custodian, Cyril Custodian, Cosmo Custodian]
steps:
  equipment-in: {inventory: {"HSM tamper-evident bag number (in)": TEB-200001, "HSM serial number (on its label)": HSM-0816, "Ceremony machine asset tag": LAPTOP-0042}}
  storage: {inventory: {"HSM tamper-evident bag number (out)": TEB-200002, "HSM stored in": Safe 2, "Officers' share cards stored in": Safe 1, "Custodians' share cards stored in": deposit boxes}}
  welcome: {confirmed_by: [Ada Administrator, Wanda Witness]}
  preflight: {network_override: {by: Ada Administrator, reason: crash test on a networked machine}}
  check-clock: {choice: matches}
  inspect-hsm: {confirmed_by: [Ada Administrator, Wanda Witness]}
  rebuild-backup-key:
    shares:
      - {by: Carla Custodian, file: ROOT/shares/custodian-1.share}
      - {by: Cyril Custodian, file: ROOT/shares/custodian-3.share}
      - {by: Cosmo Custodian, file: ROOT/shares/custodian-5.share}
  compare-fingerprint: {confirmed_by: [Ada Administrator, Wanda Witness]}
  issue-audit-certificate: {approved_by: [Olga Officer, Omar Officer, Otto Officer, Oona Officer, Oscar Officer]}
  closing: {confirmed_by: [Ada Administrator, Wanda Witness]}
`

// The restore ceremony is killed before and after each of its events, each
// time into a fresh blank token; after close (or seal) verify agrees, the
// new token holds no key pair and artifacts/ only the activation record.
func TestKillRestoreAtEveryEvent(t *testing.T) {
	work := crashWork(t)
	root := crashRun(t, work, "restore-root", "")
	if err := os.WriteFile(filepath.Join(work, "restore.yaml"), []byte(strings.ReplaceAll(restoreAnswers, "ROOT", root.out)), 0o644); err != nil {
		t.Fatal(err)
	}
	base := restoreRun(t, work, root, "restore-baseline", "")
	for n := 1; n <= base.events; n++ {
		for _, when := range []string{"before", "after"} {
			fault := fmt.Sprintf("%s:%d", when, n)
			t.Run(strings.ReplaceAll(fault, ":", "-"), func(t *testing.T) {
				t.Parallel()
				r := restoreRun(t, work, root, "r-"+strings.ReplaceAll(fault, ":", "-"), fault)
				endKilled(t, work, r)
			})
		}
	}
}

// restoreRun restores root's backup into a blank token of a fresh
// SoftHSM2 installation, into WORK/name, killed at fault ("" for none).
func restoreRun(t *testing.T, work string, root crashResult, name, fault string) crashResult {
	t.Helper()
	return freshToken(t, work, name, "restored").runKilled(t, work, fault, "scripts/restore-backup.yaml",
		"--rehearsal", "--answers", "restore.yaml", "--input", "place=Crash lab",
		"--input", "backup="+filepath.Join(root.out, "artifacts", "root-ca.backup"),
		"--input", "root_certificate="+filepath.Join(root.out, "artifacts", "root-ca.crt.pem"))
}

// changingCalls are the system calls by which the program (or the PKCS#11
// module inside it) changes a file: the syscall-level kill points.
const changingCalls = "write,pwrite64,writev,fsync,fdatasync,ftruncate,link,linkat,rename,renameat,renameat2,unlink,unlinkat,mkdirat,fchmod"

// syscallPoints chooses which of the calls 1..total a syscall kill test
// tries. With CEREMONY_SYSCALL_STRIDE=S it tries every S-th (1: every
// call, as `make crash-sweep` does); otherwise k of them drawn at random,
// from the seed CEREMONY_SYSCALL_SEED or the clock, which the test logs:
// every run of `make test` tries other points, and a failure is
// reproduced with its seed.
func syscallPoints(t *testing.T, total, k int) []int {
	var points []int
	if v := os.Getenv("CEREMONY_SYSCALL_STRIDE"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("CEREMONY_SYSCALL_STRIDE=%q: give a whole number from 1", v)
		}
		for p := 1; p <= total; p += n {
			points = append(points, p)
		}
		return points
	}
	seed := time.Now().UnixNano()
	if v := os.Getenv("CEREMONY_SYSCALL_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseInt(v, 10, 64); err != nil {
			t.Fatalf("CEREMONY_SYSCALL_SEED=%q: give a whole number", v)
		}
	}
	t.Logf("syscall kill points drawn with CEREMONY_SYSCALL_SEED=%d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	for _, p := range rng.Perm(total)[:min(k, total)] {
		points = append(points, p+1)
	}
	slices.Sort(points)
	return points
}

// The root ceremony is killed (SIGKILL, by strace) on entering its N-th
// file-changing system call: between any two of them, whether the
// program's own (temporary files, links, syncs, the transcript) or the
// PKCS#11 module's (SoftHSM2 rewriting its object files). strace counts
// per thread, so a kill point is "the first thread to make its N-th such
// call". After each kill the ceremony ends as endKilled checks.
func TestKillAtSystemCalls(t *testing.T) {
	if _, err := exec.LookPath("strace"); err != nil {
		t.Fatal("strace is not installed (apt-get install strace)")
	}
	work := crashWork(t)
	root := func(r crashResult) []string {
		return []string{"run", "scripts/root-key-generation.yaml", "--config", r.config,
			"--rehearsal", "--answers", "quorum.yaml", "--input", "place=Crash lab", "--out", r.out}
	}
	r := freshToken(t, work, "syscall-count", "root")
	calls := r.traced(t, work, 0, root(r)...)
	if calls < 200 {
		t.Fatalf("the traced ceremony's busiest thread made %d file-changing calls", calls)
	}
	for _, n := range syscallPoints(t, calls, 24) {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			t.Parallel()
			r := freshToken(t, work, fmt.Sprintf("sys-%d", n), "root")
			r.traced(t, work, n, root(r)...)
			endKilled(t, work, r)
		})
	}
}

// close itself and the sign-intermediate ceremony, killed at their
// file-changing system calls as TestKillAtSystemCalls kills the root
// ceremony. A close (of a root ceremony killed after its last artifact)
// killed anywhere is finished by a second close; a signing ceremony
// killed anywhere is ended by close or seal, and the same request is
// signed again by a ceremony that verifies: the token's issuance register
// is never left inconsistent.
func TestKillCloseAndSigningAtSystemCalls(t *testing.T) {
	if _, err := exec.LookPath("strace"); err != nil {
		t.Fatal("strace is not installed (apt-get install strace)")
	}
	work := crashWork(t)
	killed := fmt.Sprintf("after:%d", lastArtifactWritten(t, work))
	closeArgs := func(r crashResult) []string {
		return append([]string{"close", r.out, "--confirm"}, r.login(r.out, 1, 2, 3)...)
	}
	r := crashRun(t, work, "close-count", killed)
	closeCalls := r.traced(t, work, 0, closeArgs(r)...)
	for _, n := range syscallPoints(t, closeCalls, 10) {
		t.Run(fmt.Sprintf("close-%d", n), func(t *testing.T) {
			t.Parallel()
			r := crashRun(t, work, fmt.Sprintf("close-%d", n), killed)
			r.traced(t, work, n, closeArgs(r)...)
			endKilled(t, work, r)
		})
	}

	req := exec.Command("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "factory.key",
		"-subj", "/C=DE/O=Example Devices GmbH/CN=Example Devices Factory Berlin Issuing CA", "-out", "factory.csr.pem")
	req.Dir = work
	if out, err := req.CombinedOutput(); err != nil {
		t.Fatalf("openssl req: %v\n%s", err, out)
	}
	signArgs := func(t *testing.T, root crashResult, name string) (crashResult, []string) {
		answers := name + ".answers.yaml"
		if err := os.WriteFile(filepath.Join(work, answers), []byte(strings.ReplaceAll(signAnswers, "ROOT", root.out)), 0o644); err != nil {
			t.Fatal(err)
		}
		return crashResult{out: name, config: root.config, env: root.env}, []string{"run", "scripts/sign-intermediate.yaml", "--config", root.config,
			"--answers", answers, "--input", "place=Crash lab", "--input", "root_certificate=" + filepath.Join(root.out, "artifacts", "root-ca.crt.pem"),
			"--input", "csr=factory.csr.pem", "--input", "hsm_bag_in=TEB-100235", "--out", name}
	}
	root := crashRun(t, work, "sign-count-root", "")
	s, args := signArgs(t, root, "sign-count")
	signCalls := s.traced(t, work, 0, args...)
	for _, n := range syscallPoints(t, signCalls, 12) {
		t.Run(fmt.Sprintf("sign-%d", n), func(t *testing.T) {
			t.Parallel()
			name := fmt.Sprintf("sign-%d", n)
			root := crashRun(t, work, name+"-root", "")
			s, args := signArgs(t, root, name)
			s.traced(t, work, n, args...)
			endSigningKilled(t, work, root, s)
		})
	}
}

// traced runs 'ceremony ARGS' with r's environment under strace, killed
// on entering the n-th file-changing system call of a thread (0: never,
// and it must succeed). It returns the most such calls one thread made.
func (r crashResult) traced(t *testing.T, work string, n int, ceremonyArgs ...string) int {
	t.Helper()
	trace := filepath.Join(t.TempDir(), "strace.log")
	args := []string{"-f", "-qq", "-o", trace, "-e", "trace=" + changingCalls}
	if n > 0 {
		args = append(args, "-e", fmt.Sprintf("inject=%s:signal=KILL:when=%d", changingCalls, n))
	}
	args = append(append(args, "ceremony"), ceremonyArgs...)
	cmd := exec.Command("strace", args...)
	cmd.Dir = work
	cmd.Env = r.env
	out, err := cmd.CombinedOutput()
	log, _ := os.ReadFile(trace)
	if n == 0 && err != nil {
		t.Fatalf("traced ceremony: %v\n%s", err, out)
	}
	if n > 0 && err == nil {
		return 0 // it finished before any thread made n such calls
	}
	var exit *exec.ExitError
	if n > 0 && (!errors.As(err, &exit) || exit.ExitCode() != -1) {
		t.Fatalf("killed at call %d: %v (not killed)\n%s", n, err, out)
	}
	if n > 0 {
		lines := strings.Split(strings.TrimSpace(string(log)), "\n")
		t.Logf("killed at: %s", lines[len(lines)-1])
	}
	per := map[string]int{}
	most := 0
	for _, line := range strings.Split(string(log), "\n") {
		tid, _, ok := strings.Cut(line, " ")
		if ok && !strings.Contains(line, "resumed>") && !strings.HasPrefix(strings.TrimSpace(line[len(tid):]), "---") {
			per[tid]++
			most = max(most, per[tid])
		}
	}
	return most
}

// Two live runs, forced to overlap: the first runs under strace with
// every flock(2) held for two seconds after it returns, so it holds the
// token's lock and then the directory's while the others start. A second
// root ceremony on the same blank token (another --out) and a third into
// the first's --out (on a token of its own) are refused with nothing
// changed; the first completes and verifies, and its token holds one
// root key pair.
func TestTwoLiveRunsOverlap(t *testing.T) {
	if _, err := exec.LookPath("strace"); err != nil {
		t.Fatal("strace is not installed (apt-get install strace)")
	}
	work := crashWork(t)
	first := freshToken(t, work, "first", "root")
	cmd := exec.Command("strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=flock", "-e", "inject=flock:delay_exit=2000000",
		"ceremony", "run", "scripts/root-key-generation.yaml", "--config", first.config,
		"--rehearsal", "--answers", "quorum.yaml", "--input", "place=Crash lab", "--out", first.out)
	cmd.Dir = work
	cmd.Env = first.env
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// The directory is made after the token's lock is taken, and locked
	// at once: from its appearance the first run holds both.
	for {
		if _, err := os.Stat(filepath.Join(work, first.out)); err == nil {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("the first run ended before making its directory: %v\n%s", err, out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}

	sameToken := first
	sameToken.out = "second"
	code, text := sameToken.runRefused(t, work)
	if code == 0 || !strings.Contains(text, "in use by another ceremony on this machine") {
		t.Errorf("a second run on the token: exit %d, want it refused as in use\n%s", code, text)
	}
	if _, err := os.Lstat(filepath.Join(work, "second")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the refused run left its directory: %v", err)
	}

	sameDir := freshToken(t, work, "third", "root")
	sameDir.out = first.out
	code, text = sameDir.runRefused(t, work)
	if code == 0 || !strings.Contains(text, "output directory first") && !strings.Contains(text, "ceremony directory first") {
		t.Errorf("a run into the first's directory: exit %d, want it refused\n%s", code, text)
	}
	if _, text := sameDir.ceremony(t, work, "token", "inspect", "--config", sameDir.config); !strings.Contains(text, "no initialised tokens") {
		t.Errorf("the token of the run refused for the directory is no longer blank:\n%s", text)
	}

	if err := <-done; err != nil {
		t.Fatalf("the first run: %v\n%s", err, out.String())
	}
	if code, text := first.ceremony(t, work, "transcript", "verify", filepath.Join(first.out, "transcript.jsonl")); code != 4 && code != 0 {
		t.Fatalf("the first run's transcript: verify exit %d\n%s", code, text)
	}
	_, inv := first.ceremony(t, work, append([]string{"token", "inspect"}, first.login(first.out, 1, 2, 3)...)...)
	if n := len(regexp.MustCompile(`(?m)^private-key `).FindAllString(inv, -1)); n != 2 {
		t.Errorf("the first run's token holds %d private keys, want the root's and the audit key's:\n%s", n, inv)
	}
}

// runRefused runs the root ceremony into r.out and returns its exit status
// and output (it is expected to be refused).
func (r crashResult) runRefused(t *testing.T, work string) (int, string) {
	t.Helper()
	return r.ceremony(t, work, "run", "scripts/root-key-generation.yaml", "--config", r.config,
		"--rehearsal", "--answers", "quorum.yaml", "--input", "place=Crash lab", "--out", r.out)
}

// A transcript killed after its transcript-sealing event is signed by
// 'ceremony seal' only as it stood when its seal began: the token's
// sealing record names the chain head. A forger who rewrites the unsealed
// transcript (an artifact added, the chain rebuilt) gets nothing signed;
// the genuine transcript is then sealed and verifies.
func TestResealRefusesAForgedTranscript(t *testing.T) {
	work := crashWork(t)
	r := crashRun(t, work, "forged", "after:transcript-sealing@1")
	path := filepath.Join(work, r.out, "transcript.jsonl")
	genuine, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := transcript.Check(genuine)
	if err != nil {
		t.Fatal(err)
	}
	// A forged artifact, recorded just before the seal began, and the
	// chain rebuilt as anyone with sha256sum could.
	evil := []byte("not the ceremony's\n")
	if err := os.WriteFile(filepath.Join(work, r.out, "artifacts", "evil.txt"), evil, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(evil)
	evs := slices.Clone(c.Events)
	last := evs[len(evs)-1]
	forged := transcript.Event{Time: last.Time, Type: transcript.TypeArtifactWritten, Step: last.Step, Text: "Wrote artifacts/evil.txt",
		Data: json.RawMessage(fmt.Sprintf(`{"content":"text","path":"artifacts/evil.txt","sha256":"%x","size":%d,"source":"seal"}`, sum, len(evil)))}
	evs = append(evs[:len(evs)-1], forged, last)
	var out bytes.Buffer
	prev := strings.Repeat("0", 64)
	for i, ev := range evs {
		ev.Seq, ev.Prev = i+1, prev
		var line bytes.Buffer
		enc := json.NewEncoder(&line)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(ev); err != nil {
			t.Fatal(err)
		}
		l := bytes.TrimSuffix(line.Bytes(), []byte("\n"))
		out.Write(l)
		out.WriteByte('\n')
		prev = fmt.Sprintf("%x", sha256.Sum256(l))
	}
	if _, err := transcript.Check(out.Bytes()); err != nil {
		t.Fatalf("the forgery is not well chained: %v", err)
	}
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"seal", r.out}, r.login(r.out, 1, 2, 3)...)
	code, text := r.ceremony(t, work, args...)
	if code == 0 || !strings.Contains(text, "it is not the transcript whose seal was begun; nothing was changed") {
		t.Fatalf("seal of the forged transcript: exit %d\n%s", code, text)
	}
	if _, err := os.Stat(filepath.Join(work, r.out, "transcript.sig")); err == nil {
		t.Fatal("the forged transcript was signed")
	}
	// The genuine transcript is sealed.
	if err := os.WriteFile(path, genuine, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(work, r.out, "artifacts", "evil.txt")); err != nil {
		t.Fatal(err)
	}
	if code, text := r.ceremony(t, work, args...); code != 0 {
		t.Fatalf("seal of the genuine transcript: exit %d\n%s", code, text)
	}
	if code, text := r.ceremony(t, work, "transcript", "verify", filepath.Join(r.out, "transcript.jsonl"),
		"--root", filepath.Join(r.out, "artifacts", "root-ca.crt.pem")); code != 0 {
		t.Fatalf("verify after the seal: exit %d\n%s", code, text)
	}
}
