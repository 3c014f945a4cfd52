package tui

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/teatest"

	"github.com/devicepki/ceremony/ceremony/bundle"
	"github.com/devicepki/ceremony/ceremony/engine"
	"github.com/devicepki/ceremony/ceremony/outdir"
	"github.com/devicepki/ceremony/ceremony/pki"
	"github.com/devicepki/ceremony/ceremony/qrframe"
	"github.com/devicepki/ceremony/ceremony/qrimage"
	"github.com/devicepki/ceremony/ceremony/qrshow"
	"github.com/devicepki/ceremony/ceremony/qrtransfer"
	"github.com/devicepki/ceremony/ceremony/shares"
	"github.com/devicepki/ceremony/ceremony/transcript"
	"github.com/devicepki/ceremony/ceremony/words"
)

// Golden tests of every screen's View() at 80×24. Update the golden files
// with: go test ./ceremony/tui -run TestScreen -update

// startEnv makes a directory with a copy of the scripts and changes to it,
// so that the start screens show the same relative paths in every run.
func startEnv(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	paths, err := filepath.Glob(filepath.Join(scriptsDir, "*.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no scripts in %s: %v", scriptsDir, err)
	}
	if err := os.Mkdir(filepath.Join(dir, "scripts"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "scripts", filepath.Base(p)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(dir)
}

func startModelOpts(o *Options) {
	o.ScriptsDir, o.TranscriptsDir = "scripts", "transcripts"
}

// waitView waits until the program's output shows marker.
func waitView(t *testing.T, tm *teatest.TestModel, marker string) {
	t.Helper()
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte(marker)) },
		teatest.WithDuration(5*time.Second), teatest.WithCheckInterval(10*time.Millisecond))
}

// finalModel quits the program and returns its model.
func finalModel(t *testing.T, tm *teatest.TestModel) *Model {
	t.Helper()
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	return tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(*Model)
}

// ----- the start screens

// The list of scripts, run in a bubbletea program: moving down to the root
// key generation shows its description, roles and quorums.
func TestScreenStartPick(t *testing.T) {
	startEnv(t)
	m := newModel(t, startModelOpts)
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(80, 24))
	waitView(t, tm, "Choose the ceremony to run")
	for range 3 {
		tm.Send(keyDown)
	}
	waitView(t, tm, "Initialises the HSM token")
	fm := finalModel(t, tm)
	if got := fm.start.choices[fm.start.list.cur].script.Name; got != "root-key-generation" {
		t.Fatalf("the cursor is on %s", got)
	}
	requireGolden(t, fm.View())
}

// Enter on a script opens its settings, with the default output directory
// (in the transcripts directory, named after the script and the time) and
// the inputs' defaults.
func TestScreenStartSettings(t *testing.T) {
	startEnv(t)
	m := newModel(t, startModelOpts)
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(80, 24))
	waitView(t, tm, "Choose the ceremony to run")
	tm.Send(keyDown)
	tm.Send(keyDown)
	tm.Send(keyDown)
	tm.Send(keyEnter)
	waitView(t, tm, "Start the ceremony")
	fm := finalModel(t, tm)
	if fm.start.phase != phaseSettings || fm.start.chosen.script.Name != "root-key-generation" {
		t.Fatalf("phase %v, script %v", fm.start.phase, fm.start.chosen.path)
	}
	requireGolden(t, fm.View())
}

// The settings form: typing edits the focused field, space toggles the
// rehearsal, and starting without an HSM config names the problem and goes
// back to the field.
func TestStartSettingsEdit(t *testing.T) {
	startEnv(t)
	m := newModel(t, startModelOpts)
	resize(m, 80, 24)
	press(m, keyDown, keyDown, keyDown, keyEnter)
	s := m.start
	if s.phase != phaseSettings {
		t.Fatalf("phase %v", s.phase)
	}
	press(m, keyDown, keyDown, keySpace) // rehearsal
	if !s.rehearsal {
		t.Error("space did not toggle the rehearsal")
	}
	press(m, keyDown) // place
	typeText(m, "Room 4.12")
	if got := s.inputs[0].input.String(); got != "Room 4.12" {
		t.Errorf("place = %q", got)
	}
	for range len(s.form()) {
		press(m, keyTab)
	}
	if s.focus != len(s.form()) {
		t.Fatalf("focus %d, want the start button %d", s.focus, len(s.form()))
	}
	press(m, keyEnter)
	if s.focus != 0 || !strings.Contains(s.problem, "HSM config") {
		t.Errorf("starting without a config: focus %d, problem %q", s.focus, s.problem)
	}
	if v := m.View(); !strings.Contains(text(v), "! HSM config: name the YAML file") || !strings.Contains(text(v), "Rehearsal yes") {
		t.Errorf("the view does not show the problem and the rehearsal:\n%s", v)
	}
	press(m, keyEsc)
	if s.phase != phasePick {
		t.Errorf("Esc: phase %v, want the list", s.phase)
	}
}

