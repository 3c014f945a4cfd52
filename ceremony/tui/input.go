package tui

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/devicepki/ceremony/ceremony/secret"
)

// The editing keys of the text fields, besides typing.
var (
	deleteKey = bind("Backspace", "delete", "backspace")
	clearKey  = bind("ctrl+u", "clear", "ctrl+u")
)

// isTyping reports whether k types characters (a space included) rather than
// being a key binding.
func isTyping(k tea.KeyMsg) bool { return k.Type == tea.KeyRunes || k.Type == tea.KeySpace }

// lineInput is a one-line text field for names, paths and reasons: typing
// appends, backspace deletes the last character, ctrl+u clears.
type lineInput struct {
	value []rune
	max   int // characters; 0 means 200
}

// key applies a key to the field and reports whether it was an editing key.
func (in *lineInput) key(k tea.KeyMsg) bool {
	limit := in.max
	if limit == 0 {
		limit = 200
	}
	switch {
	case isTyping(k):
		for _, r := range k.Runes {
			if unicode.IsPrint(r) && len(in.value) < limit {
				in.value = append(in.value, r)
			}
		}
		return true
	case key.Matches(k, deleteKey):
		if len(in.value) > 0 {
			in.value = in.value[:len(in.value)-1]
		}
		return true
	case key.Matches(k, clearKey):
		in.value = in.value[:0]
		return true
	}
	return false
}

func (in *lineInput) String() string { return string(in.value) }

func (in *lineInput) set(s string) {
	in.value = in.value[:0]
	for _, r := range s {
		if unicode.IsPrint(r) {
			in.value = append(in.value, r)
		}
	}
}

// view draws the field with a block cursor, showing its end if it is wider
// than width.
func (in *lineInput) view(width int) string {
	s := string(in.value) + "█"
	if n := utf8.RuneCountInString(s); n > width && width > 1 {
		r := []rune(s)
		s = "…" + string(r[n-width+1:])
	}
	return s
}

// maskedInput holds a secret as it is typed. Its characters are kept in a
// byte slice that is wiped when taken or cleared, and are never drawn: the
// screen shows one • per character.
type maskedInput struct {
	buf []byte
}

const maskedMax = 4096

func (in *maskedInput) key(k tea.KeyMsg) bool {
	if in.buf == nil {
		// Room for the longest secret at once: appending never moves
		// the characters to a new array, leaving a copy behind.
		in.buf = make([]byte, 0, maskedMax)
	}
	switch {
	case isTyping(k):
		for _, r := range k.Runes {
			if r == '\n' || r == '\r' {
				continue
			}
			if unicode.IsPrint(r) && utf8.RuneLen(r) > 0 && len(in.buf)+utf8.RuneLen(r) <= maskedMax {
				in.buf = utf8.AppendRune(in.buf, r)
			}
		}
		return true
	case key.Matches(k, deleteKey):
		if len(in.buf) > 0 {
			_, size := utf8.DecodeLastRune(in.buf)
			clear(in.buf[len(in.buf)-size:])
			in.buf = in.buf[:len(in.buf)-size]
		}
		return true
	case key.Matches(k, clearKey):
		in.wipe()
		return true
	}
	return false
}

// take returns the typed secret and wipes the field.
func (in *maskedInput) take() *secret.Secret {
	s := secret.New(in.buf)
	in.wipe()
	return s
}

func (in *maskedInput) wipe() {
	clear(in.buf[:cap(in.buf)])
	in.buf = in.buf[:0]
}

func (in *maskedInput) len() int { return utf8.RuneCount(in.buf) }

// dots draws n characters as bullets, at most width of them.
func dots(n, width int) string {
	if n > width-1 && width > 1 {
		return "…" + strings.Repeat("•", width-1)
	}
	return strings.Repeat("•", n)
}
