package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/devicepki/ceremony/ceremony/transcript"
)

// interruptedDir writes a ceremony directory whose transcript stops after
// writing one artifact, at times from start on.
func interruptedDir(t *testing.T, start time.Time) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "artifacts"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "artifacts", "x.crt.pem"), []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := transcript.Create(filepath.Join(dir, "transcript.jsonl"), func() time.Time { return start })
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []transcript.Entry{
		{Type: "ceremony-started", Text: "started"},
		{Type: "artifact-written", Step: "w", Text: "Wrote artifacts/x.crt.pem", Data: map[string]any{
			"path": "artifacts/x.crt.pem", "sha256": sha256Hex([]byte("x\n"))}},
	} {
		if _, err := w.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// A clock behind the transcript's last event is refused before anything
// changes: the appended events would break the record.
func TestCloseRefusesAClockBehindTheTranscript(t *testing.T) {
	start := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	dir := interruptedDir(t, start)
	before, _ := os.ReadFile(filepath.Join(dir, "transcript.jsonl"))
	_, err := CloseInterrupted(CloseOptions{Dir: dir, Confirmed: true, Now: func() time.Time { return start.Add(-time.Hour) }})
	if err == nil || !strings.Contains(err.Error(), "clock") {
		t.Fatalf("err = %v", err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "transcript.jsonl"))
	if string(after) != string(before) {
		t.Fatal("the transcript changed")
	}
	if _, err := os.Stat(filepath.Join(dir, "artifacts", "x.crt.pem")); err != nil {
		t.Fatal("the artifact was removed")
	}
}

// Without Confirmed, close lists what it would do and changes nothing;
// confirmed, it withdraws the file and records the closing.
func TestCloseListsFirst(t *testing.T) {
	start := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	dir := interruptedDir(t, start)
	now := func() time.Time { return start.Add(time.Hour) }
	plan, err := CloseInterrupted(CloseOptions{Dir: dir, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Planned) != 1 || !strings.HasPrefix(plan.Planned[0], "withdraw artifacts/x.crt.pem") {
		t.Fatalf("planned %q", plan.Planned)
	}
	if _, err := os.Stat(filepath.Join(dir, "artifacts", "x.crt.pem")); err != nil {
		t.Fatal("a listing removed the artifact")
	}
	res, err := CloseInterrupted(CloseOptions{Dir: dir, Now: now, Confirmed: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Withdrawn) != 1 || res.Events != 5 {
		t.Fatalf("result %+v", res)
	}
	c, err := transcript.ReadFile(filepath.Join(dir, "transcript.jsonl"))
	if err != nil || c.Events[2].Type != "ceremony-closing" || c.Events[4].Type != "ceremony-closed" {
		t.Fatalf("transcript: %v", err)
	}
}
