package qrframe_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/devicepki/ceremony/ceremony/bundle"
	"github.com/devicepki/ceremony/ceremony/qrframe"
)

func feed(t *testing.T, a *qrframe.Assembler, lines []string) []error {
	t.Helper()
	var errs []error
	for i, l := range lines {
		if _, _, err := a.Add(l, fmt.Sprintf("line %d", i+1)); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

func TestAssembleAnyOrderWithRepeats(t *testing.T) {
	packed := randomBundle(21, 5000)
	lines := texts(t, packed, 300)
	r := rand.New(rand.NewPCG(4, 4))
	shuffled := append([]string(nil), lines...)
	shuffled = append(shuffled, lines[3], lines[0], "", "   ")
	r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	a := qrframe.NewAssembler("")
	if errs := feed(t, a, shuffled); len(errs) > 0 {
		t.Fatal(errs)
	}
	set, data, err := a.Result()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, packed) || set.Total != len(lines) || set.Progress() != fmt.Sprintf("%d of %d frames", len(lines), len(lines)) {
		t.Fatalf("reassembled %d bytes (want %d), progress %q", len(data), len(packed), set.Progress())
	}
}

func TestOutcomes(t *testing.T) {
	lines := texts(t, randomBundle(1, 100), 40)
	a := qrframe.NewAssembler("")
	for _, c := range []struct {
		line string
		want qrframe.Outcome
	}{
		{lines[0], qrframe.Added},
		{lines[0], qrframe.Repeated},
		{"", qrframe.Blank},
		{"garbage", qrframe.Rejected},
		{lines[1], qrframe.Added},
	} {
		got, _, _ := a.Add(c.line, "x")
		if got != c.want {
			t.Fatalf("Add(%.20q) = %v, want %v", c.line, got, c.want)
		}
	}
}

func TestMissingFramesAreNamed(t *testing.T) {
	lines := texts(t, randomBundle(2, 17*50), 50)
	a := qrframe.NewAssembler("")
	for i, l := range lines {
		if i == 3 || i == 8 || i == 12 {
			continue
		}
		if _, set, err := a.Add(l, "x"); err != nil || set == nil {
			t.Fatal(err)
		}
	}
	s := a.Sets()[0]
	if got := s.Progress(); got != "14 of 17 frames, missing 4, 9, 13" {
		t.Fatalf("progress %q", got)
	}
	_, data, err := a.Result()
	if err == nil || data != nil || !strings.Contains(err.Error(), "missing 4, 9, 13") || !strings.Contains(err.Error(), "nothing is written") {
		t.Fatalf("incomplete result: %v", err)
	}
}

func TestNumberListIsShort(t *testing.T) {
	ns := make([]int, 30)
	for i := range ns {
		ns[i] = i + 1
	}
	if got := qrframe.NumberList(ns, 5); got != "1, 2, 3, 4, 5, and 25 more" {
		t.Fatal(got)
	}
}

func TestAlteredFrameIsNamedAndMissing(t *testing.T) {
	lines := texts(t, randomBundle(3, 400), 100)
	bad := []byte(lines[2])
	i := bytes.LastIndexByte(bad, '.') - 3
	if bad[i] == 'Q' {
		bad[i] = 'R'
	} else {
		bad[i] = 'Q'
	}
	in := append(append([]string(nil), lines[:2]...), string(bad), lines[3])
	a := qrframe.NewAssembler("")
	errs := feed(t, a, in)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "line 3: frame 3 of 4") {
		t.Fatalf("errors %v", errs)
	}
	if _, _, err := a.Result(); err == nil || !strings.Contains(err.Error(), "missing 3") {
		t.Fatalf("result %v", err)
	}
	// Scanned again, correctly: complete.
	feed(t, a, lines[2:3])
	if _, _, err := a.Result(); err != nil {
		t.Fatal(err)
	}
}

func TestMixedBundlesAreNeverSpliced(t *testing.T) {
	one := texts(t, randomBundle(30, 1000), 250)
	two := texts(t, randomBundle(31, 1000), 250)
	if len(one) != 4 || len(two) != 4 {
		t.Fatal("want 4 frames each")
	}
	// Frames 1-3 of one and frame 4 of two: same total, different
	// bundles: incomplete, never spliced.
	a := qrframe.NewAssembler("")
	feed(t, a, []string{one[0], one[1], one[2], two[3], two[0]})
	if len(a.Sets()) != 2 {
		t.Fatalf("%d sets, want 2", len(a.Sets()))
	}
	_, _, err := a.Result()
	if err == nil || !strings.Contains(err.Error(), "missing 4") || !strings.Contains(err.Error(), "missing 2, 3") {
		t.Fatalf("result %v", err)
	}
	// Completing one: it is chosen; the other is reported as another set.
	feed(t, a, []string{one[3]})
	set, data, err := a.Result()
	if err != nil {
		t.Fatal(err)
	}
	if set.ID() == "" || len(a.Others(set)) != 1 || len(data) != 1000 {
		t.Fatalf("set %s others %d", set.ID(), len(a.Others(set)))
	}
	// Both complete: the importer must choose.
	feed(t, a, two[1:3])
	if _, _, err := a.Result(); err == nil || !strings.Contains(err.Error(), "--bundle") {
		t.Fatalf("two complete bundles: %v", err)
	}
	want := qrframe.NewAssembler(two[0][5:13])
	errs := feed(t, want, append(append([]string(nil), one...), two...))
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	set, _, err = want.Result()
	if err != nil || set.ID() != two[0][5:13] || want.IgnoredCounts()[one[0][5:13]] != 4 {
		t.Fatalf("want two: %v %v", err, want.IgnoredCounts())
	}
}