// An interrupted ceremony (an unsealed transcript) is listed after the
// scripts; choosing it shows what it did, the keys it left, and that it
// runs again from the start.
func TestScreenStartInterrupted(t *testing.T) {
	startEnv(t)
	sc, err := engine.LoadScript(filepath.Join("scripts", "root-key-generation.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	writeTranscript(t, filepath.Join("transcripts", "root-key-generation-20250313T141500Z"), sc, false,
		transcript.Entry{Type: "token-initialized", Step: "initialise-hsm", Text: "The token was initialised"},
		transcript.Entry{Type: "key-generated", Step: "generate-root-key", Text: "Generated root-ca", Data: map[string]string{"label": "root-ca", "id": "01", "public_key_sha256": "3b8f0c6e91d2a47b5e08c3f1d96a27e4b0c58d13f7a29e6c4d81b0f35a7e2c96"}},
		transcript.Entry{Type: "ceremony-aborted", Step: "issue-root-certificate", Text: "Ceremony was aborted at step issue-root-certificate: ceremony aborted by the participants"})
	m := newModel(t, startModelOpts)
	resize(m, 80, 24)
	if n := len(m.start.choices); n < 2 || m.start.choices[n-1].resume == nil {
		t.Fatalf("the interrupted ceremony is not listed last: %d choices", n)
	}
	press(m, tea.KeyMsg{Type: tea.KeyEnd})
	t.Run("list", func(t *testing.T) { requireGolden(t, m.View()) })
	press(m, keyEnter)
	if m.start.phase != phaseResume {
		t.Fatalf("phase %v, want the interrupted ceremony", m.start.phase)
	}
	t.Run("resume", func(t *testing.T) { requireGolden(t, m.View()) })
	press(m, keyEnter)
	if m.start.phase != phaseSettings || m.start.chosen.resume == nil {
		t.Fatalf("Enter: phase %v", m.start.phase)
	}
	if got := m.start.inputs[0].input.String(); got != ceremonyInputs["place"] {
		t.Errorf("the place is %q, not the interrupted ceremony's", got)
	}
}

// ----- the ceremony screen: the engine's prompts

// The attendance, run in a bubbletea program: the administrator and a
// witness are recorded, then the administrator's name is typed again as a
// witness, which is refused.
func TestScreenAttendance(t *testing.T) {
	m := newModel(t)
	info := onStep(t, m, "root-key-generation", "attendance")
	m.cer.present = nil
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(80, 24))
	ch := make(chan reply, 1)
	sc := loadScript(t, "root-key-generation")
	tm.Send(askMsg{id: 1, req: engine.AttendanceRequest{Step: info, Roles: sc.Roles}, reply: ch})
	waitView(t, tm, "Who is present?")
	tm.Type("Alice Admin")
	tm.Send(keyEnter)
	tm.Send(keyEnter) // next role
	tm.Type("Walter Witness")
	tm.Send(keyEnter)
	tm.Type("alice  admin")
	tm.Send(keyEnter)
	waitView(t, tm, "already recorded")
	fm := finalModel(t, tm)
	noReply(t, ch)
	p := fm.cer.prompt.(*attendancePrompt)
	if want := "Alice Admin is already recorded as administrator"; p.problem != want {
		t.Errorf("problem %q, want %q", p.problem, want)
	}
	requireGolden(t, fm.View())
}

func TestScreenConfirm(t *testing.T) {
	m := newModel(t)
	info := onStep(t, m, "root-key-generation", "welcome")
	a := &asker{m: m}
	a.ask(engine.ConfirmRequest{Step: info, Participant: witness})
	requireGolden(t, m.View())
}

func TestScreenChoose(t *testing.T) {
	m := newModel(t)
	info := onStep(t, m, "root-key-generation", "check-clock")
	sc := loadScript(t, "root-key-generation")
	a := &asker{m: m}
	a.ask(engine.ChoiceRequest{Step: info, Candidates: []engine.Participant{witness}, Options: engine.Asks(&sc.Steps[info.Index])[0].Options})
	requireGolden(t, m.View())
}

func TestScreenOverride(t *testing.T) {
	m := newModel(t)
	info := onStep(t, m, "root-key-generation", "preflight")
	problem := "network interface(s) up: eth0 (192.168.20.14/24, fe80::1c2b:4eff:fe91:7a10/64)"
	m.Update(reportMsg{Kind: engine.Notice, Step: info, Text: "WARNING: " + problem})
	a := &asker{m: m}
	a.ask(engine.OverrideRequest{Step: info, Check: "network", Problem: problem, Candidates: []engine.Participant{admin}})
	requireGolden(t, m.View())
}

