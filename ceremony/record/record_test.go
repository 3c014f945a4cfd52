package record_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/devicepki/ceremony/ceremony/record"
	"github.com/devicepki/ceremony/ceremony/transcript"
	"github.com/devicepki/ceremony/ceremony/words"
)

func clock() func() time.Time {
	t := time.Date(2026, 11, 21, 9, 0, 0, 0, time.FixedZone("CET", 3600))
	return func() time.Time {
		t = t.Add(1500 * time.Millisecond)
		return t
	}
}

func hexOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// groups4 splits a hex digest into groups of four, written here
// independently of record.GroupHex.
func groups4(h string) string {
	var gs []string
	for len(h) > 4 {
		gs = append(gs, h[:4])
		h = h[4:]
	}
	return strings.Join(append(gs, h), " ")
}

var (
	alice = transcript.Actor{Role: "administrator", Name: "Alice Admin"}
	wendy = transcript.Actor{Role: "witness", Name: "Wendy Witness"}
	otto  = transcript.Actor{Role: "operator", Name: "Otto Operator"}
	steps = []map[string]string{
		{"id": "attendance", "kind": "attendance", "title": "Attendance"},
		{"id": "check-room", "kind": "confirm", "title": "Check the room"},
		{"id": "generate", "kind": "generate-key", "say": "The HSM now generates the root key.", "title": "Generate the root key"},
		{"id": "write", "kind": "write-artifact", "title": "Write the public key"},
		{"id": "seal", "kind": "seal", "title": "Seal the transcript"},
	}
	pubKeySHA   = hexOf("public key")
	certSHA     = hexOf("certificate")
	artifactSHA = hexOf("artifact")
)

func started(data any) transcript.Entry {
	return transcript.Entry{Type: "ceremony-started", Text: "Ceremony started", Data: data}
}

// ceremonyEntries are the events of a small root key ceremony, up to (not
// including) its seal.
func ceremonyEntries() []transcript.Entry {
	return []transcript.Entry{
		started(map[string]any{
			"title":           "Root Key Generation",
			"inputs":          map[string]string{"place": "Room 4.12, Munich", "key_label": "root-ca"},
			"script":          map[string]string{"name": "root-key-generation", "path": "scripts/root-key-generation.yaml", "sha256": hexOf("script")},
			"steps":           steps,
			"face":            "answers",
			"tool_version":    "v1.2.3",
			"script_approval": map[string]any{"approved_by": []string{"Priya Patel, PA chair", "Sam <b>Ortiz</b>"}, "date": "2026-11-20", "reference": "PA minutes, item 3"},
			"roles":           []map[string]string{{"name": "administrator", "description": "runs the machine"}, {"name": "witness", "description": "watches | confirms"}},
		}),
		{Type: "attendance", Step: "attendance", Actors: []transcript.Actor{alice, wendy, otto}, Text: "Present: Alice Admin, Wendy Witness, Otto Operator"},
		{Type: "confirmed", Step: "check-room", Actors: []transcript.Actor{alice, wendy}, Text: "Confirmed by Alice Admin, Wendy Witness",
			Data: map[string]string{"said": "The room is closed and the machine is offline."}},
		{Type: "key-generated", Step: "generate", Text: `Generated ECDSA P-384 key pair "root-ca"`, Data: map[string]any{
			"label": "root-ca", "public_key_sha256": pubKeySHA,
			"attributes": map[string]bool{"sensitive": true, "never_extractable": true, "sign": true, "extractable": false, "decrypt": false},
		}},
		{Type: "certificate-issued", Step: "generate", Text: "Issued the root certificate", Data: map[string]any{"sha256": certSHA}},
		{Type: "artifact-written", Step: "write", Text: "Wrote artifacts/root-ca.pub.pem", Data: map[string]any{
			"path": "artifacts/root-ca.pub.pem", "sha256": artifactSHA, "size": 215,
		}},
		{Type: "exception", Step: "write", Actors: []transcript.Actor{wendy}, Text: "Exception recorded by Wendy Witness at step write: the printer jammed",
			Data: map[string]string{"expected": "A printout of the key", "happened": "The printer jammed", "action": "Cleared the jam and printed again"}},
	}
}

// write writes entries to a new transcript, sealing it with seal if that
// is not nil (with a signer that signs nothing: the record does not look
// at seals), and returns the checked chain and the file's bytes.
func write(t *testing.T, entries []transcript.Entry, seal *transcript.Entry) (*transcript.Chain, []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "transcript.jsonl")
	w, err := transcript.Create(path, clock())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for _, e := range entries {
		if _, err := w.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	if seal != nil {
		if _, err := w.Seal(*seal, func([]byte) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := transcript.Check(data)
	if err != nil {
		t.Fatal(err)
	}
	return c, data
}

func sealEntry() *transcript.Entry {
	return &transcript.Entry{Type: "transcript-sealed", Step: "seal", Text: "Transcript sealed", Data: map[string]any{"events_before_seal": 7}}
}

func mustContain(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("the record lacks %q", w)
		}
	}
}

