// Package transcript writes and checks ceremony transcripts: append-only JSON
// Lines files in which every event carries the SHA-256 of the line before it.
//
// Each event is written and fsync'ed before Append returns, so a crash leaves
// a transcript that is intact up to its last complete line. Event data is
// marshalled before anything is written; data holding a secret.Secret fails
// to marshal, so a secret can never reach a transcript.
//
// The format is documented in transcripts/README.md.
package transcript

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/devicepki/ceremony/ceremony/durable"
)

// Version is the transcript format version, recorded in the first event.
const Version = 1

// Genesis is the "prev" value of the first event.
var Genesis = strings.Repeat("0", 64)

// TimeFormat is how event times are written: UTC with milliseconds.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// Actor is a person who took part in an event, by role and name.
type Actor struct {
	Role string `json:"role"`
	Name string `json:"name"`
}

// Event is one line of a transcript.
type Event struct {
	Seq    int             `json:"seq"`
	Time   string          `json:"time"`
	Prev   string          `json:"prev"`
	Type   string          `json:"type"`
	Step   string          `json:"step,omitempty"`
	Actors []Actor         `json:"actors,omitempty"`
	Text   string          `json:"text"`
	Data   json.RawMessage `json:"data,omitempty"`
}

// Entry is what a caller appends; the Writer adds the sequence number, the
// time and the chain hash.
type Entry struct {
	// Type is the event type; it may be left empty when Data is a
	// Payload, whose type it then is.
	Type   string
	Step   string
	Actors []Actor
	Text   string
	// Data is marshalled to JSON. It must not contain secrets; a
	// secret.Secret refuses to marshal, which fails the Append.
	Data any
}

// Writer appends events to a transcript file.
type Writer struct {
	f      *os.File
	path   string
	seq    int
	prev   string
	now    func() time.Time
	broken error
}

// Create starts a new transcript at path; it fails if the file exists.
// now supplies event times (time.Now when nil). The file appears with its
// first event in it, whole (written under a temporary name, synced and
// linked to path by the first Append): a crash never leaves an empty or
// partial transcript, only none.
func Create(path string, now func() time.Time) (*Writer, error) {
	if now == nil {
		now = time.Now
	}
	if _, err := os.Lstat(path); err == nil {
		return nil, fmt.Errorf("create transcript: %s: already exists", path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("create transcript: %w", err)
	}
	return &Writer{path: path, prev: Genesis, now: now}, nil
}

// Reopen opens an existing, unsealed transcript at path to append to it:
// the chain must be intact (Check), and the events continue its sequence
// and hash chain. It is for closing an interrupted ceremony; a sealed
// transcript is refused by the caller, which knows the seal event.
func Reopen(path string, now func() time.Time) (*Writer, *Chain, error) {
	if now == nil {
		now = time.Now
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open transcript: %w", err)
	}
	data, err := durable.ReadOpenFile(f, durable.Transcript.Max)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("read transcript %s: %w", path, err)
	}
	c, err := Check(data)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("transcript %s: %w", path, err)
	}
	return &Writer{f: f, path: path, seq: len(c.Events), prev: c.Head, now: now}, c, nil
}

// Path returns the transcript's file name.
func (w *Writer) Path() string { return w.path }

// Len returns the number of events written.
func (w *Writer) Len() int { return w.seq }

// Head returns the hex SHA-256 of the last line written (Genesis if none):
// the digest that commits to the whole transcript so far.
func (w *Writer) Head() string { return w.prev }

// Append writes one event and fsyncs it. After a write error the Writer
// refuses further events: the file ends at its last complete line.
func (w *Writer) Append(e Entry) (Event, error) {
	ev, line, err := w.next(e)
	if err != nil {
		return Event{}, err
	}
	return ev, w.write(ev, line)
}

// ErrSealed is returned by Append after Seal.
var ErrSealed = errors.New("transcript is sealed: nothing may be added")

