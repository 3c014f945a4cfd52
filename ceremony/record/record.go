// Package record renders a ceremony transcript as the printable record
// (OUT/transcript.md): ceremony, date, place, participants by role, every
// step with its events, times, who acted and what happened, fingerprints in
// full, exceptions, artifacts, the final digest in hex and as words for
// reading aloud, and signature blocks for everyone present to sign the paper
// copy.
//
// The record is rendered from the transcript alone, so `ceremony transcript
// show` reproduces it from a sealed transcript at any time. It is Markdown
// that reads well as plain text and prints on A4 without a renderer.
package record

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/devicepki/ceremony/ceremony/shares"
	"github.com/devicepki/ceremony/ceremony/transcript"
	"github.com/devicepki/ceremony/ceremony/words"
)

// Status describes how a transcript ends.
func Status(c *transcript.Chain) string {
	if len(c.Events) == 0 {
		return "EMPTY"
	}
	last := c.Events[len(c.Events)-1]
	switch transcript.Canonical(last.Type) {
	case transcript.TypeTranscriptSealed:
		return fmt.Sprintf("SEALED after event %d (check the seal: ceremony transcript verify)", last.Seq-1)
	case transcript.TypeCeremonyFailed:
		return fmt.Sprintf("FAILED at step %s; not sealed", last.Step)
	case transcript.TypeCeremonyAborted:
		return fmt.Sprintf("ABORTED at step %s; not sealed", last.Step)
	case transcript.TypeCeremonyClosed:
		return fmt.Sprintf("INTERRUPTED after event %d, then CLOSED (ceremony close); not sealed", closedAfter(c))
	}
	return fmt.Sprintf("NOT SEALED: the record ends at event %d (%s) — the ceremony was interrupted", last.Seq, last.Type)
}

// closedAfter returns the last event before a ceremony close began.
func closedAfter(c *transcript.Chain) int {
	d, _ := transcript.DataAs[transcript.CeremonyClosed](c.Events[len(c.Events)-1])
	return d.LastEventBefore
}

// Render returns the printable record of a checked transcript, as
// Markdown (transcript.md).
func Render(c *transcript.Chain) string {
	return Build(c).Markdown()
}