// The PIN prompt after 6 characters: one • each, never the characters.
func TestScreenSecret(t *testing.T) {
	m := newModel(t)
	info := onStep(t, m, "generate-firmware-key", "open-build-token")
	a := &asker{m: m}
	a.ask(engine.SecretRequest{Step: info, What: `HSM user PIN for token "firmware-build"`, Candidates: []engine.Participant{builder}, Attempt: 1})
	typeText(m, "731946")
	v := m.View()
	for _, s := range []string{"731946", "7319", "946"} {
		if strings.Contains(v, s) {
			t.Errorf("the view shows %q of the PIN", s)
		}
	}
	if !strings.Contains(v, "••••••█") {
		t.Errorf("the view does not show 6 bullets")
	}
	requireGolden(t, v)
}

// A share typed with a typo in group 3: group 3 is marked ✗ and named, and
// no share character is shown.
func TestScreenShareEntry(t *testing.T) {
	m := newModel(t)
	info := onStep(t, m, "sign-intermediate", "activate-hsm")
	s := fixedShare()
	a := &asker{m: m}
	a.ask(engine.ShareRequest{Step: info, Purpose: "activation", Split: s.Split.String(), Number: 2, Needed: 3,
		Candidates: []engine.Participant{officer(1)}, Attempt: 1})
	gs := withTypo(s, 3)
	typeText(m, strings.Join(gs[:5], " ")+" "+gs[5][:2])
	v := m.View()
	assertNoShare(t, v, s)
	if !strings.Contains(v, "•••••✗") {
		t.Errorf("no group is marked ✗")
	}
	var groups []string
	for _, l := range strings.Split(v, "\n") {
		if _, right, ok := strings.Cut(l, "│"); ok && strings.Contains(right, "•••••") {
			groups = strings.Fields(right)
			break
		}
	}
	// The first line of groups: 1 ✓, 2 ✓, 3 ✗, 4 ✓.
	if len(groups) != 4 || !strings.HasSuffix(groups[0], "✓") || !strings.HasSuffix(groups[1], "✓") ||
		!strings.HasSuffix(groups[2], "✗") || !strings.HasSuffix(groups[3], "✓") {
		t.Errorf("group 3 is not the one marked ✗: %q", groups)
	}
	if !strings.Contains(text(v), "group 3") {
		t.Errorf("the view does not name group 3")
	}
	requireGolden(t, v)
}

// approvalReq is the firmware-signing certificate to be approved, as
// pki.DescribeCertificate describes one.
func approvalReq(t *testing.T, info engine.StepInfo) engine.ApprovalRequest {
	t.Helper()
	tbs := "9c4e1b7a20d35f86e1a4c09b7d2e58f31a6c0b94e7d2853f6a1c9e04b7d2f853"
	ws, err := words.FromHex(tbs)
	if err != nil {
		t.Fatal(err)
	}
	return engine.ApprovalRequest{Step: info, Participant: officer(0), What: "certificate", TBSSHA256: tbs, Words: strings.Join(ws, " "),
		Fields: []pki.Field{
			{Label: "Subject", Value: "CN=Example Devices Firmware Signing,O=Example Devices GmbH,C=DE"},
			{Label: "Issuer", Value: "CN=Example Devices Root CA,O=Example Devices GmbH,C=DE"},
			{Label: "Serial", Value: "5f3a9c0d2e7b41a86c19f0e2d4b7a3c5"},
			{Label: "Valid from", Value: "2026-11-27T09:26:53Z"},
			{Label: "Valid until", Value: "2030-03-14T09:26:53Z"},
			{Label: "Public key", Value: "ECDSA P-256"},
			{Label: "Public key SHA-256", Value: "3b8f0c6e91d2a47b5e08c3f1d96a27e4b0c58d13f7a29e6c4d81b0f35a7e2c96"},
			{Label: "Signature algorithm", Value: "ECDSA-SHA384"},
			{Label: "Basic constraints", Value: "CA:FALSE"},
			{Label: "Key usage", Value: "digitalSignature"},
			{Label: "Extended key usage", Value: "codeSigning"},
			{Label: "Subject key identifier", Value: "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"},
			{Label: "Authority key identifier", Value: "0f1e2d3c4b5a69788796a5b4c3d2e1f00ffeddcc"},
			{Label: "TBS SHA-256", Value: tbs},
		}}
}

