package tui

import (
	"context"
	"crypto/rand"
	"image"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/devicepki/ceremony/ceremony/engine"
	"github.com/devicepki/ceremony/ceremony/qrimage"
	"github.com/devicepki/ceremony/ceremony/script"
	"github.com/devicepki/ceremony/ceremony/secret"
	"github.com/devicepki/ceremony/ceremony/shares"
	"github.com/devicepki/ceremony/ceremony/transcript"
)

// The screens are drawn at 80×24 (MinWidth×MinHeight), in the plain theme
// (no escape codes), at a fixed time.
var fixedNow = time.Date(2026, 11, 27, 9, 26, 53, 0, time.UTC)

// scriptsDir is the repository's scripts directory, as an absolute path
// (some tests change directory).
var scriptsDir = func() string {
	d, err := filepath.Abs(filepath.Join("..", "..", "scripts"))
	if err != nil {
		panic(err)
	}
	return d
}()

// testClock is a clock the test moves by hand.
type testClock struct{ t time.Time }

func (c *testClock) now() time.Time { return c.t }

// newModel returns a model with plain output and a fixed clock.
func newModel(t *testing.T, edit ...func(*Options)) *Model {
	t.Helper()
	opts := Options{Plain: true, ScriptsDir: scriptsDir, TranscriptsDir: t.TempDir(), Now: func() time.Time { return fixedNow }}
	for _, e := range edit {
		e(&opts)
	}
	return New(context.Background(), opts, io.Discard)
}

// resize tells m the terminal's size.
func resize(m *Model, w, h int) { m.Update(tea.WindowSizeMsg{Width: w, Height: h}) }

// requireGolden compares the view with testdata/<test name>.golden and
// checks that it is exactly 24 lines of at most 80 cells.
func requireGolden(t *testing.T, view string) {
	t.Helper()
	checkSize(t, view, 80, 24)
	goldenEqual(t, view)
}

// pkgDir is the package's directory, where testdata is.
var pkgDir = func() string {
	d, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	return d
}()

// goldenEqual compares view with its golden file, from the package's
// directory (some tests change directory).
func goldenEqual(t *testing.T, view string) {
	t.Helper()
	if cwd, err := os.Getwd(); err == nil && cwd != pkgDir {
		if err := os.Chdir(pkgDir); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := os.Chdir(cwd); err != nil {
				t.Fatal(err)
			}
		}()
	}
	golden.RequireEqual(t, []byte(view))
}

// checkSize checks that view is exactly h lines of at most w cells, with no
// escape sequence (the plain theme).
func checkSize(t *testing.T, view string, w, h int) {
	t.Helper()
	lines := strings.Split(view, "\n")
	if len(lines) != h {
		t.Errorf("the view has %d lines, want %d", len(lines), h)
	}
	for i, l := range lines {
		if n := utf8.RuneCountInString(l); n > w {
			t.Errorf("line %d is %d characters wide, more than %d: %q", i+1, n, w, l)
		}
	}
	if strings.Contains(view, "\x1b") {
		t.Errorf("the plain view has an escape sequence")
	}
}

// Keys.

func runes(s string) tea.KeyMsg { return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)} }

var (
	keyEnter     = tea.KeyMsg{Type: tea.KeyEnter}
	keyEsc       = tea.KeyMsg{Type: tea.KeyEsc}
	keyTab       = tea.KeyMsg{Type: tea.KeyTab}
	keyUp        = tea.KeyMsg{Type: tea.KeyUp}
	keyDown      = tea.KeyMsg{Type: tea.KeyDown}
	keyPgDown    = tea.KeyMsg{Type: tea.KeyPgDown}
	keyBackspace = tea.KeyMsg{Type: tea.KeyBackspace}
	keyCtrlC     = tea.KeyMsg{Type: tea.KeyCtrlC}
	keyCtrlE     = tea.KeyMsg{Type: tea.KeyCtrlE}
	keyCtrlU     = tea.KeyMsg{Type: tea.KeyCtrlU}
	keySpace     = tea.KeyMsg{Type: tea.KeySpace, Runes: []rune{' '}}
)

// press sends keys to m.
func press(m *Model, keys ...tea.KeyMsg) {
	for _, k := range keys {
		m.Update(k)
	}
}

// typeText types s one key at a time, as a keyboard does (a space is a
// KeySpace).
func typeText(m *Model, s string) {
	for _, r := range s {
		if r == ' ' {
			m.Update(keySpace)
			continue
		}
		m.Update(runes(string(r)))
	}
}