func TestTwoCutsOfOneBundleAreKeptApart(t *testing.T) {
	packed := randomBundle(40, 1000)
	coarse := texts(t, packed, 500) // 2 frames of 500
	fine := texts(t, packed, 400)   // 3 frames of 334/334/332
	a := qrframe.NewAssembler("")
	feed(t, a, []string{coarse[0], fine[1], fine[2]})
	if len(a.Sets()) != 2 {
		t.Fatalf("%d sets", len(a.Sets()))
	}
	if _, _, err := a.Result(); err == nil {
		t.Fatal("spliced two cuts")
	}
	feed(t, a, []string{fine[0], coarse[1]})
	set, data, err := a.Result()
	if err != nil || !bytes.Equal(data, packed) {
		t.Fatalf("both cuts complete: %v", err)
	}
	_ = set
}

func TestConflictingFramesAreReported(t *testing.T) {
	packed := randomBundle(50, 100)
	frames, _ := qrframe.Split(packed, 50)
	forged := frames[0]
	forged.Payload = append([]byte(nil), forged.Payload...)
	forged.Payload[0] ^= 1
	a := qrframe.NewAssembler("")
	errs := feed(t, a, []string{frames[0].String(), forged.String(), frames[1].String()})
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "arrived twice with different content") {
		t.Fatalf("errors %v", errs)
	}
	if _, _, err := a.Result(); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("result %v", err)
	}
}

func TestForgedFramesFailTheDigest(t *testing.T) {
	// Every frame passes its own check, but one payload was replaced by a
	// forger who recomputed the check: the bundle digest catches it.
	packed := randomBundle(60, 100)
	frames, _ := qrframe.Split(packed, 50)
	frames[1].Payload = append([]byte(nil), frames[1].Payload...)
	frames[1].Payload[7] ^= 0x80
	a := qrframe.NewAssembler("")
	if errs := feed(t, a, []string{frames[0].String(), frames[1].String()}); len(errs) > 0 {
		t.Fatal(errs)
	}
	if _, data, err := a.Result(); err == nil || data != nil || !strings.Contains(err.Error(), "SHA-256") {
		t.Fatalf("result %v", err)
	}
}

func TestLengthMismatchInACut(t *testing.T) {
	packed := randomBundle(70, 300)
	frames, _ := qrframe.Split(packed, 100)
	odd := frames[1]
	odd.Payload = odd.Payload[:99]
	a := qrframe.NewAssembler("")
	errs := feed(t, a, []string{frames[0].String(), odd.String()})
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "not all from one export") {
		t.Fatalf("errors %v", errs)
	}
}

func TestNoFrames(t *testing.T) {
	a := qrframe.NewAssembler("")
	feed(t, a, []string{"", "hello"})
	if _, _, err := a.Result(); err != qrframe.ErrNoFrames {
		t.Fatalf("%v", err)
	}
	b := qrframe.NewAssembler("ZZZZZZZZ")
	feed(t, b, texts(t, randomBundle(1, 10), 16))
	if _, _, err := b.Result(); err == nil || !strings.Contains(err.Error(), "no frame of bundle ZZZZZZZZ") {
		t.Fatalf("%v", err)
	}
}

// FuzzParse: Parse never panics, and whatever it accepts prints back to
// the canonical text, which parses to the same frame.
func FuzzParse(f *testing.F) {
	for _, s := range texts(f, randomBundle(80, 120), 50) {
		f.Add(s)
	}
	f.Add("QR-Code:" + texts(f, randomBundle(81, 20), 16)[0])
	f.Add("CQR1.AAAAAAAA.1-1." + strings.Repeat("A", 52) + ".AA.00000000")
	f.Add("")
	f.Fuzz(func(t *testing.T, line string) {
		fr, err := qrframe.Parse(line)
		if err != nil {
			return
		}
		if fr.Index < 1 || fr.Index > fr.Total || fr.Total > qrframe.MaxFrames || len(fr.Payload) == 0 {
			t.Fatalf("accepted a bad frame %+v", fr)
		}
		back, err := qrframe.Parse(fr.String())
		if err != nil || back.Digest != fr.Digest || back.Index != fr.Index || !bytes.Equal(back.Payload, fr.Payload) {
			t.Fatalf("round trip of an accepted frame: %v", err)
		}
	})
}

