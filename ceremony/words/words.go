// Package words turns digests into words that people can read aloud.
//
// At the end of a ceremony the witnesses compare a SHA-256 digest that is
// read aloud with the one that is printed. Hex digits are easy to mishear
// and to skip, so the digest is also shown as one word per byte, taken from
// [List]: 256 common, concrete English words that are easy to say, hear and
// write down by hand.
//
// The list was chosen so that:
//
//   - every word is 4 to 7 lower-case letters a–z;
//   - the first three letters of every word are unique, so a word can be
//     recognised, typed back or looked up by its first three letters alone
//     (and no word is a prefix of another);
//   - words that sound alike (homophones, rhymes that differ only in a
//     voiced/unvoiced or nasal first consonant such as b/p, d/t, m/n, f/v,
//     s/z) are avoided, as are words whose first letters are easily
//     misspelled from hearing them (soft c, soft g, silent letters);
//   - the list is sorted alphabetically, so the word for byte value b is the
//     b-th word of the printed list and a word can be looked up by hand.
//
// The list is fixed forever. Printed ceremony records must stay comparable
// with what this package produces years later, so no word may ever be
// changed, added, removed or reordered. The tests pin a SHA-256 of the list
// to enforce this.
package words

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// List is the fixed word list: List[b] is the word for byte value b.
//
// The words are sorted, so the index of a word is also its position in
// alphabetical order. The list must never change; see the package
// documentation.
var List = [256]string{
	"acorn", "album", "almond", "anchor", "antler", "apple", "apron", "arrow", // 0x00–0x07
	"atlas", "attic", "bacon", "bamboo", "banjo", "barn", "basket", "beetle", // 0x08–0x0f
	"bench", "bicycle", "blanket", "blossom", "bottle", "bridge", "brush", "bucket", // 0x10–0x17
	"buffalo", "bulb", "butter", "cabin", "cactus", "camel", "candle", "carpet", // 0x18–0x1f
	"castle", "chair", "cherry", "chicken", "church", "cliff", "clock", "cobra", // 0x20–0x27
	"coffee", "comet", "cookie", "copper", "cowboy", "crane", "crown", "cupcake", // 0x28–0x2f
	"curtain", "daisy", "denim", "desk", "diamond", "dinner", "doctor", "dolphin", // 0x30–0x37
	"domino", "donkey", "dragon", "drum", "eagle", "earth", "echo", "elbow", // 0x38–0x3f
	"ember", "emerald", "engine", "eraser", "falcon", "farmer", "feather", "fence", // 0x40–0x47
	"field", "finger", "flame", "flute", "folder", "forest", "fossil", "frog", // 0x48–0x4f
	"fruit", "galaxy", "garden", "gecko", "gift", "globe", "glue", "goat", // 0x50–0x57
	"gold", "grape", "guitar", "gull", "hammer", "hand", "hawk", "hedge", // 0x58–0x5f
	"helmet", "hippo", "hockey", "honey", "hornet", "hotel", "house", "igloo", // 0x60–0x67
	"index", "insect", "iron", "ivory", "jacket", "jelly", "jigsaw", "joker", // 0x68–0x6f
	"journal", "judge", "juice", "jungle", "kayak", "kettle", "kitchen", "kiwi", // 0x70–0x77
	"koala", "ladder", "lake", "lamp", "laptop", "leaf", "lemon", "lilac", // 0x78–0x7f
	"lion", "lizard", "lobster", "lunch", "machine", "magnet", "mailbox", "mango", // 0x80–0x87
	"maple", "meadow", "mermaid", "mirror", "mitten", "moon", "muffin", "museum", // 0x88–0x8f
	"napkin", "needle", "nest", "north", "novel", "nutmeg", "oatmeal", "ocean", // 0x90–0x97
	"octopus", "olive", "onion", "orange", "orbit", "oven", "oyster", "palace", // 0x98–0x9f
	"panda", "parrot", "peach", "pebble", "pencil", "pepper", "piano", "picnic", // 0xa0–0xa7
	"pillow", "pirate", "pizza", "planet", "popcorn", "potato", "pumpkin", "puzzle", // 0xa8–0xaf
	"queen", "quill", "rabbit", "radio", "rainbow", "raven", "razor", "ribbon", // 0xb0–0xb7
	"river", "robot", "rooster", "rugby", "safari", "salad", "scarf", "shadow", // 0xb8–0xbf
	"shell", "shovel", "shrimp", "silver", "siren", "sketch", "skunk", "smoke", // 0xc0–0xc7
	"snail", "snow", "soap", "sofa", "spider", "spoon", "square", "stamp", // 0xc8–0xcf
	"stone", "straw", "sugar", "summit", "sunset", "sweater", "taco", "target", // 0xd0–0xd7
	"teacup", "temple", "tennis", "thread", "thumb", "ticket", "tiger", "toast", // 0xd8–0xdf
	"torch", "towel", "truck", "tulip", "tunnel", "turkey", "umpire", "uncle", // 0xe0–0xe7
	"unicorn", "valley", "vanilla", "velvet", "video", "village", "violin", "volcano", // 0xe8–0xef
	"vulture", "waffle", "wagon", "walnut", "watch", "wheat", "whistle", "window", // 0xf0–0xf7
	"wolf", "wombat", "yard", "yeast", "yoga", "zebra", "zigzag", "zipper", // 0xf8–0xff
}

