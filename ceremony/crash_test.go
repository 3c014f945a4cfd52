package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

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
		// Killed before the first event: nothing was made.
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Fatalf("no transcript, but %s holds %d entries", r.out, len(entries))
		}
		return
	}
	code, out := r.ceremony(t, work, "transcript", "verify", transcriptPath)
	switch {
	case code == 0 || code == 4:
		return // sealed: the kill came after the seal was complete
	case code != 3:
		t.Fatalf("verify after the kill: exit %d\n%s", code, out)
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
	if code, out := r.ceremony(t, work, args...); code != 0 && !strings.Contains(out, "there is nothing to close") {
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
	top, _ := os.ReadDir(dir)
	for _, e := range top {
		switch n := e.Name(); {
		case n == "transcript.jsonl", n == "transcript.md", n == "artifacts", n == "shares", strings.HasPrefix(n, "transcript.jsonl.torn-"):
		default:
			t.Errorf("after close the directory still holds %s", n)
		}
	}
}

// close itself is killed before and after each event it writes, on a root
// ceremony killed after its last artifact was written (two key pairs and
// five files left); a second close finishes the job: the token holds no
// key pair of the ceremony, artifacts/ only the activation record, and
// verify reports the ceremony closed.
func TestKillCloseAtEveryEvent(t *testing.T) {
	work := crashWork(t)
	base := crashRun(t, work, "baseline", "")
	c, err := transcript.ReadFile(filepath.Join(work, base.out, "transcript.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lastArtifact := 0
	for _, ev := range c.Events {
		if ev.Is(transcript.TypeArtifactWritten) {
			lastArtifact = ev.Seq
		}
	}
	// A close of that ceremony writes 2 key-destroyed, 4 artifact-withdrawn
	// and one ceremony-closed event.
	for m := 1; m <= 7; m++ {
		for _, when := range []string{"before", "after"} {
			fault := fmt.Sprintf("%s:%d", when, lastArtifact+m)
			t.Run(strings.ReplaceAll(fault, ":", "-"), func(t *testing.T) {
				t.Parallel()
				r := crashRun(t, work, "c-"+strings.ReplaceAll(fault, ":", "-"), fmt.Sprintf("after:%d", lastArtifact))
				shares := []string{"--config", r.config}
				for i := 1; i <= 3; i++ {
					shares = append(shares, filepath.Join(r.out, "shares", fmt.Sprintf("officer-%d.share", i)))
				}
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
				transcriptPath := filepath.Join(r.out, "transcript.jsonl")
				if _, err := os.Lstat(filepath.Join(work, transcriptPath)); err == nil {
					code, out := r.ceremony(t, work, "transcript", "verify", transcriptPath)
					switch {
					case code == 3 && strings.Contains(out, "killed while sealing"):
						if code, out := r.ceremony(t, work, "seal", r.out); code != 0 {
							t.Fatalf("seal: exit %d\n%s", code, out)
						}
					case code == 3:
						shares := []string{"--config", root.config}
						for _, i := range []int{1, 3, 5} {
							shares = append(shares, filepath.Join(root.out, "shares", fmt.Sprintf("officer-%d.share", i)))
						}
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
					}
				}
				again := signRun(t, work, root, name+"-again", "")
				if code, out := again.ceremony(t, work, "transcript", "verify", filepath.Join(again.out, "transcript.jsonl"),
					"--root", filepath.Join(root.out, "artifacts", "root-ca.crt.pem")); code != 0 {
					t.Fatalf("signing again after the kill: verify exit %d\n%s", code, out)
				}
			})
		}
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
		"--input", "csr=factory.csr.pem")
}

const restoreAnswers = `version: 1
script: restore-backup
attendance:
  administrator: [Ada Administrator]
  witness: [Wanda Witness]
  officer: [Olga Officer, Omar Officer, Otto Officer, Oona Officer, Oscar Officer]
  custodian: [Carla Custodian, Cyril Custodian, Cosmo Custodian]
steps:
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