// FuzzAssemble: whatever lines arrive, the Assembler never panics and
// never returns data that does not match the digest its frames carry.
func FuzzAssemble(f *testing.F) {
	lines := texts(f, randomBundle(90, 200), 60)
	f.Add(strings.Join(lines, "\n"))
	f.Add(strings.Join([]string{lines[2], lines[0], lines[0], "x", lines[1], lines[3]}, "\n"))
	// Frames Split never makes (slices under MinFrameBytes, 1 byte in
	// the last), which the assembler takes all the same.
	f.Add(strings.Join(cut(randomBundle(91, 25), 3), "\n"))
	f.Add(strings.Join(cut(randomBundle(92, 1), 1), "\n"))
	f.Fuzz(func(t *testing.T, input string) {
		a := qrframe.NewAssembler("")
		var taken []qrframe.Frame // the frames the assembler took
		for i, l := range strings.Split(input, "\n") {
			if o, _, _ := a.Add(l, fmt.Sprint(i)); o == qrframe.Added || o == qrframe.Repeated {
				fr, err := qrframe.Parse(l)
				if err != nil {
					t.Fatalf("line %d taken, but it does not parse: %v", i, err)
				}
				taken = append(taken, fr)
			}
		}
		set, data, err := a.Result()
		if err != nil {
			return
		}
		if set == nil || len(data) == 0 || !set.Complete() {
			t.Fatal("no error, but no data or an incomplete set")
		}
		// Always: the data is what the set's digest names, computed here
		// from the data alone.
		if sha256.Sum256(data) != [sha256.Size]byte(set.Digest) {
			t.Fatalf("%d bytes whose SHA-256 is not bundle %s's", len(data), set.ID())
		}
		// And it is the set's frames' payloads, in order: every frame of
		// the set that the assembler took is its slice of the data.
		size := -1
		for _, fr := range taken {
			if fr.Digest == set.Digest && fr.Total == set.Total && fr.Index == 1 && fr.Total > 1 {
				size = len(fr.Payload)
			}
		}
		for _, fr := range taken {
			if fr.Digest != set.Digest || fr.Total != set.Total {
				continue
			}
			lo := 0
			if fr.Index > 1 {
				lo = (fr.Index - 1) * size
			}
			if size < 0 && fr.Total > 1 || lo+len(fr.Payload) > len(data) || !bytes.Equal(data[lo:lo+len(fr.Payload)], fr.Payload) ||
				fr.Index == fr.Total && lo+len(fr.Payload) != len(data) {
				t.Fatalf("frame %d of %d is not its slice of the %d bytes", fr.Index, fr.Total, len(data))
			}
		}
	})
}

// Frames with slices shorter than Split makes (a forger's, or another
// tool's) still reassemble into the bundle their digest names: the fuzz
// seeds above reach its checks.
func TestAssembleSmallFrames(t *testing.T) {
	for _, tc := range []struct{ n, frames int }{{25, 3}, {1, 1}, {40, 40}} {
		packed := randomBundle(uint64(tc.n), tc.n)
		a := qrframe.NewAssembler("")
		if errs := feed(t, a, cut(packed, tc.frames)); len(errs) > 0 {
			t.Fatal(errs)
		}
		set, data, err := a.Result()
		if err != nil || !bytes.Equal(data, packed) || set.Total != tc.frames {
			t.Fatalf("%d bytes in %d frames: %v, %d bytes", tc.n, tc.frames, err, len(data))
		}
	}
}

// cut makes the frame texts of packed in n slices of equal length but the
// last, of any length: what a forger who knows the format can write.
func cut(packed []byte, n int) []string {
	size := (len(packed) + n - 1) / n
	d := bundle.Of(packed)
	var out []string
	for i := 0; i < n; i++ {
		fr := qrframe.Frame{Digest: d, Index: i + 1, Total: n, Payload: packed[i*size : min((i+1)*size, len(packed))]}
		out = append(out, fr.String())
	}
	return out
}

// The length check does not depend on the order frames arrive in (the
// first one seen fixes the length).
func TestLengthMismatchAnyOrder(t *testing.T) {
	packed := randomBundle(71, 300)
	frames, _ := qrframe.Split(packed, 100)
	short := frames[1]
	short.Payload = short.Payload[:50]
	for i := 0; i < 20; i++ {
		a := qrframe.NewAssembler("")
		errs := feed(t, a, []string{frames[2].String(), frames[0].String(), short.String()})
		if len(errs) != 1 || !strings.Contains(errs[0].Error(), "frame 2 of 3 carries 50 bytes") {
			t.Fatalf("run %d: %v", i, errs)
		}
	}
}

// A scanned line with control characters in it never gets them into a
// message (they would reach the terminal).
func TestControlCharactersStayOut(t *testing.T) {
	a := qrframe.NewAssembler("")
	for _, line := range []string{
		"CQR1.\x1b[2J\x1b]0;pwned\a.1-1.X.Y.00000000",
		"CQR1.ABCDEFGH.1\x1b[2J-1.X.Y.00000000",
		"CQR1.ABCDEFGH.1-1.X.Y.0000000\x1b",
	} {
		_, _, err := a.Add(line, "line 1")
		if err == nil || strings.ContainsAny(err.Error(), "\x1b\a") {
			t.Fatalf("%q", err)
		}
	}
}
