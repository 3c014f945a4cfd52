package qrframe_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/devicepki/ceremony/ceremony/bundle"
	"github.com/devicepki/ceremony/ceremony/qrframe"
)

// randomBundle is n bytes that stand in for a packed bundle (frames do not
// look inside).
func randomBundle(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func texts(t testing.TB, packed []byte, frameBytes int) []string {
	t.Helper()
	frames, err := qrframe.Split(packed, frameBytes)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(frames))
	for i, f := range frames {
		out[i] = f.String()
	}
	return out
}

// alphanumeric is the QR alphanumeric character set.
var alphanumeric = regexp.MustCompile(`^[0-9A-Z $%*+\-./:]*$`)

func TestFrameTextIsAlphanumeric(t *testing.T) {
	for _, n := range []int{1, 15, 16, 17, 400, 1661, 5000} {
		for _, fb := range []int{16, 100, 640, 1660} {
			packed := randomBundle(uint64(n*fb), n)
			for _, s := range texts(t, packed, fb) {
				if !alphanumeric.MatchString(s) {
					t.Fatalf("frame %q is not QR alphanumeric", s)
				}
				total := (n + fb - 1) / fb
				if len(s) > qrframe.TextLen(fb, total) {
					t.Fatalf("frame text %d chars, TextLen says at most %d", len(s), qrframe.TextLen(fb, total))
				}
			}
		}
	}
}

func TestSplitShape(t *testing.T) {
	packed := randomBundle(7, 1000)
	frames, err := qrframe.Split(packed, 300)
	if err != nil {
		t.Fatal(err)
	}
	// 1000 bytes in at most 300 per frame: 4 frames of 250.
	if len(frames) != 4 {
		t.Fatalf("%d frames, want 4", len(frames))
	}
	var joined []byte
	for i, f := range frames {
		if f.Index != i+1 || f.Total != 4 || len(f.Payload) != 250 || f.Digest != bundle.Of(packed) {
			t.Fatalf("frame %d: index %d total %d payload %d", i, f.Index, f.Total, len(f.Payload))
		}
		joined = append(joined, f.Payload...)
	}
	if !bytes.Equal(joined, packed) {
		t.Fatal("frames do not join into the bundle")
	}
	s := frames[2].String()
	want := fmt.Sprintf("CQR1.%s.3-4.%s.", frames[2].ID(), bundle.Of(packed).Base32())
	if !strings.HasPrefix(s, want) {
		t.Fatalf("frame text %q does not start %q", s[:80], want)
	}
}

func TestSplitRefuses(t *testing.T) {
	if _, err := qrframe.Split(nil, 100); err == nil {
		t.Error("empty bundle split")
	}
	for _, fb := range []int{0, 15, 1661} {
		if _, err := qrframe.Split([]byte("x"), fb); err == nil {
			t.Errorf("frame size %d accepted", fb)
		}
	}
	if _, err := qrframe.Split(make([]byte, qrframe.MaxFrames*16+1), 16); err == nil {
		t.Error("more than MaxFrames frames")
	}
}

func TestParseRoundTrip(t *testing.T) {
	packed := randomBundle(3, 777)
	frames, _ := qrframe.Split(packed, 100)
	for _, f := range frames {
		s := f.String()
		for _, line := range []string{s, s + "\n", s + "\r\n", "  " + s, "QR-Code:" + s, strings.ToLower(s)} {
			got, err := qrframe.Parse(line)
			if err != nil {
				t.Fatalf("Parse(%.30q…): %v", line, err)
			}
			if got.Index != f.Index || got.Total != f.Total || got.Digest != f.Digest || !bytes.Equal(got.Payload, f.Payload) {
				t.Fatalf("Parse changed frame %d", f.Index)
			}
		}
	}
}

