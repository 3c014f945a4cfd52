package transcript

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/devicepki/ceremony/internal/fuzzcheck"

	"github.com/devicepki/ceremony/internal/docvector"
)

// checkChainError fails unless err is nil or a *ChainError of one
// printable line.
func checkChainError(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var ce *ChainError
	if !errors.As(err, &ce) {
		t.Fatalf("not a ChainError: %v", err)
	}
	fuzzcheck.OneLine(t, err)
}

// FuzzTranscriptLine: one line as the first event of a transcript, and its
// data as each payload type's, as readers decode them after looking at
// the type. Never a panic; errors are one printable line; an accepted
// line is one event that marshals back to the line.
func FuzzTranscriptLine(f *testing.F) {
	for _, l := range strings.Split(docvector.Vector(f, "transcript"), "\n") {
		if l != "" {
			f.Add([]byte(l))
		}
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		c, err := Check(append(bytes.Clone(line), '\n'))
		checkChainError(t, err)
		if err == nil {
			if len(c.Events) != 1 || c.Head != LineHash(line) {
				t.Fatalf("one line, %d events, head %s", len(c.Events), c.Head)
			}
			if again, err := marshal(c.Events[0]); err != nil || !bytes.Equal(again, line) {
				t.Fatalf("accepted event does not marshal back to its line: %v", err)
			}
		}
		var ev Event
		if json.Unmarshal(line, &ev) != nil {
			return
		}
		// DataAs for each payload type, as if the event were of it.
		for _, p := range Payloads {
			ev.Type = p.EventType()
			v := reflect.New(reflect.TypeOf(p))
			if len(ev.Data) > 0 {
				_ = json.Unmarshal(ev.Data, v.Interface())
			}
		}
		ev.Type = TypeCeremonyStarted
		_, _ = DataAs[CeremonyStarted](ev)
		ev.Type = TypeTranscriptSealed
		_, _ = DataAs[TranscriptSealed](ev)
		ev.Type = TypeCertificateIssued
		_, _ = DataAs[CertificateIssued](ev)
		ev.Type = "token-initialized"
		_, _ = DataAs[TokenInitialised](ev)
	})
}

// FuzzTranscriptChain: a whole transcript, checked (Check) and read as
// close and the TUI read it (ReadIntact). Never a panic; errors are
// ChainErrors of one printable line; an accepted chain has one event a
// line, each marshalling back to its line, and its head is the last
// line's hash; a torn tail is exactly the bytes after the last newline.
func FuzzTranscriptChain(f *testing.F) {
	vec := docvector.Vector(f, "transcript")
	f.Add([]byte(vec))
	f.Add([]byte(vec[:len(vec)-40]))
	f.Add([]byte(strings.Replace(vec, `"seq":2`, `"seq":3`, 1)))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Check(data)
		checkChainError(t, err)
		if err == nil {
			lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
			if len(lines) != len(c.Events) || c.Head != LineHash(lines[len(lines)-1]) {
				t.Fatalf("%d lines, %d events, head %s", len(lines), len(c.Events), c.Head)
			}
			for i, ev := range c.Events {
				if again, err := marshal(ev); err != nil || !bytes.Equal(again, lines[i]) {
					t.Fatalf("event %d does not marshal back to its line: %v", i+1, err)
				}
			}
		}
		ic, torn, ierr := checkIntact(data)
		checkChainError(t, ierr)
		switch {
		case err == nil && (ierr != nil || torn != nil || len(ic.Events) != len(c.Events)):
			t.Fatalf("an intact transcript read as torn or broken: %v", ierr)
		case torn != nil && (ic == nil || torn.Offset+len(torn.Bytes) != len(data) || torn.Event != len(ic.Events)+1 ||
			bytes.IndexByte(torn.Bytes, '\n') >= 0 || torn.Offset == 0 || data[torn.Offset-1] != '\n'):
			t.Fatalf("torn tail %+v of %d bytes", torn, len(data))
		}
	})
}
