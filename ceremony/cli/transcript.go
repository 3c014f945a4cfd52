package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/devicepki/ceremony/ceremony/durable"
	"github.com/devicepki/ceremony/ceremony/record"
	"github.com/devicepki/ceremony/ceremony/record/pdf"
	"github.com/devicepki/ceremony/ceremony/seal"
	"github.com/devicepki/ceremony/ceremony/transcript"
	"github.com/devicepki/ceremony/ceremony/verify"
	"github.com/devicepki/ceremony/ceremony/words"
)

// Exit statuses of transcript verify besides ExitOK, ExitFailure and
// ExitUsage.
const (
	// ExitUnsealed: the transcript is intact up to its last event but was
	// never sealed (the ceremony failed, was aborted or crashed).
	ExitUnsealed = 3
	// ExitUnpinned: sealed and intact, but no root was pinned.
	ExitUnpinned = 4
)

const transcriptUsage = `Usage:
  ceremony transcript verify OUT/transcript.jsonl (--root ROOT.pem | --root-fingerprint SHA256) [--crl CRL.pem]...
  ceremony transcript show   [--pdf FILE] OUT/transcript.jsonl

verify checks the transcript's lines, sequence numbers and hash chain, the
seal (transcript.sig) against the root you pin, and every artifact's SHA-256.
Exit status: 0 verified; 1 something is wrong (the line says where);
2 usage; 3 unsealed but intact up to its last event; 4 sealed and intact,
but no root pinned.

--crl (repeatable) checks the root's CRLs too: each must be signed by the
pinned root (else exit 2). If one revokes the audit certificate that
sealed the transcript, or a certificate the root issued that the transcript
records, verify fails (exit 1): whatever the revocation date for the
reasons key-compromise, ca-compromise, aa-compromise and unspecified (or
none); for any other reason (superseded, cessation-of-operation...) only if
the revocation date is at or before the seal event's time. A CRL given
that is not current now (past its next update, or not yet valid) is still
checked, with a CRL NOTE line: a newer CRL may revoke more.

A CRL among the transcript's artifacts (issue-crl's root-ca.crl.pem) must
have been issued by the seal: a this update after the seal event's time
fails. Whether it is current now is a CRL OK or CRL NOTE line, never a
failure: an old sealed transcript stays verified when its CRL goes stale.

show prints the printable record (the same as OUT/transcript.md); with
--pdf FILE it writes the PDF record to FILE instead (the same as
OUT/transcript.pdf; "-" writes it to standard output).
`

var transcriptCmd = &Command{
	Name: "transcript", Usage: transcriptUsage,
	Commands: []*Command{
		{
			Name: "verify", Usage: transcriptUsage,
			Flags: func(fs *flag.FlagSet) Run {
				rootPath := fs.String("root", "", "pinned root certificate `ROOT.pem`")
				rootFP := fs.String("root-fingerprint", "", "pinned root certificate's `SHA256` fingerprint (hex; colons and spaces allowed)")
				var crls []string
				fs.Var((*pathList)(&crls), "crl", "check the seal against the root's CRL `FILE` (PEM) too (repeatable)")
				return func(env *Env, pos []string) error {
					path, err := oneTranscript(pos)
					if err != nil {
						return err
					}
					return verifyTranscript(env, path, *rootPath, *rootFP, crls)
				}
			},
		},
		{
			Name: "show", Usage: transcriptUsage,
			Flags: func(fs *flag.FlagSet) Run {
				pdfPath := fs.String("pdf", "", "write the PDF record to `FILE` (\"-\": standard output) instead of printing the record")
				return func(env *Env, pos []string) error {
					path, err := oneTranscript(pos)
					if err != nil {
						return err
					}
					if *pdfPath != "" && *pdfPath != "-" {
						if err := pdfTarget(*pdfPath); err != nil {
							return err
						}
					}
					chain, torn, err := transcript.ReadIntact(path)
					if err != nil {
						return fmt.Errorf("%s: %v", path, err)
					}
					if torn != nil {
						note := env.Stdout
						if *pdfPath == "-" {
							note = env.Stderr
						}
						fmt.Fprintf(note, "NOTE: event %d was cut off in the middle of its write (%d bytes, SHA-256 %s): a crash; the record below is the %d events before it. ceremony close sets the bytes aside.\n\n",
							torn.Event, len(torn.Bytes), torn.SHA256, len(chain.Events))
					}
					if *pdfPath != "" {
						return showPDF(env, chain, *pdfPath, path)
					}
					fmt.Fprint(env.Stdout, record.Render(chain))
					return nil
				}
			},
		},
	},
}

