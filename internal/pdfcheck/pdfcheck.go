// Package pdfcheck checks a PDF record (transcript.pdf) against the
// transcript it was rendered from, the way a reader would: it extracts the
// text with pdftotext and pdfinfo (poppler-utils) and looks for what the
// record must show, page by page. Tests use it; a missing pdftotext is an
// error, never a reason to skip.
package pdfcheck

import (
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"

	"github.com/devicepki/ceremony/ceremony/record"
	"github.com/devicepki/ceremony/ceremony/transcript"
	"github.com/devicepki/ceremony/ceremony/words"
)

// Pages returns the text of each page of the PDF at path (pdftotext
// -layout, split on form feeds) and the page count pdfinfo reports.
func Pages(path string) ([]string, int, error) {
	info, err := exec.Command("pdfinfo", path).Output()
	if err != nil {
		return nil, 0, fmt.Errorf("pdfinfo %s: %w (install poppler-utils)", path, err)
	}
	m := regexp.MustCompile(`(?m)^Pages:\s+(\d+)$`).FindSubmatch(info)
	if m == nil {
		return nil, 0, fmt.Errorf("pdfinfo %s: no page count in %q", path, info)
	}
	n, _ := strconv.Atoi(string(m[1]))
	text, err := exec.Command("pdftotext", "-layout", "-enc", "UTF-8", path, "-").Output()
	if err != nil {
		return nil, 0, fmt.Errorf("pdftotext %s: %w (install poppler-utils)", path, err)
	}
	pages := strings.Split(string(text), "\f")
	if len(pages) > 0 && strings.TrimSpace(pages[len(pages)-1]) == "" {
		pages = pages[:len(pages)-1]
	}
	return pages, n, nil
}

// norm collapses every run of white space to one space.
func norm(s string) string { return strings.Join(strings.Fields(s), " ") }

// bare removes all white space.
func bare(s string) string { return strings.Join(strings.Fields(s), "") }

// eventLine matches the first line of an event in the record.
var eventLine = regexp.MustCompile(`(?m)^\s*•?\s*\d+\s+\d\d:\d\d:\d\d\.\d{3} UTC\s+\S+:`)

// Footer checks that every page of pages has "page N of M", the title
// (it may be shortened with "…") and the digest words of c.
func Footer(pages []string, c *transcript.Chain, title string) error {
	ws, _ := words.FromHex(c.Head)
	half := (len(ws) + 1) / 2
	title = norm(title)
	for i, p := range pages {
		np := norm(p)
		if want := fmt.Sprintf("page %d of %d", i+1, len(pages)); !strings.Contains(np, want) {
			return fmt.Errorf("page %d lacks %q", i+1, want)
		}
		if !strings.Contains(np, title) {
			short := strings.Index(np, "…")
			if short < 0 || !strings.Contains(title, strings.TrimSpace(np[max(0, short-20):short])) {
				return fmt.Errorf("page %d lacks the title %q", i+1, title)
			}
		}
		for _, w := range [][]string{ws[:half], ws[half:]} {
			if want := "" + strings.Join(w, " "); !strings.Contains(np, want) {
				return fmt.Errorf("page %d lacks the digest words %q", i+1, want)
			}
		}
	}
	return nil
}

// Check checks the PDF record at path against the transcript c.
func Check(path string, c *transcript.Chain) error {
	pages, n, err := Pages(path)
	if err != nil {
		return err
	}
	if len(pages) != n {
		return fmt.Errorf("pdftotext gives %d pages, pdfinfo says %d", len(pages), n)
	}
	d := record.Build(c)
	if err := Footer(pages, c, record.Printable(d.Title)); err != nil {
		return err
	}
	all := norm(strings.Join(pages, " "))
	for _, ev := range c.Events {
		if want := fmt.Sprintf("%d %s %s:", ev.Seq, ev.Time[11:23]+" UTC", norm(ev.Type)); !strings.Contains(all, want) {
			return fmt.Errorf("event %d (%q) is not in the PDF", ev.Seq, want)
		}
	}
	for _, a := range record.Artifacts(c) {
		found := false
		for _, p := range pages {
			if b := bare(p); strings.Contains(b, bare(a.Path)) && strings.Contains(b, a.SHA256) {
				found = true
				break
			}
		}
		if !found {
			return fmt.Errorf("no page holds both artifact %s and its SHA-256 %s", a.Path, a.SHA256)
		}
	}
	// The signature pages: from the one headed Signatures to the
	// appendix.
	sections := map[string]int{}
	appendix := len(pages)
	for i, p := range pages {
		for _, l := range strings.Split(p, "\n") {
			switch l = strings.TrimSpace(l); l {
			case "Signatures", "Witness attestation", "Auditor attestation":
				if _, ok := sections[l]; !ok {
					sections[l] = i
				}
			case "Appendix: the script and templates as run":
				appendix = min(appendix, i)
			}
		}
	}
	for _, s := range []string{"Signatures", "Witness attestation", "Auditor attestation"} {
		i, ok := sections[s]
		if !ok {
			return fmt.Errorf("no page is headed %q", s)
		}
		if eventLine.MatchString(pages[i]) {
			return fmt.Errorf("page %d, headed %q, holds event lines", i+1, s)
		}
	}
	// Every page from the signatures to the appendix is signed: none
	// holds an event.
	for i := sections["Signatures"]; i < appendix; i++ {
		if eventLine.MatchString(pages[i]) {
			return fmt.Errorf("page %d, a signature page, holds event lines", i+1)
		}
	}
	signing := norm(strings.Join(pages[sections["Signatures"]:appendix], " "))
	for _, p := range record.Participants(c) {
		if name := norm(record.Printable(p.Name)); !strings.Contains(signing, name) {
			return fmt.Errorf("participant %q is on no signature page", name)
		}
	}
	var st transcript.CeremonyStarted
	if len(c.Events) > 0 {
		st, _ = transcript.DataAs[transcript.CeremonyStarted](c.Events[0])
	}
	if st.Script.Text != "" {
		if appendix == len(pages) {
			return fmt.Errorf("the PDF has no appendix")
		}
		app := bare(strings.Join(pages[appendix:], ""))
		for i, l := range strings.Split(st.Script.Text, "\n") {
			if !strings.Contains(app, bare(record.Printable(strings.ReplaceAll(l, "\t", " ")))) {
				return fmt.Errorf("the appendix lacks line %d of the script: %q", i+1, l)
			}
		}
	}
	return nil
}
