package tui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/devicepki/ceremony/ceremony/engine"
	"github.com/devicepki/ceremony/ceremony/transcript"
)

// openSettings opens the settings form of the root key generation script.
func openSettings(t *testing.T, m *Model) {
	t.Helper()
	resize(m, 80, 24)
	press(m, keyDown, keyDown, keyDown, keyEnter)
	if m.start.phase != phaseSettings || m.start.chosen.script.Name != "root-key-generation" {
		t.Fatalf("phase %v, script %v", m.start.phase, m.start.chosen)
	}
}

// A long problem (an HSM config that does not load, with the path and the
// reason) is shown whole at 80×24, above the help line, however long the
// form is: the form gives way, not the problem.
func TestStartProblemStaysOnScreen(t *testing.T) {
	startEnv(t)
	m := newModel(t, startModelOpts)
	openSettings(t, m)
	long := strings.Repeat("a-long-directory-name/", 8) + "hsm.yaml"
	m.start.config.input.set(long)
	m.start.focus = len(m.start.form())
	press(m, keyEnter)
	if m.start.problem == "" {
		t.Fatal("a missing config file was accepted")
	}
	squash := func(s string) string { return strings.Join(strings.Fields(s), "") }
	for _, extra := range []int{0, 8} {
		// The first time, the file's error as it is; then one as long as
		// ten lines, which does not fit beside the form.
		m.start.problem += strings.Repeat(" and a further reason of about eighty characters, to fill a line", extra)
		v := m.View()
		checkSize(t, v, 80, 24)
		lines := strings.Split(v, "\n")
		if !strings.Contains(squash(v), squash("! "+m.start.problem)) {
			t.Errorf("the problem is not wholly on screen:\n%s\nwant: %s", v, m.start.problem)
		}
		if !strings.Contains(lines[len(lines)-1], "Esc back") {
			t.Errorf("the help line is not the last line: %q", lines[len(lines)-1])
		}
	}
}

// A required input left empty is named in the form's words, with the
// focus on its field, not the command line's "--input NAME=VALUE"; the
// HSM is not touched.
func TestStartRequiredInputInTheFormsWords(t *testing.T) {
	startEnv(t)
	if err := os.WriteFile("hsm.yaml", []byte("module: /nonexistent/libsofthsm2.so\ntoken:\n  label: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m := newModel(t, startModelOpts)
	openSettings(t, m)
	s := m.start
	s.config.input.set("hsm.yaml")
	place := -1
	for i, f := range s.form() {
		if f.inputName == "place" {
			place = i
			f.input.set("")
		}
	}
	if place < 0 {
		t.Fatal("no place field")
	}
	s.focus = len(s.form())
	press(m, keyEnter)
	if s.focus != place || !strings.HasPrefix(s.problem, "place is required (") || !strings.HasSuffix(s.problem, "type it in its field") {
		t.Fatalf("focus %d (place is %d), problem %q", s.focus, place, s.problem)
	}
	if v := m.View(); strings.Contains(v, "--input") {
		t.Errorf("the form tells a TUI user about --input:\n%s", v)
	}
}

// The interrupted-ceremony screen says what was left and what to do, and
// never contradicts itself: with key pairs and files left, it names them
// and gives the close command; aborted with everything rolled back, it
// says nothing was left; a crash with nothing made yet, that close
// records its end.
func TestStartInterruptedAdvice(t *testing.T) {
	sc, err := engine.LoadScript(filepath.Join(scriptsDir, "root-key-generation.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	key := func(label string) transcript.Entry {
		return transcript.Entry{Type: "key-generated", Step: "generate-root-key", Text: "Generated " + label,
			Data: map[string]string{"label": label, "id": "0a0b", "public_key_sha256": strings.Repeat("c", 64), "token": "root"}}
	}
	file := transcript.Entry{Type: "artifact-written", Step: "write-root-certificate", Text: "Wrote artifacts/root-ca.crt.pem",
		Data: map[string]any{"path": "artifacts/root-ca.crt.pem", "sha256": strings.Repeat("d", 64), "size": 10}}
	for _, tc := range []struct {
		name    string
		entries []transcript.Entry
		want    []string
		not     []string
	}{
		{"crash with leftovers", []transcript.Entry{key("root-ca"), file},
			[]string{"stopped without recording why", "Key pairs it made that are still on the token: root-ca", "Files it wrote that were not withdrawn: artifacts/root-ca.crt.pem", "close it: ceremony close transcripts/x lists what it left; check the list, then add --confirm --config HSM.yaml"},
			[]string{"It left nothing behind", "was destroyed when it stopped"}},
		{"aborted, rolled back", []transcript.Entry{key("root-ca"), file,
			{Type: "key-destroyed", Step: "x", Text: "Destroyed", Data: map[string]string{"label": "root-ca", "id": "0a0b"}},
			{Type: "artifact-withdrawn", Step: "x", Text: "Withdrew", Data: map[string]string{"path": "artifacts/root-ca.crt.pem", "sha256": strings.Repeat("d", 64)}},
			{Type: "ceremony-aborted", Step: "x", Text: "Ceremony was aborted at step x"}},
			[]string{"ended: Ceremony was aborted at step x", "It left nothing behind"},
			[]string{"still on the token", "not withdrawn", "ceremony close"}},
		{"crash before anything was made", nil,
			[]string{"records nothing it made that is still there", "run: ceremony close transcripts/x."},
			[]string{"still on the token"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			startEnv(t)
			writeTranscript(t, filepath.Join("transcripts", "x"), sc, false, tc.entries...)
			m := newModel(t, startModelOpts)
			resize(m, 80, 24)
			press(m, tea.KeyMsg{Type: tea.KeyEnd}, keyEnter)
			if m.start.phase != phaseResume {
				t.Fatalf("phase %v", m.start.phase)
			}
			v := m.View()
			checkSize(t, v, 80, 24)
			got := text(v)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("missing %q in:\n%s", w, v)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(got, w) {
					t.Errorf("says %q:\n%s", w, v)
				}
			}
		})
	}
}
