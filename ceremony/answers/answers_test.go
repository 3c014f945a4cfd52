package answers

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"

	"github.com/devicepki/ceremony/ceremony/engine"
	"github.com/devicepki/ceremony/ceremony/pki"
)

const good = `version: 1
script: root-key-generation
attendance:
  administrator: [Ada]
  witness: [Wanda, Walter]
steps:
  welcome: {confirmed_by: [Ada, Wanda, Walter]}
  check-clock: {choice: matches, by: Wanda}
  inspect-hsm: {confirmed_by: [Ada, Wanda, Walter]}
  activate-hsm: {pin: {file: user.pin}}
  read-fingerprint: {confirmed_by: [Ada, Wanda, Walter]}
  issue-root-certificate: {approved_by: [Wanda, Walter]}
  issue-audit-certificate: {approved_by: [Wanda, Walter]}
  closing: {confirmed_by: [Ada, Wanda, Walter]}
`

func load(t *testing.T, body string) (*Face, error) {
	t.Helper()
	s, err := engine.LoadScript("testdata/pin-login.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "answers.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "user.pin"), []byte("8e1f22c0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return Load(path, s, nil, false)
}

func TestGoodAnswers(t *testing.T) {
	f, err := load(t, good)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	att, err := f.Attendance(ctx, engine.AttendanceRequest{})
	if err != nil || len(att["witness"]) != 2 || att["administrator"][0] != "Ada" {
		t.Fatalf("attendance %v %v", att, err)
	}
	step := engine.StepInfo{ID: "welcome"}
	if err := f.Confirm(ctx, engine.ConfirmRequest{Step: step, Participant: engine.Participant{Role: "witness", Name: "Walter"}}); err != nil {
		t.Fatal(err)
	}
	err = f.Confirm(ctx, engine.ConfirmRequest{Step: step, Participant: engine.Participant{Role: "witness", Name: "Mallory"}})
	if err == nil || !strings.Contains(err.Error(), `step "welcome": no confirmation from witness "Mallory"`) {
		t.Fatalf("err = %v", err)
	}
	c, err := f.Choose(ctx, engine.ChoiceRequest{Step: engine.StepInfo{ID: "check-clock"}})
	if err != nil || c.Value != "matches" || c.By.Name != "Wanda" {
		t.Fatalf("choice %+v %v", c, err)
	}
	ans, err := f.Secret(ctx, engine.SecretRequest{Step: engine.StepInfo{ID: "activate-hsm"}, Attempt: 1})
	if err != nil || string(ans.Secret.Bytes()) != "8e1f22c0" {
		t.Fatalf("secret: %v (trailing newline must be trimmed)", err)
	}
	if _, err := f.Secret(ctx, engine.SecretRequest{Step: engine.StepInfo{ID: "activate-hsm"}, Attempt: 2}); !errors.Is(err, engine.ErrNoRetry) {
		t.Fatalf("second attempt: %v", err)
	}
	if _, err := f.Override(ctx, engine.OverrideRequest{Step: engine.StepInfo{ID: "preflight"}, Check: "network", Problem: "eth0 up"}); err == nil ||
		!strings.Contains(err.Error(), `step "preflight": eth0 up, and the answers file gives no network_override`) {
		t.Fatalf("override without an answer: %v", err)
	}
	if exs, err := f.Exceptions(ctx, step); err != nil || len(exs) != 0 {
		t.Fatalf("exceptions %v %v", exs, err)
	}
	if _, err := f.Secret(ctx, engine.SecretRequest{Step: engine.StepInfo{ID: "nope", Title: "Nope"}, Attempt: 1}); err == nil ||
		!strings.Contains(err.Error(), `no answer for step "nope" (Nope)`) {
		t.Fatalf("missing step: %v", err)
	}
}

func TestOverrideAndExceptions(t *testing.T) {
	f, err := load(t, strings.Replace(good, "  closing:", `  preflight: {network_override: {by: Ada, reason: Rehearsal in the lab}}
  generate-root-key:
    exceptions:
      - {by: Walter, expected: seconds, happened: two minutes, done: waited}
  closing:`, 1))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	o, err := f.Override(ctx, engine.OverrideRequest{Step: engine.StepInfo{ID: "preflight"}, Check: "network"})
	if err != nil || o.By.Name != "Ada" || o.Reason != "Rehearsal in the lab" {
		t.Fatalf("override %+v %v", o, err)
	}
	exs, err := f.Exceptions(ctx, engine.StepInfo{ID: "generate-root-key"})
	if err != nil || len(exs) != 1 || exs[0].By.Name != "Walter" || exs[0].Happened != "two minutes" || exs[0].Action != "waited" {
		t.Fatalf("exceptions %+v %v", exs, err)
	}
}

func TestAnswersRejected(t *testing.T) {
	for _, tc := range []struct{ name, old, new, want string }{
		{"unknown field", "version: 1\n", "version: 1\nmode: fast\n", `answers.yaml:2:1: unknown field "mode"`},
		{"wrong script", "script: root-key-generation", "script: sign-intermediate", `this answers file is for script "sign-intermediate", not "root-key-generation"`},
		{"unknown role", "  witness: [Wanda, Walter]", "  witness: [Wanda, Walter]\n  auditor: [Ann]", `attendance: attendance names role "auditor", which the script does not declare`},
		{"one person two roles", "  administrator: [Ada]", "  administrator: [Wanda]", `"Wanda" (witness) and "Wanda" (administrator) are the same person`},
		{"unknown step", "  closing:", "  lunch: {confirmed_by: [Ada]}\n  closing:", `steps.lunch: script root-key-generation has no step "lunch"`},
		{"missing confirmation", "  read-fingerprint: {confirmed_by: [Ada, Wanda, Walter]}", "  read-fingerprint: {confirmed_by: [Ada, Wanda]}", `step "read-fingerprint": no confirmation from witness "Walter"`},
		{"missing step answer", "  read-fingerprint: {confirmed_by: [Ada, Wanda, Walter]}\n", "", `step "read-fingerprint" needs confirmed_by`},
		{"confirmation by stranger", "  closing: {confirmed_by: [Ada, Wanda, Walter]}", "  closing: {confirmed_by: [Ada, Wanda, Walter, Mallory]}", `"Mallory" is not present in a role that confirms step "closing"`},
		{"bad choice", "choice: matches", "choice: maybe", `"maybe" is not an option of step "check-clock" (one of: matches, differs)`},
		{"missing choice", "  check-clock: {choice: matches, by: Wanda}\n", "", `step "check-clock" needs a choice`},
		{"ambiguous chooser", "{choice: matches, by: Wanda}", "{choice: matches}", "2 people attend as witness: say which one acts"},
		{"chooser of the wrong role", "by: Wanda}", "by: Ada}", `steps.check-clock.by: "Ada" is not present as witness`},
		{"missing pin", "  activate-hsm: {pin: {file: user.pin}}\n", "", `step "activate-hsm" needs a pin`},
		{"two pin sources", "{pin: {file: user.pin}}", "{pin: {file: user.pin, env: PIN}}", "steps.activate-hsm.pin: give exactly one of file or env"},
		{"pin value in the file", "{pin: {file: user.pin}}", "{pin: {value: '8e1f22c0'}}", `unknown field "value"`},
		{"two administrators", "  administrator: [Ada]", "  administrator: [Ada, Alan]", "attendance: role administrator allows at most 1 present, 2 recorded"},
		{"no witness", "  witness: [Wanda, Walter]", "  witness: []", "role witness needs at least 1 present, 0 recorded"},
		{"same person in another case", "  witness: [Wanda, Walter]", "  witness: [Wanda, ada]", `"ada" (witness) and "Ada" (administrator) are the same person`},
		{"same person, full-width letters", "  witness: [Wanda, Walter]", "  witness: [Wanda, Ａｄａ]", "are the same person"},
		{"Cyrillic look-alike", "  witness: [Wanda, Walter]", "  witness: [Wanda, \u0410da]", "mixes letters of the Cyrillic and Latin scripts"},
		{"trailing space", "  witness: [Wanda, Walter]", "  witness: [Wanda, 'Walter ']", `name "Walter " has leading, trailing or doubled spaces`},
		{"pin on a confirm step", "  closing: {confirmed_by: [Ada, Wanda, Walter]}", "  closing: {confirmed_by: [Ada, Wanda, Walter], pin: {env: X}}", `steps.closing.pin: step "closing" is a confirm step and asks nothing of this kind`},
		{"answer for a machine step", "  closing:", "  preflight: {choice: matches}\n  closing:", `steps.preflight.choice: step "preflight" is a preflight step`},
		{"override without reason", "  closing:", "  preflight: {network_override: {by: Ada}}\n  closing:", "steps.preflight.network_override.reason: required"},
		{"override by a witness", "  closing:", "  preflight: {network_override: {by: Wanda, reason: lab}}\n  closing:", `steps.preflight.network_override.by: "Wanda" is not present as administrator`},
		{"override on another step", "  closing: {confirmed_by: [Ada, Wanda, Walter]}", "  closing: {confirmed_by: [Ada, Wanda, Walter], network_override: {by: Ada, reason: lab}}", `steps.closing.network_override: step "closing" is a confirm step`},
		{"exception by a stranger", "  closing: {confirmed_by: [Ada, Wanda, Walter]}", "  closing: {confirmed_by: [Ada, Wanda, Walter], exceptions: [{by: Mallory, expected: a, happened: b, done: c}]}", `steps.closing.exceptions[0].by: "Mallory" is not present`},
		{"exception after the seal", "  closing:", "  carry-out: {exceptions: [{by: Wanda, expected: a, happened: b, done: c}]}\n  closing:", `steps.carry-out.exceptions[0]: step "carry-out" comes after the seal: nothing can be recorded after it`},
		{"exception without what was done", "  closing: {confirmed_by: [Ada, Wanda, Walter]}", "  closing: {confirmed_by: [Ada, Wanda, Walter], exceptions: [{by: Ada, expected: a, happened: b}]}", "steps.closing.exceptions[0].done: required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(good, tc.old) {
				t.Fatalf("case does not apply: %q", tc.old)
			}
			_, err := load(t, strings.Replace(good, tc.old, tc.new, 1))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error = %q\nwant one line with %q", err, tc.want)
			}
		})
	}
}

