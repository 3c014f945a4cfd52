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
	"strings"
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

// Render returns the printable record of a checked transcript.
func Render(c *transcript.Chain) string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }

	var st transcript.CeremonyStarted
	if len(c.Events) > 0 {
		st, _ = transcript.DataAs[transcript.CeremonyStarted](c.Events[0])
	}
	title := st.Title
	if title == "" {
		title = st.Script.Name
	}
	w("# Ceremony record: %s\n\n", title)
	first, last := c.Events[0], c.Events[len(c.Events)-1]
	place := st.Inputs["place"]
	if place == "" {
		place = "(not recorded)"
	}
	w("| | |\n|---|---|\n")
	w("| Ceremony | %s (script `%s`) |\n", cell(title), cell(st.Script.Name))
	w("| Script file | `%s` |\n", cell(st.Script.Path))
	w("| Script SHA-256 | `%s` |\n", st.Script.SHA256)
	w("| Place | %s |\n", cell(place))
	w("| Date | %s (UTC) |\n", first.Time[:10])
	w("| Began | %s |\n", clock(first.Time))
	w("| Ended | %s |\n", clock(last.Time))
	w("| Events | %d |\n", len(c.Events))
	w("| Status | **%s** |\n", Status(c))
	if st.Rehearsal {
		w("| Rehearsal | **yes**: the shares handed out were also written to `shares/`; they protect nothing |\n")
	}
	w("| Recorded by | ceremony %s, %s face |\n", cell(st.ToolVersion), cell(st.Face))
	var inputs []string
	for _, k := range slices.Sorted(maps.Keys(st.Inputs)) {
		if k != "place" {
			inputs = append(inputs, fmt.Sprintf("%s = %s", k, st.Inputs[k]))
		}
	}
	if len(inputs) > 0 {
		w("| Inputs | %s |\n", cell(strings.Join(inputs, "; ")))
	}

	people := Participants(c)
	w("\n## Participants\n\n")
	if len(people) == 0 {
		w("No attendance was recorded.\n")
	} else {
		w("| Role | Name |\n|---|---|\n")
		for _, p := range people {
			w("| %s | %s |\n", cell(p.Role), cell(p.Name))
		}
	}

	w("\n## Events\n\nTimes are UTC. Each step lists what the machine recorded, in order.\n")
	step := "\x00"
	for _, ev := range c.Events {
		if ev.Step != step {
			step = ev.Step
			switch n, title := stepTitle(st.Steps, step); {
			case step == "":
				w("\n### Ceremony\n\n")
			case n > 0:
				w("\n### Step %d of %d: %s (`%s`)\n\n", n, len(st.Steps), title, step)
				// The text read aloud before the machine acted; a
				// confirmation or a choice records it in its own event.
				if s := st.Steps[n-1]; s.Say != "" && s.Kind != "confirm" && s.Kind != "choose" {
					w("> Read aloud before it ran: “%s”\n\n", oneLine(s.Say))
				}
			default:
				w("\n### Step `%s`\n\n", step)
			}
		}
		by := ""
		if len(ev.Actors) > 0 && !ev.Is(transcript.TypeAttendance, transcript.TypeConfirmed) {
			var names []string
			for _, a := range ev.Actors {
				names = append(names, fmt.Sprintf("%s (%s)", oneLine(a.Name), oneLine(a.Role)))
			}
			by = " — by " + strings.Join(names, ", ")
		}
		w("- **%d** `%s` %s: %s%s\n", ev.Seq, clock(ev.Time)[11:], oneLine(ev.Type), oneLine(ev.Text), by)
		renderDetails(w, ev)
	}

	w("\n## Exceptions and overrides\n\n")
	n := 0
	for _, ev := range c.Events {
		if !ev.Is(transcript.TypeException, transcript.TypeOverride, transcript.TypeBackupException) {
			continue
		}
		n++
		who := ""
		if len(ev.Actors) > 0 {
			who = ev.Actors[0].Name
		}
		if ev.Is(transcript.TypeBackupException) {
			b, _ := transcript.DataAs[transcript.BackupException](ev)
			w("%d. Event %d, step `%s`: key `%s` has no backup (%s); approved by %s\n", n, ev.Seq, ev.Step, oneLine(b.Label), oneLine(b.Reason), oneLine(b.ApprovedBy))
			continue
		}
		if o, err := transcript.DataAs[transcript.Override](ev); err == nil {
			w("%d. Event %d, step `%s`: %s overrode the %s check. Reason: %s\n", n, ev.Seq, ev.Step, who, o.Check, oneLine(o.Reason))
			continue
		}
		f, _ := transcript.DataAs[transcript.Exception](ev)
		w("%d. Event %d, step `%s`, recorded by %s. Expected: %s Happened: %s Done: %s\n", n, ev.Seq, ev.Step, who,
			sentence(f.Expected), sentence(f.Happened), sentence(f.Action))
	}
	if n == 0 {
		w("None recorded.\n")
	}

	w("\n## Artifacts\n\n")
	arts := Artifacts(c)
	if len(arts) == 0 {
		w("None.\n")
	} else {
		w("| File | Bytes | File SHA-256 | Certificate SHA-256 (fingerprint) |\n|---|---|---|---|\n")
		for _, a := range arts {
			fp := ""
			if a.CertificateSHA256 != "" {
				fp = "`" + ColonHex(a.CertificateSHA256) + "`"
			}
			w("| `%s` | %d | `%s` | %s |\n", a.Path, a.Size, a.SHA256, fp)
		}
		w("\nA file's SHA-256 is of its bytes (`sha256sum`); a certificate's fingerprint is the SHA-256 of the certificate itself, as `openssl x509 -noout -fingerprint -sha256` prints it, and what `--root-fingerprint` takes.\n")
	}

	w("\n## Final digest\n\n")
	w("SHA-256 of the transcript's last line (event %d), which commits to every event before it:\n\n", last.Seq)
	w("```\n%s\n```\n\n", GroupHex(c.Head))
	ws, _ := words.FromHex(c.Head)
	w("The same digest as words, one per byte, to read aloud and compare:\n\n```\n%s\n```\n", strings.Join(words.Lines(ws, 8), "\n"))
	w("\nCheck the transcript and its seal: `ceremony transcript verify transcript.jsonl --root root-ca.crt.pem`.\n")

	w("\n## Signatures\n\n")
	w("By signing I confirm that I was present, that this record describes the ceremony as it happened, and that the final digest words above match those shown on the ceremony machine's screen.\n\n")
	for _, p := range people {
		w("%s (%s)\n\nSignature: ________________________________  Date: ______________\n\n", oneLine(p.Name), oneLine(p.Role))
	}
	if len(people) == 0 {
		w("Name: ________________________  Role: ______________\n\nSignature: ________________________________  Date: ______________\n\n")
	}

	// The witness's and the auditor's statements stand apart from the
	// participants' signatures: each attests to something the others do
	// not.
	w("\n## Witness attestation\n\n")
	w("I witnessed the whole ceremony from start to end. Every step was carried out as this record describes, following the script in its appendix; every exception and override is listed above; no key material or share left the room except as recorded; and the final digest words above match those on the ceremony machine's screen.\n\n")
	witnesses := 0
	for _, p := range people {
		if p.Role == "witness" {
			witnesses++
			w("%s (witness)\n\nSignature: ________________________________  Date: ______________\n\n", oneLine(p.Name))
		}
	}
	if witnesses == 0 {
		w("Name: ________________________  (witness)\n\nSignature: ________________________________  Date: ______________\n\n")
	}
	w("\n## Auditor attestation\n\n")
	w("I observed the ceremony, or examined this record, its transcript and its seal afterwards (`ceremony transcript verify`, or `scripts/audit/check-transcript.sh` with stock tools), and found them consistent with the script in the appendix and with the controls the certification practice statement requires. Findings, if any:\n\n")
	w("______________________________________________________________________\n\n______________________________________________________________________\n\n")
	w("Name: ________________________  Firm: ________________________  Observed in person / examined afterwards (strike one)\n\nSignature: ________________________________  Date: ______________\n\n")
	renderFiles(w, st)
	return b.String()
}

