package shares

import (
	"bytes"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"fmt"
	mathrand "math/rand/v2"
	"strings"
	"testing"

	"github.com/devicepki/ceremony/ceremony/secret"
)

// gfMul multiplies in GF(32) with the polynomial x^5+x^2+1, written
// independently of mulA: carry-less multiplication, then reduction.
func gfMul(a, b byte) byte {
	var p uint16
	for i := range 5 {
		if b>>i&1 == 1 {
			p ^= uint16(a) << i
		}
	}
	for bit := 8; bit >= 5; bit-- {
		if p>>bit&1 == 1 {
			p ^= 0x25 << (bit - 5)
		}
	}
	return byte(p)
}

func gfPow(a byte, n int) byte {
	r := byte(1)
	for range n {
		r = gfMul(r, a)
	}
	return r
}

func TestGF32(t *testing.T) {
	for v := range byte(32) {
		if got, want := mulA(v), gfMul(v, 2); got != want {
			t.Errorf("mulA(%d) = %d, want %d", v, got, want)
		}
	}
	// x^5+x^2+1 is primitive: a = x has order 31, so the powers of a are
	// the 31 non-zero elements and the field is a field.
	seen := map[byte]bool{}
	for k := 1; k <= 31; k++ {
		p := gfPow(2, k)
		if p == 1 && k < 31 {
			t.Fatalf("a^%d = 1: a does not have order 31", k)
		}
		seen[p] = true
	}
	if gfPow(2, 31) != 1 || len(seen) != 31 || seen[0] {
		t.Fatalf("the powers of a are not the 31 non-zero elements")
	}
	// The check character is the weighted sum a^5*g + a^4*d1 + … + a*d4.
	r := mathrand.New(mathrand.NewPCG(1, 2))
	for range 10000 {
		g := 1 + r.IntN(32)
		d := []byte{byte(r.IntN(32)), byte(r.IntN(32)), byte(r.IntN(32)), byte(r.IntN(32))}
		want := gfMul(gfPow(2, 5), byte(g&31))
		for i, v := range d {
			want ^= gfMul(gfPow(2, 4-i), v)
		}
		if got := checkChar(g, d); got != want {
			t.Fatalf("checkChar(%d, %v) = %d, want %d", g, d, got, want)
		}
		if !groupOK(g, append(d, want)) {
			t.Fatalf("group %d %v with its check character does not verify", g, d)
		}
	}
}

// detectsAll checks every single substitution and every transposition of
// two adjacent different characters of the valid group w of number g.
func detectsAll(t *testing.T, g int, w []byte) bool {
	m := make([]byte, groupLen)
	for i := range groupLen {
		for e := byte(1); e < 32; e++ {
			copy(m, w)
			m[i] ^= e
			if groupOK(g, m) {
				t.Errorf("group %d %v: changing character %d to %d is not detected", g, w, i+1, m[i])
				return false
			}
		}
		if i+1 < groupLen && w[i] != w[i+1] {
			copy(m, w)
			m[i], m[i+1] = m[i+1], m[i]
			if groupOK(g, m) {
				t.Errorf("group %d %v: swapping characters %d and %d is not detected", g, w, i+1, i+2)
				return false
			}
		}
	}
	return true
}

// TestCheckCharExhaustive proves the detection property for every group
// that can be written with group number 1 (all 32^4 data words), and for
// every group number on random data words.
func TestCheckCharExhaustive(t *testing.T) {
	if testing.Short() {
		t.Skip("exhaustive: 32^4 groups")
	}
	w := make([]byte, groupLen)
	for x := range 1 << 20 {
		for i := range dataPerGroup {
			w[i] = byte(x >> (5 * i) & 31)
		}
		w[4] = checkChar(1, w[:4])
		if !groupOK(1, w) {
			t.Fatalf("valid group %v does not verify", w)
		}
		if !detectsAll(t, 1, w) {
			return
		}
	}
}