func TestRender(t *testing.T) {
	c, data := write(t, ceremonyEntries(), sealEntry())
	out := record.Render(c)

	mustContain(t, out,
		"# Ceremony record: Root Key Generation\n",
		"| Ceremony | Root Key Generation (script `root-key-generation`) |",
		"| Script file | `scripts/root-key-generation.yaml` |",
		"| Script SHA-256 | `"+hexOf("script")+"` |",
		"| Place | Room 4.12, Munich |",
		"| Date | 2026-11-21 (UTC) |",
		"| Began | 2026-11-21 08:00:01.500 UTC |",
		"| Ended | 2026-11-21 08:00:12.000 UTC |",
		"| Events | 8 |",
		"| Status | **SEALED after event 7 (check the seal: ceremony transcript verify)** |",
		"| Recorded by | ceremony v1.2.3, answers face |",
		"| Script approval | approved on 2026-11-20 by Priya Patel, PA chair; Sam &lt;b&gt;Ortiz&lt;/b&gt; (PA minutes, item 3) |",
		"| Inputs | key_label = root-ca |",
	)

	// Participants, in attendance order.
	// Participants, in attendance order, with what each role does (a role
	// the script does not describe has an empty cell).
	mustContain(t, out, "| Role | Name | Responsibilities |\n|---|---|---|\n| administrator | Alice Admin | runs the machine |\n| witness | Wendy Witness | watches \\| confirms |\n| operator | Otto Operator |  |\n")

	// Every event, with its number, time, type and text.
	for _, ev := range c.Events {
		mustContain(t, out, fmt.Sprintf("- **%d** `%s UTC` %s: %s", ev.Seq, ev.Time[11:23], ev.Type, ev.Text))
	}
	// Step headings, in script order; the start is under "Ceremony".
	mustContain(t, out, "\n### Ceremony\n")
	at := 0
	for i, s := range steps {
		h := fmt.Sprintf("### Step %d of %d: %s (`%s`)\n", i+1, len(steps), s["title"], s["id"])
		mustContain(t, out, h)
		if j := strings.Index(out, h); j < at {
			t.Errorf("step %d is out of order", i+1)
		} else {
			at = j
		}
	}

	// Details: what was said, fingerprints in groups of four, attributes.
	mustContain(t, out,
		"  - Read aloud: “The room is closed and the machine is offline.”\n",
		"(`generate`)\n\n> Read aloud before it ran: “The HSM now generates the root key.”\n\n",
		"  - Public key SHA-256: `"+groups4(pubKeySHA)+"`\n",
		"  - Private key attributes: never-extractable, sensitive, sign\n",
		"  - Certificate SHA-256: `"+groups4(certSHA)+"`\n",
		"  - File `artifacts/root-ca.pub.pem`, 215 bytes, file SHA-256: `"+groups4(artifactSHA)+"`\n",
		"- **7** `08:00:10.500 UTC` exception: Exception recorded by Wendy Witness at step write: the printer jammed — by Wendy Witness (witness)\n",
		"  - Expected: A printout of the key\n  - Happened: The printer jammed\n  - Done: Cleared the jam and printed again\n",
	)
	if len(groups4(pubKeySHA)) != 64+15 {
		t.Fatal("groups4 is wrong")
	}
	// Attendance and confirmations do not repeat their actors as "by".
	if strings.Contains(out, "Otto Operator — by") || strings.Contains(out, "Wendy Witness — by") {
		t.Error("attendance or confirmation lists its actors as \"by\"")
	}

	// Exceptions section.
	mustContain(t, out, "## Exceptions and overrides\n\n1. Event 7, step `write`, recorded by Wendy Witness. Expected: A printout of the key. Happened: The printer jammed. Done: Cleared the jam and printed again.\n")

	// Artifacts table.
	mustContain(t, out, "| File | Bytes | File SHA-256 | Certificate SHA-256 (fingerprint) |\n|---|---|---|---|\n| `artifacts/root-ca.pub.pem` | 215 | `"+artifactSHA+"` |  |\n")

	// The final digest: the SHA-256 of the last line, recomputed here from
	// the raw bytes, in groups and as words.
	ls := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	head := sha256.Sum256(ls[len(ls)-1])
	if hex.EncodeToString(head[:]) != c.Head {
		t.Fatal("Chain.Head is not the hash of the last line")
	}
	ws, err := words.FromHex(c.Head)
	if err != nil || len(ws) != 32 {
		t.Fatal(ws, err)
	}
	mustContain(t, out,
		"SHA-256 of the transcript's last line (event 8)",
		"```\n"+groups4(c.Head)+"\n```\n",
		"```\n"+strings.Join(words.Lines(ws, 8), "\n")+"\n```\n",
	)
	for _, w := range ws {
		mustContain(t, out, " "+w)
	}

	// A signature line for every participant.
	for _, p := range []transcript.Actor{alice, wendy, otto} {
		mustContain(t, out, fmt.Sprintf("%s (%s)\n\nSignature: ________________________________  Date: ______________\n", p.Name, p.Role))
	}
	// Then the witness's attestation, by each witness, and the auditor's,
	// with a blank for the auditor's name and firm: 5 in all.
	if n := strings.Count(out, "Signature: "); n != 5 {
		t.Errorf("%d signature lines, want 5", n)
	}
	mustContain(t, out,
		"\n## Witness attestation\n\nI witnessed the whole ceremony from start to end.",
		"Wendy Witness (witness)\n\nSignature: ________________________________  Date: ______________\n\n\n## Auditor attestation\n\n",
		"Name: ________________________  Firm: ________________________  Observed in person / examined afterwards (strike one)\n")
	if t.Failed() {
		t.Logf("the record:\n%s", out)
	}
}