// prefixLen is the number of leading letters that identify a word in [List].
const prefixLen = 3

// byPrefix maps the first [prefixLen] letters of every word in [List] to its
// byte value.
var byPrefix = func() map[string]byte {
	m := make(map[string]byte, len(List))
	for i, w := range List {
		m[w[:prefixLen]] = byte(i)
	}
	return m
}()

// Encode returns one word per byte of b: the i-th word is List[b[i]].
// It returns an empty, non-nil slice for empty input.
func Encode(b []byte) []string {
	ws := make([]string, len(b))
	for i, c := range b {
		ws[i] = List[c]
	}
	return ws
}

// FromHex returns the words for a hex string (e.g. a SHA-256 digest), one
// word per pair of hex digits. Upper- and lower-case digits are accepted;
// nothing else is, not even spaces or separators.
//
// The error for a character that is not a hex digit names its position,
// counting from 1. The error for a string of odd length names the unpaired
// last character.
func FromHex(h string) ([]string, error) {
	for i := 0; i < len(h); i++ {
		if _, ok := fromHexChar(h[i]); !ok {
			r, _ := utf8.DecodeRuneInString(h[i:])
			return nil, fmt.Errorf("words: character %d (%q) of hex string is not a hex digit", i+1, r)
		}
	}
	if len(h)%2 != 0 {
		return nil, fmt.Errorf("words: hex string has odd length %d: character %d has no partner", len(h), len(h))
	}
	ws := make([]string, len(h)/2)
	for i := range ws {
		hi, _ := fromHexChar(h[2*i])
		lo, _ := fromHexChar(h[2*i+1])
		ws[i] = List[hi<<4|lo]
	}
	return ws, nil
}

// fromHexChar returns the value of the hex digit c.
func fromHexChar(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// Lines formats words in numbered groups for printing and reading aloud,
// n words per line. The layout is stable and is part of the printed record:
//
//   - each line starts with the 1-based position of its first word,
//     right-aligned to the width of the largest such number, followed by
//     two spaces;
//   - the words follow, separated by one space and left-aligned in columns
//     as wide as the longest word given, so that the lines line up;
//   - lines have no trailing spaces and no newline.
//
// For the 32 words of a SHA-256 digest and n = 8 this gives four lines
// (here for the digest whose bytes are 0x00, 0x01, …, 0x1f):
//
//	 1  acorn   album   almond  anchor  antler  apple   apron   arrow
//	 9  atlas   attic   bacon   bamboo  banjo   barn    basket  beetle
//	17  …
//	25  …
//
// If n < 1 all words are put on one line. Lines returns nil for no words.
func Lines(words []string, n int) []string {
	if len(words) == 0 {
		return nil
	}
	if n < 1 || n > len(words) {
		n = len(words)
	}
	width := 0
	for _, w := range words {
		width = max(width, utf8.RuneCountInString(w))
	}
	numWidth := len(strconv.Itoa((len(words)-1)/n*n + 1))

	lines := make([]string, 0, (len(words)+n-1)/n)
	for start := 0; start < len(words); start += n {
		group := words[start:min(start+n, len(words))]
		var b strings.Builder
		fmt.Fprintf(&b, "%*d ", numWidth, start+1)
		for i, w := range group {
			b.WriteByte(' ')
			if i < len(group)-1 {
				fmt.Fprintf(&b, "%-*s", width, w)
			} else {
				b.WriteString(w)
			}
		}
		lines = append(lines, b.String())
	}
	return lines
}

// Decode maps words back to bytes; it is the inverse of [Encode] and is
// meant for a witness typing back the words that were read aloud.
//
// Each word may be given in full or shortened to any prefix of at least its
// first three letters ("anc", "anch" and "anchor" all mean "anchor"). Letters
// are matched without regard to case (ASCII only) and surrounding white
// space is ignored. The error for a word that is not in [List] names its
// position, counting from 1, and the word as given.
func Decode(ws []string) ([]byte, error) {
	b := make([]byte, len(ws))
	for i, w := range ws {
		c, ok := lookup(w)
		if !ok {
			return nil, fmt.Errorf("words: word %d (%q) is not in the word list", i+1, w)
		}
		b[i] = c
	}
	return b, nil
}

// lookup returns the byte value of w, a word of [List] or a prefix of one
// that is at least [prefixLen] letters long, in any letter case.
func lookup(w string) (byte, bool) {
	w = strings.TrimSpace(w)
	if len(w) < prefixLen {
		return 0, false
	}
	// Fold ASCII upper case only. Anything else that is not a-z, such as
	// the Kelvin sign that strings.ToLower would turn into "k", then fails
	// the prefix check below.
	lw := make([]byte, len(w))
	for i := 0; i < len(w); i++ {
		c := w[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lw[i] = c
	}
	c, ok := byPrefix[string(lw[:prefixLen])]
	if !ok || !strings.HasPrefix(List[c], string(lw)) {
		return 0, false
	}
	return c, true
}