func TestCheckCharEveryGroupNumber(t *testing.T) {
	r := mathrand.New(mathrand.NewPCG(3, 4))
	w := make([]byte, groupLen)
	for g := 1; g <= maxGroups; g++ {
		for range 5000 {
			for i := range dataPerGroup {
				w[i] = byte(r.IntN(32))
			}
			w[4] = checkChar(g, w[:4])
			if !detectsAll(t, g, w) {
				return
			}
			// In the place of any other group, the group does not verify.
			for h := 1; h <= maxGroups; h++ {
				if h != g && groupOK(h, w) {
					t.Fatalf("group %d %v also verifies as group %d", g, w, h)
				}
			}
		}
	}
}

// pinnedCompact is fixedShare's compact form. The format is fixed: printed
// cards must stay readable, so a change here is a bug.
const pinnedCompact = "CS1B-0510C-28T58-CY4TV-P0R5K-0800V-E3GNR-3GHJN-MC9RH-7X340-TN2VS-C9MQF-0XVYG-GP69T-76N15-N2QVM-DFE4P-SF9DT-JAMAC-ZX5V7-G0003"

func TestFormatPinned(t *testing.T) {
	s := fixedShare()
	got := str(s.Compact())
	// Decode independently: drop the check characters, decode with the
	// standard library's base32 in Crockford's alphabet, and compare with
	// the payload built here from the format's definition.
	var data strings.Builder
	for _, g := range compactGroups(s) {
		data.WriteString(g[:4])
	}
	v := s.Value.Bytes()
	payload := []byte{1, 'B', 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 3, 5, 2}
	payload = append(payload, v...)
	tag := sha256.Sum256(append([]byte("ceremony-share-v1"), payload...))
	payload = append(payload, tag[:4]...)
	if len(payload) != 48 {
		t.Fatalf("payload is %d bytes, want 48", len(payload))
	}
	nchars := (8*len(payload) + 4) / 5 // 77
	enc := base32.NewEncoding("0123456789ABCDEFGHJKMNPQRSTVWXYZ").WithPadding(base32.NoPadding)
	if d := data.String(); len(d) != 80 || d[nchars:] != "000" {
		t.Fatalf("data characters %q: want 80, ending in zero padding", d)
	}
	if enc.EncodeToString(payload) != data.String()[:nchars] {
		t.Errorf("data characters differ from the base32 encoding of the payload")
	}
	// Check characters, by the definition.
	for i, g := range compactGroups(s) {
		d := make([]byte, 4)
		for j := range d {
			d[j] = byte(strings.IndexByte(alphabet, g[j]))
		}
		if alphabet[checkChar(i+1, d)] != g[4] {
			t.Errorf("group %d %s: wrong check character", i+1, g)
		}
	}
	if got != pinnedCompact {
		t.Errorf("Compact() =\n%s\nwant\n%s", got, pinnedCompact)
	}
	wantText := "# Ceremony share: backup share 2 of 5 (3 needed), split 04HM-ASW9-NC\n" +
		"CS1B\n" +
		"0510C 28T58 CY4TV P0R5K\n" +
		"0800V E3GNR 3GHJN MC9RH\n" +
		"7X340 TN2VS C9MQF 0XVYG\n" +
		"GP69T 76N15 N2QVM DFE4P\n" +
		"SF9DT JAMAC ZX5V7 G0003\n"
	if got := str(s.Text()); got != wantText {
		t.Errorf("Text() =\n%s\nwant\n%s", got, wantText)
	}
}

func sameShare(t *testing.T, got, want *Share) {
	t.Helper()
	if got.Split != want.Split || got.Purpose != want.Purpose || got.Threshold != want.Threshold ||
		got.Count != want.Count || got.Index != want.Index || !bytes.Equal(got.Value.Bytes(), want.Value.Bytes()) {
		t.Fatalf("parsed %s, want %s (or the values differ)", got.Describe(), want.Describe())
	}
}