// Build returns the printable record of a checked transcript as a
// document, for a renderer to lay out.
func Build(c *transcript.Chain) *Document {
	d := &doc{}
	var st transcript.CeremonyStarted
	started := len(c.Events) > 0 && c.Events[0].Is(transcript.TypeCeremonyStarted)
	if len(c.Events) > 0 {
		st, _ = transcript.DataAs[transcript.CeremonyStarted](c.Events[0])
	}
	title := st.Title
	if title == "" {
		title = st.Script.Name
	}
	d.Title, d.Head = title, c.Head
	d.Words, _ = words.FromHex(c.Head)
	d.heading(1, plain("Ceremony record: "+title))
	first, last := c.Events[0], c.Events[len(c.Events)-1]
	d.Time, _ = time.Parse(time.RFC3339Nano, last.Time)
	place := st.Inputs["place"]
	if place == "" {
		place = "(not recorded)"
	}
	// The ceremony at a glance: a row is one line here.
	head := d.table(nil, nil)
	head.kv("Ceremony", outside(title), plain(" (script "), outsideMono(st.Script.Name), plain(")"))
	head.kv("Script file", outsideMono(st.Script.Path))
	head.kv("Script SHA-256", mono(st.Script.SHA256))
	if a := st.ScriptApproval; a != nil {
		ap := []Span{plain("approved on "), outside(a.Date), plain(" by "), outside(strings.Join(a.ApprovedBy, "; "))}
		if a.Reference != "" {
			ap = append(ap, plain(" ("), outside(a.Reference), plain(")"))
		}
		head.kv("Script approval", ap...)
	} else if started {
		head.kv("Script approval", bold("none recorded"), plain(": the script states no approval (see exceptions)"))
	}
	head.kv("Place", outside(place))
	head.kv("Date", plain(first.Time[:10]+" (UTC)"))
	head.kv("Began", plain(clock(first.Time)))
	head.kv("Ended", plain(clock(last.Time)))
	head.kv("Events", plain(strconv.Itoa(len(c.Events))))
	head.kv("Status", bold(Status(c)))
	if st.Rehearsal {
		head.kv("Rehearsal", bold("yes"), plain(": the shares handed out were also written to "), mono("shares/"), plain("; they protect nothing"))
	}
	head.kv("Recorded by", plain("ceremony "), outside(st.ToolVersion), plain(", "), outside(st.Face), plain(" face"))
	var inputs []string
	for _, k := range slices.Sorted(maps.Keys(st.Inputs)) {
		if k != "place" {
			inputs = append(inputs, fmt.Sprintf("%s = %s", k, st.Inputs[k]))
		}
	}
	if len(inputs) > 0 {
		head.kv("Inputs", outside(strings.Join(inputs, "; ")))
	}

	people := Participants(c)
	d.heading(2, plain("Participants"))
	if len(people) == 0 {
		d.para(plain("No attendance was recorded."))
	} else if len(st.Roles) == 0 {
		t := d.table(line(plain("Role")), line(plain("Name")))
		for _, p := range people {
			t.row(line(outside(p.Role)), line(outside(p.Name)))
		}
	} else {
		// What each role does, as the script describes it: a key
		// ceremony report names the roles and their responsibilities.
		does := map[string]string{}
		for _, r := range st.Roles {
			does[r.Name] = r.Description
		}
		t := d.table(line(plain("Role")), line(plain("Name")), line(plain("Responsibilities")))
		for _, p := range people {
			t.row(line(outside(p.Role)), line(outside(p.Name)), line(outside(does[p.Role])))
		}
	}

	d.heading(2, plain("Events"))
	d.para(plain("Times are UTC. Each step lists what the machine recorded, in order."))
	step := "\x00"
	for _, ev := range c.Events {
		if ev.Step != step {
			step = ev.Step
			switch n, title := stepTitle(st.Steps, step); {
			case step == "":
				d.heading(3, plain("Ceremony"))
			case n > 0:
				d.heading(3, plain(fmt.Sprintf("Step %d of %d: %s (", n, len(st.Steps), title)), mono(step), plain(")"))
				// The text read aloud before the machine acted; a
				// confirmation or a choice records it in its own event.
				if s := st.Steps[n-1]; s.Say != "" && s.Kind != "confirm" && s.Kind != "choose" {
					d.quote(plain("Read aloud before it ran: “"), outside(s.Say), plain("”"))
				}
			default:
				d.heading(3, plain("Step "), mono(step))
			}
		}
		t := line(bold(strconv.Itoa(ev.Seq)), plain(" "), mono(clock(ev.Time)[11:]), plain(" "), outside(ev.Type), plain(": "), outside(ev.Text))
		if len(ev.Actors) > 0 && !ev.Is(transcript.TypeAttendance, transcript.TypeConfirmed) {
			var names []string
			for _, a := range ev.Actors {
				names = append(names, fmt.Sprintf("%s (%s)", clean(a.Name), clean(a.Role)))
			}
			t = append(t, plain(" — by "), Span{Text: strings.Join(names, ", "), Style: Outside})
		}
		d.item(0, t...)
		details(d, ev)
	}

	d.heading(2, plain("Exceptions and overrides"))
	n := 0
	if started && st.ScriptApproval == nil {
		n++
		d.item(n, plain("The script states no approval (its "), mono("approval:"), plain(" field): who approved it, and when, is not on record."))
	}
	for _, ev := range c.Events {
		if !ev.Is(transcript.TypeException, transcript.TypeOverride, transcript.TypeBackupException) {
			continue
		}
		n++
		who := ""
		if len(ev.Actors) > 0 {
			who = ev.Actors[0].Name
		}
		at := plain(fmt.Sprintf("Event %d, step ", ev.Seq))
		if ev.Is(transcript.TypeBackupException) {
			b, _ := transcript.DataAs[transcript.BackupException](ev)
			d.item(n, at, mono(ev.Step), plain(": key "), outsideMono(b.Label), plain(" has no backup ("), outside(b.Reason), plain("); approved by "), outside(b.ApprovedBy))
			continue
		}
		if o, err := transcript.DataAs[transcript.Override](ev); err == nil {
			d.item(n, at, mono(ev.Step), plain(fmt.Sprintf(": %s overrode the %s check. Reason: ", who, o.Check)), outside(o.Reason))
			continue
		}
		f, _ := transcript.DataAs[transcript.Exception](ev)
		d.item(n, at, mono(ev.Step), plain(fmt.Sprintf(", recorded by %s. Expected: ", who)), sentence(f.Expected),
			plain(" Happened: "), sentence(f.Happened), plain(" Done: "), sentence(f.Action))
	}
	if n == 0 {
		d.para(plain("None recorded."))
	}

	d.heading(2, plain("Artifacts"))
	arts := Artifacts(c)
	if len(arts) == 0 {
		d.para(plain("None."))
	} else {
		t := d.table(line(plain("File")), line(plain("Bytes")), line(plain("File SHA-256")), line(plain("Certificate SHA-256 (fingerprint)")))
		for _, a := range arts {
			var fp Text
			if a.CertificateSHA256 != "" {
				fp = line(mono(ColonHex(a.CertificateSHA256)))
			}
			t.row(line(mono(a.Path)), line(plain(strconv.Itoa(a.Size))), line(mono(a.SHA256)), fp)
		}
		d.para(plain("A file's SHA-256 is of its bytes ("), mono("sha256sum"), plain("); a certificate's fingerprint is the SHA-256 of the certificate itself, as "),
			mono("openssl x509 -noout -fingerprint -sha256"), plain(" prints it, and what "), mono("--root-fingerprint"), plain(" takes."))
	}

	d.heading(2, plain("Final digest"))
	d.para(plain(fmt.Sprintf("SHA-256 of the transcript's last line (event %d), which commits to every event before it:", last.Seq)))
	d.code(GroupHex(c.Head))
	d.para(plain("The same digest as words, one per byte, to read aloud and compare:"))
	d.code(words.Lines(d.Words, 8)...)
	d.para(plain("Check the transcript and its seal: "), mono("ceremony transcript verify transcript.jsonl --root root-ca.crt.pem"), plain("."))

	// Each group of signatures starts a page of its own.
	d.section(plain("Signatures"))
	d.para(plain("By signing I confirm that I was present, that this record describes the ceremony as it happened, and that the final digest words above match those shown on the ceremony machine's screen."))
	for _, p := range people {
		d.signature(outside(p.Name), plain(" ("), outside(p.Role), plain(")"))
	}
	if len(people) == 0 {
		d.signature(plain("Name: ________________________  Role: ______________"))
	}

	// The witness's and the auditor's statements stand apart from the
	// participants' signatures: each attests to something the others do
	// not.
	d.section(plain("Witness attestation"))
	d.para(plain("I witnessed the whole ceremony from start to end. Every step was carried out as this record describes, following the script in its appendix; every exception and override is listed above; no key material or share left the room except as recorded; and the final digest words above match those on the ceremony machine's screen."))
	witnesses := 0
	for _, p := range people {
		if p.Role == "witness" {
			witnesses++
			d.signature(outside(p.Name), plain(" (witness)"))
		}
	}
	if witnesses == 0 {
		d.signature(plain("Name: ________________________  (witness)"))
	}
	d.section(plain("Auditor attestation"))
	d.para(plain("I observed the ceremony, or examined this record, its transcript and its seal afterwards ("), mono("ceremony transcript verify"),
		plain(", or "), mono("scripts/audit/check-transcript.sh"), plain(" with stock tools), and found them consistent with the script in the appendix and with the controls the certification practice statement requires. Findings, if any:"))
	d.para(plain("______________________________________________________________________"))
	d.para(plain("______________________________________________________________________"))
	d.signature(plain("Name: ________________________  Firm: ________________________  Observed in person / examined afterwards (strike one)"))
	appendix(d, st)
	return &d.Document
}

