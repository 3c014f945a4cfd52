package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devicepki/ceremony/ceremony/engine"
	"github.com/devicepki/ceremony/ceremony/transcript"
	"github.com/devicepki/ceremony/internal/softhsmtest"
)

// quorumPeople attend the shipped root key generation script.
var quorumPeople = engine.Attendance{
	"administrator": {"Ada"}, "witness": {"Wanda"},
	"officer":   {"O1", "O2", "O3", "O4", "O5"},
	"custodian": {"C1", "C2", "C3", "C4", "C5"},
}

// newQuorumRig copies the shipped root key generation script and
// templates and gives it a blank SoftHSM2 token slot to initialise.
func newQuorumRig(t testing.TB) *rig {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"scripts/root-key-generation.yaml", "templates/root-ca.yaml", "templates/transcript-signing.yaml"} {
		data, err := os.ReadFile(filepath.Join("..", "..", f))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, f), string(data))
	}
	h := softhsmtest.New(t)
	return &rig{dir: dir, script: filepath.Join(dir, "scripts", "root-key-generation.yaml"),
		cfg: h.Config("quorum-test"), out: filepath.Join(dir, "out")}
}

// A keyholder who mistypes their share is told where and types it again;
// the failed attempt is on record, the share never is.
func TestHandOutTypoIsCaughtAndRetried(t *testing.T) {
	r := newQuorumRig(t)
	tries := map[string]int{}
	face := &scriptedFace{people: quorumPeople, typeBack: func(req engine.HandOutRequest) string {
		tries[req.Holder.Name]++
		text := string(req.Text.Bytes())
		if req.Holder.Name == "O2" && req.Attempt == 1 {
			// A typo in the third line's first group character.
			lines := strings.Split(text, "\n")
			b := []byte(lines[3])
			if b[0] == 'X' {
				b[0] = 'Y'
			} else {
				b[0] = 'X'
			}
			lines[3] = string(b)
			return strings.Join(lines, "\n")
		}
		return text
	}}
	opts := r.options(t)
	opts.Rehearsal = true
	plan, err := engine.Prepare(opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plan.Run(context.Background(), face); err != nil {
		t.Fatal(err)
	}
	if tries["O2"] != 2 || tries["O1"] != 1 || len(face.handedOut) != 11 {
		t.Fatalf("tries %v, %d screens", tries, len(face.handedOut))
	}
	chain, err := transcript.ReadFile(filepath.Join(r.out, "transcript.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var failed []transcript.Event
	for _, ev := range chain.Events {
		if ev.Type == "share-typeback-failed" {
			failed = append(failed, ev)
		}
	}
	if len(failed) != 1 || !strings.Contains(failed[0].Text, "O2's copy of share 2 did not match (attempt 1 of 3): group ") ||
		!strings.Contains(failed[0].Text, "check character does not match") {
		t.Fatalf("typeback failures: %+v", failed)
	}
	raw, _ := os.ReadFile(filepath.Join(r.out, "transcript.jsonl"))
	for _, shown := range face.handedOut {
		for _, line := range strings.Split(shown, "\n")[2:] {
			if len(line) > 8 && strings.Contains(string(raw), line) {
				t.Fatalf("the transcript holds a line of a share")
			}
		}
	}
}

// BenchmarkQuorumCeremony measures the shipped root key generation
// ceremony on a blank SoftHSM2 token: initialisation with derived PINs,
// ten shares handed out and typed back, the root key, its backup wrapped
// and checked in the HSM, the audit key, the seal.
func BenchmarkQuorumCeremony(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		r := newQuorumRig(b)
		opts := r.options(b)
		opts.Rehearsal = true
		b.StartTimer()
		plan, err := engine.Prepare(opts)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := plan.Run(context.Background(), &scriptedFace{people: quorumPeople}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.RemoveAll(r.dir)
		b.StartTimer()
	}
}