func TestParseRoundTripAllLengths(t *testing.T) {
	for _, p := range []Purpose{Activation, Backup} {
		for l := minSecret; l <= maxSecret; l++ {
			ss, _, _ := split(t, p, 2, 3, l)
			for _, s := range ss {
				text, compact := str(s.Text()), str(s.Compact())
				for _, in := range []string{text, compact} {
					got, err := Parse([]byte(in))
					if err != nil {
						t.Fatalf("%d-byte secret: Parse(%s): %v", l, s.Describe(), err)
					}
					sameShare(t, got, s)
				}
				groups := groupsFor(headerLen + l + 1 + tagLen)
				if n := len(compactGroups(s)); n != groups {
					t.Errorf("%d-byte secret: %d groups, want %d", l, n, groups)
				}
				lines := strings.Split(text, "\n")
				if want := 2 + (groups+3)/4 + 1; len(lines) != want || lines[len(lines)-1] != "" {
					t.Errorf("%d-byte secret: text has %d lines, want %d ending in a newline", l, len(lines), want)
				}
				if lines[0] != "# Ceremony share: "+s.Describe() || lines[1] != "CS1"+string(rune(p)) {
					t.Errorf("text starts %q, %q", lines[0], lines[1])
				}
				if !strings.HasPrefix(compact, "CS1"+string(rune(p))+"-") || strings.Trim(compact, alphabet+"-") != "" {
					t.Errorf("compact form %q has unexpected characters", compact)
				}
			}
		}
	}
	if minGroups != 7 || maxGroups != 32 || typicalGroups != 20 {
		t.Errorf("groups: min %d max %d typical %d, want 7, 32, 20", minGroups, maxGroups, typicalGroups)
	}
}

func TestParseLenient(t *testing.T) {
	s := fixedShare()
	text, compact := str(s.Text()), str(s.Compact())
	swap := strings.NewReplacer("0", "o", "1", "l")
	var oneline strings.Builder
	for _, c := range compact {
		if c != '-' {
			oneline.WriteRune(c)
		}
	}
	// Characters split across lines, with odd spacing.
	var odd strings.Builder
	for i, c := range oneline.String() {
		odd.WriteRune(c)
		switch i % 7 {
		case 2:
			odd.WriteString(" \t")
		case 5:
			odd.WriteString("\r\n  ")
		}
	}
	for name, in := range map[string]string{
		"text":             text,
		"compact":          compact,
		"compact newline":  compact + "\n",
		"lower case":       strings.ToLower(text),
		"O for 0, l for 1": swap.Replace(strings.SplitN(text, "\n", 2)[1]),
		"I for 1":          strings.ReplaceAll(compact, "1", "I"),
		"CRLF":             strings.ReplaceAll(text, "\n", "\r\n"),
		"no comment":       strings.SplitN(text, "\n", 2)[1],
		"more comments":    "# a\n  # b\n\n" + strings.ReplaceAll(text, "\n", "\n# between\n"),
		"byte order mark":  "\uFEFF" + text,
		"one line":         oneline.String(),
		"odd spacing":      odd.String(),
		"indented":         strings.ReplaceAll(text, "\n", "\n    "),
	} {
		got, err := Parse([]byte(in))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		sameShare(t, got, s)
	}
}

// charPos is where a share character is in a text.
type charPos struct {
	i    int // byte offset
	line int
}

// positions lists the share characters of text (not comments, blanks or
// dashes), written independently of scan.
func positions(text string) []charPos {
	var out []charPos
	off := 0
	for n, line := range strings.SplitAfter(text, "\n") {
		if !strings.HasPrefix(strings.TrimLeft(line, " \t"), "#") {
			for i := 0; i < len(line); i++ {
				if !strings.ContainsRune(" \t\r\n-", rune(line[i])) {
					out = append(out, charPos{off + i, n + 1})
				}
			}
		}
		off += len(line)
	}
	return out
}

// groupOf returns the group number of the k-th (0-based) share character:
// 0 for the tag group.
func groupOf(k int) int {
	if k < 4 {
		return 0
	}
	return (k-4)/groupLen + 1
}

// sampleShares returns shares whose texts the exhaustive tests alter.
func sampleShares(t *testing.T) []*Share {
	out := []*Share{fixedShare()}
	for _, c := range []struct {
		p      Purpose
		m, n   int
		secLen int
	}{
		{Backup, 3, 5, 32}, {Activation, 2, 3, 32}, {Activation, 16, 20, 1},
		{Backup, 2, 2, 16}, {Backup, 3, 4, 31}, {Activation, 5, 5, 33}, {Backup, 2, 255, 64},
	} {
		ss, _, _ := split(t, c.p, c.m, c.n, c.secLen)
		out = append(out, ss[0], ss[len(ss)-1])
	}
	return out
}