// The people in the room at the root key generation.
var (
	admin     = engine.Participant{Role: "administrator", Name: "Alice Admin"}
	witness   = engine.Participant{Role: "witness", Name: "Walter Witness"}
	witness2  = engine.Participant{Role: "witness", Name: "Wanda Watcher"}
	officers  = []string{"Olga Officer", "Oscar Ortiz", "Otto Olsen", "Ophelia Ong", "Owen Oakes"}
	custodian = []string{"Carl Custer", "Clara Cole", "Conrad Cho", "Cora Crane", "Cyril Cook"}
	builder   = engine.Participant{Role: "build-engineer", Name: "Bea Builder"}
)

func officer(i int) engine.Participant { return engine.Participant{Role: "officer", Name: officers[i]} }

// ceremonyInputs are the inputs the say texts are expanded with.
var ceremonyInputs = map[string]string{
	"place":            "Room 4.12, Example Devices, Munich",
	"key_label":        "root-ca",
	"audit_key_label":  "ceremony-audit",
	"root_certificate": "root-ca.crt.pem",
	"csr":              "intermediate.csr.pem",
	"common_name":      "Example Devices Firmware Signing",
}

// loadScript loads scripts/<name>.yaml.
func loadScript(t *testing.T, name string) *script.Script {
	t.Helper()
	sc, err := engine.LoadScript(filepath.Join(scriptsDir, name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// stepInfo describes step id of sc as the engine does.
func stepInfo(t *testing.T, sc *script.Script, id string) engine.StepInfo {
	t.Helper()
	i := sc.StepIndex(id)
	if i < 0 {
		t.Fatalf("script %s has no step %s", sc.Name, id)
	}
	st := sc.Steps[i]
	return engine.StepInfo{Index: i, Total: len(sc.Steps), ID: st.ID, Kind: st.Kind, Title: st.Title,
		Say: strings.TrimSpace(script.Expand(st.Say, ceremonyInputs))}
}

// onStep puts m on the ceremony screen of script name, as begin does but
// without an engine, and reports the steps before id as done and id as
// started. The attendance of the root key generation is on record.
func onStep(t *testing.T, m *Model, name, id string) engine.StepInfo {
	t.Helper()
	sc := loadScript(t, name)
	m.cer = newCeremonyModel(&m.frame, sc, filepath.Join(m.opts.TranscriptsDir, sc.Name+"-20250314T092653Z"), false)
	m.screen = screenCeremony
	m.cer.present = presentAt(sc)
	if m.width == 0 {
		resize(m, 80, 24)
	}
	info := stepInfo(t, sc, id)
	for i := 0; i < info.Index; i++ {
		prev := stepInfo(t, sc, sc.Steps[i].ID)
		m.Update(reportMsg{Kind: engine.StepStarted, Step: prev})
		m.Update(reportMsg{Kind: engine.StepDone, Step: prev, Text: prev.Title + ": confirmed by Alice Admin, Walter Witness"})
	}
	m.Update(reportMsg{Kind: engine.StepStarted, Step: info})
	return info
}

// presentAt is the attendance on record for the roles of sc.
func presentAt(sc *script.Script) []engine.Participant {
	a := engine.Attendance{}
	for _, r := range sc.Roles {
		switch r.Name {
		case "administrator":
			a[r.Name] = []string{admin.Name}
		case "witness":
			a[r.Name] = []string{witness.Name}
		case "officer":
			a[r.Name] = officers[:max(r.Min, 3)]
		case "custodian":
			a[r.Name] = custodian
		case "build-engineer":
			a[r.Name] = []string{builder.Name}
		}
	}
	return participantsOf(sc.Roles, a)
}

// asker sends the engine's prompts to a model and holds the reply channels.
type asker struct {
	m    *Model
	next int
}

// ask shows req on m and returns the channel its reply comes on.
func (a *asker) ask(req any) chan reply {
	a.next++
	ch := make(chan reply, 1)
	a.m.Update(askMsg{id: a.next, req: req, reply: ch})
	return ch
}

// noReply fails if a reply was sent on ch.
func noReply(t *testing.T, ch chan reply) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("unexpected reply %#v", r)
	default:
	}
}

// gotReply returns the reply sent on ch, failing if there is none.
func gotReply(t *testing.T, ch chan reply) reply {
	t.Helper()
	select {
	case r := <-ch:
		return r
	default:
		t.Fatal("no reply was sent")
		return reply{}
	}
}

// Shares.

// fixedShare is a share with fixed contents (not from a real split), so
// that the hand-out screens are the same in every run: activation share 2 of
// 5, 3 needed, split 0x3f61a9c2d05e.
func fixedShare() *shares.Share {
	v := make([]byte, 33)
	for i := range 32 {
		v[i] = byte(11*i + 5)
	}
	v[32] = 2
	return &shares.Share{
		Split:     shares.SplitID{0x3f, 0x61, 0xa9, 0xc2, 0xd0, 0x5e},
		Purpose:   shares.Activation,
		Threshold: 3,
		Count:     5,
		Index:     2,
		Value:     secret.New(v),
	}
}

// realSplit splits a random 32-byte secret 3 of 5.
func realSplit(t *testing.T, p shares.Purpose) []*shares.Share {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	ss, _, err := shares.Split(rand.Reader, secret.New(b), p, 3, 5)
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

// groupsOf returns the groups of s's compact form, the tag first.
func groupsOf(s *shares.Share) []string {
	return strings.Split(string(s.Compact().Bytes()), "-")
}

// typed is how a keyholder types a share from the card: the groups
// separated by spaces.
func typed(s *shares.Share) string { return strings.Join(groupsOf(s), " ") }

// withTypo returns s's groups with one character of data group g (1-based)
// changed to another character of the alphabet.
func withTypo(s *shares.Share, g int) []string {
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	gs := groupsOf(s)
	b := []byte(gs[g])
	i := strings.IndexByte(alphabet, b[1])
	b[1] = alphabet[(i+7)%len(alphabet)]
	gs[g] = string(b)
	return gs
}

// assertNoShare fails if view shows any data group of share s.
func assertNoShare(t *testing.T, view string, s *shares.Share) {
	t.Helper()
	up := strings.ToUpper(view)
	for i, g := range groupsOf(s)[1:] {
		if strings.Contains(up, g) {
			t.Errorf("the view shows group %d of the share (%s):\n%s", i+1, g, view)
		}
	}
}

// handOutReq is the hand-out of share s to holder.
func handOutReq(step engine.StepInfo, s *shares.Share, holder engine.Participant) engine.HandOutRequest {
	return engine.HandOutRequest{Step: step, Holder: holder, Describe: s.Describe(), Text: s.Text(), Compact: s.Compact(),
		Number: s.Index, Count: s.Count, Attempt: 1}
}

// QR codes.

// rasterise draws a terminal QR rendering (half blocks) as an image, the
// way a terminal shows it: drawn cells light if invert (light on dark).
func rasterise(t *testing.T, lines []string, invert bool) image.Image {
	t.Helper()
	img, err := qrimage.TerminalImage(strings.Join(lines, "\n"), invert, 3)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// qrLines returns the lines of the view that draw a QR code: the run of
// lines made only of half blocks and spaces, at least 15 of them.
// maskShare hides s in a hand-out view before it goes into a golden file
// (no share, even a made-up one, is committed): its data groups become
// "#####", and every line of a QR code "▒" of the same width.
func maskShare(view string, s *shares.Share) string {
	for _, g := range groupsOf(s)[1:] {
		view = strings.ReplaceAll(view, g, "#####")
	}
	for _, l := range qrLines(view) {
		view = strings.Replace(view, l, strings.Repeat("▒", utf8.RuneCountInString(l)), 1)
	}
	return view
}

func qrLines(view string) []string {
	isQR := func(l string) bool {
		return l != "" && strings.Trim(l, " ▀▄█") == "" && strings.ContainsAny(l, "▀▄█")
	}
	var run []string
	for _, l := range strings.Split(view, "\n") {
		if isQR(l) {
			run = append(run, l)
			continue
		}
		if len(run) >= 15 {
			return run
		}
		run = nil
	}
	if len(run) >= 15 {
		return run
	}
	return nil
}

// writeTranscript writes a ceremony directory's transcript at
// dir/transcript.jsonl: the ceremony-started event of sc, then entries.
func writeTranscript(t *testing.T, dir string, sc *script.Script, rehearsal bool, entries ...transcript.Entry) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	clock := fixedNow
	w, err := transcript.Create(filepath.Join(dir, "transcript.jsonl"), func() time.Time {
		clock = clock.Add(7 * time.Second)
		return clock
	})
	if err != nil {
		t.Fatal(err)
	}
	start := transcript.Entry{Text: "Ceremony started: " + sc.Title, Data: transcript.CeremonyStarted{
		Title:     sc.Title,
		Script:    transcript.File{Name: sc.Name, Path: sc.Path, SHA256: sc.SHA256},
		Inputs:    map[string]string{"place": ceremonyInputs["place"]},
		Rehearsal: rehearsal,
		HSM:       transcript.V(map[string]any{"module": "/usr/lib/softhsm/libsofthsm2.so", "token": map[string]string{"label": "root"}}),
	}}
	for _, e := range append([]transcript.Entry{start}, entries...) {
		if _, err := w.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// text returns the words of a view, the step list left out, as one line:
// what it says, however it is wrapped.
func text(view string) string {
	var out []string
	for _, l := range strings.Split(view, "\n") {
		if _, right, ok := strings.Cut(l, "│"); ok {
			l = right
		}
		out = append(out, strings.Fields(l)...)
	}
	return strings.Join(out, " ")
}
