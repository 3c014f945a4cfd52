package transcript

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/devicepki/ceremony/ceremony/secret"
)

func fakeClock() func() time.Time {
	t := time.Date(2026, 11, 21, 9, 0, 0, 0, time.FixedZone("CET", 3600))
	return func() time.Time {
		t = t.Add(1500 * time.Millisecond)
		return t
	}
}

func writeSample(t *testing.T) (string, []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "transcript.jsonl")
	w, err := Create(path, fakeClock())
	if err != nil {
		t.Fatal(err)
	}
	entries := []Entry{
		{Type: "ceremony-started", Text: "Ceremony <root> started", Data: map[string]any{"script_sha256": strings.Repeat("a", 64)}},
		{Type: "attendance", Step: "attendance", Text: "Present: Alice (administrator), Wendy (witness)",
			Actors: []Actor{{Role: "administrator", Name: "Alice"}, {Role: "witness", Name: "Wendy"}}},
		{Type: "key-generated", Step: "generate", Text: "Generated key pair \"root-ca\"", Data: struct {
			Label string `json:"label"`
		}{"root-ca"}},
		{Type: "ceremony-completed", Text: "done"},
	}
	for _, e := range entries {
		if _, err := w.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	if w.Len() != 4 {
		t.Fatalf("Len = %d", w.Len())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if head := w.Head(); head != LineHash(bytes.Split(data, []byte("\n"))[3]) {
		t.Fatal("Head is not the hash of the last line")
	}
	return path, data
}

func TestWriteAndCheck(t *testing.T) {
	_, data := writeSample(t)
	c, err := Check(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Events) != 4 || c.Events[0].Prev != Genesis || c.Events[1].Time != "2026-11-21T08:00:03.000Z" {
		t.Fatalf("events %+v", c.Events)
	}
	// The chain, recomputed here with nothing but sha256 over raw lines.
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	prev := Genesis
	for i, l := range lines {
		if !strings.Contains(l, `"prev":"`+prev+`"`) {
			t.Fatalf("line %d does not carry the hash of line %d", i+1, i)
		}
		sum := sha256.Sum256([]byte(l))
		prev = hex.EncodeToString(sum[:])
	}
	if c.Head != prev {
		t.Fatal("Head differs from the recomputed chain")
	}
	if !strings.Contains(lines[0], `"Ceremony <root> started"`) {
		t.Fatal("text was HTML-escaped")
	}
}

// Changing any byte of any line but the last breaks the chain or the line,
// and Check names an event at or before the change. (The last line is
// protected by the seal, not by the chain.)
func TestEveryByteMatters(t *testing.T) {
	_, data := writeSample(t)
	lastStart := bytes.LastIndexByte(data[:len(data)-1], '\n') + 1
	for i := 0; i < lastStart; i++ {
		for _, delta := range []byte{1, 0x20} {
			mut := bytes.Clone(data)
			mut[i] ^= delta
			if _, err := Check(mut); err == nil {
				t.Fatalf("byte %d ^ %#x not detected", i, delta)
			} else {
				var ce *ChainError
				if !errors.As(err, &ce) {
					t.Fatalf("byte %d: error %v is not a ChainError", i, err)
				}
				line := bytes.Count(data[:i], []byte("\n")) + 1
				if ce.Event > line+1 {
					t.Fatalf("byte %d (line %d): blamed event %d", i, line, ce.Event)
				}
			}
		}
	}
}

func TestCheckRejects(t *testing.T) {
	_, data := writeSample(t)
	lines := bytes.SplitAfter(data, []byte("\n"))
	join := func(ls ...[]byte) []byte { return bytes.Join(ls, nil) }
	for _, tc := range []struct {
		name  string
		data  []byte
		event int
		want  string
	}{
		{"empty", nil, 1, "empty"},
		{"line removed", join(lines[0], lines[2], lines[3]), 2, "sequence number 3, expected 2"},
		{"lines swapped", join(lines[0], lines[2], lines[1], lines[3]), 2, "sequence number 3, expected 2"},
		{"first line removed", join(lines[1], lines[2], lines[3]), 1, "sequence number 2, expected 1"},
		{"line duplicated", join(lines[0], lines[1], lines[1], lines[2], lines[3]), 3, "sequence number 2, expected 3"},
		{"cut off", data[:len(data)-10], 4, "incomplete last line"},
		{"garbage appended", join(data, []byte("{}\n")), 5, "canonical"},
		{"blank line", join(lines[0], []byte("\n"), lines[1]), 2, "line 2 is empty: a transcript has one event per line, no blank lines"},
		{"seq out of range", bytes.Replace(data, []byte(`"seq":3,`), []byte(`"seq":1e999999999,`), 1), 3, "event 3 (line 3): seq is not a whole number from 1 up"},
		{"seq too large", bytes.Replace(data, []byte(`"seq":3,`), []byte(`"seq":99999999999999999999999,`), 1), 3, "event 3 (line 3): seq is not a whole number from 1 up"},
		{"seq a fraction", bytes.Replace(data, []byte(`"seq":3,`), []byte(`"seq":1.5e308,`), 1), 3, "event 3 (line 3): seq is not a whole number from 1 up"},
		{"NUL in a string", bytes.Replace(data, []byte(`"seq":3,"time":"`), []byte("\"seq\":3,\"time\":\"\x00"), 1), 3, "line 3 is not a JSON event: a control character (byte 0x00) at column"},
		{"text a number", bytes.Replace(data, []byte(`"seq":2,`), []byte(`"seq":2,"text":7,`), 1), 2, "event 2 (line 2): text is not text"},
		{"an array", join(lines[0], []byte("[1]\n")), 2, "line 2 is not a JSON event: it is a JSON array, not an object"},
		{"truncated JSON", join(lines[0], []byte("{\"seq\":2\n")), 2, "line 2 is not a JSON event: it ends in the middle of the JSON"},
		{"pretty-printed", bytes.Replace(data, []byte(`"seq":2,`), []byte(`"seq": 2,`), 1), 2, "canonical"},
		{"unknown field", bytes.Replace(data, []byte(`"seq":4,`), []byte(`"seq":4,"pin":"1",`), 1), 4, `event 4 (line 4): unknown field "pin": an event has only`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Check(tc.data)
			var ce *ChainError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v", err)
			}
			if ce.Event != tc.event || !strings.Contains(ce.Msg, tc.want) {
				t.Fatalf("err = %v, want event %d %q", err, tc.event, tc.want)
			}
			if msg := err.Error(); strings.Contains(msg, "json:") || strings.Contains(msg, "Go ") || strings.ContainsAny(msg, "\n\x00") {
				t.Fatalf("err = %q: the JSON decoder's own text, or not one line", msg)
			}
		})
	}
}

