package pdf_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/devicepki/ceremony/ceremony/record"
	"github.com/devicepki/ceremony/ceremony/record/pdf"
	"github.com/devicepki/ceremony/ceremony/transcript"
	"github.com/devicepki/ceremony/internal/pdfcheck"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/gomono"
	"golang.org/x/image/font/gofont/goregular"
)

func hexOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

const script = `name: root-key-generation
steps:
  - id: attendance
    kind: attendance
	title: Attendance
  - id: generate
    kind: generate-key
    say: The HSM now generates the root key.
`

// entries are the events of a small root key ceremony, as the engine
// records them, with names, artifacts and an exception; extra people
// and events make it run over several pages.
func entries(people int, title string, names ...string) []transcript.Entry {
	actors := []transcript.Actor{{Role: "administrator", Name: "Alice Admin"}, {Role: "witness", Name: "Wendy Witness"}}
	for i := range people {
		actors = append(actors, transcript.Actor{Role: "custodian", Name: "Custodian " + strings.Repeat("x", i%7) + string(rune('A'+i%26))})
	}
	for _, n := range names {
		actors = append(actors, transcript.Actor{Role: "officer", Name: n})
	}
	es := []transcript.Entry{
		{Type: "ceremony-started", Text: "Ceremony started", Data: map[string]any{
			"title":  title,
			"inputs": map[string]string{"place": "Room 4.12, Munich", "key_label": "root-ca"},
			"script": map[string]string{"name": "root-key-generation", "path": "scripts/root-key-generation.yaml", "sha256": hexOf(script), "text": script},
			"steps": []map[string]string{
				{"id": "attendance", "kind": "attendance", "title": "Attendance"},
				{"id": "generate", "kind": "generate-key", "say": "The HSM now generates the root key.", "title": "Generate the root key"},
				{"id": "seal", "kind": "seal", "title": "Seal"},
			},
			"face": "answers", "tool_version": "v1.2.3",
		}},
		{Type: "attendance", Step: "attendance", Actors: actors, Text: "Present"},
	}
	for i := range 40 {
		es = append(es, transcript.Entry{Type: "key-generated", Step: "generate", Text: "Generated a key " + strings.Repeat("with a long description ", i%5), Data: map[string]any{
			"label": "root-ca", "public_key_sha256": hexOf("public key"),
			"attributes": map[string]bool{"sensitive": true, "sign": true},
		}})
	}
	for i := range 12 {
		p := "artifacts/root-ca-" + strings.Repeat("long-name-", i%4) + string(rune('a'+i)) + ".crt.pem"
		es = append(es, transcript.Entry{Type: "artifact-written", Step: "generate", Text: "Wrote " + p, Data: map[string]any{
			"path": p, "sha256": hexOf(p), "size": 215 + i, "certificate_sha256": hexOf("cert" + p),
		}})
	}
	es = append(es, transcript.Entry{Type: "exception", Step: "generate", Actors: actors[1:2], Text: "The printer jammed",
		Data: map[string]string{"expected": "A printout", "happened": "The printer jammed", "action": "Printed again"}})
	return es
}

