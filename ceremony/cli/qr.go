package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/charmbracelet/x/term"

	"github.com/devicepki/ceremony/ceremony/bundle"
	"github.com/devicepki/ceremony/ceremony/durable"
	"github.com/devicepki/ceremony/ceremony/qrframe"
	"github.com/devicepki/ceremony/ceremony/qrimage"
	"github.com/devicepki/ceremony/ceremony/qrshow"
	"github.com/devicepki/ceremony/ceremony/qrtransfer"
	"github.com/devicepki/ceremony/ceremony/words"
)

const qrUsage = `Usage:
  ceremony qr export FILE... --out DIR [--frame-bytes N] [--ecc L|M|Q|H] [--title TEXT]
  ceremony qr show   FILE... [--frame-bytes N] [--ecc L|M|Q|H] [--rate FPS] [--invert]
  ceremony qr import --out DIR [--bundle ID] (IMAGE... | FRAMES.txt | -)

export packs the files into one bundle, compressed, and cuts it into QR
codes: DIR/frame-NN.png and a printable DIR/sheet.html with the bundle id
and digest (also as words) and how to import. DIR must not exist or be
empty. Each file goes into the bundle under its base name, and a file in a
directory named artifacts under artifacts/NAME, so that files exported
from a ceremony directory keep its layout (transcript.jsonl,
transcript.sig, artifacts/...), which 'ceremony import' needs to pair
artifacts with their transcript. A ceremony directory given stands for
its public files: the transcript, its seal and its public artifacts, as
the export-qr step carries them (the others are named and left out).

Nothing secret leaves by QR: export (and show) refuse, by content whatever
the name, a key backup, a share (its CS1A/CS1B line), an age-encrypted
file, and a private key (a PEM PRIVATE KEY block, or PKCS#8, PKCS#1 or EC
DER); and a file of a ceremony directory that its transcript does not
list as a public artifact (a key backup, the activation record, anything
unrecorded or changed). One line names the file and why; nothing is
written. A PIN is not recognised by content: do not export one. import
refuses to reassemble a bundle holding any of these.

show cycles the same frames full-screen in this terminal for a camera to
scan: space pauses, left/right step, +/- change the rate, i inverts, q quits.
Without --frame-bytes the frames are made as large as the terminal shows.

import reassembles a bundle from QR images (PNG or JPEG), files of
scanned lines, or scanned lines on standard input (-): one frame per line
as a keyboard-wedge scanner types it or zbarimg prints it, in any order,
repeats allowed. It
reports progress ("12 of 17 frames, missing 4, 9, 13"); reading from a
terminal it stops when the bundle is complete. Only when every frame is in
and the whole matches the bundle's SHA-256 are the files written to DIR,
all or nothing; a file already there with other content refuses the import.
Frames of other bundles are ignored and reported (--bundle ID picks one).
Then check what arrived with 'ceremony import --root ROOT.pem'.

  --frame-bytes N  bundle bytes per frame (default 600: version-22 codes
                   at M). Dense: 1200 at L for good screens and scanners;
                   sparse: 200 at Q for poor cameras or print.
  --ecc LEVEL      error correction: L, M (default), Q or H.

Exit status: 0 done; 1 failed (nothing written); 2 usage.
`

var qrCmd = &Command{
	Name: "qr", Usage: qrUsage,
	Commands: []*Command{
		{Name: "export", Usage: qrUsage, Flags: qrExportFlags},
		{Name: "show", Usage: qrUsage, Flags: qrShowFlags},
		{Name: "import", Usage: qrUsage, Flags: qrImportFlags},
	},
}

// levelFlag is a flag.Value for --ecc.
type levelFlag struct{ level qrimage.Level }

func (f *levelFlag) String() string {
	if f.level == 0 {
		return ""
	}
	return f.level.String()
}

func (f *levelFlag) Set(s string) error {
	l, err := qrimage.ParseLevel(s)
	if err != nil {
		return err
	}
	f.level = l
	return nil
}

func qrExportFlags(fs *flag.FlagSet) Run {
	out := fs.String("out", "", "output `DIR` for frame-NN.png and sheet.html")
	frameBytes := fs.Int("frame-bytes", qrtransfer.DefaultFrameBytes, "bundle bytes per frame")
	title := fs.String("title", "", "title of the printable sheet")
	var ecc levelFlag
	fs.Var(&ecc, "ecc", "error correction `LEVEL` (L, M, Q, H)")
	return func(env *Env, pos []string) error {
		stdout := env.Stdout
		switch {
		case *out == "":
			return usagef("--out DIR is required")
		case len(pos) == 0:
			return usagef("name the files to export")
		}
		if err := checkSheetTitle(*title); err != nil {
			return err
		}
		if err := checkFrameBytes(*frameBytes, ecc.level); err != nil {
			return err
		}
		files, err := readPublic(pos, env.Stderr)
		if err != nil {
			return err
		}
		exp, err := qrtransfer.New(files, qrtransfer.Options{FrameBytes: *frameBytes, Level: ecc.level, Title: *title, Created: time.Now()})
		if err != nil {
			return err
		}
		if _, err := exp.WriteDir(*out); err != nil {
			return err
		}
		describeExport(stdout, exp, *out)
		return nil
	}
}

