package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/devicepki/ceremony/ceremony/durable"
	"github.com/devicepki/ceremony/ceremony/outdir"
	"github.com/devicepki/ceremony/ceremony/seal"
	"github.com/devicepki/ceremony/ceremony/transcript"
)

// pendingSeal is what the seal step writes, durably, before the seal
// event: the event's line and its signature. A kill while sealing leaves
// it, and FinishSeal completes the seal from it without signing again.
type pendingSeal struct {
	Line      string `json:"seal_line"`
	Signature []byte `json:"signature"`
}

// writePendingSeal records the seal line (the last line of content) and
// its signature before the seal event is written.
func writePendingSeal(out *outdir.Dir, content, sig []byte) error {
	body := bytes.TrimSuffix(content, []byte("\n"))
	line := body[bytes.LastIndexByte(body, '\n')+1:]
	data, err := json.Marshal(pendingSeal{Line: string(line), Signature: sig})
	if err != nil {
		return err
	}
	return out.WriteFile(outdir.PendingSealFile, data)
}

// readPendingSeal reads the pending seal in dir.
func readPendingSeal(dir string) (pendingSeal, error) {
	var p pendingSeal
	path := filepath.Join(dir, outdir.PendingSealFile)
	raw, err := durable.ReadRegularFile(path, 1<<20)
	if errors.Is(err, fs.ErrNotExist) {
		return p, err
	}
	if err != nil {
		// Name the file: the reader's error names none for a FIFO or
		// a file above the limit.
		return p, fmt.Errorf("%s: %s; nothing was changed", path, durable.BareError(err))
	}
	if err := json.Unmarshal(raw, &p); err != nil || p.Line == "" || len(p.Signature) == 0 {
		return p, fmt.Errorf("%s: not a pending seal; nothing was changed", path)
	}
	return p, nil
}

// removePendingSeal removes the pending seal once transcript.sig is
// written.
func removePendingSeal(dir string) error {
	if err := os.Remove(filepath.Join(dir, outdir.PendingSealFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return durable.SyncDir(dir)
}

// SealPending reports whether the ceremony in dir was killed while
// sealing (a pending seal is there): FinishSeal completes it.
func SealPending(dir string) bool {
	_, err := os.Lstat(filepath.Join(dir, outdir.PendingSealFile))
	return err == nil
}

// FinishSeal completes a seal that a kill interrupted: the pending seal
// names the seal event's line and holds its signature. If the transcript
// lacks the line, it is appended (it must be the next event, of type
// transcript-sealed, chained to the transcript's last event); the
// signature must verify over the transcript with the line; then
// transcript.sig is written and the pending seal removed. Nothing is
// signed again. It holds the directory's lock while it works.
func FinishSeal(dirPath string) (string, error) {
	dir, err := outdir.Open(dirPath)
	if err != nil {
		return "", err
	}
	if err := dir.Lock(); err != nil {
		return "", err
	}
	defer dir.Unlock()
	pendingPath := filepath.Join(dir.Path(), outdir.PendingSealFile)
	p, err := readPendingSeal(dir.Path())
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%s: no pending seal (%s): the ceremony was not interrupted while sealing; nothing was changed", dir.Path(), outdir.PendingSealFile)
	}
	if err != nil {
		return "", err
	}
	path := dir.TranscriptPath()
	data, err := durable.ReadFile(durable.Transcript, path)
	if err != nil {
		return "", err
	}
	line := []byte(p.Line)
	// A kill in the middle of writing the seal event leaves the start of
	// its line: that part goes, and the whole line is written again.
	truncate := -1
	if cut := bytes.LastIndexByte(data, '\n') + 1; cut < len(data) {
		if !bytes.HasPrefix(line, data[cut:]) {
			return "", fmt.Errorf("%s: the transcript ends in a cut-off line that is not the seal event's; run 'ceremony close' instead; nothing was changed", path)
		}
		truncate, data = cut, data[:cut]
	}
	content := data
	appendLine := !bytes.HasSuffix(data, append(append([]byte{}, line...), '\n'))
	if appendLine {
		content = append(append(append([]byte{}, data...), line...), '\n')
	}
	chain, err := transcript.Check(content)
	if err != nil {
		return "", fmt.Errorf("%s: the pending seal does not continue transcript %s (%v); nothing was changed", pendingPath, path, err)
	}
	last := chain.Events[len(chain.Events)-1]
	if !last.Is(transcript.TypeTranscriptSealed) || !bytes.Equal(line, content[len(content)-len(line)-1:len(content)-1]) {
		return "", fmt.Errorf("%s: its line is not the transcript's seal event; nothing was changed", pendingPath)
	}
	s, err := seal.Parse(p.Signature)
	if err != nil {
		return "", fmt.Errorf("%s: %w; nothing was changed", pendingPath, err)
	}
	if err := s.Verify(content); err != nil {
		return "", fmt.Errorf("%s: the signature does not verify over the transcript with its seal event (%v); nothing was changed", pendingPath, err)
	}
	if truncate >= 0 {
		if err := truncateDurably(path, int64(truncate)); err != nil {
			return "", err
		}
	}
	if appendLine {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return "", err
		}
		if _, err := f.Write(append(line, '\n')); err != nil {
			f.Close()
			return "", fmt.Errorf("%s: append the seal event: %w", path, err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return "", err
		}
		if err := f.Close(); err != nil {
			return "", err
		}
	}
	sigPath := filepath.Join(dir.Path(), outdir.SealFile)
	if have, err := durable.ReadFile(durable.Seal, sigPath); err == nil {
		if !bytes.Equal(have, p.Signature) {
			return "", fmt.Errorf("%s is there and is not the pending seal's signature; nothing more was changed", sigPath)
		}
	} else if err := dir.WriteFile(outdir.SealFile, p.Signature); err != nil {
		return "", err
	}
	if err := writeRecords(dir, chain, recordMissing); err != nil {
		return "", err
	}
	if err := removePendingSeal(dir.Path()); err != nil {
		return "", err
	}
	what := "wrote transcript.sig"
	if appendLine {
		what = "appended the seal event (event " + fmt.Sprint(last.Seq) + ") and wrote transcript.sig"
	}
	removeTempFiles(dir)
	return fmt.Sprintf("Sealed %s: %s from the pending seal, signed during the ceremony; nothing was signed again", path, what), nil
}