// TestEveryAlteredCharacterIsCaught changes each character of a frame to
// every other alphanumeric character: the frame's own check (or its
// syntax) must reject each one, and name the frame when its number
// survived.
func TestEveryAlteredCharacterIsCaught(t *testing.T) {
	packed := randomBundle(11, 200)
	frames, _ := qrframe.Split(packed, 64)
	s := frames[1].String()
	const set = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
	n := 0
	for i := 0; i < len(s); i++ {
		for _, c := range set {
			if byte(c) == s[i] {
				continue
			}
			bad := s[:i] + string(c) + s[i+1:]
			if strings.TrimSpace(bad) != bad || strings.ToUpper(bad) != bad {
				continue // whitespace at the ends is not part of a frame
			}
			_, err := qrframe.Parse(bad)
			if err == nil {
				t.Fatalf("character %d changed %q→%q: accepted", i, s[i], c)
			}
			n++
		}
	}
	if n < len(s)*40 {
		t.Fatalf("only %d alterations tried", n)
	}
	// One altered payload character names its frame.
	i := strings.LastIndexByte(s, '.') - 5
	bad := s[:i] + string("AB"[boolInt(s[i] == 'A')]) + s[i+1:]
	_, err := qrframe.Parse(bad)
	var pe *qrframe.ParseError
	if !errors.As(err, &pe) || pe.Index != 2 || pe.Total != frames[1].Total || !strings.Contains(err.Error(), "frame 2 of") || !strings.Contains(err.Error(), "check fails") {
		t.Fatalf("altered payload: %v", err)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestAdjacentSwapsAreCaught(t *testing.T) {
	packed := randomBundle(12, 300)
	frames, _ := qrframe.Split(packed, 150)
	s := frames[0].String()
	for i := 0; i+1 < len(s); i++ {
		if s[i] == s[i+1] {
			continue
		}
		b := []byte(s)
		b[i], b[i+1] = b[i+1], b[i]
		if _, err := qrframe.Parse(string(b)); err == nil {
			t.Fatalf("swap at %d accepted", i)
		}
	}
}

// forge builds a frame text with a valid check from its fields.
func forge(id, numbers, digest, payload string) string {
	return qrframe.WithCheck(fmt.Sprintf("%s.%s.%s.%s.%s.", qrframe.Tag, id, numbers, digest, payload))
}

func TestParseRefusesForgedFields(t *testing.T) {
	packed := randomBundle(5, 50)
	d := bundle.Of(packed)
	id, dig := d.ID(), d.Base32()
	good := forge(id, "1-1", dig, "MZXW6YQ")
	if _, err := qrframe.Parse(good); err != nil {
		t.Fatalf("well-formed forged frame: %v", err)
	}
	other := bundle.Of([]byte("other")).ID()
	cases := map[string]string{
		"id not the digest's":  forge(other, "1-1", dig, "MZXW6YQ"),
		"short id":             forge(id[:7], "1-1", dig, "MZXW6YQ"),
		"index 0":              forge(id, "0-1", dig, "MZXW6YQ"),
		"index past total":     forge(id, "3-2", dig, "MZXW6YQ"),
		"leading zero":         forge(id, "01-2", dig, "MZXW6YQ"),
		"total too large":      forge(id, "1-10000", dig, "MZXW6YQ"),
		"negative":             forge(id, "-1-2", dig, "MZXW6YQ"),
		"no slash":             forge(id, "12", dig, "MZXW6YQ"),
		"short digest":         forge(id, "1-1", dig[:51], "MZXW6YQ"),
		"empty payload":        forge(id, "1-1", dig, ""),
		"non-canonical base32": forge(id, "1-1", dig, "MZXW6YR"),
		"bad base32":           forge(id, "1-1", dig, "MZXW6Y1"),
		"padding":              forge(id, "1-1", dig, "MZXW6YQ="),
		"oversized payload":    forge(id, "1-1", dig, strings.Repeat("A", 2660)+"AA"),
	}
	for name, s := range cases {
		if _, err := qrframe.Parse(s); err == nil {
			t.Errorf("%s: accepted %.60q", name, s)
		}
	}
	for _, s := range []string{"", "hello", "CQR2.AAAA", "CQR1", "CQR1.", "CQR1.A.B.C.D.E.F.G", "CQR1:A:B:C:D:E", good + "X", good[:len(good)-1]} {
		if _, err := qrframe.Parse(s); err == nil {
			t.Errorf("accepted %q", s)
		}
	}
	if _, err := qrframe.Parse("https://example.com"); !errors.Is(err, qrframe.ErrNotFrame) {
		t.Errorf("a URL: %v, want ErrNotFrame", err)
	}
}

func TestTextLenMatches(t *testing.T) {
	for _, total := range []int{1, 9, 10, 99, 100, 9999} {
		n := 50
		want := qrframe.TextLen(n, total)
		packed := randomBundle(1, n*total)
		if total > 100 {
			continue // only the formula's own cases; splitting 500 KB is pointless here
		}
		frames, err := qrframe.Split(packed, n)
		if err != nil {
			t.Fatal(err)
		}
		last := frames[len(frames)-1].String()
		if len(last) != want {
			t.Fatalf("total %d: frame %d text is %d chars, TextLen says %d", total, total, len(last), want)
		}
	}
}