func TestStatus(t *testing.T) {
	entries := ceremonyEntries()
	for _, tc := range []struct {
		name string
		last *transcript.Entry
		seal bool
		want string
	}{
		{"sealed", nil, true, "SEALED after event 7 (check the seal: ceremony transcript verify)"},
		{"failed", &transcript.Entry{Type: "ceremony-failed", Step: "write", Text: "failed", Data: map[string]string{"error": "disk full"}}, false,
			"FAILED at step write; not sealed"},
		{"aborted", &transcript.Entry{Type: "ceremony-aborted", Step: "check-room", Text: "aborted"}, false,
			"ABORTED at step check-room; not sealed"},
		{"interrupted", nil, false, "NOT SEALED: the record ends at event 7 (exception) — the ceremony was interrupted"},
		{"closed", &transcript.Entry{Type: "ceremony-closed", Step: "close", Text: "closed", Data: map[string]any{"last_event_before": 7}}, false,
			"INTERRUPTED after event 7, then CLOSED (ceremony close); not sealed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			es := entries
			if tc.last != nil {
				es = append(append([]transcript.Entry{}, entries...), *tc.last)
			}
			var s *transcript.Entry
			if tc.seal {
				s = sealEntry()
			}
			c, _ := write(t, es, s)
			if got := record.Status(c); got != tc.want {
				t.Fatalf("Status = %q, want %q", got, tc.want)
			}
			if out := record.Render(c); !strings.Contains(out, "| Status | **"+tc.want+"** |") {
				t.Fatalf("the record does not show the status %q", tc.want)
			}
		})
	}
	if got := record.Status(&transcript.Chain{}); got != "EMPTY" {
		t.Fatalf("Status of no events = %q", got)
	}
}

func TestArtifactsWithdrawn(t *testing.T) {
	written := func(name, sum string, size int) transcript.Entry {
		return transcript.Entry{Type: "artifact-written", Step: "write", Text: "Wrote " + name,
			Data: map[string]any{"path": "artifacts/" + name, "sha256": sum, "size": size}}
	}
	entries := append(ceremonyEntries()[:5],
		written("root-ca.crt.pem", certSHA, 700),
		written("root-ca.pub.pem", artifactSHA, 215),
		transcript.Entry{Type: "key-destroyed", Step: "write", Text: "Destroyed key root-ca"},
		transcript.Entry{Type: "artifact-withdrawn", Step: "write", Text: "Withdrew artifacts/root-ca.crt.pem",
			Data: map[string]any{"path": "artifacts/root-ca.crt.pem", "sha256": certSHA}},
		transcript.Entry{Type: "ceremony-failed", Step: "write", Text: "failed"},
	)
	c, _ := write(t, entries, nil)
	arts := record.Artifacts(c)
	want := record.Artifact{Path: "artifacts/root-ca.pub.pem", SHA256: artifactSHA, Size: 215, Event: 7}
	if len(arts) != 1 || arts[0] != want {
		t.Fatalf("Artifacts = %+v, want only %+v", arts, want)
	}
	out := record.Render(c)
	if strings.Contains(out, "| `artifacts/root-ca.crt.pem` |") {
		t.Error("the record's artifacts table lists a withdrawn artifact")
	}
	mustContain(t, out, "| `artifacts/root-ca.pub.pem` | 215 | `"+artifactSHA+"` |")

	// Withdrawing everything leaves none.
	c, _ = write(t, append(entries[:len(entries)-1],
		transcript.Entry{Type: "artifact-withdrawn", Step: "write", Text: "Withdrew artifacts/root-ca.pub.pem",
			Data: map[string]any{"path": "artifacts/root-ca.pub.pem", "sha256": artifactSHA}}), nil)
	if arts := record.Artifacts(c); len(arts) != 0 {
		t.Fatalf("Artifacts = %+v, want none", arts)
	}
	mustContain(t, record.Render(c), "## Artifacts\n\nNone.\n")
}

