package qrimage

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html"
	"regexp"
	"strings"
	"testing"

	"github.com/devicepki/ceremony/ceremony/words"
)

func testSheet(t *testing.T, frames int) Sheet {
	t.Helper()
	d := sha256.Sum256([]byte("bundle"))
	digest := hex.EncodeToString(d[:])
	s := Sheet{
		Title:       `Root <b>CA</b> & "friends"`,
		BundleID:    "ABCD<EFG",
		DigestHex:   digest,
		DigestWords: words.Encode(d[:]),
		Files: []SheetFile{
			{Name: "root.crt.pem", Size: 1234, SHA256: strings.Repeat("ab", 32)},
			{Name: `<script>alert("x")</script>&.pem`, Size: 0, SHA256: strings.Repeat("CD", 32)},
		},
		FrameBytes: 720,
		Level:      Quartile,
		Created:    "2026-11-21 14:03 UTC <now>",
	}
	for i := frames; i >= 1; i-- { // in any order
		s.Frames = append(s.Frames, SheetFrame{Number: i, Total: frames, Image: fmt.Sprintf("frame-%02d.png", i)})
	}
	return s
}

func TestWriteSheet(t *testing.T) {
	s := testSheet(t, 17)
	var b bytes.Buffer
	if err := WriteSheet(&b, s); err != nil {
		t.Fatal(err)
	}
	out := b.String()

	// Escaped: no tag, attribute or entity from the data gets through.
	for _, raw := range []string{"<b>", "<script", `"friends"`, "ABCD<EFG", "<now>", "& "} {
		if strings.Contains(out, raw) {
			t.Errorf("%q appears unescaped", raw)
		}
	}
	for _, esc := range []string{
		"Root &lt;b&gt;CA&lt;/b&gt; &amp; &#34;friends&#34;",
		"ABCD&lt;EFG",
		"&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&amp;.pem",
		"2026-11-21 14:03 UTC &lt;now&gt;",
	} {
		if !strings.Contains(out, esc) {
			t.Errorf("%q is missing", esc)
		}
	}

	// Every frame, once, in order, with its number.
	srcs := regexp.MustCompile(`<img src="([^"]*)"`).FindAllStringSubmatch(out, -1)
	if len(srcs) != 17 {
		t.Fatalf("%d images, want 17", len(srcs))
	}
	for i, m := range srcs {
		if want := fmt.Sprintf("frame-%02d.png", i+1); m[1] != want {
			t.Errorf("image %d is %q, want %q", i+1, m[1], want)
		}
		if !strings.Contains(out, fmt.Sprintf("Frame %d of 17", i+1)) {
			t.Errorf("no caption for frame %d", i+1)
		}
	}
	if n := strings.Count(out, `<div class="frame">`); n != 17 {
		t.Errorf("%d frame blocks", n)
	}

	// The digest in hex, grouped in fours, and as words.
	pre := regexp.MustCompile(`<pre class="big">([0-9a-f ]{39})\n([0-9a-f ]{39})\n</pre>`).FindStringSubmatch(out)
	if pre == nil || strings.ReplaceAll(pre[1]+pre[2], " ", "") != s.DigestHex {
		t.Errorf("the digest in hex is missing or wrong: %q", pre)
	}
	for _, line := range words.Lines(s.DigestWords, 8) {
		if !strings.Contains(out, line) {
			t.Errorf("word line %q is missing", line)
		}
	}
	// The files, their sizes and hashes (in lower case, grouped in fours).
	for _, want := range []string{"root.crt.pem", ">1234<", strings.TrimSpace(strings.Repeat("abab ", 16)), strings.TrimSpace(strings.Repeat("cdcd ", 16)), ">0<"} {
		if !strings.Contains(out, want) {
			t.Errorf("%q is missing", want)
		}
	}
	// How to read it back in, and what the page is.
	for _, want := range []string{
		"ceremony qr import --out DIR",
		"ceremony import --root ROOT.pem --out DIR frame-*.png",
		"ceremony import --root ROOT.pem --out DIR -",
		"in any order",
		"keyboard-wedge",
		"17 QR codes",
		"up to 720 bytes",
		"level Q (quartile",
		"page-break-before: always",
		"@page",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("%q is missing", want)
		}
	}
	// Self-contained: nothing loaded from elsewhere, nothing run.
	for _, bad := range []string{"<script", "http:", "https:", "//", "url(", "@import", "<link", "<iframe", "javascript:"} {
		if strings.Contains(strings.ToLower(out), bad) {
			t.Errorf("the page contains %q", bad)
		}
	}
	if m := regexp.MustCompile(`(?i)\son[a-z]+\s*=`).FindString(out); m != "" {
		t.Errorf("the page has an event handler: %q", m)
	}
	// Deterministic.
	var b2 bytes.Buffer
	WriteSheet(&b2, s)
	if b2.String() != out {
		t.Error("two writes differ")
	}
	// The text reads sensibly once the tags are gone (no template actions left).
	if strings.Contains(out, "{{") || strings.Contains(html.UnescapeString(out), "<no value>") {
		t.Error("template residue")
	}
}

