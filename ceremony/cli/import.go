package cli

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/charmbracelet/x/term"

	"github.com/devicepki/ceremony/ceremony/bundle"
	"github.com/devicepki/ceremony/ceremony/durable"
	"github.com/devicepki/ceremony/ceremony/opsimport"
	"github.com/devicepki/ceremony/ceremony/outdir"
	"github.com/devicepki/ceremony/ceremony/qrframe"
	"github.com/devicepki/ceremony/ceremony/qrimage"
	"github.com/devicepki/ceremony/ceremony/qrtransfer"
	"github.com/devicepki/ceremony/ceremony/record"
	"github.com/devicepki/ceremony/ceremony/seal"
	"github.com/devicepki/ceremony/ceremony/verify"
	"github.com/devicepki/ceremony/ceremony/words"
)

const importUsage = `Usage:
  ceremony import (--root ROOT.pem | --root-fingerprint SHA256) --out DIR [--bundle ID] [--crl CRL]...
                  [--allow-stale-crl REASON] INPUT...

import checks what was carried out of a ceremony against the root you pin,
says what each file is, and writes the files to DIR only if every one of
them is accepted (all or nothing; a file already in DIR with other content
refuses the import). An INPUT is:

  -                 QR frames scanned as text lines on standard input (a
                    keyboard-wedge scanner, or zbarimg's output)
  IMAGE             a QR frame as a PNG or JPEG picture
  FILE.txt          QR frames as text lines
  FILE              a certificate or chain, a CRL (PEM or DER), a
                    transcript.jsonl with its transcript.sig (and
                    transcript.md, transcript.pdf), or a ceremony's
                    artifacts/ file
  DIR               a ceremony directory (its transcript, seal, records and
                    the artifacts it lists as public; key backups and the
                    activation record are named and left out)

Frames from all inputs make one bundle (--bundle ID picks one when frames
of several were read). Certificates must chain to the pinned root; a CRL
must be signed by it (or by a CA among the inputs that chains to it); a
transcript must be sealed under it, with every carried artifact matching;
any other file must be an artifact of such a transcript. Anything else is
refused, and nothing is written.

A certificate that a CRL among the inputs revokes, or whose issuer it
revokes, is refused, naming the CRL, the serial and the reason. --crl
gives a CRL (checked as any CRL is) to check against without importing
it: the latest CRL from the last revocation ceremony, say. A CRL alone is
imported as any file is.

Every CRL, imported or given with --crl, must be current: one whose next
update has passed (stale), whose this update is still to come (not yet
valid: check the clock), or that gives no next update is refused, naming
its dates and now. --allow-stale-crl REASON imports it anyway; the report
prints the reason and the dates beside the CRL. A certificate that a CRL
revokes is refused whether the CRL is current or not (revoked stays
revoked).

Exit status: 0 accepted and written; 1 refused (nothing written); 2 usage.
`

var importCmd = &Command{
	Name: "import", Usage: importUsage,
	Flags: func(fs *flag.FlagSet) Run {
		var o importOptions
		fs.StringVar(&o.rootPath, "root", "", "the root certificate `FILE` (PEM) to trust")
		fs.StringVar(&o.rootFP, "root-fingerprint", "", "the root certificate's `SHA256` fingerprint")
		fs.StringVar(&o.out, "out", "", "output `DIR`")
		fs.StringVar(&o.want, "bundle", "", "take only the frames of the bundle with this `ID`")
		fs.Var((*pathList)(&o.crls), "crl", "check against this CRL `FILE` too, without importing it (repeatable)")
		fs.Var(&o.allowStale, "allow-stale-crl", "import a CRL that is not current anyway, for this `REASON` (recorded in the report)")
		return func(env *Env, pos []string) error { return importRun(env, &o, pos) }
	},
}

// importOptions are the flags of import.
type importOptions struct {
	rootPath, rootFP, out, want string
	crls                        []string
	allowStale                  reasonFlag
}

// reasonFlag is a flag that needs a non-empty, printable reason.
type reasonFlag struct {
	set    bool
	reason string
}

func (r *reasonFlag) String() string { return r.reason }

func (r *reasonFlag) Set(v string) error {
	if err := opsimport.CheckStaleReason(v); err != nil {
		return err
	}
	r.set, r.reason = true, v
	return nil
}

// pathList is a repeatable flag of file paths.
type pathList []string

func (p *pathList) String() string { return strings.Join(*p, ",") }

func (p *pathList) Set(v string) error {
	if v == "" {
		return errors.New("give a file")
	}
	*p = append(*p, v)
	return nil
}

