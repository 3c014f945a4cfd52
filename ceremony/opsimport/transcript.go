package opsimport

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/devicepki/ceremony/ceremony/durable"
	"github.com/devicepki/ceremony/ceremony/outdir"
	"github.com/devicepki/ceremony/ceremony/record"
	"github.com/devicepki/ceremony/ceremony/verify"
)

// checkTranscript verifies a transcript with the files of its ceremony
// directory among the inputs (transcript.sig and artifacts/...), as
// verify.Carried does: sealed, chained to the pinned root, each carried
// artifact as recorded, nothing under artifacts/ that is not recorded.
//
// verify reads files by path, so the inputs are laid out again in a private
// temporary directory, from the bytes already read: what is verified is
// exactly what Write writes, whatever happens to the input files meanwhile,
// and nothing else that lies beside them is taken in.
func (c *checker) checkTranscript(it *Item) error {
	if !it.content.transcript {
		return nil
	}
	dir, base := splitName(it.Input.Name)
	if base != outdir.TranscriptFile {
		return refuse(it, "it looks like a ceremony transcript, but is named %q: carry it as %s, with its ceremony directory's layout", base, outdir.TranscriptFile)
	}
	tmp, err := os.MkdirTemp("", "ceremony-import-")
	if err != nil {
		return refuse(it, "a working directory to verify it in: %v", err)
	}
	defer os.RemoveAll(tmp)
	for _, o := range c.items {
		rel, ok := strings.CutPrefix(o.Input.Name, dir)
		if !ok || rel != outdir.TranscriptFile && rel != outdir.SealFile && !strings.HasPrefix(rel, outdir.ArtifactsDir+"/") {
			continue
		}
		file := filepath.Join(tmp, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
			return refuse(it, "a working directory to verify it in: %v", durable.BareError(err))
		}
		if err := os.WriteFile(file, o.data, 0o600); err != nil {
			return refuse(it, "a working directory to verify it in: %v", durable.BareError(err))
		}
	}
	res, err := verify.Carried(filepath.Join(tmp, outdir.TranscriptFile), verify.Pin{Root: c.root})
	if err != nil {
		var f *verify.Failure
		if errors.As(err, &f) && f.Event == 0 && f.File != "" {
			// A file of the ceremony directory: name the input.
			if o := c.byName[dir+f.File]; o != nil && o != it {
				return refuse(o, "%s (checked against the transcript %s)", f.Msg, it.Input.origin())
			}
			return refuse(it, "%s: %s", f.File, f.Msg)
		}
		return refuse(it, "%s", strings.ReplaceAll(err.Error(), tmp+string(filepath.Separator), ""))
	}
	if res.Status != verify.Verified {
		return refuse(it, "%s: only a sealed transcript is imported", record.Status(res.Chain))
	}
	c.ceremonies[dir] = &ceremony{dir: dir, item: it, res: res, carriedAs: map[string][]string{}}
	it.Kind, it.Transcript = KindTranscript, res
	return nil
}

// matchContent matches a file that no verified transcript among the
// inputs records under its name to the one recorded artifact with its
// SHA-256 and size, if there is exactly one: a hand-made bundle may carry
// artifacts/x.pem as x.pem, and the digest in a sealed, verified
// transcript is what vouches for the file, not its name. The transcript's
// description then reports the artifact as carried under the file's name
// (its verify.Result, which checked files by path, still lists it as
// Absent). Files under a ceremony directory's artifacts/ are
// not matched: verify.Carried has refused any such file the transcript
// does not record under its name, so that what Write writes still
// verifies. Transcripts, seals, records and key backups are never
// artifacts.
func (c *checker) matchContent(it *Item) error {
	_, base := splitName(it.Input.Name)
	switch {
	case it.Kind == KindTranscript, it.content.transcript, it.content.seal != nil, it.content.backup,
		base == outdir.TranscriptFile, base == outdir.SealFile, base == outdir.RecordFile, base == outdir.RecordPDFFile:
		return nil
	}
	if _, _, ok := c.artifactOf(it.Input.Name); ok {
		return nil
	}
	var found []artifactMatch
	for _, dir := range slices.Sorted(maps.Keys(c.ceremonies)) {
		cer := c.ceremonies[dir]
		for _, list := range [][]record.Artifact{cer.res.Artifacts, cer.res.Absent} {
			for _, a := range list {
				if a.SHA256 == it.SHA256 && a.Size == it.Size {
					found = append(found, artifactMatch{cer: cer, a: a})
				}
			}
		}
	}
	switch len(found) {
	case 0:
	case 1:
		m := found[0]
		it.match = &m
		m.cer.carriedAs[m.a.Path] = append(m.cer.carriedAs[m.a.Path], it.Input.Name)
	default:
		it.ambiguous = found
	}
	return nil
}

// describeMatches names recorded artifacts for a message.
func describeMatches(ms []artifactMatch) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = fmt.Sprintf("%s at event %d of %s", m.a.Path, m.a.Event, m.cer.item.Input.origin())
	}
	return strings.Join(parts, ", ")
}

// describeTranscriptItem describes a verified transcript, once every file
// has been matched to it.
func (c *checker) describeTranscriptItem(it *Item) error {
	if it.Kind == KindTranscript {
		c.describeTranscript(it)
	}
	return nil
}