func TestParseEverySubstitution(t *testing.T) {
	for _, s := range sampleShares(t) {
		for form, text := range map[string]string{"compact": str(s.Compact()), "text": str(s.Text())} {
			pos := positions(text)
			tried := 0
			for k, cp := range pos {
				for _, a := range []byte(alphabet) {
					if charValue[text[cp.i]] == charValue[a] {
						continue
					}
					in := text[:cp.i] + string(a) + text[cp.i+1:]
					_, err := Parse([]byte(in))
					if err == nil {
						t.Fatalf("%s, %s form: character %d changed to %c: accepted", s.Describe(), form, k+1, a)
					}
					tried++
					fe := formatError(t, err)
					if want := groupOf(k); fe.Group != want || fe.Line != cp.line {
						t.Fatalf("%s, %s form: character %d changed to %c: error %q names group %d line %d, want group %d line %d",
							s.Describe(), form, k+1, a, err, fe.Group, fe.Line, want, cp.line)
					}
					if fe.Group > 0 && !strings.Contains(err.Error(), fmt.Sprintf("group %d (line %d)", fe.Group, fe.Line)) {
						t.Fatalf("error %q does not name group %d and line %d", err, fe.Group, fe.Line)
					}
					assertNoSecret(t, err, s)
				}
			}
			if want := len(pos) * 31; tried != want {
				t.Fatalf("tried %d substitutions, want %d", tried, want)
			}
		}
	}
}

func TestParseEveryTransposition(t *testing.T) {
	for _, s := range sampleShares(t) {
		for form, text := range map[string]string{"compact": str(s.Compact()), "text": str(s.Text())} {
			pos := positions(text)
			tried := 0
			for k := 0; k+1 < len(pos); k++ {
				a, b := text[pos[k].i], text[pos[k+1].i]
				if a == b {
					continue
				}
				in := []byte(text)
				in[pos[k].i], in[pos[k+1].i] = b, a
				_, err := Parse(in)
				if err == nil {
					t.Fatalf("%s, %s form: characters %d and %d swapped: accepted", s.Describe(), form, k+1, k+2)
				}
				tried++
				fe := formatError(t, err)
				wantGroup, wantLine := groupOf(k), pos[k].line
				if k == 3 && (b == 'A' || b == 'B') {
					// The tag group is valid and the error is in group 1.
					wantGroup, wantLine = 1, pos[k+1].line
				}
				if fe.Group != wantGroup || fe.Line != wantLine {
					t.Fatalf("%s, %s form: characters %d and %d swapped: error %q names group %d line %d, want group %d line %d",
						s.Describe(), form, k+1, k+2, err, fe.Group, fe.Line, wantGroup, wantLine)
				}
				assertNoSecret(t, err, s)
			}
			if tried < len(pos)/2 {
				t.Fatalf("only %d transpositions tried", tried)
			}
		}
	}
}

func TestParseEveryInsertionAndDeletion(t *testing.T) {
	for _, s := range sampleShares(t)[:3] {
		text := str(s.Compact())
		for _, cp := range positions(text) {
			if _, err := Parse([]byte(text[:cp.i] + text[cp.i+1:])); err == nil {
				t.Fatalf("%s: deleting the character at %d: accepted", s.Describe(), cp.i)
			} else {
				formatError(t, err)
				assertNoSecret(t, err, s)
			}
		}
		for i := 0; i <= len(text); i++ {
			for _, a := range []byte(alphabet) {
				if _, err := Parse([]byte(text[:i] + string(a) + text[i:])); err == nil {
					t.Fatalf("%s: inserting %c at %d: accepted", s.Describe(), a, i)
				} else {
					formatError(t, err)
				}
			}
		}
	}
}

// textWith returns the compact form of a share with payload p and tag group
// CS1 + letter, with valid group check characters.
func textWith(letter byte, p []byte) string {
	var b strings.Builder
	b.WriteString("CS1")
	b.WriteByte(letter)
	for i, v := range encodeGroups(p) {
		if i%groupLen == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(alphabet[v])
	}
	return b.String()
}

