package words

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// listSHA256 is the SHA-256 of the word list joined with "\n".
//
// DO NOT UPDATE THIS CONSTANT. The word list is fixed forever: printed
// ceremony records must stay comparable with what this package prints,
// so a change to List is a bug, not something to be re-pinned.
const listSHA256 = "0530a6565e96dd1be0a795e702d744309284821ceb2014e1b925150082c74191"

func TestListPinned(t *testing.T) {
	sum := sha256.Sum256([]byte(strings.Join(List[:], "\n")))
	if got := hex.EncodeToString(sum[:]); got != listSHA256 {
		t.Fatalf("SHA-256 of the word list is %s, want %s.\n"+
			"The word list is fixed forever: old printed ceremony records must stay "+
			"comparable with the words printed today. Revert the change to List; "+
			"do not update the pinned hash.", got, listSHA256)
	}
}

func TestListShape(t *testing.T) {
	if len(List) != 256 {
		t.Fatalf("len(List) = %d, want 256", len(List))
	}
	seen := make(map[string]int)
	prefixes := make(map[string]int)
	for i, w := range List {
		if len(w) < 4 || len(w) > 7 {
			t.Errorf("List[%#02x] = %q has %d letters, want 4 to 7", i, w, len(w))
		}
		for _, c := range []byte(w) {
			if c < 'a' || c > 'z' {
				t.Errorf("List[%#02x] = %q contains %q, want only a-z", i, w, c)
				break
			}
		}
		if j, ok := seen[w]; ok {
			t.Errorf("List[%#02x] = %q duplicates List[%#02x]", i, w, j)
		}
		seen[w] = i
		if len(w) >= prefixLen {
			p := w[:prefixLen]
			if j, ok := prefixes[p]; ok {
				t.Errorf("List[%#02x] = %q and List[%#02x] = %q share the prefix %q", j, List[j], i, w, p)
			}
			prefixes[p] = i
		}
		if i > 0 && List[i-1] >= w {
			t.Errorf("List is not sorted: List[%#02x] = %q, List[%#02x] = %q", i-1, List[i-1], i, w)
		}
	}
	for i, a := range List {
		for j, b := range List {
			if i != j && strings.HasPrefix(b, a) {
				t.Errorf("List[%#02x] = %q is a prefix of List[%#02x] = %q", i, a, j, b)
			}
		}
	}
}

func TestEncodeDecodeAllBytes(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	ws := Encode(all)
	if len(ws) != 256 {
		t.Fatalf("len(Encode(all)) = %d, want 256", len(ws))
	}
	for i, w := range ws {
		if w != List[i] {
			t.Errorf("Encode: byte %#02x -> %q, want %q", i, w, List[i])
		}
	}
	got, err := Decode(ws)
	if err != nil {
		t.Fatalf("Decode(Encode(all)): %v", err)
	}
	if !slices.Equal(got, all) {
		t.Fatalf("Decode(Encode(all)) = %x, want %x", got, all)
	}
}

func TestEncodeEmpty(t *testing.T) {
	if ws := Encode(nil); ws == nil || len(ws) != 0 {
		t.Errorf("Encode(nil) = %#v, want empty non-nil slice", ws)
	}
}

