package shares

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"unicode/utf8"

	"github.com/devicepki/ceremony/ceremony/secret"
)

// alphabet is Crockford's base32 alphabet: no I, L, O or U.
const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// charValue maps a character as typed to its value in alphabet, or -1. Lower
// case is accepted, O is read as 0, I and L as 1.
var charValue = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(alphabet); i++ {
		c := alphabet[i]
		t[c] = int8(i)
		if 'A' <= c && c <= 'Z' {
			t[c+'a'-'A'] = int8(i)
		}
	}
	for _, c := range []byte("Oo") {
		t[c] = 0
	}
	for _, c := range []byte("IiLl") {
		t[c] = 1
	}
	return t
}()

// Text format constants.
const (
	formatVersion = 1
	tagPrefix     = "CS1" // the tag group is tagPrefix + purpose letter
	payloadDomain = "ceremony-share-v1"
	headerLen     = 11 // version, purpose, split id, M, N, index
	tagLen        = 4
	dataPerGroup  = 4
	groupLen      = dataPerGroup + 1
	groupsPerLine = 4
	maxInput      = 64 << 10 // bytes Parse accepts

	// minGroups and maxGroups are the group counts of shares of 1- and
	// 64-byte secrets.
	minGroups = (2*(headerLen+minSecret+1+tagLen) + 4) / 5
	maxGroups = (2*(headerLen+maxSecret+1+tagLen) + 4) / 5
	// typicalGroups is the group count for a 32-byte secret.
	typicalGroups = (2*(headerLen+32+1+tagLen) + 4) / 5
)

// groupsFor returns the number of groups that hold a payload of n bytes:
// ceil(8n/5) characters, rounded up to a multiple of 4, in groups of 4.
func groupsFor(n int) int { return (2*n + 4) / 5 }

// mulA multiplies v by a = x in GF(32) with the polynomial x^5+x^2+1.
func mulA(v byte) byte {
	v <<= 1
	if v&0x20 != 0 {
		v ^= 0x25
	}
	return v
}

// checkChar returns the check character value of group g (1-based) with
// the data character values d.
func checkChar(g int, d []byte) byte {
	r := byte(g & 31)
	for _, v := range d {
		r = mulA(r) ^ v
	}
	return mulA(r)
}

// groupOK reports whether the 5 character values v form group g.
func groupOK(g int, v []byte) bool {
	r := byte(g & 31)
	for _, x := range v {
		r = mulA(r) ^ x
	}
	return r == 0
}

// payload returns the binary payload of s; the caller wipes it.
func (s *Share) payload() []byte {
	v := s.Value.Bytes()
	p := make([]byte, 0, headerLen+len(v)+tagLen)
	p = append(p, formatVersion, byte(s.Purpose))
	p = append(p, s.Split[:]...)
	p = append(p, byte(s.Threshold), byte(s.Count), byte(s.Index))
	p = append(p, v...)
	t := payloadTag(p)
	return append(p, t[:]...)
}

// payloadTag returns the whole-share tag of the payload bytes p.
func payloadTag(p []byte) [tagLen]byte {
	h := sha256.New()
	h.Write([]byte(payloadDomain))
	h.Write(p)
	var t [tagLen]byte
	copy(t[:], h.Sum(nil))
	return t
}

// groups returns the character values of s's groups, check characters
// included: 5 per group. The caller wipes it.
func (s *Share) groups() []byte {
	p := s.payload()
	defer clear(p)
	return encodeGroups(p)
}

// encodeGroups returns the character values of the groups that hold the
// payload p, check characters included: 5 per group.
func encodeGroups(p []byte) []byte {
	n := groupsFor(len(p))
	out := make([]byte, 0, n*groupLen)
	var acc uint32 // bit accumulator
	bits := 0
	next := 0 // next payload byte
	for g := 1; g <= n; g++ {
		start := len(out)
		for range dataPerGroup {
			for bits < 5 {
				acc <<= 8
				if next < len(p) {
					acc |= uint32(p[next])
					next++
				}
				bits += 8
			}
			bits -= 5
			out = append(out, byte(acc>>bits)&31)
		}
		out = append(out, checkChar(g, out[start:]))
	}
	return out
}

// Text returns the share's text form: a comment line describing the share,
// the tag group (CS1A or CS1B) on its own line, then the groups of 5
// characters, 4 per line, separated by spaces. Every line ends with "\n".
// The package documentation describes the format. s must be a valid share.
func (s *Share) Text() *secret.Secret {
	vals := s.groups()
	defer clear(vals)
	head := fmt.Sprintf("# Ceremony share: %s\n%s%c\n", s.Describe(), tagPrefix, byte(s.Purpose))
	b := make([]byte, 0, len(head)+len(vals)/groupLen*(groupLen+1)+1)
	b = append(b, head...)
	for i, v := range vals {
		if g := i / groupLen; i%groupLen == 0 && g > 0 {
			if g%groupsPerLine == 0 {
				b = append(b, '\n')
			} else {
				b = append(b, ' ')
			}
		}
		b = append(b, alphabet[v])
	}
	b = append(b, '\n')
	t := secret.New(b)
	clear(b)
	return t
}