// showPDF writes the PDF record of chain (read from path) to file.
func showPDF(env *Env, chain *transcript.Chain, file, path string) error {
	data, err := pdf.Render(chain)
	if err != nil {
		return fmt.Errorf("%s: the PDF record: %v", path, err)
	}
	if file == "-" {
		// A PDF is bytes, not text: it bypasses the text sanitiser.
		_, err := env.binaryOut().Write(data)
		return err
	}
	if err := durable.WriteFileExclusive(file, data, 0o644); err != nil {
		if strings.Contains(err.Error(), "already exists") {
			return err
		}
		// Not the temporary file's name, which the error carries.
		return fmt.Errorf("--pdf %s: the PDF record could not be written there (%v)", file, durable.Cause(err))
	}
	fmt.Fprintf(env.Stdout, "Wrote %s: the PDF record of %s (%d bytes).\n", file, path, len(data))
	return nil
}

// pdfTarget says, before any work, why the PDF record cannot be written
// to file: its directory is missing or is not a directory.
func pdfTarget(file string) error {
	dir := filepath.Dir(file)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("--pdf %s: its directory %s does not exist", file, dir)
	case err != nil:
		return fmt.Errorf("--pdf %s: its directory %s cannot be used (%v)", file, dir, durable.Cause(err))
	case !st.IsDir():
		return fmt.Errorf("--pdf %s: %s is not a directory", file, dir)
	}
	return nil
}

// oneTranscript returns the one transcript file a subcommand was given.
func oneTranscript(pos []string) (string, error) {
	if len(pos) != 1 {
		return "", usagef("give one transcript file (OUT/transcript.jsonl)")
	}
	return pos[0], nil
}

func verifyTranscript(env *Env, path, rootPath, rootFP string, crlPaths []string) error {
	stdout := env.Stdout
	fail := func(code int, format string, a ...any) error {
		err := errors.New(record.Printable(fmt.Sprintf(format, a...)))
		if code == ExitUsage {
			return &UsageError{err}
		}
		return err
	}
	var pin verify.Pin
	switch {
	case rootPath != "" && rootFP != "":
		return fail(ExitUsage, "give --root or --root-fingerprint, not both")
	case rootPath != "":
		root, err := verify.LoadRoot(rootPath)
		if err != nil {
			return fail(ExitUsage, "%v", err)
		}
		// A wrong argument, not a failed transcript: an intermediate or
		// the audit certificate given where the root belongs.
		if verify.CheckRoot(root) != nil {
			return fail(ExitUsage, "--root %s: this is not a self-signed root: %q is issued by %q; pin the company root certificate (root-ca.crt.pem)", rootPath, root.Subject.String(), root.Issuer.String())
		}
		pin.Root = root
	case rootFP != "":
		fp, err := seal.NormalizeFingerprint(rootFP)
		if err != nil {
			return fail(ExitUsage, "--root-fingerprint: %v", err)
		}
		pin.Fingerprint = fp
	}
	if len(crlPaths) > 0 && pin.Root == nil && pin.Fingerprint == "" {
		return fail(ExitUsage, "--crl needs the pinned root that signed it: give --root or --root-fingerprint")
	}
	var crls []verify.CRL
	for _, p := range crlPaths {
		crl, err := verify.ReadCRL(p)
		if err != nil {
			return fail(ExitUsage, "--crl %v", err)
		}
		crls = append(crls, crl)
	}
	res, err := verify.Ceremony(path, pin)
	if err != nil {
		return fail(ExitFailure, "%s: FAILED: %v", path, err)
	}
	if err := checkCRLs(stdout, res, pin, crls); err != nil {
		var ce *verify.CRLError
		var ue *UsageError
		switch {
		case errors.As(err, &ce):
			return fail(ExitUsage, "--crl %v", err)
		case errors.As(err, &ue):
			return err
		}
		return fail(ExitFailure, "%s: FAILED: %v", path, err)
	}
	artifactCRLs(stdout, res)
	c := res.Chain
	last := c.Events[len(c.Events)-1]
	switch res.Status {
	case verify.Verified:
		fmt.Fprintf(stdout, "VERIFIED: %s is sealed and intact; the seal chains to the pinned root.\n", path)
	case verify.Unpinned:
		fmt.Fprintf(stdout, "SEALED AND INTACT, ROOT NOT PINNED: %s\n", path)
	case verify.Unsealed:
		fmt.Fprintf(stdout, "UNSEALED, intact up to event %d (%s): %s\n", last.Seq, record.Printable(last.Type), path)
	}
	summary(stdout, res)
	switch res.Status {
	case verify.Unpinned:
		return &ExitError{ExitUnpinned, errors.New("who sealed it is unproven: pin the root with --root ROOT.pem or --root-fingerprint SHA256 (from the paper record)")}
	case verify.Unsealed:
		return &ExitError{ExitUnsealed, fmt.Errorf("unsealed, intact up to event %d: the ceremony did not complete (%s)", last.Seq, record.Printable(record.Status(c)))}
	}
	return nil
}