func TestCreateIsExclusive(t *testing.T) {
	path, data := writeSample(t)
	if _, err := Create(path, nil); err == nil {
		t.Fatal("Create over an existing transcript succeeded")
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(after, data) {
		t.Fatal("existing transcript changed")
	}
}

func TestSecretsNeverReachTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "transcript.jsonl")
	w, err := Create(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	pin := secret.FromString("271828")
	_, err = w.Append(Entry{Type: "login", Text: "logged in", Data: map[string]any{"pin": pin}})
	if !errors.Is(err, secret.ErrSerialise) {
		t.Fatalf("Append with a secret: err = %v", err)
	}
	if _, err := w.Append(Entry{Type: "ok", Text: "still usable"}); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), "271828") || w.Len() != 1 {
		t.Fatalf("transcript: %s", data)
	}
	if _, err := w.Append(Entry{Type: "no-text"}); err == nil {
		t.Fatal("event without text accepted")
	}
}

func TestSealSignsExactlyTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "transcript.jsonl")
	w, err := Create(path, fakeClock())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Append(Entry{Type: "ceremony-started", Text: "start"}); err != nil {
		t.Fatal(err)
	}
	// A failing signer leaves the file as it was.
	before, _ := os.ReadFile(path)
	boom := errors.New("HSM unplugged")
	if _, err := w.Seal(Entry{Type: "transcript-sealed", Text: "sealed"}, func([]byte) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("Seal with failing signer: %v", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("a failed seal changed the file")
	}
	var signed []byte
	ev, err := w.Seal(Entry{Type: "transcript-sealed", Text: "sealed"}, func(b []byte) error {
		signed = bytes.Clone(b)
		return nil
	})
	if err != nil || ev.Seq != 2 {
		t.Fatalf("Seal: %+v %v", ev, err)
	}
	final, _ := os.ReadFile(path)
	if !bytes.Equal(signed, final) {
		t.Fatalf("signed bytes differ from the file:\n%s\n%s", signed, final)
	}
	if _, err := w.Append(Entry{Type: "late", Text: "after the seal"}); !errors.Is(err, ErrSealed) {
		t.Fatalf("Append after Seal: %v", err)
	}
}

