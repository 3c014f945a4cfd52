package transcript

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/devicepki/ceremony/ceremony/durable"
)

// ChainError says which event of a transcript is broken and how.
type ChainError struct {
	Event int // 1-based event (line) number
	Msg   string
	// CutOff is true when the only problem is an incomplete last line,
	// as a crash in the middle of a write leaves it: the events before
	// it are intact.
	CutOff bool
	// Line is true when Msg is a whole sentence that names the line
	// itself ("line 3 is empty: ..."): a line that is not an event at all.
	Line bool
}

func (e *ChainError) Error() string {
	if e.Line {
		return e.Msg
	}
	return fmt.Sprintf("event %d: %s", e.Event, e.Msg)
}

// Chain is the result of checking a transcript's lines.
type Chain struct {
	Events []Event
	// Head is the hex SHA-256 of the last line.
	Head string
}

// ReadFile reads and checks the transcript at path; see Check.
func ReadFile(path string) (*Chain, error) {
	data, err := durable.ReadFile(durable.Transcript, path)
	if err != nil {
		return nil, err
	}
	return Check(data)
}

// Check parses a transcript and checks its structure: every line is one
// event with exactly the known fields, sequence numbers count up from 1,
// every "prev" is the SHA-256 of the line before (Genesis for the first),
// times are UTC and never go backwards, and the file ends with a newline.
// The first problem is returned as a *ChainError naming the event.
func Check(data []byte) (*Chain, error) {
	if len(data) == 0 {
		return nil, &ChainError{Event: 1, Msg: "transcript is empty"}
	}
	lines := bytes.Split(data, []byte("\n"))
	last := lines[len(lines)-1]
	lines = lines[:len(lines)-1]
	if len(last) > 0 {
		if len(lines) > 0 {
			if _, err := Check(data[:len(data)-len(last)]); err != nil {
				return nil, err
			}
		}
		return nil, &ChainError{Event: len(lines) + 1, Msg: "incomplete last line (no newline): the write was cut off", CutOff: true}
	}
	c := &Chain{Head: Genesis}
	var prevTime time.Time
	for i, line := range lines {
		n := i + 1
		var ev Event
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ev); err != nil {
			return nil, lineError(n, line, err)
		}
		if dec.More() {
			return nil, &ChainError{Event: n, Line: true, Msg: fmt.Sprintf("line %d holds more than one JSON value: a transcript has one event per line (the transcript was altered or damaged)", n)}
		}
		if canon, err := marshal(ev); err != nil || !bytes.Equal(canon, line) {
			return nil, &ChainError{Event: n, Msg: "line is not in canonical form (altered by hand?)"}
		}
		switch {
		case ev.Seq != n:
			return nil, &ChainError{Event: n, Msg: fmt.Sprintf("sequence number %d, expected %d (event removed, added or reordered)", ev.Seq, n)}
		case ev.Prev != c.Head:
			if n == 1 {
				return nil, &ChainError{Event: n, Msg: fmt.Sprintf("hash chain broken: the first event's prev is %s, not %s", short(ev.Prev), short(Genesis))}
			}
			return nil, &ChainError{Event: n, Msg: fmt.Sprintf("hash chain broken: event %d hashes to %s, but this event records prev %s (event %d, or this link, was altered)",
				n-1, short(c.Head), short(ev.Prev), n-1)}
		case ev.Type == "" || ev.Text == "":
			return nil, &ChainError{Event: n, Msg: "event without a type or text"}
		}
		t, err := time.Parse(TimeFormat, ev.Time)
		if err != nil || t.Location() != time.UTC {
			return nil, &ChainError{Event: n, Msg: fmt.Sprintf("time %q is not UTC in the form %s", ev.Time, TimeFormat)}
		}
		if t.Before(prevTime) {
			return nil, &ChainError{Event: n, Msg: fmt.Sprintf("time %s is before the previous event's %s", ev.Time, prevTime.Format(TimeFormat))}
		}
		prevTime = t
		c.Events = append(c.Events, ev)
		c.Head = LineHash(line)
	}
	return c, nil
}

func short(h string) string {
	if len(h) > 16 {
		return h[:16] + "…"
	}
	return h
}

// Torn is a transcript's cut-off last line: the bytes a crash in the
// middle of a write left after the last complete event.
type Torn struct {
	// Event is the number the cut-off event would have had.
	Event int
	// Offset is where the torn bytes start: the length of the intact
	// transcript.
	Offset int
	Bytes  []byte
	SHA256 string
}