// ceremony writes entries to a transcript file and seals it (with a
// signer that signs nothing: the record does not look at seals).
func ceremony(t testing.TB, es []transcript.Entry) *transcript.Chain {
	t.Helper()
	path := filepath.Join(t.TempDir(), "transcript.jsonl")
	tm := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	w, err := transcript.Create(path, func() time.Time { tm = tm.Add(1500 * time.Millisecond); return tm })
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for _, e := range es {
		if _, err := w.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Seal(transcript.Entry{Type: "transcript-sealed", Step: "seal", Text: "Transcript sealed", Data: map[string]any{"events_before_seal": len(es)}}, func([]byte) error { return nil }); err != nil {
		t.Fatal(err)
	}
	c, err := transcript.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func render(t testing.TB, c *transcript.Chain) (string, []byte) {
	t.Helper()
	b, err := pdf.Render(c)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "transcript.pdf")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if d := os.Getenv("PDFKEEP"); d != "" {
		_ = os.WriteFile(filepath.Join(d, t.Name()+".pdf"), b, 0o644)
	}
	return path, b
}

func TestRecord(t *testing.T) {
	c := ceremony(t, entries(30, "Root Key Generation"))
	path, _ := render(t, c)
	if err := pdfcheck.Check(path, c); err != nil {
		t.Fatal(err)
	}
	// The check is not a formality: another transcript's PDF fails it.
	if err := pdfcheck.Check(path, ceremony(t, entries(29, "Root Key Generation"))); err == nil {
		t.Fatal("the PDF passed the check against another transcript")
	}
	pages, n, err := pdfcheck.Pages(path)
	if err != nil {
		t.Fatal(err)
	}
	if n < 4 {
		t.Fatalf("%d pages: the test ceremony should run over several", n)
	}
	// The header of the artifacts table is repeated on each page the
	// table goes on on, and no row is cut.
	for i, p := range pages {
		rows := regexp.MustCompile(`(?m)^artifacts/root-ca-`).MatchString(p)
		if header := regexp.MustCompile(`(?m)^File +Bytes +File SHA-256 +Certificate SHA-256`).MatchString(p); rows && !header {
			t.Errorf("page %d continues the artifacts table without its header", i+1)
		}
	}
}

func TestDeterministic(t *testing.T) {
	c := ceremony(t, entries(5, "Root Key Generation", "Zoë Ødegård", "Иван Петров", "李小龍"))
	fonts := sha256.Sum256(bytes.Join([][]byte{goregular.TTF, gobold.TTF, gomono.TTF}, nil))
	_, a := render(t, c)
	for i := range 3 {
		// Another PDF in between: nothing carries over from one to the
		// next (fpdf once wrote into the shared font bytes).
		render(t, ceremony(t, entries(i, "Other")))
		if _, b := render(t, c); !bytes.Equal(a, b) {
			t.Fatal("the same transcript gave two different PDFs")
		}
	}
	if sha256.Sum256(bytes.Join([][]byte{goregular.TTF, gobold.TTF, gomono.TTF}, nil)) != fonts {
		t.Error("rendering changed the Go fonts' bytes")
	}
	if !bytes.Contains(a, []byte("/CreationDate (D:20261121")) {
		t.Error("the creation date is not the last event's")
	}
	// pdf.Render is what the record document gives.
	if b, err := pdf.RenderDocument(record.Build(c)); err != nil || !bytes.Equal(a, b) {
		t.Errorf("RenderDocument differs from Render (%v)", err)
	}
}

// A hostile transcript renders, and every page still has its footer.
func TestHostile(t *testing.T) {
	long := strings.Repeat("Долгое имя ", 300) + strings.Repeat("x", 1700) // 5000 characters
	names := []string{
		"Ctrl\x00\x07\x1b[31m\r\nName\u202eevil\u200f",
		long,
		"李小龍 山田太郎 김민준",
		"עִבְרִית العربية",
		"emoji 🔑🔐",
		strings.Repeat("W", 5000),
	}
	title := "Title\u202e with\nnewline and " + strings.Repeat("長", 200)
	es := entries(2, title, names...)
	es = append(es, transcript.Entry{Type: "exception", Step: "generate", Actors: []transcript.Actor{{Role: "witness", Name: long}}, Text: long,
		Data: map[string]string{"expected": long, "happened": names[0], "action": names[2]}})
	c := ceremony(t, es)
	path, _ := render(t, c)
	pages, n, err := pdfcheck.Pages(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) != n {
		t.Fatalf("pdftotext gives %d pages, pdfinfo %d", len(pages), n)
	}
	if err := pdfcheck.Footer(pages, c, "Title\uFFFD with newline and"); err != nil {
		t.Fatal(err)
	}
	for i, p := range pages {
		if strings.ContainsAny(p, "\x00\x07\x1b\u202e\u200f") {
			t.Errorf("page %d holds a control or direction character", i+1)
		}
	}
	all := strings.Join(pages, "")
	if strings.ContainsAny(all, "李長עع🔑") {
		t.Error("a character the Go fonts lack was not replaced")
	}
	for _, want := range []string{"Долгое имя", "Ctrl\uFFFD", "emoji \uFFFD\uFFFD"} {
		if !strings.Contains(all, want) {
			t.Errorf("the PDF lacks %q", want)
		}
	}
}

func BenchmarkRender(b *testing.B) {
	c := ceremony(b, entries(13, "Root Key Generation"))
	b.ResetTimer()
	for b.Loop() {
		if _, err := pdf.Render(c); err != nil {
			b.Fatal(err)
		}
	}
}

// A transcript with little in it (no attendance, no artifacts, no script
// text, not sealed) renders, with its footers.
func TestSparse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "transcript.jsonl")
	w, err := transcript.Create(path, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Append(transcript.Entry{Type: "ceremony-started", Text: "Ceremony started", Data: map[string]any{"title": ""}}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	c, err := transcript.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	file, _ := render(t, c)
	pages, n, err := pdfcheck.Pages(file)
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) != n || n != 4 {
		t.Fatalf("%d pages (pdfinfo %d), want 4: the record, and a page for each of the three signature sections", len(pages), n)
	}
	if err := pdfcheck.Footer(pages, c, ""); err != nil {
		t.Fatal(err)
	}
}

// A word longer than a line (a name of 20,000 characters) is broken
// between characters, losing none: the pages hold a whole number of
// copies of it.
func TestLongWordKept(t *testing.T) {
	name := strings.Repeat("Q", 20000)
	c := ceremony(t, entries(2, "Long word", name))
	path, _ := render(t, c)
	pages, _, err := pdfcheck.Pages(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(strings.Join(pages, ""), "Q"); n == 0 || n%len(name) != 0 {
		t.Fatalf("the pages hold %d Qs, not a whole number of %d-character names", n, len(name))
	}
}

// BenchmarkLongWord renders a transcript whose one name is a single word
// of 100,000 characters: the time grows with its length, not its square
// (before, 100,000 took 28 s and 200,000 took 247 s).
func BenchmarkLongWord(b *testing.B) {
	c := ceremony(b, entries(2, "Long word", strings.Repeat("W", 100000)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := pdf.Render(c); err != nil {
			b.Fatal(err)
		}
	}
}