func importRun(env *Env, o *importOptions, pos []string) error {
	switch {
	case (o.rootPath == "") == (o.rootFP == ""):
		return usagef("pin the root with --root ROOT.pem or --root-fingerprint SHA256 (one of them)")
	case o.out == "":
		return usagef("--out DIR is required")
	case len(pos) == 0:
		return usagef("name what to import (files, QR images, a ceremony directory, or - for scanned frames)")
	case o.want != "" && !bundleIDRE.MatchString(o.want):
		return usagef("--bundle %s: a bundle id is 8 characters of A-Z and 2-7", o.want)
	}
	var pin verify.Pin
	if o.rootPath != "" {
		root, err := verify.LoadRoot(o.rootPath)
		if err != nil {
			return err
		}
		pin.Root = root
	} else {
		fp, err := seal.NormalizeFingerprint(o.rootFP)
		if err != nil {
			return usagef("--root-fingerprint: %v", err)
		}
		pin.Fingerprint = fp
	}

	inputs, set, err := gatherInputs(pos, o.want, env.Stdin, env.Stderr)
	if err != nil {
		return err
	}
	for i, p := range o.crls {
		data, err := readInput(p)
		if err != nil {
			return fmt.Errorf("--crl %w", err)
		}
		inputs = append(inputs, opsimport.Input{Name: fmt.Sprintf("--crl/%d/%s", i+1, filepath.Base(p)), Path: p, Data: data, Origin: "--crl " + p, RevocationOnly: true})
	}
	checked, err := opsimport.CheckWith(inputs, pin, opsimport.Options{Now: time.Now(), AllowStaleCRL: o.allowStale.reason})
	if err != nil {
		return fmt.Errorf("REFUSED: %v; nothing is written", err)
	}
	written, err := checked.Write(o.out)
	if err != nil {
		return err
	}
	printReport(env.Stdout, checked, set, written)
	return nil
}

// gatherInputs turns the command line's inputs into opsimport inputs:
// frames (from images, text files and stdin) into one bundle's files,
// directories into their ceremony files, other files as they are.
func gatherInputs(args []string, want string, stdin io.Reader, log io.Writer) ([]opsimport.Input, *qrframe.Set, error) {
	var (
		inputs    []opsimport.Input
		frames    []frameSource // in order
		stdinUsed bool
	)
	for _, a := range args {
		if a == "-" {
			if stdinUsed {
				return nil, nil, errors.New("- given twice")
			}
			stdinUsed = true
			frames = append(frames, frameSource{path: a})
			continue
		}
		st, err := os.Stat(a)
		if err != nil {
			return nil, nil, err
		}
		if st.IsDir() {
			ins, err := ceremonyDir(a, log)
			if err != nil {
				return nil, nil, err
			}
			inputs = append(inputs, ins...)
			continue
		}
		// Read once, and told apart by what it holds.
		data, err := readInput(a)
		if err != nil {
			return nil, nil, err
		}
		if fs, ok := framesIn(a, data); ok {
			frames = append(frames, fs)
		} else {
			inputs = append(inputs, opsimport.Input{Name: commandLineName(a), Path: a, Data: data, Origin: a})
		}
	}
	var set *qrframe.Set
	if len(frames) > 0 {
		files, s, err := assembleFrames(frames, want, stdin, log)
		if err != nil {
			return nil, nil, err
		}
		set = s
		for _, f := range files {
			inputs = append(inputs, opsimport.Input{Name: f.Name, Data: f.Data, Origin: fmt.Sprintf("bundle %s: %s", s.ID(), f.Name)})
		}
	}
	return inputs, set, nil
}

// assembleFrames reads every frame source in order and returns the files
// of the one complete bundle, reporting progress on log.
func assembleFrames(frames []frameSource, want string, stdin io.Reader, log io.Writer) ([]bundle.File, *qrframe.Set, error) {
	im := qrtransfer.NewImporter(want, log)
	for _, src := range frames {
		switch {
		case src.path == "-":
			if err := readScanned(im, stdin, "", log); err != nil {
				return nil, nil, err
			}
		case src.image:
			im.Image(src.path)
		default:
			if err := im.Lines(bytes.NewReader(src.text), src.path+": ", false); err != nil {
				return nil, nil, err
			}
		}
	}
	return im.Result()
}

// readInput reads a file named on the command line once: a regular file
// only (a FIFO is refused, not waited on), within the size limits.
func readInput(path string) ([]byte, error) {
	data, err := durable.ReadRegularFile(path, max(int64(qrimage.MaxFileSize), opsimport.MaxFileSize))
	if err != nil && (errors.Is(err, durable.ErrNotRegular) || errors.Is(err, durable.ErrTooLarge)) {
		return nil, fmt.Errorf("%s: %w (use - for piped input)", path, err)
	}
	return data, err
}