// ReadIntact reads the transcript at path. If its only fault is a
// cut-off last line, it returns the chain of the events before it and the
// torn bytes, so that close, show and the TUI carry on from the intact
// prefix as verify does; any other fault is an error.
func ReadIntact(path string) (*Chain, *Torn, error) {
	data, err := durable.ReadFile(durable.Transcript, path)
	if err != nil {
		return nil, nil, err
	}
	return checkIntact(data)
}

// checkIntact checks a transcript read whole; see ReadIntact.
func checkIntact(data []byte) (*Chain, *Torn, error) {
	c, err := Check(data)
	var ce *ChainError
	if err == nil || !errors.As(err, &ce) || !ce.CutOff {
		return c, nil, err
	}
	cut := bytes.LastIndexByte(data, '\n') + 1
	prefix := data[:cut]
	if len(prefix) == 0 {
		return nil, nil, err // nothing intact: not even the first event
	}
	if c, err = Check(prefix); err != nil {
		return nil, nil, err
	}
	sum := sha256.Sum256(data[cut:])
	return c, &Torn{Event: ce.Event, Offset: cut, Bytes: data[cut:], SHA256: hex.EncodeToString(sum[:])}, nil
}

// lineError says, in the reader's words, why line n (the nth event) does
// not decode as an event: never the JSON decoder's own text, which names
// Go types.
func lineError(n int, line []byte, err error) *ChainError {
	damaged := "the transcript was altered or damaged"
	if len(bytes.TrimSpace(line)) == 0 {
		return &ChainError{Event: n, Line: true, Msg: fmt.Sprintf("line %d is empty: a transcript has one event per line, no blank lines", n)}
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		at := int(syn.Offset) - 1
		if at < 0 {
			at = 0
		}
		if at < len(line) && line[at] < 0x20 {
			return &ChainError{Event: n, Line: true, Msg: fmt.Sprintf("line %d is not a JSON event: a control character (byte 0x%02x) at column %d — %s", n, line[at], at+1, damaged)}
		}
		if at < len(line) && (line[at] == 0x7f || line[at] >= 0x80) {
			return &ChainError{Event: n, Line: true, Msg: fmt.Sprintf("line %d is not a JSON event: an unexpected byte 0x%02x at column %d — %s", n, line[at], at+1, damaged)}
		}
		return &ChainError{Event: n, Line: true, Msg: fmt.Sprintf("line %d is not a JSON event: the JSON is malformed at column %d — %s", n, at+1, damaged)}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &ChainError{Event: n, Line: true, Msg: fmt.Sprintf("line %d is not a JSON event: it ends in the middle of the JSON — %s", n, damaged)}
	case errors.As(err, &typ) && typ.Field == "":
		return &ChainError{Event: n, Line: true, Msg: fmt.Sprintf("line %d is not a JSON event: it is a JSON %s, not an object — %s", n, printable(typ.Value), damaged)}
	case errors.As(err, &typ):
		return &ChainError{Event: n, Line: true, Msg: fmt.Sprintf("event %d (line %d): %s — %s", n, n, fieldWants(typ.Field), damaged)}
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if name, qerr := strconv.Unquote(f); qerr == nil {
			f = name
		}
		return &ChainError{Event: n, Line: true, Msg: fmt.Sprintf("event %d (line %d): unknown field %q: an event has only the fields seq, time, prev, type, step, actors, text and data — %s", n, n, printable(f), damaged)}
	}
	return &ChainError{Event: n, Line: true, Msg: fmt.Sprintf("line %d is not a JSON event — %s", n, damaged)}
}

// fieldWants says what the event field named by a JSON decoder's path
// (such as "seq" or "actors.name") must be.
func fieldWants(field string) string {
	switch {
	case field == "seq":
		return "seq is not a whole number from 1 up"
	case field == "actors":
		return "actors is not a list of people"
	case strings.HasPrefix(field, "actors."):
		return fmt.Sprintf("actors: %s is not text", strings.TrimPrefix(field, "actors."))
	}
	return fmt.Sprintf("%s is not text", printable(field))
}

// printable keeps at most 40 printable characters of s, for a message.
func printable(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i >= 40 {
			b.WriteString("…")
			break
		}
		if r < 0x20 || r == 0x7f || r == utf8.RuneError || !unicode.IsPrint(r) {
			r = '?'
		}
		b.WriteRune(r)
	}
	return b.String()
}
