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

// An unsealed transcript proves nothing, so close follows no link out of
// its directory: with artifacts/, an artifact, or the transcript itself a
// symbolic link to another ceremony's files, it refuses, listed or
// confirmed, and the files there stay.
func TestCloseFollowsNoLink(t *testing.T) {
	start := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	now := func() time.Time { return start.Add(time.Hour) }
	for _, tc := range []struct {
		name string
		// evil turns dir into the forgery, pointing at victim (another
		// ceremony directory holding artifacts/x.crt.pem), and returns
		// the file that must stay.
		evil func(t *testing.T, dir, victim string) string
	}{
		{"artifacts/ a link", func(t *testing.T, dir, victim string) string {
			mustDo(t, os.RemoveAll(filepath.Join(dir, "artifacts")))
			mustDo(t, os.Symlink(filepath.Join(victim, "artifacts"), filepath.Join(dir, "artifacts")))
			return filepath.Join(victim, "artifacts", "x.crt.pem")
		}},
		{"an artifact a link", func(t *testing.T, dir, victim string) string {
			mustDo(t, os.Remove(filepath.Join(dir, "artifacts", "x.crt.pem")))
			mustDo(t, os.Symlink(filepath.Join(victim, "artifacts", "x.crt.pem"), filepath.Join(dir, "artifacts", "x.crt.pem")))
			return filepath.Join(victim, "artifacts", "x.crt.pem")
		}},
		{"the transcript a link", func(t *testing.T, dir, victim string) string {
			mustDo(t, os.Remove(filepath.Join(dir, "transcript.jsonl")))
			mustDo(t, os.Symlink(filepath.Join(victim, "transcript.jsonl"), filepath.Join(dir, "transcript.jsonl")))
			return filepath.Join(dir, "artifacts", "x.crt.pem")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, victim := interruptedDir(t, start), interruptedDir(t, start)
			keep := tc.evil(t, dir, victim)
			before, _ := os.ReadFile(filepath.Join(victim, "transcript.jsonl"))
			for _, confirmed := range []bool{false, true} {
				_, err := CloseInterrupted(CloseOptions{Dir: dir, Now: now, Confirmed: confirmed})
				if err == nil || !strings.Contains(err.Error(), "is a symbolic link") || !strings.Contains(err.Error(), "nothing was changed") {
					t.Fatalf("confirmed %v: err = %v", confirmed, err)
				}
			}
			if _, err := os.Stat(keep); err != nil {
				t.Fatalf("%s was removed", keep)
			}
			if after, _ := os.ReadFile(filepath.Join(victim, "transcript.jsonl")); string(after) != string(before) {
				t.Fatal("the other ceremony's transcript changed")
			}
		})
	}
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
