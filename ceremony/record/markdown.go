package record

import (
	"strconv"
	"strings"
)

// Markdown renders the document as the Markdown record (transcript.md): it
// reads well as plain text and prints on A4 without a renderer.
func (d *Document) Markdown() string {
	var b strings.Builder
	for i, bl := range d.Blocks {
		// One blank line between blocks, none between the items of a
		// list.
		if i > 0 && (bl.Kind != Item || d.Blocks[i-1].Kind != Item) {
			b.WriteString("\n")
		}
		switch bl.Kind {
		case Heading:
			b.WriteString(strings.Repeat("#", max(bl.Level, 1)) + " " + mdText(bl.Text, false) + "\n")
		case Paragraph:
			b.WriteString(mdText(bl.Text, false) + "\n")
		case Quote:
			b.WriteString("> " + mdText(bl.Text, false) + "\n")
		case Item:
			if bl.Number > 0 {
				b.WriteString(strconv.Itoa(bl.Number) + ". ")
			} else {
				b.WriteString("- ")
			}
			b.WriteString(mdText(bl.Text, false) + "\n")
			for _, s := range bl.Sub {
				b.WriteString("  - " + mdText(s, false) + "\n")
			}
		case Table:
			b.WriteString("|")
			for _, h := range bl.Header {
				if t := mdText(h, true); t != "" {
					b.WriteString(" " + t)
				}
				b.WriteString(" |")
			}
			b.WriteString("\n|" + strings.Repeat("---|", len(bl.Header)) + "\n")
			for _, r := range bl.Rows {
				b.WriteString("|")
				for _, c := range r {
					b.WriteString(" " + mdText(c, true) + " |")
				}
				b.WriteString("\n")
			}
		case Code:
			fence := "```"
			for _, l := range bl.Lines {
				for strings.Contains(l, fence) {
					fence += "`"
				}
			}
			b.WriteString(fence + "\n" + strings.Join(bl.Lines, "\n") + "\n" + fence + "\n")
		case Signature:
			b.WriteString(mdText(bl.Text, false) + "\n\n" + SignatureLine + "\n")
			// The last signature of a section stands apart from what
			// follows.
			if i+1 == len(d.Blocks) || d.Blocks[i+1].Kind == Heading {
				b.WriteString("\n")
			}
		}
	}
	return b.String()
}

// mdText renders spans as Markdown inline text; inTable says they are in a
// table cell.
func mdText(t Text, inTable bool) string {
	var b strings.Builder
	for _, s := range t {
		x := s.Text
		if s.Style&Outside != 0 {
			x = strings.NewReplacer("<", "&lt;", ">", "&gt;").Replace(x)
			if inTable {
				x = strings.ReplaceAll(x, "|", `\|`)
			}
		}
		switch {
		case s.Style&Verbatim != 0:
			x = fencedSpan(x)
		case s.Style&Mono != 0:
			x = "`" + x + "`"
		}
		if s.Style&Bold != 0 {
			x = "**" + x + "**"
		}
		b.WriteString(x)
	}
	return b.String()
}

// fencedSpan puts text in a Markdown code span on one line, so that it
// shows exactly as it is: no character in it can start emphasis, a link
// or HTML, and its backticks cannot end the span (the fence is longer than
// any run of them).
func fencedSpan(s string) string {
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return fence + s + fence
}
