package tui

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/teatest"

	"github.com/devicepki/ceremony/ceremony/answers"
	"github.com/devicepki/ceremony/ceremony/engine"
	"github.com/devicepki/ceremony/ceremony/shares"
	"github.com/devicepki/ceremony/ceremony/transcript"
	"github.com/devicepki/ceremony/internal/softhsmtest"
)

// rootAnswers run the root key generation with five officers, no network
// to override (the tests report no interfaces).
const rootAnswers = `version: 1
script: root-key-generation
attendance:
  administrator: [Ada Administrator]
  witness: [Wanda Witness]
  officer: [Olga Officer, Omar Officer, Otto Officer, Oona Officer, Oscar Officer]
  custodian: [Carla Custodian, Chen Custodian, Cyril Custodian, Cleo Custodian, Cosmo Custodian]
steps:
  welcome: {confirmed_by: [Ada Administrator, Wanda Witness]}
  check-clock: {choice: matches}
  equipment-in:
    inventory: {"HSM tamper-evident bag number (in)": TEB-1, "HSM serial number (on its label)": HSM-1, "Ceremony machine asset tag": LAPTOP-1}
  inspect-hsm: {confirmed_by: [Ada Administrator, Wanda Witness]}
  read-fingerprint: {confirmed_by: [Ada Administrator, Wanda Witness]}
  issue-root-certificate: {approved_by: [Olga Officer, Omar Officer, Otto Officer, Oona Officer, Oscar Officer]}
  issue-audit-certificate: {approved_by: [Olga Officer, Omar Officer, Otto Officer, Oona Officer, Oscar Officer]}
  closing: {confirmed_by: [Ada Administrator, Wanda Witness]}
  storage:
    inventory: {"HSM tamper-evident bag number (out)": TEB-2, "HSM stored in": Safe 2, "Officers' share cards stored in": Safe 1, "Custodians' share cards stored in": boxes A-E}
`

func noInterfaces() ([]engine.NetInterface, error) { return nil, nil }

// viewTap is the model as the program runs it, keeping the last screen it
// drew for the test to read while the program runs.
type viewTap struct {
	m    *Model
	mu   *sync.Mutex
	last *string
}

func (v viewTap) Init() tea.Cmd { return v.m.Init() }

func (v viewTap) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	_, cmd := v.m.Update(msg)
	return v, cmd
}

func (v viewTap) View() string {
	s := v.m.View()
	v.mu.Lock()
	*v.last = s
	v.mu.Unlock()
	return s
}

// crlRig is the CRL ceremony in the TUI under teatest, on the token of a
// root key generation run from answers.
type crlRig struct {
	h        *softhsmtest.HSM
	dir, out string
	tm       *teatest.TestModel
	m        *Model
	tap      viewTap
	asks     chan any
	// officerShare is officer i's share (1-based), as typed from the card.
	officerShare map[int]string
}