// payloadWith returns the payload of fixedShare with header changes made
// by edit, and a correct tag.
func payloadWith(edit func(p []byte)) []byte {
	s := fixedShare()
	p := s.payload()
	p = p[:len(p)-tagLen]
	edit(p)
	tag := payloadTag(p)
	return append(p, tag[:]...)
}

func TestParseErrors(t *testing.T) {
	s := fixedShare()
	text := str(s.Text())
	compact := str(s.Compact())
	lines := strings.Split(text, "\n")
	groups := compactGroups(s)
	join := func(gs []string) string { return "CS1B-" + strings.Join(gs, "-") }
	with := func(i int, g string) []string {
		gs := append([]string(nil), groups...)
		gs[i] = g
		return gs
	}
	// Two characters changed in groups 3 and 9, with their check
	// characters recomputed: only the whole-share tag can catch it.
	twoErrors := func() string {
		gs := append([]string(nil), groups...)
		for _, g := range []int{3, 9} {
			d := []byte(gs[g-1][:4])
			d[1] = alphabet[(strings.IndexByte(alphabet, d[1])+1)%32]
			vals := make([]byte, 4)
			for j := range d {
				vals[j] = byte(strings.IndexByte(alphabet, d[j]))
			}
			gs[g-1] = string(d) + string(alphabet[checkChar(g, vals)])
		}
		return join(gs)
	}()
	// A payload whose padding bits are not zero.
	badPadding := func() string {
		gs := append([]string(nil), groups...)
		last := len(gs)
		vals := []byte{byte(strings.IndexByte(alphabet, gs[last-1][0])), 0, 0, 1}
		gs[last-1] = string(gs[last-1][0]) + "001" + string(alphabet[checkChar(last, vals)])
		return join(gs)
	}()

	for _, c := range []struct {
		name      string
		in        string
		line, grp int
		subs      []string
	}{
		{"empty", "", 0, 0, []string{"no share found"}},
		{"only comments", "# hello\n\n", 0, 0, []string{"no share found"}},
		{"not a share", "# x\nhello world", 2, 0, []string{"not a ceremony share"}},
		{"short", "CS", 1, 0, []string{"CS1A or CS1B"}},
		{"version 2", "CS2B-" + strings.Join(groups, "-"), 1, 0, []string{"version 2 is not supported"}},
		{"unknown purpose", "CS1C-" + strings.Join(groups, "-"), 1, 0, []string{"A (activation) or B (backup)"}},
		{"letter U", strings.Replace(text, lines[4][:7], lines[4][:6]+"U", 1), 5, 10, []string{"character 7 of the line, 'U'", "is it a V?"}},
		{"hash mid-line", strings.Replace(text, lines[3], lines[3]+" # note", 1), 4, 9, []string{"'#'"}},
		{"non-ASCII", strings.Replace(compact, "-0510C", "-0510\u00c7", 1), 1, 1, []string{"'Ç'"}},
		{"character missing in group 7", join(with(6, groups[6][:2]+groups[6][3:])), 1, 7,
			[]string{"a character is missing or extra in this group", "99 characters after CS1B"}},
		{"character extra in group 7", join(with(6, groups[6][:2]+"7"+groups[6][2:])), 1, 7, []string{"missing or extra"}},
		{"last group short", join(with(19, groups[19][:4])), 1, 20, []string{"the last group has 4 characters"}},
		{"too few groups", join(groups[:5]), 0, 0, []string{"5 groups, expected 20", "a group is missing or extra"}},
		{"too many groups", join(append(append([]string(nil), groups...), groups...)), 0, 0, []string{"40 groups"}},
		{"wrong check character", join(with(6, groups[6][:4]+"0")), 1, 7,
			[]string{"group 7 (line 1): check character does not match: a character in this group is wrong, or two are swapped"}},
		{"groups swapped", join(append(append(append([]string(nil), groups[:2]...), groups[3], groups[2]), groups[4:]...)), 1, 3,
			[]string{"groups 3 and 4 look swapped"}},
		{"group skipped", join(append(append([]string(nil), groups[:4]...), groups[5:]...)), 1, 5,
			[]string{"fit group 6: was group 5 skipped?"}},
		{"group twice", join(append(append([]string(nil), groups[:5]...), groups[4:]...)), 1, 6,
			[]string{"fit group 5: was group 5 typed twice?"}},
		{"last group twice", join(append(append([]string(nil), groups...), groups[19])), 1, 21, []string{"was group 20 typed twice?"}},
		{"last group missing", join(groups[:19]), 0, 0, []string{"checksum of the whole share does not match", "group by group"}},
		{"two errors", twoErrors, 0, 0, []string{"checksum of the whole share does not match"}},
		{"padding not zero", badPadding, 0, 0, []string{"checksum of the whole share does not match"}},
		{"purpose letter changed", strings.Replace(text, "\nCS1B\n", "\nCS1A\n", 1), 2, 0,
			[]string{"starts with CS1A (activation) but is a backup share"}},
		{"payload version", textWith('B', payloadWith(func(p []byte) { p[0] = 2 })), 0, 0, []string{"format version 2"}},
		{"unknown payload purpose", textWith('B', payloadWith(func(p []byte) { p[1] = 'C' })), 1, 0, []string{"unknown purpose"}},
		{"zero split", textWith('B', payloadWith(func(p []byte) { clear(p[2:8]) })), 0, 0, []string{"split id is zero"}},
		{"M = 1", textWith('B', payloadWith(func(p []byte) { p[8] = 1 })), 0, 0, []string{"1 of 5 are needed"}},
		{"M > N", textWith('B', payloadWith(func(p []byte) { p[8] = 6 })), 0, 0, []string{"6 of 5 are needed"}},
		{"index 0", textWith('B', payloadWith(func(p []byte) { p[10] = 0 })), 0, 0, []string{"share 0 of 5"}},
		{"index > N", textWith('B', payloadWith(func(p []byte) { p[10] = 6 })), 0, 0, []string{"share 6 of 5"}},
		{"too long", strings.Repeat("#", maxInput+1), 0, 0, []string{"too long"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.in))
			wantErr(t, err, c.subs...)
			if err == nil {
				return
			}
			fe := formatError(t, err)
			if fe.Line != c.line || fe.Group != c.grp {
				t.Errorf("error %q: line %d group %d, want line %d group %d", err, fe.Line, fe.Group, c.line, c.grp)
			}
			assertNoSecret(t, err, s)
		})
	}
}

