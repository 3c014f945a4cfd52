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

// recordFiles are the printable records written beside the transcript,
// both rendered from it alone: transcript.md and transcript.pdf.
var recordFiles = []string{outdir.RecordFile, outdir.RecordPDFFile}

// renderRecord returns the printable record name (one of recordFiles) of
// a transcript.
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
// ceremony directory: every place that writes transcript.md writes
// transcript.pdf with it, through here.
func writeRecords(dir *outdir.Dir, chain *transcript.Chain, how recordWrite) error {
	var errs []error
	for _, name := range recordFiles {
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