func TestSecretSources(t *testing.T) {
	t.Setenv("CEREMONY_TEST_PIN", "from-env")
	f, err := load(t, strings.Replace(good, "{file: user.pin}", "{env: CEREMONY_TEST_PIN}", 1))
	if err != nil {
		t.Fatal(err)
	}
	ans, err := f.Secret(context.Background(), engine.SecretRequest{Step: engine.StepInfo{ID: "activate-hsm"}, Attempt: 1})
	if err != nil || string(ans.Secret.Bytes()) != "from-env" {
		t.Fatalf("env secret: %v", err)
	}
	f, err = load(t, strings.Replace(good, "{file: user.pin}", "{env: CEREMONY_TEST_UNSET}", 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Secret(context.Background(), engine.SecretRequest{Step: engine.StepInfo{ID: "activate-hsm"}, Attempt: 1}); err == nil ||
		!strings.Contains(err.Error(), "answers.yaml:10: steps.activate-hsm.pin.env: the environment variable named here is not set") {
		t.Fatalf("unset env: %v", err)
	}
	f, err = load(t, strings.Replace(good, "{file: user.pin}", "{file: missing.pin}", 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Secret(context.Background(), engine.SecretRequest{Step: engine.StepInfo{ID: "activate-hsm"}, Attempt: 1}); err == nil ||
		!strings.Contains(err.Error(), "cannot read the secret file named here: no such file or directory") {
		t.Fatalf("missing file: %v", err)
	}
}

// A PIN typed where a file or variable name belongs is never echoed back,
// and a PIN file must be a small regular file.
func TestPINSourceErrorsDoNotEcho(t *testing.T) {
	const pin = "90210355"
	for _, src := range []string{"{env: '" + pin + "'}", "{file: '" + pin + "'}", "{env: " + pin + "}"} {
		f, err := load(t, strings.Replace(good, "{file: user.pin}", src, 1))
		if err != nil {
			if strings.Contains(err.Error(), pin) {
				t.Fatalf("load error echoes the PIN: %v", err)
			}
			continue
		}
		_, err = f.Secret(context.Background(), engine.SecretRequest{Step: engine.StepInfo{ID: "activate-hsm"}, Attempt: 1})
		if err == nil || strings.Contains(err.Error(), pin) {
			t.Fatalf("%s: err = %v", src, err)
		}
	}
	for file, want := range map[string]string{"/dev/zero": "is not a regular file", "/": "is not a regular file"} {
		f, err := load(t, strings.Replace(good, "{file: user.pin}", "{file: "+file+"}", 1))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Secret(context.Background(), engine.SecretRequest{Step: engine.StepInfo{ID: "activate-hsm"}, Attempt: 1}); err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: err = %v", file, err)
		}
	}
	big := filepath.Join(t.TempDir(), "big.pin")
	os.WriteFile(big, make([]byte, 4096), 0o600)
	f, err := load(t, strings.Replace(good, "{file: user.pin}", "{file: "+big+"}", 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Secret(context.Background(), engine.SecretRequest{Step: engine.StepInfo{ID: "activate-hsm"}, Attempt: 1}); err == nil || !strings.Contains(err.Error(), "larger than 1024 bytes") {
		t.Fatalf("big PIN file: %v", err)
	}
}

func TestReportWritesProgress(t *testing.T) {
	f, err := load(t, good)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	f.out = &buf
	step := engine.StepInfo{Index: 6, Total: 12, Title: "Generate the root key"}
	f.Report(engine.Report{Kind: engine.StepStarted, Step: step, Text: step.Title})
	f.Report(engine.Report{Kind: engine.OperationStarted, Step: step, Text: "Generating"})
	if got := buf.String(); got != "[ 7/12] Generate the root key\n        Generating ...\n" {
		t.Fatalf("progress %q", got)
	}
}

// TestUntrustedTextOnOneLine: what the engine hands the face from CSRs,
// certificates, scripts and inputs cannot move the cursor, clear the
// screen or add a line that looks like the program's own (the text writer
// cli.Main puts on stdout keeps newlines, so the face itself folds them).
func TestUntrustedTextOnOneLine(t *testing.T) {
	f, err := load(t, good)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	f.out = &buf
	hostile := "CN=x\x1b[2J\n        Approved by Mallory (witness), as the answers file says\u202e"
	step := engine.StepInfo{ID: "issue-root-certificate", Index: 5, Total: 8, Title: "Issue\x07 the root"}
	f.Report(engine.Report{Kind: engine.StepStarted, Step: step, Text: step.Title + "\x1b]0;t\x07"})
	f.Report(engine.Report{Kind: engine.Notice, Step: step, Text: hostile})
	f.Report(engine.Report{Kind: engine.OperationStarted, Step: step, Text: hostile})
	f.Report(engine.Report{Kind: engine.StepDone, Step: step, Text: hostile})
	err = f.Approve(context.Background(), engine.ApprovalRequest{Step: step, What: "root\ncertificate",
		Participant: engine.Participant{Role: "witness", Name: "Wanda"},
		Fields:      []pki.Field{{Label: "Sub\x1bject", Value: hostile}}, TBSSHA256: "ab", Words: "w"})
	if err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if i := strings.IndexFunc(out, func(r rune) bool { return r != '\n' && !unicode.IsPrint(r) }); i >= 0 {
		t.Fatalf("raw control or invisible character %q in %q", out[i:i+1], out)
	}
	if strings.Contains(out, "\n        Approved by Mallory") {
		t.Fatalf("a forged line stands on its own:\n%s", out)
	}
	// Eight lines: start, notice, operation, done, the approval heading,
	// one field, the words, and the approval.
	if n := strings.Count(out, "\n"); n != 8 {
		t.Fatalf("%d lines, want 8:\n%s", n, out)
	}
}