// Render never panics on what a checked transcript may hold, however
// little of what it expects is there.
func TestRenderSparseTranscripts(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries []transcript.Entry
		want    []string
	}{
		{"no attendance", []transcript.Entry{ceremonyEntries()[0], ceremonyEntries()[3]},
			[]string{"No attendance was recorded.", "Name: ________________________  Role: ______________\n\nSignature: ", "Private key attributes: never-extractable"}},
		{"ceremony-started without data", []transcript.Entry{started(nil), {Type: "attendance", Step: "attendance", Actors: []transcript.Actor{alice}, Text: "Present"}},
			[]string{"| Place | (not recorded) |", "### Step `attendance`", "| administrator | Alice Admin |", "Alice Admin (administrator)\n\nSignature: "}},
		{"ceremony-started with data of the wrong shape", []transcript.Entry{
			started(map[string]any{"title": 5, "inputs": []string{"x"}, "steps": "none", "script": "s"}),
			{Type: "confirmed", Step: "x", Text: "OK"},
		}, []string{"| Place | (not recorded) |", "### Step `x`"}},
		{"no ceremony-started", []transcript.Entry{{Type: "attendance", Step: "attendance", Text: "Present"}},
			[]string{"No attendance was recorded.", "- **1** "}},
		{"events without data", []transcript.Entry{
			started(nil),
			{Type: "confirmed", Text: "OK"},
			{Type: "preflight", Text: "checked"},
			{Type: "key-generated", Text: "key"},
			{Type: "certificate-issued", Text: "cert"},
			{Type: "artifact-written", Text: "wrote"},
			{Type: "exception", Text: "oops"},
			{Type: "override", Text: "overrode"},
		}, []string{"1. The script states no approval", "2. Event 7", "3. Event 8", "| Script approval | **none recorded**", "## Artifacts\n\nNone.\n", "No attendance was recorded."}},
		{"a single event", []transcript.Entry{{Type: "note", Text: "just this"}},
			[]string{"| Events | 1 |", "NOT SEALED: the record ends at event 1 (note)", "## Exceptions and overrides\n\nNone recorded.\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := write(t, tc.entries, nil)
			var out string
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("Render panics: %v", r)
					}
				}()
				out = record.Render(c)
			}()
			mustContain(t, out, tc.want...)
			ws, _ := words.FromHex(c.Head)
			mustContain(t, out, groups4(c.Head), strings.Join(words.Lines(ws, 8), "\n"))
		})
	}
}

// Texts may span lines (an exception's or override's text ends with what a
// person typed, and checkNote allows '\n'); in the record each stays on its
// event's line, so nobody can add a heading, a fake final digest or fake
// signature lines to the printed record.
func TestMultiLineTextStaysInItsEvent(t *testing.T) {
	happened := "The printer jammed.\n\n## Final digest\n\n```\n0000 0000\n```\n\nSignature: ____"
	entries := append(ceremonyEntries()[:6], transcript.Entry{Type: "exception", Step: "write", Actors: []transcript.Actor{wendy},
		Text: "Exception recorded by Wendy Witness at step write: " + happened,
		Data: map[string]string{"expected": "A printout", "happened": happened, "action": "None"}})
	c, _ := write(t, entries, sealEntry())
	out := record.Render(c)
	if n := strings.Count(out, "\n## Final digest\n"); n != 1 {
		t.Errorf("the record has %d \"## Final digest\" headings, want 1", n)
	}
	// Every line of the event list is a heading, a step's read-aloud
	// text, an event, a detail or blank.
	events := out[strings.Index(out, "\n## Events\n")+len("\n## Events\n") : strings.Index(out, "\n## Exceptions and overrides\n")]
	for _, l := range strings.Split(events, "\n")[2:] {
		if l != "" && !strings.HasPrefix(l, "### ") && !strings.HasPrefix(l, "- **") && !strings.HasPrefix(l, "  - ") && !strings.HasPrefix(l, "> Read aloud before it ran: ") {
			t.Errorf("a line of the event list is no event: %q", l)
		}
	}
}