func TestSealRefusesAFileChangedOnDisk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "transcript.jsonl")
	w, err := Create(path, fakeClock())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Append(Entry{Type: "ceremony-started", Text: "start"}); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if err := os.WriteFile(path, bytes.Replace(data, []byte("start"), []byte("START"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = w.Seal(Entry{Type: "transcript-sealed", Text: "sealed"}, func([]byte) error {
		t.Fatal("signer called on an altered file")
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "changed on disk") {
		t.Fatalf("Seal: %v", err)
	}
}

// Reopen continues the chain of an existing transcript; a damaged or cut
// transcript is refused and left as it was.
func TestReopenContinuesTheChain(t *testing.T) {
	path, data := writeSample(t)
	w, c, err := Reopen(path, func() time.Time { return time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC) })
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Events) != 4 || w.Len() != 4 || w.Head() != c.Head {
		t.Fatalf("reopened at %d events, head %s; chain %d, %s", w.Len(), w.Head(), len(c.Events), c.Head)
	}
	if _, err := w.Append(Entry{Type: "ceremony-closed", Text: "closed"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(after, data) {
		t.Fatal("Reopen changed what was there")
	}
	c2, err := Check(after)
	if err != nil {
		t.Fatal(err)
	}
	if len(c2.Events) != 5 || c2.Events[4].Seq != 5 || c2.Events[4].Prev != c.Head {
		t.Fatalf("appended event %+v", c2.Events[4])
	}

	cut := filepath.Join(t.TempDir(), "cut.jsonl")
	if err := os.WriteFile(cut, data[:len(data)-10], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Reopen(cut, nil); err == nil || !strings.Contains(err.Error(), "incomplete last line") {
		t.Fatalf("cut transcript: %v", err)
	}
	if got, _ := os.ReadFile(cut); !bytes.Equal(got, data[:len(data)-10]) {
		t.Fatal("a refused Reopen changed the file")
	}
	if _, _, err := Reopen(filepath.Join(t.TempDir(), "none.jsonl"), nil); err == nil {
		t.Fatal("Reopen of a missing file succeeded")
	}
}

// A new transcript appears only with its first event in it, whole: there
// is never an empty transcript file.
func TestCreateWritesTheFirstEventWhole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "transcript.jsonl")
	w, err := Create(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Fatalf("the file exists before its first event: %v", err)
	}
	if _, err := w.Append(Entry{Type: "ceremony-started", Text: "started"}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil || bytes.Count(data, []byte("\n")) != 1 {
		t.Fatalf("after the first event: %q, %v", data, err)
	}
	if _, err := w.Append(Entry{Type: "note", Text: "second"}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if c, err := ReadFile(path); err != nil || len(c.Events) != 2 {
		t.Fatalf("read back: %v", err)
	}
	if _, err := Create(path, nil); err == nil {
		t.Fatal("Create over an existing transcript")
	}
	if matches, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*tmp*")); len(matches) != 0 {
		t.Errorf("temporary files left: %v", matches)
	}
}

// ReadIntact carries on from the events before a cut-off last line, and
// refuses any other fault.
func TestReadIntact(t *testing.T) {
	path := filepath.Join(t.TempDir(), "transcript.jsonl")
	w, err := Create(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"one", "two"} {
		if _, err := w.Append(Entry{Type: "note", Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	good, _ := os.ReadFile(path)
	if c, torn, err := ReadIntact(path); err != nil || torn != nil || len(c.Events) != 2 {
		t.Fatalf("intact: %v, %v", torn, err)
	}
	if err := os.WriteFile(path, append(append([]byte{}, good...), `{"seq":3,"ti`...), 0o644); err != nil {
		t.Fatal(err)
	}
	c, torn, err := ReadIntact(path)
	if err != nil || torn == nil || len(c.Events) != 2 || torn.Event != 3 || torn.Offset != len(good) || string(torn.Bytes) != `{"seq":3,"ti` || len(torn.SHA256) != 64 {
		t.Fatalf("torn: %+v, %v", torn, err)
	}
	bad := bytes.Replace(good, []byte(`"one"`), []byte(`"0ne"`), 1)
	if err := os.WriteFile(path, append(bad, `{"seq":3`...), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ReadIntact(path); err == nil {
		t.Fatal("a broken chain before the cut was accepted")
	}
	if err := os.WriteFile(path, []byte(`{"seq":1`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ReadIntact(path); err == nil {
		t.Fatal("a transcript with no intact event was accepted")
	}
}