// readScanned reads frames typed by a scanner (or piped); at a terminal it
// stops when the bundle is complete.
func readScanned(im *qrtransfer.Importer, stdin io.Reader, name string, log io.Writer) error {
	interactive := false
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(f.Fd()) {
		interactive = true
		fmt.Fprintln(log, "scan the frames, in any order; reading ends when every frame is in (Ctrl-D to give up)")
	}
	return im.Lines(stdin, name, interactive)
}

type inputKind int

const (
	plainFile inputKind = iota
	imageFile
	framesFile
)

// frameSource is where QR frames come from: standard input ("-"), an
// image, or the lines of a text file.
type frameSource struct {
	path  string
	image bool
	text  []byte
}

// framesIn returns the frame source of a file read from path, if it is a
// QR image or a file of scanned frames.
func framesIn(path string, data []byte) (frameSource, bool) {
	switch sniff(data) {
	case imageFile:
		return frameSource{path: path, image: true}, true
	case framesFile:
		return frameSource{path: path, text: data}, true
	}
	return frameSource{}, false
}

// sniff tells QR images and frame text files from other files by their
// first bytes.
func sniff(data []byte) inputKind {
	switch {
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")), bytes.HasPrefix(data, []byte{0xff, 0xd8, 0xff}):
		return imageFile
	}
	sc := bufio.NewScanner(bytes.NewReader(data[:min(len(data), 4096)]))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		line = strings.ToUpper(strings.TrimPrefix(line, "QR-Code:"))
		if strings.HasPrefix(line, qrframe.Tag+".") {
			return framesFile
		}
		break
	}
	return plainFile
}

// commandLineName is where a file named on the command line goes under
// the output directory: its base name, under artifacts/ if it came from a
// ceremony's artifacts/ directory (so that it pairs with its transcript).
// It is the name qr export gives the file in a bundle.
func commandLineName(path string) string {
	return qrtransfer.FileName(path)
}

// ceremonyDir lists what a ceremony directory carries out: the transcript,
// its seal and records, and the artifacts its transcript lists as public
// (qrtransfer.CeremonyFiles, as qr export of a directory takes them). The
// others (a key backup, the activation record, a file the transcript does
// not record) are named on log and left out.
func ceremonyDir(dir string, log io.Writer) ([]opsimport.Input, error) {
	if _, err := os.Lstat(filepath.Join(dir, outdir.TranscriptFile)); err != nil {
		return nil, fmt.Errorf("%s: a directory, but not a ceremony directory (no %s): name the files to import", dir, outdir.TranscriptFile)
	}
	paths, left, err := qrtransfer.CeremonyFiles(dir)
	if err != nil {
		return nil, err
	}
	for _, n := range []string{outdir.RecordFile, outdir.RecordPDFFile} {
		if p := filepath.Join(dir, n); present(p) {
			paths = append(paths, p)
		}
	}
	for _, p := range left {
		fmt.Fprintf(log, "%s: not a public artifact of its transcript; left out\n", p)
	}
	var ins []opsimport.Input
	for _, p := range paths {
		name := qrtransfer.FileName(p)
		ins = append(ins, opsimport.Input{Name: name, Path: p, Origin: p})
	}
	return ins, nil
}

// present reports whether anything is at path (a link included: the
// import's reader says what is wrong with it).
func present(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// printReport says what was accepted and written.
func printReport(w io.Writer, r *opsimport.Report, set *qrframe.Set, written []opsimport.Written) {
	fmt.Fprintf(w, "ACCEPTED: every input chains to the pinned root %q (SHA-256 %s)\n", r.Root.Subject.String(), seal.Fingerprint(r.Root))
	if set != nil {
		fmt.Fprintf(w, "QR bundle %s: %d frames, SHA-256 %s\n", set.ID(), set.Total, set.Digest.Hex())
		printWords(w, "bundle SHA-256 as words (compare them with the sheet)", words.Encode(set.Digest[:]))
	}
	if r.AllowStaleCRL != "" {
		fmt.Fprintf(w, "--allow-stale-crl: %s\n", record.Printable(r.AllowStaleCRL))
	}
	for _, it := range r.Items {
		fmt.Fprintf(w, "\n%s: %s\n", it.Input.Name, it.Title)
		width := 0
		for _, f := range it.Fields {
			width = max(width, len(f.Label))
		}
		for _, f := range it.Fields {
			fmt.Fprintf(w, "  %-*s  %s\n", width, f.Label, f.Value)
		}
		for _, n := range it.Notes {
			fmt.Fprintf(w, "  NOTE: %s\n", n)
		}
	}
	fmt.Fprintln(w)
	sort.SliceStable(written, func(i, j int) bool { return written[i].Name < written[j].Name })
	for _, wr := range written {
		state := "written"
		if wr.AlreadyPresent {
			state = "already there, identical"
		}
		fmt.Fprintf(w, "%s: %s\n", wr.Path, state)
	}
}