// Fingerprints print as openssl prints them, so that the paper record and
// openssl x509 -noout -fingerprint -sha256 can be compared by eye.
func TestColonHex(t *testing.T) {
	if got := record.ColonHex("06f40a9b"); got != "06:F4:0A:9B" {
		t.Fatalf("ColonHex = %q", got)
	}
}

// The record shows what each approver saw, decoded field by field, each
// value in a code span nothing in it can end or turn into emphasis, a
// link or HTML, and which share each person entered at a quorum login.
func TestApprovalsAndSharesOnRecord(t *testing.T) {
	entries := append(ceremonyEntries()[:6],
		transcript.Entry{Type: "hsm-login", Step: "generate", Actors: []transcript.Actor{alice, otto}, Text: "Logged in",
			Data: map[string]any{"token": map[string]string{"label": "root"}, "quorum": map[string]any{
				"split_id": "ABCD-EFGH-JK", "shares": []int{4, 1}, "threshold": 2, "entered_by": []string{"Otto Operator", "Alice Admin"}}}},
		transcript.Entry{Type: "signing-approved", Step: "generate", Actors: []transcript.Actor{otto}, Text: "Approved",
			Data: map[string]any{"approved_by": "Otto Operator", "tbs_sha256": certSHA, "what": "certificate", "shown": []map[string]string{
				{"label": "CSR SHA-256 (DER request)", "value": pubKeySHA},
				{"label": "Subject", "value": "CN=*.evil.example* [x](http://x) <b>"},
				{"label": "Public key", "value": "ECDSA P-256"},
				{"label": "Valid until", "value": "2036-12-06T15:02:46Z"},
				{"label": "Basic constraints", "value": "CA:TRUE, `path` length 0"},
			}}})
	c, _ := write(t, entries, sealEntry())
	mustContain(t, record.Render(c),
		"  - Share 4 of split `ABCD-EFGH-JK` entered by Otto Operator\n  - Share 1 of split `ABCD-EFGH-JK` entered by Alice Admin\n",
		"  - CSR SHA-256 (DER request): `"+pubKeySHA+"`\n",
		"  - Subject: `CN=*.evil.example* [x](http://x) <b>`\n",
		"  - Public key: `ECDSA P-256`\n",
		"  - Valid until: `2036-12-06T15:02:46Z`\n",
		"  - Basic constraints: ``CA:TRUE, `path` length 0``\n",
	)
}

// The script and templates as run are printed in an appendix, each under
// its path and SHA-256, in a fence no line of theirs can close.
func TestScriptAppendix(t *testing.T) {
	text := "name: root-key-generation\nsteps:\n  - say: |\n      ``` not a fence end\n"
	entries := ceremonyEntries()
	entries[0] = started(map[string]any{
		"title":  "Root Key Generation",
		"script": map[string]string{"name": "root-key-generation", "path": "scripts/root-key-generation.yaml", "sha256": hexOf("script"), "text": text},
		"steps":  steps,
	})
	c, _ := write(t, entries, sealEntry())
	out := record.Render(c)
	mustContain(t, out,
		"\n## Appendix: the script and templates as run\n\n### `scripts/root-key-generation.yaml` (SHA-256 `"+groups4(hexOf("script"))+"`)\n\n````\n"+strings.TrimSuffix(text, "\n")+"\n````\n")
}

// A hand-out is on the record with its share's digest, and a copy to the
// keyholder's removable media with its file and digest.
func TestHandOutAndMediaCopyOnRecord(t *testing.T) {
	entries := append(ceremonyEntries()[:6],
		transcript.Entry{Type: "share-handed-out", Step: "generate", Actors: []transcript.Actor{otto}, Text: "Handed share 2",
			Data: map[string]any{"purpose": "activation", "share": 2, "share_sha256": pubKeySHA, "split_id": "ABCD-EFGH-JK",
				"media_copy": map[string]string{"file": "officer-2.share.age", "sha256": certSHA, "encryption": "age, scrypt passphrase"}}})
	c, _ := write(t, entries, sealEntry())
	mustContain(t, record.Render(c),
		"  - Share 2 of split `ABCD-EFGH-JK` handed out, typed back correctly (share SHA-256 `"+groups4(pubKeySHA)+"`)\n",
		"  - Copied to the keyholder's removable media as `officer-2.share.age` (age, scrypt passphrase), SHA-256 `"+groups4(certSHA)+"`\n")
}