// Seal appends the last event, e, and seals the transcript. sign receives
// the exact bytes the file holds once e is written (every line so far, read
// back from the file, and e's line) and makes the seal over them; e is
// written only if sign succeeds. The Writer then refuses further events.
func (w *Writer) Seal(e Entry, sign func(content []byte) error) (Event, error) {
	ev, line, err := w.next(e)
	if err != nil {
		return Event{}, err
	}
	written, err := os.ReadFile(w.path)
	if err != nil {
		return Event{}, fmt.Errorf("transcript: read back before sealing: %w", err)
	}
	c, err := Check(written)
	if err != nil || c.Head != w.prev || len(c.Events) != w.seq {
		return Event{}, fmt.Errorf("transcript: %s changed on disk since it was written; refusing to seal it", w.path)
	}
	content := make([]byte, 0, len(written)+len(line)+1)
	content = append(append(append(content, written...), line...), '\n')
	if err := sign(content); err != nil {
		return Event{}, err
	}
	if err := w.write(ev, line); err != nil {
		return Event{}, err
	}
	w.broken = ErrSealed
	return ev, nil
}

// next builds the next event from e and its line, without writing it.
func (w *Writer) next(e Entry) (Event, []byte, error) {
	if w.broken != nil {
		if w.broken == ErrSealed {
			return Event{}, nil, ErrSealed
		}
		return Event{}, nil, fmt.Errorf("transcript unusable after an earlier error: %w", w.broken)
	}
	if p, ok := e.Data.(Payload); ok {
		switch {
		case e.Type == "":
			e.Type = p.EventType()
		case e.Type != p.EventType():
			return Event{}, nil, fmt.Errorf("transcript: a %s event cannot carry the data of a %s event", e.Type, p.EventType())
		}
	}
	if e.Type == "" || e.Text == "" {
		return Event{}, nil, errors.New("transcript: an event needs a type and a text")
	}
	ev := Event{
		Seq:    w.seq + 1,
		Time:   w.now().UTC().Format(TimeFormat),
		Prev:   w.prev,
		Type:   e.Type,
		Step:   e.Step,
		Actors: e.Actors,
		Text:   e.Text,
	}
	if e.Data != nil {
		d, err := marshal(e.Data)
		if err != nil {
			return Event{}, nil, fmt.Errorf("transcript: event %d (%s) data: %w", ev.Seq, e.Type, err)
		}
		ev.Data = d
	}
	line, err := marshal(ev)
	if err != nil {
		return Event{}, nil, fmt.Errorf("transcript: event %d (%s): %w", ev.Seq, e.Type, err)
	}
	return ev, line, nil
}

// write appends line (the event ev) and fsyncs the file. The first
// event creates the file, whole.
func (w *Writer) write(ev Event, line []byte) error {
	if fault.when != "" {
		written[ev.Type]++
		nth := written[ev.Type]
		killAt("before", ev, nth)
		defer killAt("after", ev, nth)
		if fault.matches("torn", ev, nth) && w.f != nil {
			_, _ = w.f.Write(line[:len(line)/2])
			_ = w.f.Sync()
			killAt("torn", ev, nth)
		}
	}
	if w.f == nil {
		if err := durable.WriteFileExclusive(w.path, append(line, '\n'), 0o644); err != nil {
			w.broken = err
			return fmt.Errorf("transcript: write event %d: %w", ev.Seq, err)
		}
		f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			w.broken = err
			return fmt.Errorf("transcript: open after event %d: %w", ev.Seq, err)
		}
		w.f = f
		w.seq, w.prev = ev.Seq, LineHash(line)
		return nil
	}
	if _, err := w.f.Write(append(line, '\n')); err != nil {
		w.broken = err
		return fmt.Errorf("transcript: write event %d: %w", ev.Seq, err)
	}
	if err := w.f.Sync(); err != nil {
		w.broken = err
		return fmt.Errorf("transcript: sync event %d: %w", ev.Seq, err)
	}
	w.seq, w.prev = ev.Seq, LineHash(line)
	return nil
}

// Close closes the file.
func (w *Writer) Close() error {
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}

// LineHash returns the hex SHA-256 of one transcript line, without its
// newline: the value the next event carries as "prev".
func LineHash(line []byte) string {
	sum := sha256.Sum256(line)
	return hex.EncodeToString(sum[:])
}

// marshal encodes v compactly without HTML escaping, so that texts read
// naturally in the file.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
