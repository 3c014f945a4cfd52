package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/devicepki/ceremony/ceremony/durable"
	"github.com/devicepki/ceremony/ceremony/outdir"
	"github.com/devicepki/ceremony/ceremony/record"
	"github.com/devicepki/ceremony/ceremony/record/pdf"
	"github.com/devicepki/ceremony/ceremony/transcript"
)

// recordFiles returns the printable records written beside a transcript,
// each rendered from it alone: transcript.md always, and transcript.pdf,
// the record that is printed and signed, once the transcript is sealed
// (issue 20: "written with the seal"). A ceremony that failed, was
// aborted or was closed keeps transcript.md only, which says so at the
// top; `ceremony transcript show --pdf` renders a PDF of any transcript.
func recordFiles(chain *transcript.Chain) []string {
	if n := len(chain.Events); n > 0 && chain.Events[n-1].Is(transcript.TypeTranscriptSealed) {
		return []string{outdir.RecordFile, outdir.RecordPDFFile}
	}
	return []string{outdir.RecordFile}
}

// renderRecord returns the printable record name (transcript.md or
// transcript.pdf) of a transcript.
func renderRecord(name string, chain *transcript.Chain) ([]byte, error) {
	if name == outdir.RecordPDFFile {
		return pdf.Render(chain)
	}
	return []byte(record.Render(chain)), nil
}

// How writeRecords treats a record that is already there.
type recordWrite int

const (
	// recordNew writes each record where none is: one already there is
	// an error.
	recordNew recordWrite = iota
	// recordMissing writes only the records that are missing.
	recordMissing
	// recordReplace writes every record, replacing what is there.
	recordReplace
)

// writeRecords writes the printable records of a transcript into its
// ceremony directory: every place that writes transcript.md does it
// through here, and writes transcript.pdf with it when the transcript is
// sealed.
func writeRecords(dir *outdir.Dir, chain *transcript.Chain, how recordWrite) error {
	var errs []error
	for _, name := range recordFiles(chain) {
		if how == recordMissing {
			if _, err := os.Lstat(filepath.Join(dir.Path(), name)); !errors.Is(err, fs.ErrNotExist) {
				continue
			}
		}
		errs = append(errs, writeRecord(dir, chain, name, how == recordReplace))
	}
	return errors.Join(errs...)
}

// writeRecord writes one printable record, replacing what is there if
// replace says so.
func writeRecord(dir *outdir.Dir, chain *transcript.Chain, name string, replace bool) error {
	data, err := renderRecord(name, chain)
	if err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	if replace {
		return durable.ReplaceFile(filepath.Join(dir.Path(), name), data, 0o644)
	}
	return dir.WriteFile(name, data)
}