// The approval: first the top of the fields with a scroll hint; after
// scrolling to the end, the digest and its words and "press y".
func TestScreenApproval(t *testing.T) {
	m := newModel(t)
	info := onStep(t, m, "generate-firmware-key", "sign-firmware")
	a := &asker{m: m}
	a.ask(approvalReq(t, info))
	t.Run("top", func(t *testing.T) {
		v := m.View()
		if !strings.Contains(text(v), "more lines: scroll down to read them before approving") || strings.Contains(v, "press y") {
			t.Errorf("no scroll hint")
		}
		requireGolden(t, v)
	})
	for range 10 {
		press(m, keyPgDown)
		m.View()
	}
	t.Run("end", func(t *testing.T) {
		v := m.View()
		if !strings.Contains(text(v), "Olga Officer: press y to approve exactly this, n to refuse.") || strings.Contains(v, "more lines") {
			t.Errorf("no 'press y' line")
		}
		requireGolden(t, v)
	})
}

// The hand-out of a share: look away, the share as text, its QR code (Tab),
// and typing it back.
func TestScreenHandOut(t *testing.T) {
	m := newModel(t)
	info := onStep(t, m, "root-key-generation", "hand-out-activation-shares")
	s := fixedShare()
	a := &asker{m: m}
	a.ask(handOutReq(info, s, officer(1)))
	t.Run("look-away", func(t *testing.T) {
		v := m.View()
		assertNoShare(t, v, s)
		requireGolden(t, v)
	})
	press(m, keyEnter)
	t.Run("text", func(t *testing.T) {
		v := m.View()
		for i, g := range groupsOf(s)[1:] {
			if !strings.Contains(v, g) {
				t.Errorf("the share screen does not show group %d", i+1)
			}
		}
		requireGolden(t, maskShare(v, s))
	})
	press(m, keyTab)
	t.Run("qr", func(t *testing.T) {
		v := m.View()
		requireGolden(t, maskShare(v, s))
		lines := qrLines(v)
		if lines == nil {
			t.Fatalf("no QR code on the screen:\n%s", v)
		}
		got, err := qrimage.Decode(rasterise(t, lines, true))
		if err != nil {
			t.Fatalf("the QR code does not scan: %v", err)
		}
		back, err := shares.Parse([]byte(got))
		if err != nil {
			t.Fatalf("the QR code holds %d characters that do not parse as a share: %v", len(got), err)
		}
		if string(back.Compact().Bytes()) != string(s.Compact().Bytes()) {
			t.Error("the QR code holds another share")
		}
	})
	press(m, keyTab, keyEnter)
	gs := groupsOf(s)
	typeText(m, strings.Join(gs[:7], " "))
	t.Run("type-back", func(t *testing.T) {
		v := m.View()
		assertNoShare(t, v, s)
		requireGolden(t, v)
	})
}

// ctrl+e opens the exception form; here the witness has answered the first
// question and is typing the second.
func TestScreenException(t *testing.T) {
	m := newModel(t)
	info := onStep(t, m, "root-key-generation", "inspect-hsm")
	a := &asker{m: m}
	a.ask(engine.ConfirmRequest{Step: info, Participant: witness})
	press(m, keyCtrlE, keyDown, keyEnter)
	typeText(m, "The HSM's tamper-evident bag has serial 40112233.")
	press(m, keyEnter)
	typeText(m, "The bag has serial 40112238; the log has a typo")
	requireGolden(t, m.View())
}

// ctrl+c asks before aborting.
func TestScreenAbort(t *testing.T) {
	m := newModel(t)
	info := onStep(t, m, "root-key-generation", "welcome")
	a := &asker{m: m}
	a.ask(engine.ConfirmRequest{Step: info, Participant: admin})
	press(m, keyCtrlC)
	requireGolden(t, m.View())
}

// A participant refusing ('n') is asked the same, naming them.
func TestScreenRefuse(t *testing.T) {
	m := newModel(t)
	info := onStep(t, m, "root-key-generation", "welcome")
	a := &asker{m: m}
	a.ask(engine.ConfirmRequest{Step: info, Participant: witness})
	press(m, runes("n"))
	requireGolden(t, m.View())
}

// A long operation: the spinner and the time it has taken so far.
func TestScreenOperation(t *testing.T) {
	clock := &testClock{fixedNow}
	m := newModel(t, func(o *Options) { o.Now = clock.now })
	info := onStep(t, m, "root-key-generation", "generate-root-key")
	m.Update(reportMsg{Kind: engine.Notice, Step: info, Text: "Token root (serial 0000000012345678) opened in slot 0"})
	if cmd := func() tea.Cmd {
		_, c := m.Update(reportMsg{Kind: engine.OperationStarted, Step: info, Text: "Generating the ECDSA P-384 key root-ca in the HSM ..."})
		return c
	}(); cmd == nil {
		t.Fatal("OperationStarted starts no spinner")
	}
	clock.t = clock.t.Add(12*time.Second + 345*time.Millisecond)
	m.Update(spinMsg{gen: m.cer.spinGen})
	m.Update(spinMsg{gen: m.cer.spinGen})
	m.Update(spinMsg{gen: m.cer.spinGen - 1}) // a stale tick: ignored
	if m.cer.spin != 2 {
		t.Errorf("spinner at frame %d, want 2", m.cer.spin)
	}
	requireGolden(t, m.View())
}