// checkCRLs checks the transcript against the auditor's CRLs, if any, and
// prints an OK line for each.
func checkCRLs(w io.Writer, res *verify.Result, pin verify.Pin, crls []verify.CRL) error {
	if len(crls) == 0 {
		return nil
	}
	root := res.Root
	if root == nil {
		root = pin.Root
	}
	if root == nil {
		return usagef("--crl: the transcript is unsealed, so the root pinned by its fingerprint is not known: pin it with --root ROOT.pem to check CRLs")
	}
	checked, err := res.CheckCRLs(root, crls)
	if err != nil {
		return err
	}
	for _, c := range checked {
		l := c.CRL.List
		line := fmt.Sprintf("CRL OK: %s: CRL %s (this update %s), signed by the pinned root, revokes none of the certificates the transcript relies on (%d checked)",
			c.CRL.File, l.Number, l.ThisUpdate.UTC().Format(time.RFC3339), c.Checked)
		for _, later := range c.Later {
			line += "; " + later
		}
		fmt.Fprintln(w, record.Printable(line))
		if c.Note != "" {
			fmt.Fprintln(w, record.Printable(fmt.Sprintf("CRL NOTE: %s: CRL %s is %s: it answers for what it revokes, but a newer CRL may revoke more; check against the current one", c.CRL.File, l.Number, c.Note)))
		}
	}
	return nil
}

// artifactCRLs prints a line for each CRL the transcript records as an
// artifact: issued by the seal (verify checked), and current now (OK) or
// not (NOTE: a CRL going stale after its ceremony is expected).
func artifactCRLs(w io.Writer, res *verify.Result) {
	for _, c := range res.CRLs {
		l := c.List
		dates := fmt.Sprintf("this update %s, next update %s", l.ThisUpdate.UTC().Format(time.RFC3339), l.NextUpdate.UTC().Format(time.RFC3339))
		if c.Note == "" {
			fmt.Fprintln(w, record.Printable(fmt.Sprintf("CRL OK: %s: CRL %s (%s) was issued by the seal and is current now", c.Path, l.Number, dates)))
			continue
		}
		fmt.Fprintln(w, record.Printable(fmt.Sprintf("CRL NOTE: %s: CRL %s (%s) was issued by the seal, and is %s; the sealed transcript is not at fault", c.Path, l.Number, dates, c.Note)))
	}
}

// summary prints what an auditor wants to see at a glance.
func summary(w io.Writer, res *verify.Result) {
	c := res.Chain
	first, last := c.Events[0], c.Events[len(c.Events)-1]
	start, _ := transcript.DataAs[transcript.CeremonyStarted](first)
	row := func(k, format string, a ...any) {
		if k != "" {
			k += ":"
		}
		fmt.Fprintf(w, "  %-14s%s\n", k, record.Printable(fmt.Sprintf(format, a...)))
	}
	row("ceremony", "%s (script %s, SHA-256 %s)", start.Title, start.Script.Name, start.Script.SHA256)
	if start.Rehearsal {
		row("REHEARSAL", "yes: its shares were written to shares/; it protects nothing and is no real ceremony")
	}
	if p := start.Inputs["place"]; p != "" {
		row("place", "%s", p)
	}
	row("time", "%s to %s UTC (%d events)", strings.Replace(strings.TrimSuffix(first.Time, "Z"), "T", " ", 1),
		strings.TrimSuffix(last.Time[11:], "Z"), len(c.Events))
	var people []string
	for _, p := range record.Participants(c) {
		people = append(people, fmt.Sprintf("%s (%s)", p.Name, p.Role))
	}
	row("participants", "%s", strings.Join(people, ", "))
	if len(res.Artifacts) == 0 {
		row("artifacts", "none")
	}
	for i, a := range res.Artifacts {
		k := ""
		if i == 0 {
			k = "artifacts"
		}
		row(k, "%s  sha256 %s  ok", a.Path, a.SHA256)
	}
	if s := res.Seal; s != nil {
		row("sealed by", "%s (certificate SHA-256 %s) at %s", s.Signer.Subject, seal.Fingerprint(s.Signer), s.SigningTime.UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	if res.Root != nil {
		row("pinned root", "%s (SHA-256 %s)", res.Root.Subject, seal.Fingerprint(res.Root))
	}
	row("final digest", "%s", record.GroupHex(c.Head))
	ws, _ := words.FromHex(c.Head)
	for i, l := range words.Lines(ws, 8) {
		k := ""
		if i == 0 {
			k = "as words"
		}
		row(k, "%s", l)
	}
	for _, n := range res.Notes {
		row("note", "%s", n)
	}
}