// Compact returns the share's text on one line, upper case, the tag group
// and the groups separated by dashes: "CS1B-XXXXX-XXXXX-…". It uses only
// characters of QR alphanumeric mode. s must be a valid share.
func (s *Share) Compact() *secret.Secret {
	vals := s.groups()
	defer clear(vals)
	b := make([]byte, 0, len(tagPrefix)+1+len(vals)/groupLen*(groupLen+1))
	b = append(b, tagPrefix...)
	b = append(b, byte(s.Purpose))
	for i, v := range vals {
		if i%groupLen == 0 {
			b = append(b, '-')
		}
		b = append(b, alphabet[v])
	}
	t := secret.New(b)
	clear(b)
	return t
}

// FormatError is the error [Parse] returns for text that is not a valid
// share. It says where the problem is, so that the keyholder can compare
// that place with the card.
type FormatError struct {
	// Line is the 1-based line of the input where the problem is, or 0
	// if the problem is not at one place.
	Line int
	// Group is the 1-based number of the group as printed on the card
	// (the tag group CS1A/CS1B is not counted), or 0 if the problem is not
	// about one group.
	Group int
	// Msg says what is wrong. It never contains share characters.
	Msg string
}

// Error returns the message prefixed with the place, e.g. "group 7 (line 2):
// check character does not match: …".
func (e *FormatError) Error() string {
	switch {
	case e.Group > 0 && e.Line > 0:
		return fmt.Sprintf("group %d (line %d): %s", e.Group, e.Line, e.Msg)
	case e.Group > 0:
		return fmt.Sprintf("group %d: %s", e.Group, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

// typed is one character of the input and where it was typed.
type typed struct {
	r    rune
	line int // 1-based
	col  int // 1-based, in characters
}

// scan returns the characters of text that are not separators or comments.
func scan(text []byte) []typed {
	// Sized once: growing it would leave copies of share characters behind.
	out := make([]typed, 0, utf8.RuneCount(text))
	line, col := 1, 0
	lineStart, comment := true, false
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRune(text[i:])
		i += size
		if r == '\n' {
			line, col = line+1, 0
			lineStart, comment = true, false
			continue
		}
		col++
		switch {
		case comment:
			continue
		case r == ' ' || r == '\t' || r == '\r' || r == '-':
			continue
		case r == '\uFEFF' && i == size: // a byte order mark
			continue
		case lineStart && r == '#':
			comment = true
			continue
		}
		lineStart = false
		out = append(out, typed{r, line, col})
	}
	return out
}

// tagChar returns c upper-cased, with O read as 0 and I and L as 1.
func tagChar(c rune) rune {
	if 'a' <= c && c <= 'z' {
		c -= 'a' - 'A'
	}
	switch c {
	case 'O':
		return '0'
	case 'I', 'L':
		return '1'
	}
	return c
}

// Parse reads a share from text as typed by a keyholder, scanned from a QR
// code, or read from a .share file (see the package documentation for the
// format). Errors are *[FormatError]s. Parse reports the first of these
// problems, in this order: an unknown tag group or version; a character
// that is not in the alphabet; a wrong number of characters or groups; a
// group whose check character does not match; a whole-share checksum that
// does not match; a tag group whose purpose differs from the payload's; and
// impossible M, N or share numbers.
func Parse(text []byte) (*Share, error) {
	if len(text) > maxInput {
		return nil, &FormatError{Msg: fmt.Sprintf("%d bytes is too long for a share", len(text))}
	}
	chars := scan(text)
	defer clear(chars)

	// The tag group.
	if len(chars) == 0 {
		return nil, &FormatError{Msg: "no share found: the text is empty"}
	}
	tagLine := chars[0].line
	var tag [4]rune
	for i := range tag {
		if i < len(chars) {
			tag[i] = tagChar(chars[i].r)
		}
	}
	switch {
	case tag[0] != 'C' || tag[1] != 'S':
		return nil, &FormatError{Line: tagLine, Msg: "not a ceremony share: a share starts with CS1A or CS1B"}
	case tag[2] >= '2' && tag[2] <= '9':
		return nil, &FormatError{Line: tagLine, Msg: fmt.Sprintf(
			"share format version %c is not supported: this program reads version 1 (CS1A, CS1B)", tag[2])}
	case tag[2] != '1':
		return nil, &FormatError{Line: tagLine, Msg: "not a ceremony share: a share starts with CS1A or CS1B"}
	case tag[3] != rune(Activation) && tag[3] != rune(Backup):
		return nil, &FormatError{Line: tagLine, Msg: "unknown purpose after CS1: the 4th character must be A (activation) or B (backup)"}
	}
	tagPurpose := Purpose(tag[3])
	data := chars[4:]

	// The characters.
	vals := make([]byte, len(data))
	defer clear(vals)
	for k, c := range data {
		v := int8(-1)
		if c.r < utf8.RuneSelf {
			v = charValue[c.r]
		}
		if v < 0 {
			hint := ""
			if c.r == 'U' || c.r == 'u' {
				hint = " (there is no U; is it a V?)"
			}
			return nil, &FormatError{Line: c.line, Group: k/groupLen + 1, Msg: fmt.Sprintf(
				"character %d of the line, %q, is not used in shares%s", c.col, c.r, hint)}
		}
		vals[k] = byte(v)
	}

	// The length.
	n := len(vals) / groupLen
	if len(vals)%groupLen != 0 {
		for g := 1; g <= n; g++ {
			if !groupOK(g, vals[(g-1)*groupLen:g*groupLen]) {
				return nil, &FormatError{Line: data[(g-1)*groupLen].line, Group: g, Msg: fmt.Sprintf(
					"a character is missing or extra in this group (or one is wrong): "+
						"there are %d characters after %s, not a whole number of groups of 5",
					len(vals), tagPrefix+string(tagPurpose))}
			}
		}
		last := len(vals) - n*groupLen
		return nil, &FormatError{Line: data[n*groupLen].line, Group: n + 1, Msg: fmt.Sprintf(
			"the last group has %d characters, not 5: a character is missing or extra", last)}
	}
	if n < minGroups || n > maxGroups {
		return nil, &FormatError{Msg: fmt.Sprintf(
			"%d groups, expected %d (%d to %d for secrets of %d to %d bytes): a group is missing or extra",
			n, typicalGroups, minGroups, maxGroups, minSecret, maxSecret)}
	}

	// The group check characters.
	group := func(g int) []byte { return vals[(g-1)*groupLen : g*groupLen] }
	for g := 1; g <= n; g++ {
		if groupOK(g, group(g)) {
			continue
		}
		fits := func(as, at int) bool { return at > n || groupOK(as, group(at)) }
		hint := ""
		switch {
		case g < n && groupOK(g+1, group(g)) && groupOK(g, group(g+1)):
			hint = fmt.Sprintf(" (groups %d and %d look swapped)", g, g+1)
		case groupOK(g+1, group(g)) && fits(g+2, g+1):
			hint = fmt.Sprintf(" (these characters fit group %d: was group %d skipped?)", g+1, g)
		case g > 1 && groupOK(g-1, group(g)) && fits(g, g+1):
			hint = fmt.Sprintf(" (these characters fit group %d: was group %d typed twice?)", g-1, g-1)
		}
		return nil, &FormatError{Line: data[(g-1)*groupLen].line, Group: g,
			Msg: "check character does not match: a character in this group is wrong, or two are swapped" + hint}
	}

	// The payload and its tag. The payload length is not stored: try the
	// lengths that give n groups; exactly one makes the tag match (another
	// one would match by chance with probability 2^-32).
	bits := make([]byte, (n*dataPerGroup*5+7)/8)
	defer clear(bits)
	var acc uint32
	nb, j := 0, 0
	for k, v := range vals {
		if k%groupLen == dataPerGroup {
			continue // a check character
		}
		acc = acc<<5 | uint32(v)
		nb += 5
		if nb >= 8 {
			nb -= 8
			bits[j] = byte(acc >> nb)
			j++
		}
	}
	if nb > 0 {
		bits[j] = byte(acc << (8 - nb))
	}
	var p []byte
	for size := headerLen + minSecret + 1 + tagLen; size <= headerLen+maxSecret+1+tagLen; size++ {
		if groupsFor(size) != n || size > len(bits) {
			continue
		}
		if !allZero(bits[size:]) { // padding bits must be zero
			continue
		}
		if t := payloadTag(bits[:size-tagLen]); bytes.Equal(t[:], bits[size-tagLen:size]) {
			p = bits[:size]
			break
		}
	}
	if p == nil {
		return nil, &FormatError{Msg: "checksum of the whole share does not match: two or more characters " +
			"are wrong (or the last group is missing); compare the share with the card group by group"}
	}

	// The header.
	if p[0] != formatVersion {
		return nil, &FormatError{Msg: fmt.Sprintf("the share's contents are format version %d, not %d", p[0], formatVersion)}
	}
	if Purpose(p[1]) != tagPurpose {
		what := "a share of an unknown purpose"
		switch Purpose(p[1]) {
		case Activation:
			what = "an activation share"
		case Backup:
			what = "a backup share"
		}
		return nil, &FormatError{Line: tagLine, Msg: fmt.Sprintf(
			"the share starts with %s%c (%s) but is %s: the 4th character is wrong",
			tagPrefix, tagPurpose, tagPurpose, what)}
	}
	s := &Share{Purpose: tagPurpose, Threshold: int(p[8]), Count: int(p[9]), Index: int(p[10])}
	copy(s.Split[:], p[2:8])
	switch {
	case s.Split.isZero():
		return nil, &FormatError{Msg: "the share's split id is zero"}
	case s.Threshold < 2 || s.Threshold > s.Count:
		return nil, &FormatError{Msg: fmt.Sprintf("the share says %d of %d are needed, which is impossible", s.Threshold, s.Count)}
	case s.Index < 1 || s.Index > s.Count:
		return nil, &FormatError{Msg: fmt.Sprintf("the share says it is share %d of %d, which is impossible", s.Index, s.Count)}
	}
	s.Value = secret.New(p[headerLen : len(p)-tagLen])
	return s, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