// checkFrameBytes refuses a --frame-bytes whose frames would not fit one
// QR code at the error correction level (the default if not given).
func checkFrameBytes(n int, level qrimage.Level) error {
	if level == 0 {
		level = qrtransfer.DefaultLevel
	}
	if max := qrtransfer.MaxFrameBytes(level); n < qrframe.MinFrameBytes || n > max {
		return usagef("--frame-bytes %d: choose %d to %d at error correction %s", n, qrframe.MinFrameBytes, max, level)
	}
	return nil
}

// maxSheetTitle is the longest --title, in characters: a line of the
// printed sheet.
const maxSheetTitle = 200

// checkSheetTitle refuses a --title the printed sheet cannot show as
// given: a control, invisible or direction-changing character, or more
// than maxSheetTitle characters.
func checkSheetTitle(title string) error {
	if i := strings.IndexFunc(title, func(r rune) bool { return !unicode.IsPrint(r) }); i >= 0 {
		r, _ := utf8.DecodeRuneInString(title[i:])
		return usagef("--title: holds the control character U+%04X; give printable text", r)
	}
	if n := utf8.RuneCountInString(title); n > maxSheetTitle {
		return usagef("--title: %d characters; give at most %d", n, maxSheetTitle)
	}
	return nil
}

// readPublic reads the files to export or show: nothing secret
// (qrtransfer.ReadFilesLog).
func readPublic(paths []string, log io.Writer) ([]bundle.File, error) {
	files, err := qrtransfer.ReadFilesLog(paths, log)
	if se := (*qrtransfer.SecretError)(nil); errors.As(err, &se) {
		return nil, fmt.Errorf("REFUSED: %w; nothing is written", err)
	}
	return files, err
}

// describeExport prints what an export wrote, for the people in the room.
func describeExport(w io.Writer, exp *qrtransfer.Export, dir string) {
	fmt.Fprintf(w, "bundle %s: %s, %d bytes compressed, %d frames of up to %d bytes at error correction %s\n",
		exp.Digest.ID(), plural(len(exp.Files), "file"), len(exp.Packed), len(exp.Frames), exp.Opts.FrameBytes, exp.Opts.Level)
	width := 0
	for _, f := range exp.Files {
		width = max(width, len(f.Name))
	}
	for _, f := range exp.Files {
		fmt.Fprintf(w, "  %-*s %7d bytes  SHA-256 %s\n", width, f.Name, len(f.Data), f.SHA256())
	}
	fmt.Fprintf(w, "bundle SHA-256: %s\n", exp.Digest.Hex())
	printWords(w, "bundle SHA-256 as words", exp.DigestWords())
	if dir != "" {
		fmt.Fprintf(w, "wrote %s/%s … %s and %s\n", dir, exp.FrameFile(1), exp.FrameFile(len(exp.Frames)), filepath.Join(dir, qrtransfer.SheetFile))
	}
}

func qrShowFlags(fs *flag.FlagSet) Run {
	frameBytes := fs.Int("frame-bytes", 0, "bundle bytes per frame (default: as large as the terminal shows)")
	rate := fs.Float64("rate", qrshow.DefaultRate, "frames per second")
	invert := fs.Bool("invert", false, "swap dark and light (for dark-on-light terminals)")
	var ecc levelFlag
	fs.Var(&ecc, "ecc", "error correction `LEVEL` (L, M, Q, H)")
	return func(env *Env, pos []string) error {
		stdout := env.Stdout
		if len(pos) == 0 {
			return usagef("name the files to show")
		}
		if !(*rate >= qrshow.MinRate && *rate <= qrshow.MaxRate) { // NaN too
			return usagef("--rate %g: choose %g to %g frames per second", *rate, qrshow.MinRate, qrshow.MaxRate)
		}
		if *frameBytes != 0 {
			if err := checkFrameBytes(*frameBytes, ecc.level); err != nil {
				return err
			}
		}
		// The files first: a refusal comes before anything is drawn or
		// asked of the terminal.
		files, err := readPublic(pos, env.Stderr)
		if err != nil {
			return err
		}
		in, out, ok := terminal(env)
		if !ok {
			return errors.New("needs a terminal; use 'ceremony qr export' to write the frames as images")
		}
		level := ecc.level
		if level == 0 {
			level = qrtransfer.DefaultLevel
		}
		if *frameBytes == 0 {
			cols, rows, err := term.GetSize(out.Fd())
			if err != nil {
				return fmt.Errorf("terminal size: %v", err)
			}
			*frameBytes = fitFrameBytes(level, cols, rows-3)
			if *frameBytes < qrframe.MinFrameBytes {
				return fmt.Errorf("a %d×%d terminal is too small for QR frames: enlarge it (a full-screen terminal), or use 'ceremony qr export'", cols, rows)
			}
		}
		exp, err := qrtransfer.New(files, qrtransfer.Options{FrameBytes: *frameBytes, Level: level})
		if err != nil {
			return err
		}
		err = qrshow.Run(env.Ctx, qrshow.Options{
			Frames:   exp.Texts(),
			BundleID: exp.Digest.ID(),
			Render:   terminalRender(level),
			Rate:     *rate,
			Invert:   *invert,
			Title:    showTitle(pos),
		}, in, out)
		if err != nil {
			return err
		}
		describeExport(stdout, exp, "")
		return nil
	}
}

