package tui

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/devicepki/ceremony/ceremony/engine"
	"github.com/devicepki/ceremony/ceremony/outdir"
	"github.com/devicepki/ceremony/ceremony/record"
	"github.com/devicepki/ceremony/ceremony/transcript"
	"github.com/devicepki/ceremony/hsm"
)

// This file reads the transcripts of interrupted ceremonies for the start
// screen; it is the only code of the TUI that reads transcript events.

// interrupted is a ceremony directory whose transcript is not sealed.
type interrupted struct {
	dir          string
	scriptPath   string
	scriptSHA256 string
	title        string
	inputs       map[string]string
	rehearsal    bool
	started      string
	events       int
	last         string // the last event's text
	ended        bool   // the last event says how it ended (aborted, failed)
	closed       bool   // ceremony close ended it
	keysLeft     []string
	filesLeft    []string
	initToken    bool
	resetHint    string // how to reset the token it initialised
	damaged      string // why the transcript could not be read
	torn         string // a cut-off last line, set aside by close
	running      bool   // another process holds the directory: not interrupted
}

// findInterrupted lists the ceremony directories under dir whose
// transcript has no seal, newest first.
func findInterrupted(dir string) []*interrupted {
	if dir == "" {
		return nil
	}
	paths, _ := filepath.Glob(filepath.Join(dir, "*", outdir.TranscriptFile))
	var out []*interrupted
	for _, p := range paths {
		d := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(d, outdir.SealFile)); err == nil {
			continue
		}
		out = append(out, readInterrupted(d))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].started > out[j].started })
	if len(out) > 20 {
		out = out[:20]
	}
	return out
}

func readInterrupted(dir string) *interrupted {
	in := &interrupted{dir: record.Printable(dir), title: "?"}
	if outdir.Busy(dir) {
		in.running = true
		return in
	}
	if engine.SealPending(dir) {
		in.damaged = fmt.Sprintf("it was killed while sealing: run 'ceremony seal %s' to finish the seal (nothing is signed again)", record.Printable(dir))
		return in
	}
	c, torn, err := transcript.ReadIntact(filepath.Join(dir, outdir.TranscriptFile))
	if err != nil {
		in.damaged = err.Error()
		return in
	}
	if torn != nil {
		in.torn = fmt.Sprintf("event %d was cut off in the middle of its write (%d bytes): close sets it aside", torn.Event, len(torn.Bytes))
	}
	if len(c.Events) == 0 {
		in.damaged = "the transcript is empty"
		return in
	}
	first := c.Events[0]
	start, err := transcript.DataAs[transcript.CeremonyStarted](first)
	if err != nil {
		in.damaged = "the first event is not the ceremony's start"
		return in
	}
	in.title, in.inputs, in.scriptPath, in.rehearsal, in.started = record.Printable(start.Title), start.Inputs, start.Script.Path, start.Rehearsal, record.Printable(first.Time)
	in.scriptSHA256 = start.Script.SHA256
	for k, v := range in.inputs {
		in.inputs[k] = record.Printable(v)
	}
	in.events = len(c.Events)
	last := c.Events[len(c.Events)-1]
	if torn == nil && last.Is(transcript.TypeTranscriptSealing) {
		in.damaged = fmt.Sprintf("it was killed while sealing, before its signature was made: run 'ceremony seal %s --config HSM.yaml' with a login to the token, and the audit key signs it now", record.Printable(dir))
		return in
	}
	in.last = record.Printable(last.Text)
	in.ended = last.Is(transcript.TypeCeremonyAborted, transcript.TypeCeremonyFailed, transcript.TypeCeremonyClosed)
	in.closed = last.Is(transcript.TypeCeremonyClosed)
	for _, e := range c.Events {
		if e.Is(transcript.TypeTokenInitialised) {
			in.initToken = true
			var cfg hsm.Config
			_ = start.HSM.Decode(&cfg)
			in.resetHint = record.Printable(hsm.ResetHint(cfg.Module, cfg.Token.Label))
		}
	}
	keys, files, err := engine.Leftovers(c)
	if err != nil {
		in.damaged = err.Error()
		return in
	}
	for _, k := range keys {
		in.keysLeft = append(in.keysLeft, record.Printable(k))
	}
	for _, f := range files {
		in.filesLeft = append(in.filesLeft, record.Printable(f))
	}
	return in
}
