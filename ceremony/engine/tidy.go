package engine

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/devicepki/ceremony/ceremony/durable"
	"github.com/devicepki/ceremony/ceremony/outdir"
	"github.com/devicepki/ceremony/ceremony/transcript"
)

// untidy is what a kill can leave in a ceremony directory besides the
// transcript's own state: temporary files of writes cut short (never a
// complete file under a final name) and a printable record that is
// missing or, for a closed ceremony, older than the transcript (each of
// transcript.md and, for a sealed ceremony, transcript.pdf). Neither is
// part of the record, so tidying changes no transcript.
type untidy struct {
	temps   []string // relative paths, as outdir.TempFiles lists them
	records []rewrite
}

// rewrite is a printable record tidy writes again from the transcript.
type rewrite struct {
	name string // one of recordFiles(chain)
	why  string
}

func (u untidy) empty() bool { return len(u.temps) == 0 && len(u.records) == 0 }

// plan words what tidying would do, one line each.
func (u untidy) plan() []string {
	var p []string
	for _, t := range u.temps {
		if strings.HasPrefix(t, "."+outdir.QRDir+".tmp-") {
			p = append(p, fmt.Sprintf("remove %s, the QR export the interruption cut short (write the frames again with 'ceremony qr export')", t))
			continue
		}
		p = append(p, fmt.Sprintf("remove %s, a temporary file of a write the interruption cut short (never a complete file)", t))
	}
	for _, r := range u.records {
		p = append(p, fmt.Sprintf("write %s from the transcript (%s)", r.name, r.why))
	}
	return p
}

// findUntidy looks for what tidy would do in dir. chain is the intact
// transcript (nil if there is none); ended says the ceremony ended on
// record, so that its printable record should exist.
func findUntidy(dir *outdir.Dir, chain *transcript.Chain, ended bool) (untidy, error) {
	var u untidy
	temps, err := dir.TempFiles()
	if err != nil {
		return u, err
	}
	u.temps = temps
	if chain == nil || !ended {
		return u, nil
	}
	closed := false
	if ev, _ := endedBy(chain); ev.Is(transcript.TypeCeremonyClosed) {
		closed = true
	}
	for _, name := range recordFiles(chain) {
		have, err := durable.ReadFile(durable.Record, filepath.Join(dir.Path(), name))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			u.records = append(u.records, rewrite{name, "it is missing"})
		case err != nil:
			return u, fmt.Errorf("%s: %w", filepath.Join(dir.Path(), name), err)
		case closed:
			want, err := renderRecord(name, chain)
			if err != nil {
				return u, fmt.Errorf("render %s: %w", name, err)
			}
			if !bytes.Equal(have, want) {
				u.records = append(u.records, rewrite{name, "it was written before the ceremony was closed"})
			}
		}
	}
	return u, nil
}

// tidy removes the temporary files and writes the printable record as u
// says, and returns what it did.
func tidy(dir *outdir.Dir, chain *transcript.Chain, u untidy) ([]string, error) {
	if err := dir.RemoveTempFiles(u.temps); err != nil {
		return nil, err
	}
	var done []string
	for _, t := range u.temps {
		done = append(done, "removed "+t)
	}
	for _, r := range u.records {
		if err := writeRecord(dir, chain, r.name, true); err != nil {
			return done, err
		}
		done = append(done, fmt.Sprintf("wrote %s (%s)", r.name, r.why))
	}
	return done, nil
}

// tidyEnded handles close on a ceremony that has nothing left to close
// (sealed, closed, or killed before its transcript held an event): what
// a kill left around it is listed, or with opts.Confirmed tidied. It
// returns nil when there is nothing to tidy.
func tidyEnded(opts CloseOptions, dir *outdir.Dir, chain *transcript.Chain, why string) (*CloseResult, error) {
	if chain == nil && !onlyFirstEventTemp(dir) {
		// No transcript: tidied only if it holds nothing but what a run
		// killed before its first event leaves, so that close never
		// clears a directory that was never a ceremony's.
		return nil, nil
	}
	u, err := findUntidy(dir, chain, chain != nil)
	if err != nil || u.empty() {
		return nil, err
	}
	res := &CloseResult{Transcript: dir.TranscriptPath(), NothingToClose: why}
	if chain != nil {
		res.Events = len(chain.Events)
	}
	if !opts.Confirmed {
		res.Planned = u.plan()
		return res, nil
	}
	res.Tidied, err = tidy(dir, chain, u)
	return res, err
}

// removeTempFiles removes, once a seal is finished, the temporary files
// of writes the interruption cut short: none is part of the ceremony.
func removeTempFiles(dir *outdir.Dir) {
	if temps, err := dir.TempFiles(); err == nil {
		_ = dir.RemoveTempFiles(temps)
	}
}

// onlyFirstEventTemp reports whether dir holds nothing but the temporary
// files of a transcript's first event (.transcript.jsonl.tmp-N): all a
// run killed before its first event leaves.
func onlyFirstEventTemp(dir *outdir.Dir) bool {
	entries, err := os.ReadDir(dir.Path())
	if err != nil || len(entries) == 0 {
		return false
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || !durable.IsTemp(e.Name()) || !strings.HasPrefix(e.Name(), "."+outdir.TranscriptFile+".tmp-") {
			return false
		}
	}
	return true
}
