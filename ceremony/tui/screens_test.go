package tui

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/teatest"

	"github.com/devicepki/ceremony/ceremony/engine"
	"github.com/devicepki/ceremony/ceremony/outdir"
	"github.com/devicepki/ceremony/ceremony/pki"
	"github.com/devicepki/ceremony/ceremony/qrimage"
	"github.com/devicepki/ceremony/ceremony/script"
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
	if !*s.fields[2].toggle {
		t.Error("space did not toggle the rehearsal")
	}
	press(m, keyDown) // place
	typeText(m, "Room 4.12")
	if got := s.fields[3].input.String(); got != "Room 4.12" {
		t.Errorf("place = %q", got)
	}
	for range len(s.fields) {
		press(m, keyTab)
	}
	if s.focus != len(s.fields) {
		t.Fatalf("focus %d, want the start button %d", s.focus, len(s.fields))
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
	sc, err := script.Load(filepath.Join("scripts", "root-key-generation.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	writeTranscript(t, filepath.Join("transcripts", "root-key-generation-20250313T141500Z"), sc, false,
		transcript.Entry{Type: "token-initialized", Step: "initialise-hsm", Text: "The token was initialised"},
		transcript.Entry{Type: "key-generated", Step: "generate-root-key", Text: "Generated root-ca", Data: map[string]string{"label": "root-ca"}},
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
	if got := m.start.fields[3].input.String(); got != ceremonyInputs["place"] {
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
	m.present = nil
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
	p := fm.prompt.(*attendancePrompt)
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
	a.ask(engine.ChoiceRequest{Step: info, Candidates: []engine.Participant{witness}, Options: sc.Steps[info.Index].Options})
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
			{Label: "Valid from", Value: "2025-03-14T09:26:53Z"},
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
	m.Update(spinMsg{gen: m.spinGen})
	m.Update(spinMsg{gen: m.spinGen})
	m.Update(spinMsg{gen: m.spinGen - 1}) // a stale tick: ignored
	if m.spin != 2 {
		t.Errorf("spinner at frame %d, want 2", m.spin)
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
			SHA256: "5e7a9c1b3d5f7e9a2c4b6d8f0a1c3e5b7d9f2a4c6e8b0d1f3a5c7e9b2d4f6a8c"},
	}
}

func TestScreenEnd(t *testing.T) {
	t.Run("complete", func(t *testing.T) {
		m := newModel(t)
		onStep(t, m, "root-key-generation", "carry-out")
		m.outDir = "transcripts/root-key-generation-20250314T092653Z"
		m.Update(engineDoneMsg{res: endResult(m.outDir)})
		if m.screen != screenEnd {
			t.Fatalf("screen %v", m.screen)
		}
		requireGolden(t, m.View())
	})
	t.Run("aborted", func(t *testing.T) {
		startEnv(t) // relative paths
		m := newModel(t)
		info := onStep(t, m, "root-key-generation", "issue-root-certificate")
		m.outDir = filepath.Join("transcripts", "root-key-generation-20250314T092653Z")
		sc := m.script
		writeTranscript(t, m.outDir, sc, false,
			transcript.Entry{Type: "ceremony-aborted", Step: info.ID, Text: "Ceremony was aborted at step issue-root-certificate: ceremony aborted by the participants"})
		err := &engine.StepError{Index: info.Index, ID: info.ID, Err: engine.ErrAborted, Aborted: true}
		m.Update(engineDoneMsg{err: err})
		if m.screen != screenEnd || m.steps[info.Index].state != stepFailed {
			t.Fatalf("screen %v, step state %v", m.screen, m.steps[info.Index].state)
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