// appendix adds the script and templates the ceremony ran, as the
// transcript carries them (each text's SHA-256 is the one event 1
// records: transcript verify checks it).
func appendix(d *doc, st transcript.CeremonyStarted) {
	files := append([]transcript.File{st.Script}, st.Templates...)
	n := 0
	for _, f := range files {
		if f.Text == "" {
			continue
		}
		if n == 0 {
			d.section(plain("Appendix: the script and templates as run"))
		}
		n++
		d.heading(3, outsideMono(f.Path), plain(" (SHA-256 "), mono(GroupHex(f.SHA256)), plain(")"))
		lines := strings.Split(strings.TrimRight(f.Text, "\n"), "\n")
		for i, l := range lines {
			lines[i] = Printable(strings.ReplaceAll(l, "\t", "    "))
		}
		d.code(lines...)
	}
}

// Artifact is a file the transcript says the ceremony wrote and did not
// withdraw.
type Artifact struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Size   int    `json:"size"`
	// Event is the event that recorded it.
	Event int `json:"-"`
	// CertificateSHA256 is a certificate file's fingerprint, if the
	// transcript recorded it.
	CertificateSHA256 string `json:"-"`
}

// Artifacts returns the artifacts a transcript records as written, without
// those withdrawn later, in the order they were written.
func Artifacts(c *transcript.Chain) []Artifact {
	var out []Artifact
	for _, ev := range c.Events {
		switch transcript.Canonical(ev.Type) {
		case transcript.TypeArtifactWritten:
			if w, err := transcript.DataAs[transcript.ArtifactWritten](ev); err == nil {
				out = append(out, Artifact{Path: w.Path, SHA256: w.SHA256, Size: w.Size, Event: ev.Seq, CertificateSHA256: w.CertificateSHA256})
			}
		case transcript.TypeArtifactWithdrawn:
			if a, err := transcript.DataAs[transcript.ArtifactWithdrawn](ev); err == nil {
				for i := range out {
					if out[i].Path == a.Path {
						out = append(out[:i], out[i+1:]...)
						break
					}
				}
			}
		}
	}
	return out
}