// endResult is a completed root key generation.
func endResult(dir string) *engine.Result {
	return &engine.Result{
		Dir: dir, Transcript: filepath.Join(dir, "transcript.jsonl"), Events: 87,
		Head: "4f0a7d3c9e21b86570d4c2a19e8f37b6a05c1d92e4f7b3086a1c5d9e2f4b7a30",
		Artifacts: []outdir.Artifact{
			{Path: "artifacts/root-ca.crt.pem", SHA256: "8d2f4a6c1e3b5d7f9a0c2e4b6d8f1a3c5e7b9d0f2a4c6e8b1d3f5a7c9e0b2d4f", Size: 802},
			{Path: "artifacts/root-ca.pub.pem", SHA256: "1c3e5a7b9d0f2e4c6a8b1d3f5e7c9a0b2d4f6e8a1c3b5d7f9e0a2c4b6d8f1e3a", Size: 215},
			{Path: "artifacts/root-ca.backup", SHA256: "2d4f6b8a0c1e3d5f7b9a2c4e6d8f0b1a3c5e7d9f1b2a4c6e8d0f3b5a7c9e1d2f", Size: 4410},
			{Path: "artifacts/ceremony-audit.crt.pem", SHA256: "7a9c1e3f5b7d9a2c4e6f8b0d2a4c6e8f1b3d5a7c9e2f4b6d8a0c3e5f7b9d1a2c", Size: 790},
		},
		QR: &engine.QRExport{Dir: filepath.Join(dir, "qr"), Bundle: "b7e2c9", Frames: []string{"CQ1:B7E2C9:1/3:AAAA", "CQ1:B7E2C9:2/3:BBBB", "CQ1:B7E2C9:3/3:CCCC"},
			SHA256: "5e7a9c1b3d5f7e9a2c4b6d8f0a1c3e5b7d9f2a4c6e8b0d1f3a5c7e9b2d4f6a8c",
			Words:  []string{"frog", "bacon", "leaf", "eagle", "oyster", "chair", "river", "hotel"}},
		Fingerprints: map[string]string{"artifacts/root-ca.crt.pem": "06f40a9b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f"},
	}
}

func TestScreenEnd(t *testing.T) {
	t.Run("complete", func(t *testing.T) {
		m := newModel(t)
		onStep(t, m, "root-key-generation", "carry-out")
		m.cer.outDir = "transcripts/root-key-generation-20250314T092653Z"
		m.Update(engineDoneMsg{res: endResult(m.cer.outDir)})
		if m.screen != screenEnd {
			t.Fatalf("screen %v", m.screen)
		}
		requireGolden(t, m.View())
	})
	t.Run("aborted", func(t *testing.T) {
		startEnv(t) // relative paths
		m := newModel(t)
		info := onStep(t, m, "root-key-generation", "issue-root-certificate")
		m.cer.outDir = filepath.Join("transcripts", "root-key-generation-20250314T092653Z")
		sc := m.cer.script
		writeTranscript(t, m.cer.outDir, sc, false,
			transcript.Entry{Type: "ceremony-aborted", Step: info.ID, Text: "Ceremony was aborted at step issue-root-certificate: ceremony aborted by the participants"})
		err := &engine.StepError{Index: info.Index, ID: info.ID, Err: engine.ErrAborted, Aborted: true}
		m.Update(engineDoneMsg{err: err})
		if m.screen != screenEnd || m.cer.steps[info.Index].state != stepFailed {
			t.Fatalf("screen %v, step state %v", m.screen, m.cer.steps[info.Index].state)
		}
		requireGolden(t, m.View())
	})
}

// Below 80×24 the screen says so, and that nothing secret is shown.
func TestScreenTooSmall(t *testing.T) {
	m := newModel(t)
	info := onStep(t, m, "root-key-generation", "hand-out-activation-shares")
	a := &asker{m: m}
	a.ask(handOutReq(info, fixedShare(), officer(1)))
	press(m, keyEnter) // the share is shown
	resize(m, 60, 20)
	v := m.View()
	checkSize(t, v, 60, 20)
	assertNoShare(t, v, fixedShare())
	if !strings.Contains(text(v), "This terminal is 60×20") || !strings.Contains(text(v), "Nothing secret is shown") {
		t.Errorf("view:\n%s", v)
	}
	goldenEqual(t, v)
}

// No golden file holds a share: no line of share groups, no QR code.
func TestGoldensHoldNoShare(t *testing.T) {
	groups := regexp.MustCompile(`[0-9A-Z]{5}  [0-9A-Z]{5}  [0-9A-Z]{5}`)
	n := 0
	err := filepath.WalkDir("testdata", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".golden") {
			return err
		}
		n++
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if groups.Match(data) || qrLines(string(data)) != nil {
			t.Errorf("%s holds share groups or a QR code", path)
		}
		return nil
	})
	if err != nil || n < 10 {
		t.Fatalf("read %d goldens: %v", n, err)
	}
}