func TestFromHexDigest(t *testing.T) {
	sum := sha256.Sum256([]byte("abc"))
	h := hex.EncodeToString(sum[:])
	want := make([]string, len(sum))
	for i, c := range sum {
		want[i] = List[c]
	}
	for _, in := range []string{h, strings.ToUpper(h)} {
		got, err := FromHex(in)
		if err != nil {
			t.Fatalf("FromHex(%q): %v", in, err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("FromHex(%q) = %v, want %v", in, got, want)
		}
	}
}

// TestFromHexPinned pins the mapping from byte values to words with
// hard-coded words, independently of List.
func TestFromHexPinned(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"00ff10", []string{"acorn", "zipper", "bench"}},
		{"7F80", []string{"lilac", "lion"}},
		{"", []string{}},
	} {
		got, err := FromHex(tc.in)
		if err != nil {
			t.Errorf("FromHex(%q): %v", tc.in, err)
			continue
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("FromHex(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFromHexErrors(t *testing.T) {
	for _, tc := range []struct {
		in      string
		wantErr string
	}{
		{"0", "odd length 1: character 1 has no partner"},
		{"00ff1", "odd length 5: character 5 has no partner"},
		{"0g", `character 2 ('g') of hex string is not a hex digit`},
		{"00 ff", `character 3 (' ') of hex string is not a hex digit`},
		{"ab:cd", `character 3 (':') of hex string is not a hex digit`},
		{"abcdé0", `character 5 ('é') of hex string is not a hex digit`},
		{"0x00", `character 2 ('x') of hex string is not a hex digit`},
	} {
		got, err := FromHex(tc.in)
		if err == nil {
			t.Errorf("FromHex(%q) = %v, want error", tc.in, got)
			continue
		}
		if !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("FromHex(%q) error = %q, want it to contain %q", tc.in, err, tc.wantErr)
		}
	}
}

func TestDecodePrefixes(t *testing.T) {
	in := []string{"acorn", "ZIP", "Ben", "anch", " lion ", "LiLaC", "zipper"}
	want := []byte{0x00, 0xff, 0x10, 0x03, 0x80, 0x7f, 0xff}
	got, err := Decode(in)
	if err != nil {
		t.Fatalf("Decode(%q): %v", in, err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Decode(%q) = %x, want %x", in, got, want)
	}

	// Every 3-letter prefix, in upper case too, decodes to its byte.
	for i, w := range List {
		for _, p := range []string{w[:3], strings.ToUpper(w[:3]), w[:4]} {
			got, err := Decode([]string{p})
			if err != nil || len(got) != 1 || got[0] != byte(i) {
				t.Errorf("Decode(%q) = %x, %v, want %02x", p, got, err, i)
			}
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		in      []string
		wantErr string
	}{
		{[]string{"acorn", "xylophone"}, `word 2 ("xylophone") is not in the word list`},
		{[]string{"ac"}, `word 1 ("ac") is not in the word list`},
		{[]string{""}, `word 1 ("") is not in the word list`},
		{[]string{"acorn", "zip", "anchors"}, `word 3 ("anchors") is not in the word list`},
		{[]string{"ancient"}, `word 1 ("ancient") is not in the word list`},
		{[]string{"acorn", "app le"}, `word 2 ("app le") is not in the word list`},
		{[]string{"\u212aiwi"}, "word 1 (\"\u212aiwi\") is not in the word list"}, // Kelvin sign, not K
	} {
		got, err := Decode(tc.in)
		if err == nil {
			t.Errorf("Decode(%q) = %x, want error", tc.in, got)
			continue
		}
		if !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("Decode(%q) error = %q, want it to contain %q", tc.in, err, tc.wantErr)
		}
	}
}

func TestLines(t *testing.T) {
	digest := make([]byte, 32)
	for i := range digest {
		digest[i] = byte(i)
	}
	got := Lines(Encode(digest), 8)
	want := []string{
		" 1  acorn   album   almond  anchor  antler  apple   apron   arrow",
		" 9  atlas   attic   bacon   bamboo  banjo   barn    basket  beetle",
		"17  bench   bicycle blanket blossom bottle  bridge  brush   bucket",
		"25  buffalo bulb    butter  cabin   cactus  camel   candle  carpet",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Lines(32 words, 8) =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	for _, tc := range []struct {
		words []string
		n     int
		want  []string
	}{
		{nil, 8, nil},
		{[]string{"acorn", "zipper", "bench"}, 2, []string{"1  acorn  zipper", "3  bench"}},
		{[]string{"acorn", "zipper", "bench"}, 0, []string{"1  acorn  zipper bench"}},
		{[]string{"acorn", "zipper", "bench"}, 10, []string{"1  acorn  zipper bench"}},
		{Encode(make([]byte, 11)), 1, func() []string {
			var l []string
			for i := 1; i <= 11; i++ {
				l = append(l, fmt.Sprintf("%2d  acorn", i))
			}
			return l
		}()},
	} {
		if got := Lines(tc.words, tc.n); !slices.Equal(got, tc.want) {
			t.Errorf("Lines(%q, %d) = %q, want %q", tc.words, tc.n, got, tc.want)
		}
	}
}