func TestParseMatchesText(t *testing.T) {
	// A share whose value was altered, written out again with all its
	// checksums, parses: the format cannot know. The manifest catches it
	// (see TestCombineRejects).
	s := fixedShare()
	v := bytes.Clone(s.Value.Bytes())
	v[5] ^= 1
	s.Value = secret.New(v)
	if _, err := Parse(s.Text().Bytes()); err != nil {
		t.Fatal(err)
	}
}

func TestFormatErrorError(t *testing.T) {
	for _, c := range []struct {
		e    FormatError
		want string
	}{
		{FormatError{Line: 2, Group: 7, Msg: "m"}, "group 7 (line 2): m"},
		{FormatError{Group: 7, Msg: "m"}, "group 7: m"},
		{FormatError{Line: 2, Msg: "m"}, "line 2: m"},
		{FormatError{Msg: "m"}, "m"},
	} {
		if got := c.e.Error(); got != c.want {
			t.Errorf("%+v.Error() = %q, want %q", c.e, got, c.want)
		}
	}
}

func TestSplitID(t *testing.T) {
	for _, c := range []struct {
		id   SplitID
		want string
	}{
		{SplitID{0, 0, 0, 0, 0, 1}, "0000-0000-04"},
		{SplitID{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, "ZZZZ-ZZZZ-ZW"},
		{SplitID{0x80, 0, 0, 0, 0, 0}, "G000-0000-00"},
		{SplitID{0x01, 0x23, 0x45, 0x67, 0x89, 0xab}, "04HM-ASW9-NC"},
	} {
		if got := c.id.String(); got != c.want {
			t.Errorf("%x: String() = %q, want %q", c.id[:], got, c.want)
		}
		for _, in := range []string{c.want, strings.ToLower(c.want), strings.ReplaceAll(c.want, "-", ""),
			" " + strings.ReplaceAll(strings.ReplaceAll(c.want, "0", "O"), "1", "l") + "\n"} {
			got, err := ParseSplitID(in)
			if err != nil || got != c.id {
				t.Errorf("ParseSplitID(%q) = %x, %v; want %x", in, got[:], err, c.id[:])
			}
		}
	}
	r := mathrand.New(mathrand.NewPCG(5, 6))
	for range 1000 {
		var id SplitID
		for i := range id {
			id[i] = byte(r.Uint32())
		}
		if id.isZero() {
			continue
		}
		got, err := ParseSplitID(id.String())
		if err != nil || got != id {
			t.Fatalf("ParseSplitID(%q) = %x, %v; want %x", id.String(), got[:], err, id[:])
		}
	}
	for in, sub := range map[string]string{
		"":              "0 characters",
		"04HM-AVW9-N":   "9 characters",
		"04HM-ASW9-NCC": "11 characters",
		"04HM-AVW9-ND":  "last character",
		"04HM-ASU9-NC":  "'U'",
		"0000-0000-00":  "all-zero",
		"04HM AVW9 NC":  "' '",
	} {
		_, err := ParseSplitID(in)
		wantErr(t, err, sub)
	}

	id, err := NewSplitID(bytes.NewReader([]byte{1, 2, 3, 4, 5, 6}))
	if err != nil || id != (SplitID{1, 2, 3, 4, 5, 6}) {
		t.Errorf("NewSplitID = %x, %v", id[:], err)
	}
	_, err = NewSplitID(bytes.NewReader(make([]byte, 6)))
	wantErr(t, err, "zeros")
	_, err = NewSplitID(bytes.NewReader([]byte{1, 2, 3}))
	wantErr(t, err, "EOF")
}

func TestPurpose(t *testing.T) {
	if Activation.String() != "activation" || Backup.String() != "backup" || Purpose('C').String() != "Purpose(0x43)" {
		t.Errorf("String: %s %s %s", Activation, Backup, Purpose('C'))
	}
	for in, want := range map[string]Purpose{"activation": Activation, "Backup": Backup, "a": Activation, "B": Backup} {
		if got, err := ParsePurpose(in); err != nil || got != want {
			t.Errorf("ParsePurpose(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "c", "backups", "ACTIVATE"} {
		_, err := ParsePurpose(in)
		wantErr(t, err, "unknown share purpose")
	}
}

func TestShareNeverPrints(t *testing.T) {
	s := fixedShare()
	hexValue := fmt.Sprintf("%x", s.Value.Bytes())
	for _, out := range []string{
		fmt.Sprint(s), fmt.Sprintf("%v %+v %#v", s, s, s), fmt.Sprint(*s), s.Describe(),
	} {
		if strings.Contains(out, hexValue[:8]) || strings.Contains(out, compactGroups(s)[3]) {
			t.Errorf("%q shows the share", out)
		}
		if out != s.Describe() && !strings.Contains(out, secret.Redacted) {
			t.Errorf("%q: want %s", out, secret.Redacted)
		}
	}
	if want := "backup share 2 of 5 (3 needed), split 04HM-ASW9-NC"; s.Describe() != want {
		t.Errorf("Describe() = %q, want %q", s.Describe(), want)
	}
	if _, err := json.Marshal(s); err == nil {
		t.Error("json.Marshal of a share succeeded")
	}
	s.Wipe()
	if s.Value.Len() != 0 || s.Describe() == "" {
		t.Errorf("after Wipe: value %d bytes", s.Value.Len())
	}
}

// FuzzParse checks that Parse never panics, that what it accepts prints back
// to text that parses to the same share, and that its errors are
// *FormatErrors.
func FuzzParse(f *testing.F) {
	s := fixedShare()
	f.Add(s.Text().Bytes())
	f.Add(s.Compact().Bytes())
	f.Add([]byte(strings.ToLower(str(s.Compact()))))
	f.Add([]byte("CS1A-"))
	f.Add([]byte("# only a comment\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := Parse(in)
		if err != nil {
			formatError(t, err)
			return
		}
		back, err := Parse(got.Compact().Bytes())
		if err != nil {
			t.Fatalf("accepted share does not round-trip: %v", err)
		}
		sameShare(t, back, got)
		if err := got.validate(); err != nil {
			t.Fatalf("accepted an invalid share: %v", err)
		}
	})
}