// terminalRender draws frames for qrshow at level.
func terminalRender(level qrimage.Level) qrshow.RenderFunc {
	return func(text string, invert bool) (string, error) {
		s, _, _, err := qrimage.Terminal(text, level, !invert)
		return s, err
	}
}

// fitFrameBytes is the largest frame size whose frames fit cols×rows
// characters at level, at most the default.
func fitFrameBytes(level qrimage.Level, cols, rows int) int {
	chars := qrimage.FitChars(level, cols, rows)
	n := min(qrtransfer.DefaultFrameBytes, qrframe.MaxFrameBytes)
	for n >= qrframe.MinFrameBytes && qrframe.TextLen(n, qrframe.MaxFrames) > chars {
		n--
	}
	return n
}

func qrImportFlags(fs *flag.FlagSet) Run {
	out := fs.String("out", "", "output `DIR` for the bundle's files")
	want := fs.String("bundle", "", "import only the bundle with this `ID`")
	return func(env *Env, pos []string) error {
		stdout, stdin := env.Stdout, env.Stdin
		_ = stdin
		switch {
		case *out == "":
			return usagef("--out DIR is required")
		case len(pos) == 0:
			return usagef("name the QR images, or - to read scanned lines from standard input")
		case *want != "" && !bundleIDRE.MatchString(*want):
			return usagef("--bundle %s: a bundle id is 8 characters of A-Z and 2-7 (or more of the bundle digest in base32)", *want)
		}
		files, set, err := readFrames(pos, *want, env.Stdin, env.Stderr)
		if err != nil {
			return err
		}
		var named []durable.NamedFile
		for _, f := range files {
			named = append(named, durable.NamedFile{Name: f.Name, Data: f.Data})
		}
		res, err := durable.WriteAll(*out, named)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "bundle %s: %d frames, SHA-256 %s verified\n", set.ID(), set.Total, set.Digest.Hex())
		printWords(stdout, "bundle SHA-256 as words (compare them with the sheet)", words.Encode(set.Digest[:]))
		unchanged := map[string]bool{}
		for _, n := range res.Unchanged {
			unchanged[n] = true
		}
		width := 0
		for _, f := range files {
			width = max(width, len(filepath.Join(*out, filepath.FromSlash(f.Name))))
		}
		for _, f := range files {
			state := "written"
			if unchanged[f.Name] {
				state = "already there, identical"
			}
			fmt.Fprintf(stdout, "  %-*s %7d bytes  SHA-256 %s  %s\n", width, filepath.Join(*out, filepath.FromSlash(f.Name)), len(f.Data), f.SHA256(), state)
		}
		fmt.Fprintf(stdout, "not yet trusted: check it with 'ceremony import --root ROOT.pem --out DIR2 %s/...'\n", *out)
		return nil
	}
}

var bundleIDRE = regexp.MustCompile(`^[A-Za-z2-7]{8,52}$`)

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// readFrames reads frames from images, files of scanned lines, and
// scanned lines on stdin ("-"), and returns the files of the one complete
// bundle, reporting progress on log.
func readFrames(sources []string, want string, stdin io.Reader, log io.Writer) ([]bundle.File, *qrframe.Set, error) {
	var frames []frameSource
	stdinUsed := false
	for _, src := range sources {
		if src == "-" {
			if stdinUsed {
				return nil, nil, errors.New("- given twice")
			}
			stdinUsed = true
			frames = append(frames, frameSource{path: src})
			continue
		}
		data, err := readInput(src)
		if err != nil {
			return nil, nil, err
		}
		fs, ok := framesIn(src, data)
		if !ok {
			return nil, nil, fmt.Errorf("%s: neither a QR image (PNG, JPEG) nor a file of scanned frames", src)
		}
		frames = append(frames, fs)
	}
	return assembleFrames(frames, want, stdin, log)
}

// printWords prints a digest's words under a heading, eight to a line.
func printWords(w io.Writer, heading string, ws []string) {
	fmt.Fprintf(w, "%s:\n", heading)
	for _, l := range words.Lines(ws, 8) {
		fmt.Fprintf(w, "  %s\n", l)
	}
}

// showTitle names the files qr show displays.
func showTitle(paths []string) string {
	names := make([]string, len(paths))
	for i, p := range paths {
		names[i] = filepath.Base(p)
	}
	return strings.Join(names, ", ")
}