func newCRLRig(t *testing.T) *crlRig {
	t.Helper()
	if softhsmtest.Module() == "" {
		t.Fatal("SoftHSM2 is not installed (apt-get install softhsm2): a missing tool fails the tests, it never skips them")
	}
	r := &crlRig{h: softhsmtest.New(t), dir: t.TempDir(), asks: make(chan any, 16), officerShare: map[int]string{}}
	root := filepath.Join(r.dir, "root")
	ansPath := filepath.Join(r.dir, "root.answers.yaml")
	if err := os.WriteFile(ansPath, []byte(rootAnswers), 0o600); err != nil {
		t.Fatal(err)
	}
	plan, err := engine.Prepare(engine.Options{ScriptPath: filepath.Join(scriptsDir, "root-key-generation.yaml"),
		Inputs: map[string]string{"place": "Test lab"}, HSM: r.h.Config("root"), OutDir: root,
		Tool: engine.CurrentTool("test"), Interfaces: noInterfaces, Rehearsal: true})
	if err != nil {
		t.Fatal(err)
	}
	face, err := answers.Load(ansPath, plan.Script(), io.Discard, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plan.Run(context.Background(), face); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		data, err := os.ReadFile(filepath.Join(root, "shares", "officer-"+string(rune('0'+i))+".share"))
		if err != nil {
			t.Fatal(err)
		}
		sh, err := shares.Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		r.officerShare[i] = typed(sh)
	}

	revocations := filepath.Join(r.dir, "revocations.yaml")
	if err := os.WriteFile(revocations, []byte("version: 1\nrevoke: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	crlScript := filepath.Join(scriptsDir, "issue-crl.yaml")
	inputs := map[string]string{"place": "Test lab", "revocations": revocations, "previous_crl": "none",
		"root_certificate": filepath.Join(root, "artifacts", "root-ca.crt.pem"), "hsm_bag_in": "TEB-2"}
	r.out = filepath.Join(r.dir, "crl")
	plan, err = engine.Prepare(engine.Options{ScriptPath: crlScript, Inputs: inputs, HSM: r.h.Config("root"), OutDir: r.out,
		Tool: engine.CurrentTool("test"), Interfaces: noInterfaces})
	if err != nil {
		t.Fatal(err)
	}
	r.m = New(context.Background(), Options{Plain: true, ScriptsDir: scriptsDir, TranscriptsDir: r.dir, Script: crlScript,
		Inputs: inputs, Interfaces: noInterfaces}, nil)
	r.tap = viewTap{m: r.m, mu: &sync.Mutex{}, last: new(string)}
	r.tm = teatest.NewTestModel(t, r.tap, teatest.WithInitialTermSize(80, 24))
	// The engine's messages go to the program; the test hears its
	// questions too (after the program, so keys sent then come after).
	r.m.face.setSender(func(msg tea.Msg) {
		r.tm.Send(msg)
		if a, ok := msg.(askMsg); ok {
			if _, ex := a.req.(exceptionsReq); !ex {
				r.asks <- a.req
			}
		}
	})
	r.tm.Send(startCeremonyMsg{plan: plan})
	t.Cleanup(func() {
		if r.m.engineEnded != nil {
			select {
			case <-r.m.engineEnded:
			default:
				r.m.cer.cancel()
				r.m.face.close()
				<-r.m.engineEnded
			}
		}
	})
	return r
}

// next returns the engine's next question, or nil once it has ended.
func (r *crlRig) next(t *testing.T) any {
	t.Helper()
	select {
	case req := <-r.asks:
		return req
	case <-r.m.engineEnded:
		return nil
	case <-time.After(60 * time.Second):
		t.Fatal("the engine neither asks nor ends")
		return nil
	}
}

// quit ends the program.
func (r *crlRig) quit(t *testing.T) {
	t.Helper()
	if err := r.tm.Quit(); err != nil {
		t.Fatal(err)
	}
	r.tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second))
}

func (r *crlRig) keys(keys ...tea.KeyMsg) {
	for _, k := range keys {
		r.tm.Send(k)
	}
}

func (r *crlRig) typeText(s string) {
	for _, c := range s {
		if c == ' ' {
			r.tm.Send(keySpace)
		} else {
			r.tm.Send(runes(string(c)))
		}
	}
}

// view is the last screen drawn, as words (text).
func (r *crlRig) view() string {
	r.tap.mu.Lock()
	defer r.tap.mu.Unlock()
	return text(*r.tap.last)
}

func (r *crlRig) dump(t *testing.T) {
	if os.Getenv("TUI_DUMP") != "" {
		r.tap.mu.Lock()
		defer r.tap.mu.Unlock()
		t.Logf("\n%s", *r.tap.last)
	}
}

// says reports whether the last screen drawn says w.
func (r *crlRig) says(w string) bool { return strings.Contains(r.view(), w) }