// renderFiles appends the script and templates the ceremony ran, as the
// transcript carries them (each text's SHA-256 is the one event 1
// records: transcript verify checks it).
func renderFiles(w func(string, ...any), st transcript.CeremonyStarted) {
	files := append([]transcript.File{st.Script}, st.Templates...)
	n := 0
	for _, f := range files {
		if f.Text == "" {
			continue
		}
		if n == 0 {
			w("\n## Appendix: the script and templates as run\n")
		}
		n++
		w("\n### `%s` (SHA-256 `%s`)\n\n", oneLine(f.Path), GroupHex(f.SHA256))
		fence := "```"
		for strings.Contains(f.Text, fence) {
			fence += "`"
		}
		lines := strings.Split(strings.TrimRight(f.Text, "\n"), "\n")
		for i, l := range lines {
			lines[i] = Printable(strings.ReplaceAll(l, "\t", "    "))
		}
		w("%s\n%s\n%s\n", fence, strings.Join(lines, "\n"), fence)
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

// codeSpan puts text from outside (a CSR's subject, say) in a Markdown
// code span on one line, so that it shows exactly as it is: no character
// in it can start emphasis, a link or HTML, and its backticks cannot end
// the span (the fence is longer than any run of them).
func codeSpan(s string) string {
	s = strings.Join(strings.Fields(Printable(strings.NewReplacer("\n", " ", "\t", " ", "\r", " ").Replace(s))), " ")
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return fence + s + fence
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

// cell makes text safe inside a Markdown table cell.
func cell(s string) string {
	return strings.ReplaceAll(oneLine(s), "|", `\|`)
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

// PrintableLines is Printable for text of several lines: newlines stay,
// and every other control, invisible or direction-changing character
// becomes U+FFFD.
func PrintableLines(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || unicode.IsPrint(r) {
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

// oneLine puts text from the transcript on one line and makes it inert in
// Markdown and on a terminal: control, invisible and direction-changing
// characters become U+FFFD, and < > are escaped so no HTML renders.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || unicode.IsPrint(r) {
			return r
		}
		return '\uFFFD'
	}, s)
	s = strings.NewReplacer("<", "&lt;", ">", "&gt;").Replace(s)
	return strings.Join(strings.Fields(s), " ")
}

func sentence(s string) string {
	s = oneLine(s)
	if s != "" && !strings.ContainsAny(s[len(s)-1:], ".!?") {
		s += "."
	}
	return s
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

// renderDetails writes, under an event's line, the digests and texts from
// its data that people compare and read.
func renderDetails(w func(string, ...any), ev transcript.Event) {
	switch transcript.Canonical(ev.Type) {
	case transcript.TypeConfirmed:
		if f, _ := transcript.DataAs[transcript.Confirmed](ev); f.Said != "" {
			w("  - Read aloud: “%s”\n", oneLine(f.Said))
		}
	case transcript.TypePreflight:
		f, _ := transcript.DataAs[transcript.Preflight](ev)
		build := f.Tool.GoVersion
		if f.Tool.Revision != "" {
			build += ", revision " + f.Tool.Revision
		}
		w("  - Program SHA-256: `%s` (%s)\n", GroupHex(f.Tool.ExecSHA256), build)
		w("  - PKCS#11 module `%s` SHA-256: `%s`\n", f.PKCS11Module.Path, GroupHex(f.PKCS11Module.SHA256))
	case transcript.TypeSharesSplit:
		f, _ := transcript.DataAs[transcript.SharesSplit](ev)
		var m shares.Manifest
		if f.Manifest.Decode(&m) != nil {
			return
		}
		w("  - Split `%s`: %s, %d of %d shares needed; commitment `%s`\n", oneLine(m.Split), oneLine(m.Purpose), m.Threshold, m.Count, GroupHex(m.Commitment))
		for _, h := range f.Holders {
			hash := ""
			if h.Share >= 1 && h.Share <= len(m.ShareHashes) {
				hash = m.ShareHashes[h.Share-1]
			}
			w("  - Share %d: %s (%s), share SHA-256 `%s`\n", h.Share, oneLine(h.Name), oneLine(h.Role), GroupHex(hash))
		}
	case transcript.TypeKeyGenerated:
		f, _ := transcript.DataAs[transcript.KeyGenerated](ev)
		renderKey(w, f.PublicKeySHA256, f.Attributes)
	case transcript.TypeKeyBackedUp:
		f, _ := transcript.DataAs[transcript.KeyBackedUp](ev)
		renderKey(w, f.PublicKeySHA256, f.Attributes)
		if f.CiphertextSHA256 != "" {
			w("  - Backup ciphertext SHA-256: `%s`\n", GroupHex(f.CiphertextSHA256))
		}
	case transcript.TypeBackupException:
		f, _ := transcript.DataAs[transcript.BackupException](ev)
		renderKey(w, f.PublicKeySHA256, f.Attributes)
		w("  - No backup, approved by: %s\n  - Statement SHA-256: `%s`\n", oneLine(f.ApprovedBy), GroupHex(f.StatementSHA256))
	case transcript.TypeKeyRestored:
		f, _ := transcript.DataAs[transcript.KeyRestored](ev)
		renderKey(w, f.PublicKeySHA256, f.Attributes)
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
			w("  - %s: %s%s\n", oneLine(it.Name), codeSpan(it.Value), note)
		}
	case transcript.TypeShareHandedOut:
		f, _ := transcript.DataAs[transcript.ShareHandedOut](ev)
		w("  - Share %d of split `%s` handed out, typed back correctly (share SHA-256 `%s`)\n", f.Share, oneLine(f.SplitID), GroupHex(f.ShareSHA256))
		var m struct {
			File, SHA256, Encryption string
		}
		if f.MediaCopy.Decode(&m) == nil && m.File != "" {
			w("  - Copied to the keyholder's removable media as %s (%s), SHA-256 `%s`\n", codeSpan(m.File), oneLine(m.Encryption), GroupHex(m.SHA256))
		}
	case transcript.TypeHSMLogin:
		if f, _ := transcript.DataAs[transcript.HSMLogin](ev); f.Quorum != nil {
			renderShares(w, f.Quorum.SplitID, f.Quorum.Shares, f.Quorum.EnteredBy)
		}
	case transcript.TypeBackupKeyRebuilt:
		f, _ := transcript.DataAs[transcript.BackupKeyRebuilt](ev)
		renderShares(w, f.BackupKeySplit, f.Shares, f.EnteredBy)
	case transcript.TypeSigningApproved:
		// What the approvers saw, decoded, field by field.
		f, _ := transcript.DataAs[transcript.SigningApproved](ev)
		var shown []struct{ Label, Value string }
		if f.Shown.Decode(&shown) == nil {
			for _, fl := range shown {
				w("  - %s: %s\n", oneLine(fl.Label), codeSpan(fl.Value))
			}
		}
	case transcript.TypeCertificateIssued:
		f, _ := transcript.DataAs[transcript.CertificateIssued](ev)
		w("  - Certificate SHA-256: `%s`\n", GroupHex(f.SHA256))
	case transcript.TypeArtifactWritten:
		f, _ := transcript.DataAs[transcript.ArtifactWritten](ev)
		w("  - File `%s`, %d bytes, file SHA-256: `%s`\n", f.Path, f.Size, GroupHex(f.SHA256))
		if f.CertificateSHA256 != "" {
			w("  - Certificate SHA-256 (fingerprint): `%s`\n", ColonHex(f.CertificateSHA256))
		}
	case transcript.TypeException:
		f, _ := transcript.DataAs[transcript.Exception](ev)
		w("  - Expected: %s\n  - Happened: %s\n  - Done: %s\n", oneLine(f.Expected), oneLine(f.Happened), oneLine(f.Action))
	}
}

// renderShares writes which share of a split each person entered.
func renderShares(w func(string, ...any), split string, shares []int, by []string) {
	for i, n := range shares {
		who := "(not recorded)"
		if i < len(by) {
			who = oneLine(by[i])
		}
		w("  - Share %d of split `%s` entered by %s\n", n, oneLine(split), who)
	}
}

// renderKey writes a key's public key digest and the attributes its
// private key has.
func renderKey(w func(string, ...any), publicKeySHA256 string, attributes transcript.Value) {
	w("  - Public key SHA-256: `%s`\n", GroupHex(publicKeySHA256))
	var attrs map[string]bool
	_ = attributes.Decode(&attrs)
	var set []string
	for _, k := range slices.Sorted(maps.Keys(attrs)) {
		if attrs[k] {
			set = append(set, strings.ReplaceAll(k, "_", "-"))
		}
	}
	w("  - Private key attributes: %s\n", strings.Join(set, ", "))
}
