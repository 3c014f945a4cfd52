package shares

import (
	"fmt"
	"unicode/utf8"
)

// Typing is what can be said about a share while it is being typed: how far
// the keyholder has got and the first place that is already wrong. It never
// holds share characters.
type Typing struct {
	// Tag is true once the tag group (CS1A or CS1B) is complete and valid.
	Tag bool
	// Groups is the number of complete groups of 5 after the tag group;
	// Partial the characters typed of the next one (0 to 4).
	Groups, Partial int
	// Expected is the number of groups of a share of a 32-byte secret,
	// the usual size (other sizes are valid too).
	Expected int
	// Bad is the 1-based number of the first group known to be wrong (a
	// character outside the alphabet, or a complete group whose check
	// character does not match), or 0; BadTag is true if the tag group is
	// wrong. Problem says what is wrong, without share characters.
	Bad     int
	BadTag  bool
	Problem string
}

// OK reports whether nothing typed so far is known to be wrong.
func (t Typing) OK() bool { return t.Bad == 0 && !t.BadTag }

// Complete reports whether the text may be a whole share: the tag and at
// least the smallest number of groups, all correct, and no partial group.
// [Parse] has the last word (it checks the whole-share checksum).
func (t Typing) Complete() bool {
	return t.OK() && t.Tag && t.Partial == 0 && t.Groups >= minGroups
}

// CheckTyping checks text that a keyholder is typing (or a scanner is
// typing) group by group, as [Parse] would but without requiring the text
// to be complete, so that a typo is flagged at its group as soon as that
// group is typed. Separators, lower case and the letters O, I and L are
// accepted as [Parse] accepts them.
func CheckTyping(text []byte) Typing {
	t := Typing{Expected: typicalGroups}
	if len(text) > maxInput {
		t.BadTag, t.Problem = true, "too long for a share"
		return t
	}
	chars := scan(text)
	defer clear(chars)
	for i := 0; i < len(chars) && i < 4; i++ {
		c := tagChar(chars[i].r)
		want := [...]rune{'C', 'S', '1', 0}[i]
		switch {
		case i < 3 && c != want:
			t.BadTag, t.Problem = true, "a share starts with CS1A or CS1B"
			return t
		case i == 3 && c != rune(Activation) && c != rune(Backup):
			t.BadTag, t.Problem = true, "the 4th character must be A (activation) or B (backup)"
			return t
		}
	}
	if len(chars) < 4 {
		return t
	}
	t.Tag = true
	data := chars[4:]
	vals := make([]byte, 0, groupLen)
	defer clear(vals)
	for k, c := range data {
		g := k/groupLen + 1
		v := int8(-1)
		if c.r < utf8.RuneSelf {
			v = charValue[c.r]
		}
		if v < 0 {
			if t.Bad == 0 {
				hint := ""
				if c.r == 'U' || c.r == 'u' {
					hint = " (there is no U; is it a V?)"
				}
				t.Bad, t.Problem = g, fmt.Sprintf("character %d of group %d is not used in shares%s", k%groupLen+1, g, hint)
			}
			v = 0
		}
		vals = append(vals, byte(v))
		if len(vals) == groupLen {
			if t.Bad == 0 && !groupOK(g, vals) {
				t.Bad, t.Problem = g, fmt.Sprintf("group %d does not match its check character: a character in it is wrong, or two are swapped", g)
			}
			clear(vals)
			vals = vals[:0]
		}
	}
	t.Groups, t.Partial = len(data)/groupLen, len(data)%groupLen
	if t.Groups > maxGroups && t.Bad == 0 {
		t.Bad, t.Problem = t.Groups, fmt.Sprintf("%d groups is more than a share has", t.Groups)
	}
	return t
}