// Participant is a person the attendance event records.
type Participant = transcript.Actor

// Participants returns the people recorded present, in attendance order.
func Participants(c *transcript.Chain) []Participant {
	for _, ev := range c.Events {
		if ev.Is(transcript.TypeAttendance) {
			return ev.Actors
		}
	}
	return nil
}

// ColonHex formats a hex digest as openssl prints fingerprints: upper-case
// byte pairs joined by colons.
func ColonHex(h string) string {
	var b strings.Builder
	for i := 0; i+1 < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(strings.ToUpper(h[i : i+2]))
	}
	return b.String()
}

// GroupHex formats a hex digest in groups of four for reading aloud.
func GroupHex(h string) string {
	var b strings.Builder
	for i := 0; i < len(h); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(h[i:min(i+4, len(h))])
	}
	return b.String()
}

// clock turns an event time into "2006-01-02 15:04:05.000 UTC".
func clock(t string) string {
	return strings.Replace(strings.TrimSuffix(t, "Z"), "T", " ", 1) + " UTC"
}

// Printable makes untrusted text safe on a terminal and one line:
// control, invisible and direction-changing characters (newlines too)
// become U+FFFD, so escape sequences cannot redraw the screen.
func Printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return '\uFFFD'
	}, s)
}

// PrintableLines is Printable for text of several lines: newlines and
// tabs (which only move the cursor on to the next column, as the flag
// package's help aligns with them) stay, and every other control,
// invisible or direction-changing character becomes U+FFFD.
func PrintableLines(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || unicode.IsPrint(r) {
			return r
		}
		return '\uFFFD'
	}, s)
}