func TestWriteSheetOneFrameNoFiles(t *testing.T) {
	s := testSheet(t, 1)
	s.Files = nil
	s.Title = ""
	s.Created = ""
	var b bytes.Buffer
	if err := WriteSheet(&b, s); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"<h1>Exported bundle</h1>", "1 QR code (", "Frame 1 of 1", "The bundle has no files."} {
		if !strings.Contains(out, want) {
			t.Errorf("%q is missing", want)
		}
	}
	if strings.Contains(out, "Created") {
		t.Error("an empty creation time is printed")
	}
}

func TestWriteSheetRefuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Sheet)
		want   string
	}{
		{"no bundle id", func(s *Sheet) { s.BundleID = " " }, "no bundle id"},
		{"short digest", func(s *Sheet) { s.DigestHex = s.DigestHex[:62] }, "is not 64 hex digits"},
		{"digest not hex", func(s *Sheet) { s.DigestHex = "g" + s.DigestHex[1:] }, "is not 64 hex digits"},
		{"words of another digest", func(s *Sheet) { s.DigestWords[31] = "acorn" }, "the digest words are not those of the digest"},
		{"too few words", func(s *Sheet) { s.DigestWords = s.DigestWords[:31] }, "the digest words are not those of the digest"},
		{"no words", func(s *Sheet) { s.DigestWords = nil }, "the digest words are not those of the digest"},
		{"file hash", func(s *Sheet) { s.Files[0].SHA256 = "abc" }, `file "root.crt.pem": SHA-256 "abc" is not 64 hex digits`},
		{"file name", func(s *Sheet) { s.Files[1].Name = "" }, "file 2 has no name"},
		{"file size", func(s *Sheet) { s.Files[0].Size = -1 }, "negative size"},
		{"level", func(s *Sheet) { s.Level = 0 }, "invalid error-correction level 0"},
		{"frame bytes", func(s *Sheet) { s.FrameBytes = 0 }, "0 bytes per frame"},
		{"no frames", func(s *Sheet) { s.Frames = nil }, "no frames"},
		{"missing frame", func(s *Sheet) { s.Frames = s.Frames[1:] }, "the frames must be numbered 1 to 2 of 2"},
		{"duplicate frame", func(s *Sheet) { s.Frames[0].Number = 2 }, "frame 2 of 3"},
		{"wrong total", func(s *Sheet) { s.Frames[1].Total = 4 }, "frame 2 of 4"},
		{"frame 0", func(s *Sheet) { s.Frames[0] = SheetFrame{0, 3, "x.png"} }, "frame 0 of 3"},
		{"image path", func(s *Sheet) { s.Frames[0].Image = "../frame-03.png" }, `frame 3: image "../frame-03.png": the name starts with a dot`},
		{"image dir", func(s *Sheet) { s.Frames[0].Image = "qr/frame-03.png" }, "not a plain file name"},
		{"image URL", func(s *Sheet) { s.Frames[0].Image = "javascript:alert(1)" }, "not a plain file name"},
		{"image backslash", func(s *Sheet) { s.Frames[0].Image = `..\x.png` }, "starts with a dot"},
		{"image empty", func(s *Sheet) { s.Frames[0].Image = "" }, "no image file name"},
		{"image control", func(s *Sheet) { s.Frames[0].Image = "a\nb.png" }, "control character"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := testSheet(t, 3)
			tc.change(&s)
			var b bytes.Buffer
			err := WriteSheet(&b, s)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("WriteSheet: %v; want an error containing %q", err, tc.want)
			}
			if b.Len() != 0 {
				t.Fatalf("wrote %d bytes before failing", b.Len())
			}
		})
	}
}