// ----- screens added with the layout fixes at 80×24

// The keyholder picker, run in a bubbletea program: who comes forward to
// enter the next share; Down moves to the second officer.
func TestScreenKeyholderPicker(t *testing.T) {
	m := newModel(t)
	info := onStep(t, m, "sign-intermediate", "activate-hsm")
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(80, 24))
	ch := make(chan reply, 1)
	tm.Send(askMsg{id: 1, req: engine.ShareRequest{Step: info, Purpose: "activation", Split: fixedShare().Split.String(), Number: 1, Needed: 3,
		Candidates: []engine.Participant{officer(0), officer(1), officer(2)}, Attempt: 1}, reply: ch})
	waitView(t, tm, "Which keyholder comes forward?")
	tm.Send(keyDown)
	waitView(t, tm, "▶ Oscar Ortiz")
	fm := finalModel(t, tm)
	noReply(t, ch)
	p := fm.cer.prompt.(*sharePrompt)
	if p.whom.list.cur != 1 || p.whom.chosen != nil {
		t.Errorf("cursor on %d, chosen %v: want the second officer, nobody chosen yet", p.whom.list.cur, p.whom.chosen)
	}
	requireGolden(t, fm.View())
}

// The hand-out's copy on removable media: the question, the directory,
// the passphrase and the passphrase again (never shown, one • per
// character).
func TestScreenHandOutMedia(t *testing.T) {
	m := newModel(t)
	info := onStep(t, m, "root-key-generation", "hand-out-backup-shares")
	s := fixedShare()
	s.Purpose = shares.Backup
	a := &asker{m: m}
	a.ask(handOutReq(info, s, engine.Participant{Role: "custodian", Name: custodian[0]}))
	p := m.cer.prompt.(*handOutPrompt)
	press(m, keyEnter, keyEnter) // shown, then cleared
	typeText(m, typed(s))
	press(m, keyEnter)
	golden := func(t *testing.T, phase handOutPhase) {
		t.Helper()
		if p.phase != phase {
			t.Fatalf("phase %v, want %v", p.phase, phase)
		}
		v := m.View()
		assertNoShare(t, v, s)
		if strings.Contains(v, "horse") || strings.Contains(v, "battery") {
			t.Errorf("the view shows the passphrase:\n%s", v)
		}
		requireGolden(t, v)
	}
	t.Run("ask", func(t *testing.T) { golden(t, phaseMediaAsk) })
	press(m, runes("y"))
	typeText(m, "/media/carl/SHARES")
	t.Run("directory", func(t *testing.T) { golden(t, phaseMediaDir) })
	press(m, keyEnter)
	typeText(m, "correct horse battery")
	t.Run("passphrase", func(t *testing.T) {
		if !strings.Contains(m.View(), strings.Repeat("•", len("correct horse battery"))+"█") {
			t.Errorf("the field does not show one • per character")
		}
		golden(t, phasePass1)
	})
	press(m, keyEnter)
	typeText(m, "correct horse")
	t.Run("again", func(t *testing.T) { golden(t, phasePass2) })
}

