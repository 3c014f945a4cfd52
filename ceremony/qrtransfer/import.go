package qrtransfer

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/devicepki/ceremony/ceremony/bundle"
	"github.com/devicepki/ceremony/ceremony/qrframe"
	"github.com/devicepki/ceremony/ceremony/qrimage"
)

// Importer collects frames from scanned lines and images, writing one
// progress line for each thing that happens to Log.
type Importer struct {
	asm *qrframe.Assembler
	log io.Writer
	// Problems counts lines or images that were not good frames.
	Problems int
}

// NewImporter returns an Importer for the bundle want ("" for whichever
// completes), reporting progress to log.
func NewImporter(want string, log io.Writer) *Importer {
	return &Importer{asm: qrframe.NewAssembler(want), log: log}
}

// Line takes one scanned line; source says where it came from ("line 7").
// It reports whether the line completed a bundle.
func (im *Importer) Line(line, source string) bool {
	outcome, set, err := im.asm.Add(line, source)
	switch outcome {
	case qrframe.Added:
		fmt.Fprintf(im.log, "%s: bundle %s: %s\n", source, set.ID(), set.Progress())
		return set.Complete()
	case qrframe.Repeated:
		fmt.Fprintf(im.log, "%s: bundle %s: a frame already read (%s)\n", source, set.ID(), set.Progress())
	case qrframe.Ignored:
		fmt.Fprintf(im.log, "%s: a frame of another bundle; ignored\n", source)
	case qrframe.Rejected, qrframe.Conflicting:
		im.Problems++
		fmt.Fprintln(im.log, err)
	}
	return false
}

// Image reads the QR code in a PNG or JPEG file and takes its text as a
// line; a file without a readable code is reported and counted.
func (im *Importer) Image(path string) bool {
	text, err := qrimage.DecodeFile(path)
	if err != nil {
		im.Problems++
		fmt.Fprintf(im.log, "%s\n", oneLine(err))
		return false
	}
	return im.Line(text, path)
}

// MaxProblems is how many lines that are not frames Lines takes before it
// stops: a person scanning makes a few bad scans, not hundreds, and random
// data or a file read by mistake must not print a line for each of
// millions.
const MaxProblems = 100

// MaxLine bounds a scanned line: the longest frame a QR code holds
// (version 40, level L: 2953 bytes) as text is far shorter.
const MaxLine = 64 << 10

// Lines reads scanned lines from r until it ends, or (if stopWhenComplete)
// until a bundle is complete, as a person at a keyboard-wedge scanner
// expects. Lines are numbered from 1 in messages, prefixed by name.
func (im *Importer) Lines(r io.Reader, name string, stopWhenComplete bool) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLine)
	n := 0
	for sc.Scan() {
		n++
		if im.Line(sc.Text(), fmt.Sprintf("%sline %d", name, n)) && stopWhenComplete {
			return nil
		}
		if im.Problems >= MaxProblems {
			return fmt.Errorf("%sline %d: stopped after %d lines that are not QR frames: this is not a scan of frames (a file read by mistake?); nothing is written", name, n, im.Problems)
		}
	}
	switch err := sc.Err(); {
	case errors.Is(err, bufio.ErrTooLong):
		return fmt.Errorf("%sline %d: longer than %d bytes, and a scanned frame is at most a few thousand: this is not a line of QR frames (a file read by mistake?)", name, n+1, MaxLine)
	case err != nil:
		return fmt.Errorf("%sline %d: %v", name, n+1, err)
	}
	return nil
}

// Result returns the files of the one complete bundle, after checking it
// against its digest, and reports frames of other bundles that were read
// but not used.
func (im *Importer) Result() ([]bundle.File, *qrframe.Set, error) {
	set, packed, err := im.asm.Result()
	if err != nil {
		return nil, set, err
	}
	files, err := bundle.Unpack(packed)
	if err != nil {
		return nil, set, fmt.Errorf("bundle %s: %v; nothing is written", set.ID(), err)
	}
	// Nothing secret is reassembled, whoever made the frames.
	if err := CheckFiles(files); err != nil {
		return nil, set, fmt.Errorf("bundle %s: %v; nothing is written", set.ID(), err)
	}
	for _, o := range im.asm.Others(set) {
		if o.Digest == set.Digest {
			continue // another cut of the same bundle
		}
		fmt.Fprintf(im.log, "ignored: %d frames of another bundle %s (%s)\n", o.Have(), o.ID(), o.Progress())
	}
	ignored := im.asm.IgnoredCounts()
	ids := make([]string, 0, len(ignored))
	for id := range ignored {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		fmt.Fprintf(im.log, "ignored: %d frames of another bundle %s\n", ignored[id], id)
	}
	return files, set, nil
}

func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", " ")
}