// screen waits until the screen's words (text) say every one of want, and
// returns them.
func (r *crlRig) screen(t *testing.T, want ...string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v := r.view()
		missing := ""
		for _, w := range want {
			if !strings.Contains(v, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("the screen does not say %q:\n%s", missing, v)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// toLogin answers everything up to the second share of the login: the
// attendance (Olga, Omar and Oscar; Otto is absent), the confirmations,
// and Olga's own share 1; then Omar comes forward and types share 3,
// issued to Otto.
func (r *crlRig) toLogin(t *testing.T) {
	t.Helper()
	for {
		switch req := r.next(t).(type) {
		case engine.AttendanceRequest:
			for _, names := range [][]string{{"Ada Administrator"}, {"Wanda Witness"}, {"Olga Officer", "Omar Officer", "Oscar Officer"}} {
				for _, n := range names {
					r.typeText(n)
					r.keys(keyEnter)
				}
				r.keys(keyEnter)
			}
		case engine.AnnounceRequest, engine.ChoiceRequest:
			r.keys(keyEnter)
		case engine.ConfirmRequest:
			r.keys(runes("y"))
		case engine.InventoryRequest:
			r.inventory(t, req)
		case engine.ShareRequest:
			if req.Number != 1 && req.Number != 2 {
				t.Fatalf("share %d asked", req.Number)
			}
			r.screen(t, "Which keyholder comes forward?")
			if req.Number == 1 {
				r.keys(keyEnter) // Olga, first in the list
				r.typeText(r.officerShare[1])
				r.keys(keyEnter)
				continue
			}
			r.keys(keyEnter) // Omar, now first in the list
			r.screen(t, "Omar Officer (officer), type your share")
			r.typeText(r.officerShare[3])
			r.keys(keyEnter)
			return
		case nil:
			t.Fatal("the ceremony ended before the login")
		default:
			t.Fatalf("unexpected question %T", req)
		}
	}
}

// inventory types each item the inventory form asks for: the HSM's bag
// the root ceremony sealed it in (TEB-2) where one is expected.
func (r *crlRig) inventory(t *testing.T, req engine.InventoryRequest) {
	t.Helper()
	r.screen(t, "INVENTORY:")
	for _, it := range req.Items {
		if it.FromToken {
			continue
		}
		v := "recorded in the test"
		if it.Expect != "" {
			v = it.Expect
		}
		r.typeText(v)
		r.keys(keyEnter)
	}
}

// overrides returns the share-holder overrides the CRL ceremony's
// transcript records so far.
func (r *crlRig) overrides(t *testing.T) []transcript.Event {
	t.Helper()
	c, _, err := transcript.ReadIntact(filepath.Join(r.out, "transcript.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var out []transcript.Event
	for _, ev := range c.Events {
		if ev.Is(transcript.TypeOverride) {
			out = append(out, ev)
		}
	}
	return out
}

// A share typed by someone other than the officer it was issued to, in
// the TUI run by a bubbletea program (teatest) with the real engine: the
// root key generation (from answers, a rehearsal, so the shares are files)
// hands share 3 to Otto Officer; at the CRL ceremony Otto is absent and
// Omar Officer types it. The screen names the holder and who typed it and
// asks Omar for a reason; an empty reason is refused on screen and not
// recorded; the reason given is recorded as an override of check
// share-holder, by Omar, and the ceremony goes on to its end.
func TestShareHolderOverride(t *testing.T) {
	r := newCRLRig(t)
	r.toLogin(t)
	req, ok := r.next(t).(engine.OverrideRequest)
	if !ok || req.Check != "share-holder" {
		t.Fatalf("after Otto's share typed by Omar the engine asks %#v, not a share-holder override", req)
	}
	r.screen(t, "SAFETY CHECK FAILED (share-holder)", "was issued to Otto Officer, but Omar Officer entered it",
		"Press o to use the share anyway and say why")
	r.dump(t)
	r.keys(runes("o"))
	r.screen(t, "Omar Officer (officer), why may the ceremony go on?")
	r.dump(t)
	r.keys(keyEnter)
	r.screen(t, "! say why the ceremony may go on")
	r.dump(t)
	if got := r.overrides(t); len(got) != 0 {
		t.Fatalf("an empty reason was recorded: %s", got[0].Text)
	}
	const reason = "Otto is abroad; his sealed envelope was opened by the security manager"
	r.typeText(reason)
	r.keys(keyEnter)
	next, ok := r.next(t).(engine.ShareRequest)
	if !ok || next.Number != 3 {
		t.Fatalf("after the reason the engine asks %#v, not share 3", next)
	}
	got := r.overrides(t)
	if len(got) != 1 {
		t.Fatalf("%d overrides recorded", len(got))
	}
	ev := got[0]
	d, err := transcript.DataAs[transcript.Override](ev)
	if err != nil {
		t.Fatal(err)
	}
	det := string(ev.Data)
	if d.Check != "share-holder" || d.Reason != reason || !strings.Contains(det, `"entered_by":"Omar Officer"`) ||
		!strings.Contains(det, `"issued_to":"Otto Officer"`) || !strings.Contains(det, `"share":3`) {
		t.Errorf("override event data %s", det)
	}
	if len(ev.Actors) != 1 || ev.Actors[0].Name != "Omar Officer" || !strings.Contains(ev.Text, "reason given by Omar Officer: "+reason) {
		t.Errorf("override event by %v: %s", ev.Actors, ev.Text)
	}
	// Oscar's share completes the login; the rest is answered by keys
	// to the end.
	r.screen(t, "Oscar Officer (officer), type your share")
	r.typeText(r.officerShare[5])
	r.keys(keyEnter)
	for {
		switch req := r.next(t).(type) {
		case nil:
			r.screen(t, "CEREMONY COMPLETE")
			r.quit(t)
			if o := r.m.ran; o == nil || o.err != nil {
				t.Fatalf("the ceremony did not complete: %+v", o)
			}
			if _, err := os.Stat(filepath.Join(r.out, "artifacts", "root-ca.crl.pem")); err != nil {
				t.Error(err)
			}
			return
		case engine.AnnounceRequest, engine.ChoiceRequest:
			r.keys(keyEnter)
		case engine.ConfirmRequest:
			r.keys(runes("y"))
		case engine.InventoryRequest:
			r.inventory(t, req)
		case engine.ApprovalRequest:
			// y counts only once the screen has shown the end of it.
			r.screen(t, "APPROVE the CRL to be signed: "+who(req.Participant))
			footer := req.Participant.Name + ": press y to approve exactly this"
			for i := 0; !r.says(footer); i++ {
				if i == 100 {
					t.Fatalf("the approval's end never shows:\n%s", r.view())
				}
				r.keys(keyPgDown)
				time.Sleep(20 * time.Millisecond)
			}
			r.keys(runes("y"))
		default:
			t.Fatalf("unexpected question %T", req)
		}
	}
}

// treeSums is the SHA-256 of every file under dir, by path.
func treeSums(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		out[p] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Declining to give a reason (n, then y to stop) ends the ceremony before
// the login: the token's files are as they were, no artifact is written,
// and the transcript records the abort at the login step.
func TestShareHolderDeclined(t *testing.T) {
	r := newCRLRig(t)
	before := treeSums(t, filepath.Join(r.h.Dir, "tokens"))
	r.toLogin(t)
	if req, ok := r.next(t).(engine.OverrideRequest); !ok || req.Check != "share-holder" {
		t.Fatalf("the engine asks %#v, not a share-holder override", req)
	}
	r.screen(t, "SAFETY CHECK FAILED (share-holder)", "was issued to Otto Officer, but Omar Officer entered it")
	r.keys(runes("n"))
	r.screen(t, "Nobody overrides the failed share-holder check. Stop the ceremony?")
	r.keys(runes("y"))
	if req := r.next(t); req != nil {
		t.Fatalf("after stopping the engine asks %T", req)
	}
	r.screen(t, "CEREMONY ABORTED")
	if o := r.m.ran; o == nil || o.err == nil {
		t.Fatalf("the ceremony did not stop: %+v", o)
	}
	after := treeSums(t, filepath.Join(r.h.Dir, "tokens"))
	if len(before) != len(after) {
		t.Errorf("the token's files changed: %d before, %d after", len(before), len(after))
	}
	for p, s := range before {
		if after[p] != s {
			t.Errorf("the token's file %s changed", p)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(r.out, "artifacts")); len(entries) != 0 {
		t.Errorf("artifacts written: %v", entries)
	}
	c, _, err := transcript.ReadIntact(filepath.Join(r.out, "transcript.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range c.Events {
		if ev.Is(transcript.TypeOverride) || ev.Is(transcript.TypeHSMLogin) {
			t.Errorf("event %d %s: %s", ev.Seq, ev.Type, ev.Text)
		}
	}
	if last := c.Events[len(c.Events)-1]; last.Type != "ceremony-aborted" || last.Step != "activate-hsm" {
		t.Errorf("last event %s at %s: %s", last.Type, last.Step, last.Text)
	}
	r.quit(t)
}