// qrBundle is a ceremony's carry-out bundle with fixed contents: a
// transcript of 40 events with digests (which do not compress), its seal
// and a certificate; exported with the default frames (600 bytes, too
// large for 80×24).
func qrBundle(t *testing.T) ([]bundle.File, *qrtransfer.Export) {
	t.Helper()
	var tr strings.Builder
	h := sha256.Sum256([]byte("genesis"))
	for i := range 40 {
		h = sha256.Sum256(h[:])
		fmt.Fprintf(&tr, `{"seq":%d,"type":"step-done","prev":"%x"}`+"\n", i+1, h)
	}
	files := []bundle.File{
		{Name: "transcript.jsonl", Data: []byte(tr.String())},
		{Name: "transcript.sig", Data: h[:]},
		{Name: "artifacts/root-ca.crt.pem", Data: []byte("-----BEGIN CERTIFICATE-----\nMIIBszCCATmgAwIBAgIUX5qcDS57QahsGfDi1LejxTANBgkqhkiG9w0BAQsFADAS\n-----END CERTIFICATE-----\n")},
	}
	exp, err := qrtransfer.New(files, qrtransfer.Options{Title: "Root CA key generation", Created: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	return files, exp
}

// onQRView returns a model on the end screen of a root key generation that
// exported exp, after q: the full-screen QR view, at w×h.
func onQRView(t *testing.T, exp *qrtransfer.Export, w, h int) *Model {
	t.Helper()
	m := newModel(t)
	onStep(t, m, "root-key-generation", "carry-out")
	res := endResult("out")
	res.QR = &engine.QRExport{Dir: "out/qr", Bundle: exp.Digest.ID(), Frames: exp.Texts(), SHA256: exp.Digest.Hex(), Words: exp.DigestWords()}
	m.Update(engineDoneMsg{res: res})
	resize(m, w, h)
	press(m, runes("q"))
	if m.screen != screenQR {
		t.Fatalf("q: screen %v", m.screen)
	}
	return m
}

// qrStatus reads "frame I of N" from a QR view.
var qrStatus = regexp.MustCompile(`frame (\d+) of (\d+) · bundle ([A-Z2-7]{8})`)

// scanQRView checks that the view shows one whole QR code, its quiet zone
// included, and returns what it reads, as a camera would read it; and the
// frame number and count of the status line.
func scanQRView(t *testing.T, v string, w, h int) (text string, i, n int) {
	t.Helper()
	checkSize(t, v, w, h)
	lines := qrLines(v)
	if lines == nil {
		t.Fatalf("no QR code on the screen:\n%s", v)
	}
	pad := len(lines[0]) - len(strings.TrimLeft(lines[0], " "))
	code := make([]string, len(lines))
	for j, l := range lines {
		code[j] = strings.TrimRight(l[pad:], " ")
		if utf8.RuneCountInString(code[j]) != utf8.RuneCountInString(code[0]) {
			t.Fatalf("the code's lines are not all as wide:\n%s", v)
		}
	}
	// The quiet zone is drawn as blocks (light modules on a dark
	// terminal): two whole lines above and below, 4 columns each side.
	quiet := strings.Repeat("█", utf8.RuneCountInString(code[0]))
	for _, j := range []int{0, 1, len(code) - 2, len(code) - 1} {
		if code[j] != quiet {
			t.Errorf("line %d of the code is not quiet zone: %q", j+1, code[j])
		}
	}
	for _, l := range code {
		if !strings.HasPrefix(l, "████") || !strings.HasSuffix(l, "████") {
			t.Errorf("a line of the code lacks its quiet zone: %q", l)
		}
	}
	got, err := qrimage.Decode(rasterise(t, code, true))
	if err != nil {
		t.Fatalf("the QR code on the screen does not scan: %v\n%s", err, v)
	}
	st := qrStatus.FindStringSubmatch(v)
	if st == nil {
		t.Fatalf("no status line:\n%s", v)
	}
	i, _ = strconv.Atoi(st[1])
	n, _ = strconv.Atoi(st[2])
	return got, i, n
}

// maskQR hides the QR code of a view before it goes into a golden file (no
// golden holds a QR code): each of its characters becomes ▒.
func maskQR(view string) string {
	for _, l := range qrLines(view) {
		code := strings.TrimLeft(l, " ")
		view = strings.Replace(view, l, l[:len(l)-len(code)]+strings.Repeat("▒", utf8.RuneCountInString(code)), 1)
	}
	return view
}

// The full-screen QR view of the carry-out frames at 80×24: the bundle is
// cut into frames whose codes fit whole with their quiet zone, the title,
// the status and the keys; every frame on the screen scans, carries its
// slice of the bundle, and together they give back the ceremony's files.
func TestScreenQR(t *testing.T) {
	files, exp := qrBundle(t)
	m := onQRView(t, exp, 80, 24)
	v := m.View()
	t.Run("view", func(t *testing.T) { requireGolden(t, maskQR(v)) })
	if !strings.Contains(v, "cut to fit this screen") {
		t.Errorf("the view does not say the frames were cut for it:\n%s", v)
	}
	asm := qrframe.NewAssembler(exp.Digest.ID())
	total := 0
	for k := 0; ; k++ {
		text, i, n := scanQRView(t, m.View(), 80, 24)
		f, err := qrframe.Parse(text)
		if err != nil {
			t.Fatalf("frame %d reads %q: %v", i, text, err)
		}
		if f.Index != i || f.Total != n || f.ID() != exp.Digest.ID() {
			t.Fatalf("the code is frame %d of %d of %s, the status says %d of %d of %s", f.Index, f.Total, f.ID(), i, n, exp.Digest.ID())
		}
		slice := (len(exp.Packed) + n - 1) / n
		if want := exp.Packed[(i-1)*slice : min(i*slice, len(exp.Packed))]; !bytes.Equal(f.Payload, want) {
			t.Fatalf("frame %d carries %d bytes that are not its slice of the bundle", i, len(f.Payload))
		}
		if out, _, err := asm.Add(text, fmt.Sprintf("frame %d", i)); err != nil || out != qrframe.Added {
			t.Fatalf("frame %d: %v %v", i, out, err)
		}
		total = n
		if k == n-1 {
			break
		}
		press(m, tea.KeyMsg{Type: tea.KeyRight})
	}
	if total <= len(exp.Frames) {
		t.Errorf("%d frames at 80×24, as many as the %d exported: they were not cut smaller", total, len(exp.Frames))
	}
	_, packed, err := asm.Result()
	if err != nil {
		t.Fatal(err)
	}
	got, err := bundle.Unpack(packed)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(files) {
		t.Fatalf("%d files scanned, want %d", len(got), len(files))
	}
	for j := range files {
		if got[j].Name != files[j].Name || !bytes.Equal(got[j].Data, files[j].Data) {
			t.Errorf("file %d scanned as %s, want %s, the same bytes", j+1, got[j].Name, files[j].Name)
		}
	}
}

// The QR view adapts to the terminal: larger, it shows larger frames
// (fewer), and the exported ones as they are when they fit; too small for
// any, it says so and draws no code; q goes back to the summary.
func TestQRViewSizes(t *testing.T) {
	_, exp := qrBundle(t)
	m := onQRView(t, exp, 80, 24)
	_, _, n80 := scanQRView(t, m.View(), 80, 24)

	resize(m, 120, 40)
	scanned, _, n120 := scanQRView(t, m.View(), 120, 40)
	if n120 >= n80 {
		t.Errorf("%d frames at 120×40, %d at 80×24: the larger terminal shows no larger frames", n120, n80)
	}
	if _, err := qrframe.Parse(scanned); err != nil {
		t.Error(err)
	}

	resize(m, 200, 70)
	frame, i, n := scanQRView(t, m.View(), 200, 70)
	if n != len(exp.Frames) || frame != exp.Texts()[i-1] {
		t.Errorf("at 200×70 frame %d of %d is not the exported frame (of %d)", i, n, len(exp.Frames))
	}
	if strings.Contains(m.View(), "cut to fit") {
		t.Errorf("the exported frames are said to be cut")
	}

	resize(m, 60, 20)
	v := m.View()
	checkSize(t, v, 60, 20)
	if strings.ContainsAny(v, "▀▄█") || !strings.Contains(text(v), "The QR frames do not fit this terminal (60×20)") {
		t.Errorf("too small: the view draws a code or does not say so:\n%s", v)
	}
	resize(m, 80, 24)
	scanQRView(t, m.View(), 80, 24)
	resize(m, 60, 20)
	press(m, runes("q"))
	if m.screen != screenEnd {
		t.Errorf("q: screen %v, want the summary", m.screen)
	}
}

// The text to read aloud scrolls when it does not fit beside the prompt:
// at first its first lines, PgDn shows the rest (the share typed so far is
// untouched), and the help lists the keys.
func TestScreenReadAloudScrolled(t *testing.T) {
	m := newModel(t)
	info := onStep(t, m, "sign-intermediate", "activate-hsm")
	s := fixedShare()
	a := &asker{m: m}
	ch := a.ask(engine.ShareRequest{Step: info, Purpose: "activation", Split: s.Split.String(), Number: 2, Needed: 3,
		Candidates: []engine.Participant{officer(1)}, Attempt: 1})
	typeText(m, strings.Join(groupsOf(s)[:3], " "))
	top := m.View()
	if !strings.Contains(top, "Read aloud, lines 1–") || !strings.Contains(top, "PgUp/PgDn step text") {
		t.Fatalf("the text does not scroll:\n%s", top)
	}
	for range 5 {
		press(m, keyPgDown)
	}
	v := m.View()
	assertNoShare(t, v, s)
	if !strings.Contains(text(v), "and logs in. Nobody sees a PIN.") {
		t.Errorf("PgDn does not show the end of the text:\n%s", v)
	}
	if p := m.cer.prompt.(*sharePrompt); p.entry.status().Groups != 2 {
		t.Errorf("PgDn changed the share typed: %d groups", p.entry.status().Groups)
	}
	noReply(t, ch)
	requireGolden(t, v)
}

// A resize that cuts the frames again builds a new QR view; what the old
// view's commands send afterwards (its ticks, its "done") is ignored, so
// two tick loops never drive one view.
func TestQRViewStaleMessages(t *testing.T) {
	_, exp := qrBundle(t)
	m := onQRView(t, exp, 80, 24)
	old := m.qr.gen
	resize(m, 120, 40)
	if m.qr.gen == old {
		t.Fatal("the view was not built again for 120×40")
	}
	m.Update(qrMsg{gen: old, msg: qrshow.DoneMsg{}})
	if m.screen != screenQR {
		t.Fatal("a message of the replaced view left the QR view")
	}
	m.Update(qrMsg{gen: m.qr.gen, msg: qrshow.DoneMsg{}})
	if m.screen != screenEnd {
		t.Errorf("the view's own done message: screen %v, want the summary", m.screen)
	}
}