// TextWriter returns a writer that passes text to w through
// PrintableLines: what a command prints (names, subjects, reasons and
// file names from its inputs among it) cannot move the cursor, clear the
// screen or hide text on a terminal. Each Write is taken as whole text;
// a byte that is not UTF-8 becomes U+FFFD. It reports len(p) written
// when w took all of the sanitised text.
func TextWriter(w io.Writer) io.Writer { return textWriter{w} }

type textWriter struct{ w io.Writer }

func (t textWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(t.w, PrintableLines(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// clean puts text from the transcript on one line and makes it inert on a
// terminal: control, invisible and direction-changing characters become
// U+FFFD (a renderer escapes what its own markup needs).
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || unicode.IsPrint(r) {
			return r
		}
		return '\uFFFD'
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// sentence is text from the transcript, clean, ending with a full stop.
func sentence(s string) Span {
	s = clean(s)
	if s != "" && !strings.ContainsAny(s[len(s)-1:], ".!?") {
		s += "."
	}
	return Span{Text: s, Style: Outside}
}

// stepTitle returns the 1-based position and title of step id, or 0.
func stepTitle(steps []transcript.StartedStep, id string) (int, string) {
	for i, s := range steps {
		if s.ID == id {
			return i + 1, s.Title
		}
	}
	return 0, ""
}

// details adds, under an event's line, the digests and texts from its data
// that people compare and read.
func details(d *doc, ev transcript.Event) {
	switch transcript.Canonical(ev.Type) {
	case transcript.TypeConfirmed:
		if f, _ := transcript.DataAs[transcript.Confirmed](ev); f.Said != "" {
			d.sub(plain("Read aloud: “"), outside(f.Said), plain("”"))
		}
	case transcript.TypePreflight:
		f, _ := transcript.DataAs[transcript.Preflight](ev)
		build := f.Tool.GoVersion
		if f.Tool.Revision != "" {
			build += ", revision " + f.Tool.Revision
		}
		d.sub(plain("Program SHA-256: "), mono(GroupHex(f.Tool.ExecSHA256)), plain(" ("+build+")"))
		d.sub(plain("PKCS#11 module "), mono(f.PKCS11Module.Path), plain(" SHA-256: "), mono(GroupHex(f.PKCS11Module.SHA256)))
	case transcript.TypeSharesSplit:
		f, _ := transcript.DataAs[transcript.SharesSplit](ev)
		var m shares.Manifest
		if f.Manifest.Decode(&m) != nil {
			return
		}
		d.sub(plain("Split "), outsideMono(m.Split), plain(": "), outside(m.Purpose), plain(fmt.Sprintf(", %d of %d shares needed; commitment ", m.Threshold, m.Count)), mono(GroupHex(m.Commitment)))
		for _, h := range f.Holders {
			hash := ""
			if h.Share >= 1 && h.Share <= len(m.ShareHashes) {
				hash = m.ShareHashes[h.Share-1]
			}
			d.sub(plain(fmt.Sprintf("Share %d: ", h.Share)), outside(h.Name), plain(" ("), outside(h.Role), plain("), share SHA-256 "), mono(GroupHex(hash)))
		}
	case transcript.TypeKeyGenerated:
		f, _ := transcript.DataAs[transcript.KeyGenerated](ev)
		key(d, f.PublicKeySHA256, f.Attributes)
	case transcript.TypeKeyBackedUp:
		f, _ := transcript.DataAs[transcript.KeyBackedUp](ev)
		key(d, f.PublicKeySHA256, f.Attributes)
		if f.CiphertextSHA256 != "" {
			d.sub(plain("Backup ciphertext SHA-256: "), mono(GroupHex(f.CiphertextSHA256)))
		}
	case transcript.TypeBackupException:
		f, _ := transcript.DataAs[transcript.BackupException](ev)
		key(d, f.PublicKeySHA256, f.Attributes)
		d.sub(plain("No backup, approved by: "), outside(f.ApprovedBy))
		d.sub(plain("Statement SHA-256: "), mono(GroupHex(f.StatementSHA256)))
	case transcript.TypeKeyRestored:
		f, _ := transcript.DataAs[transcript.KeyRestored](ev)
		key(d, f.PublicKeySHA256, f.Attributes)
	case transcript.TypeInventory:
		f, _ := transcript.DataAs[transcript.Inventory](ev)
		for _, it := range f.Items {
			note := ""
			switch {
			case it.FromToken:
				note = " (reported by the token)"
			case it.Expected != "":
				note = " (as expected)"
			}
			d.sub(outside(it.Name), plain(": "), verbatim(it.Value), plain(note))
		}
	case transcript.TypeShareHandedOut:
		f, _ := transcript.DataAs[transcript.ShareHandedOut](ev)
		d.sub(plain(fmt.Sprintf("Share %d of split ", f.Share)), outsideMono(f.SplitID), plain(" handed out, typed back correctly (share SHA-256 "), mono(GroupHex(f.ShareSHA256)), plain(")"))
		var m struct {
			File, SHA256, Encryption string
		}
		if f.MediaCopy.Decode(&m) == nil && m.File != "" {
			d.sub(plain("Copied to the keyholder's removable media as "), verbatim(m.File), plain(" ("), outside(m.Encryption), plain("), SHA-256 "), mono(GroupHex(m.SHA256)))
		}
	case transcript.TypeHSMLogin:
		if f, _ := transcript.DataAs[transcript.HSMLogin](ev); f.Quorum != nil {
			sharesEntered(d, f.Quorum.SplitID, f.Quorum.Shares, f.Quorum.EnteredBy)
		}
	case transcript.TypeBackupKeyRebuilt:
		f, _ := transcript.DataAs[transcript.BackupKeyRebuilt](ev)
		sharesEntered(d, f.BackupKeySplit, f.Shares, f.EnteredBy)
	case transcript.TypeSigningApproved:
		// What the approvers saw, decoded, field by field.
		f, _ := transcript.DataAs[transcript.SigningApproved](ev)
		var shown []struct{ Label, Value string }
		if f.Shown.Decode(&shown) == nil {
			for _, fl := range shown {
				d.sub(outside(fl.Label), plain(": "), verbatim(fl.Value))
			}
		}
	case transcript.TypeCertificateIssued:
		f, _ := transcript.DataAs[transcript.CertificateIssued](ev)
		d.sub(plain("Certificate SHA-256: "), mono(GroupHex(f.SHA256)))
	case transcript.TypeArtifactWritten:
		f, _ := transcript.DataAs[transcript.ArtifactWritten](ev)
		d.sub(plain("File "), mono(f.Path), plain(fmt.Sprintf(", %d bytes, file SHA-256: ", f.Size)), mono(GroupHex(f.SHA256)))
		if f.CertificateSHA256 != "" {
			d.sub(plain("Certificate SHA-256 (fingerprint): "), mono(ColonHex(f.CertificateSHA256)))
		}
	case transcript.TypeException:
		f, _ := transcript.DataAs[transcript.Exception](ev)
		d.sub(plain("Expected: "), outside(f.Expected))
		d.sub(plain("Happened: "), outside(f.Happened))
		d.sub(plain("Done: "), outside(f.Action))
	}
}

// sharesEntered adds which share of a split each person entered.
func sharesEntered(d *doc, split string, shares []int, by []string) {
	for i, n := range shares {
		who := plain("(not recorded)")
		if i < len(by) {
			who = outside(by[i])
		}
		d.sub(plain(fmt.Sprintf("Share %d of split ", n)), outsideMono(split), plain(" entered by "), who)
	}
}

// key adds a key's public key digest and the attributes its private key
// has.
func key(d *doc, publicKeySHA256 string, attributes transcript.Value) {
	d.sub(plain("Public key SHA-256: "), mono(GroupHex(publicKeySHA256)))
	var attrs map[string]bool
	_ = attributes.Decode(&attrs)
	var set []string
	for _, k := range slices.Sorted(maps.Keys(attrs)) {
		if attrs[k] {
			set = append(set, strings.ReplaceAll(k, "_", "-"))
		}
	}
	d.sub(plain("Private key attributes: " + strings.Join(set, ", ")))
}
