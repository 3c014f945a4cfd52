package shares

import (
	"bytes"
	"crypto/rand"
	mathrand "math/rand/v2"
	"strings"
	"testing"

	"github.com/hashicorp/vault/shamir"

	"github.com/devicepki/ceremony/ceremony/secret"
)

// subsets calls f with every subset of k of the n indices 0..n-1.
func subsets(n, k int, f func([]int)) {
	var rec func(start int, cur []int)
	rec = func(start int, cur []int) {
		if len(cur) == k {
			f(cur)
			return
		}
		for i := start; i < n; i++ {
			rec(i+1, append(cur, i))
		}
	}
	rec(0, nil)
}

func pick(ss []*Share, idx []int) []*Share {
	out := make([]*Share, len(idx))
	for i, j := range idx {
		out[i] = ss[j]
	}
	return out
}

// reparse returns the shares parsed back from their text (even i) or
// compact (odd i) forms.
func reparse(t *testing.T, ss []*Share) []*Share {
	t.Helper()
	out := make([]*Share, len(ss))
	for i, s := range ss {
		in := s.Text()
		if i%2 == 1 {
			in = s.Compact()
		}
		p, err := Parse(in.Bytes())
		if err != nil {
			t.Fatalf("Parse(%s): %v", s.Describe(), err)
		}
		out[i] = p
	}
	return out
}

func combineOK(t *testing.T, ss []*Share, man *Manifest, sec *secret.Secret) {
	t.Helper()
	got, err := Combine(ss, man)
	if err != nil {
		t.Fatalf("Combine(%d shares): %v", len(ss), err)
	}
	if !bytes.Equal(got.Bytes(), sec.Bytes()) {
		t.Fatalf("Combine(%d shares) returned a different secret", len(ss))
	}
	got.Wipe()
	if err := Check(ss, man); err != nil {
		t.Fatalf("Check(%d shares): %v", len(ss), err)
	}
}

func TestSplitCombine3of5(t *testing.T) {
	ss, man, sec := split(t, Backup, 3, 5, 32)
	parsed := reparse(t, ss)
	if err := man.Check(); err != nil {
		t.Fatal(err)
	}
	if man.Threshold != 3 || man.Count != 5 || man.SecretLen != 32 || man.Purpose != "backup" || len(man.ShareHashes) != 5 {
		t.Fatalf("manifest %+v", man)
	}
	for i, s := range ss {
		if s.Index != i+1 || s.Threshold != 3 || s.Count != 5 || s.Purpose != Backup || s.Split.String() != man.Split {
			t.Fatalf("share %d: %s", i+1, s.Describe())
		}
		if s.Hash() != man.ShareHashes[i] {
			t.Fatalf("share %d: hash differs from the manifest", i+1)
		}
		if err := man.CheckShare(s); err != nil {
			t.Fatal(err)
		}
	}
	for k := 3; k <= 5; k++ {
		n := 0
		subsets(5, k, func(idx []int) {
			n++
			combineOK(t, pick(ss, idx), man, sec)
			combineOK(t, pick(parsed, idx), man, sec)
			// In any order.
			rev := pick(parsed, idx)
			for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
				rev[i], rev[j] = rev[j], rev[i]
			}
			combineOK(t, rev, man, sec)
		})
		if want := map[int]int{3: 10, 4: 5, 5: 1}[k]; n != want {
			t.Fatalf("%d subsets of %d, want %d", n, k, want)
		}
	}
}

func TestSplitCombineOtherQuorums(t *testing.T) {
	r := mathrand.New(mathrand.NewPCG(7, 8))
	for _, c := range []struct{ m, n, secLen int }{
		{2, 2, 32}, {5, 5, 32}, {16, 20, 32}, {2, 3, 1}, {3, 5, 64}, {2, 255, 16},
	} {
		for _, p := range []Purpose{Activation, Backup} {
			ss, man, sec := split(t, p, c.m, c.n, c.secLen)
			if man.Purpose != p.String() {
				t.Fatalf("manifest purpose %q", man.Purpose)
			}
			combineOK(t, ss, man, sec)
			combineOK(t, reparse(t, ss), man, sec)
			for range 3 {
				idx := r.Perm(c.n)[:c.m]
				combineOK(t, reparse(t, pick(ss, idx)), man, sec)
			}
		}
	}
}

// TestSplit255 checks the largest quorum, 255 of 255.
func TestSplit255(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: vault/shamir combines 255 shares in about 0.1 s")
	}
	ss, man, sec := split(t, Activation, 255, 255, 32)
	if ss[254].Index != 255 || ss[254].Describe() != "activation share 255 of 255 (255 needed), split "+man.Split {
		t.Fatalf("last share: %s", ss[254].Describe())
	}
	parsed := reparse(t, ss)
	got, err := Combine(parsed, man)
	if err != nil || !bytes.Equal(got.Bytes(), sec.Bytes()) {
		t.Fatalf("Combine(255 of 255): %v", err)
	}
	_, err = Combine(parsed[1:], man)
	wantErr(t, err, "254 shares given; 255 of 255 are needed")
}

func TestSplitRejects(t *testing.T) {
	sec := randomSecret(t, 32)
	for _, c := range []struct {
		name   string
		sec    *secret.Secret
		p      Purpose
		m, n   int
		substr string
	}{
		{"M = 1", sec, Backup, 1, 5, "at least 2"},
		{"M > N", sec, Backup, 4, 3, "more shares needed than exist"},
		{"N = 256", sec, Backup, 3, 256, "at most 255"},
		{"purpose", sec, Purpose('C'), 3, 5, "unknown purpose"},
		{"empty secret", secret.New(nil), Backup, 3, 5, "0-byte secret"},
		{"nil secret", nil, Backup, 3, 5, "0-byte secret"},
		{"65 bytes", randomSecret(t, 65), Backup, 3, 5, "65-byte secret"},
	} {
		ss, man, err := Split(rand.Reader, c.sec, c.p, c.m, c.n)
		if ss != nil || man != nil {
			t.Errorf("%s: returned shares", c.name)
		}
		wantErr(t, err, c.substr)
	}
	_, _, err := Split(bytes.NewReader(make([]byte, 6)), sec, Backup, 3, 5)
	wantErr(t, err, "zeros")
	// The split id comes from the given reader.
	ss, man, err := Split(bytes.NewReader([]byte{9, 8, 7, 6, 5, 4}), sec, Backup, 3, 5)
	if err != nil || ss[0].Split != (SplitID{9, 8, 7, 6, 5, 4}) || man.Split != ss[0].Split.String() {
		t.Fatalf("split id: %v %v", ss, err)
	}
	// Two splits of the same secret differ in everything but the secret.
	ss2, man2, _ := Split(rand.Reader, sec, Backup, 3, 5)
	if man2.Split == man.Split || man2.Commitment == man.Commitment || man2.ShareHashes[0] == man.ShareHashes[0] {
		t.Fatalf("two splits share an id, commitment or hash")
	}
	_ = ss2
}

// altered returns a copy of s whose value has one bit flipped; its text has
// valid checksums.
func altered(t *testing.T, s *Share, byteIndex int) *Share {
	t.Helper()
	v := bytes.Clone(s.Value.Bytes())
	v[byteIndex] ^= 0x10
	c := *s
	c.Value = secret.New(v)
	p, err := Parse(c.Text().Bytes())
	if err != nil {
		t.Fatalf("altered share does not parse: %v", err)
	}
	return p
}

// with returns a copy of s changed by edit.
func with(s *Share, edit func(*Share)) *Share {
	c := *s
	c.Value = secret.New(s.Value.Bytes())
	edit(&c)
	return &c
}

func TestCombineRejects(t *testing.T) {
	ss, man, _ := split(t, Backup, 3, 5, 32)
	other, otherMan, _ := split(t, Backup, 3, 5, 32)
	act, _, _ := split(t, Activation, 3, 5, 32)
	short, _, _ := split(t, Backup, 3, 5, 16)

	// A manifest whose hash for share 2 is that of an altered share 2:
	// the shares pass, the commitment catches the secret.
	alt2 := altered(t, ss[1], 3)
	forged := *man
	forged.ShareHashes = append([]string(nil), man.ShareHashes...)
	forged.ShareHashes[1] = alt2.Hash()
	badCommit := *man
	badCommit.Commitment = strings.Repeat("ab", 32)
	bad := *man
	bad.Threshold = 1

	all := append(append(append(append([]*Share(nil), ss...), other...), act...), short...)
	for _, c := range []struct {
		name   string
		shares []*Share
		man    *Manifest
		subs   []string
	}{
		{"no manifest", ss[:3], nil, []string{"no manifest"}},
		{"bad manifest", ss[:3], &bad, []string{"manifest", "at least 2"}},
		{"no shares", nil, man, []string{"0 shares given; 3 of 5 are needed"}},
		{"one share", ss[:1], man, []string{"1 share given; 3 of 5 are needed"}},
		{"below threshold", []*Share{ss[0], ss[3]}, man, []string{"2 shares given; 3 of 5 are needed"}},
		{"nil share", []*Share{ss[0], nil, ss[2]}, man, []string{"a share (the 2nd share given) is missing"}},
		{"foreign split", []*Share{ss[0], other[2], ss[3]}, man,
			[]string{"share 3 (the 2nd share given) belongs to split " + other[2].Split.String() + ", not " + man.Split}},
		{"foreign split, its manifest", ss[:3], otherMan, []string{"share 1 (the 1st share given) belongs to split"}},
		{"activation share as backup", []*Share{ss[0], act[1], ss[2]}, man,
			[]string{"share 2 (the 2nd share given) is an activation share; backup shares are needed"}},
		{"purpose changed", []*Share{ss[0], with(ss[1], func(s *Share) { s.Purpose = Activation }), ss[2]}, man,
			[]string{"share 2 (the 2nd share given) is an activation share; backup shares are needed"}},
		{"threshold differs", []*Share{ss[0], with(ss[1], func(s *Share) { s.Threshold = 2 }), ss[2]}, man,
			[]string{"share 2 (the 2nd share given) says 2 of 5 are needed, but the manifest says 3 of 5"}},
		{"count differs", []*Share{ss[0], ss[1], with(ss[2], func(s *Share) { s.Count = 6 })}, man,
			[]string{"share 3 (the 3rd share given) says 3 of 6 are needed, but the manifest says 3 of 5"}},
		{"index out of range", []*Share{ss[0], with(ss[1], func(s *Share) { s.Index = 6 }), ss[2]}, man,
			[]string{"share 6 (the 2nd share given): this split has shares 1 to 5 only"}},
		{"short value", []*Share{ss[0], with(short[1], func(s *Share) { s.Split = ss[0].Split }), ss[2]}, man,
			[]string{"share 2 (the 2nd share given) has a 17-byte value; shares of this split have 33 bytes"}},
		{"duplicate", []*Share{ss[0], ss[1], ss[0]}, man, []string{"share 1 was given twice (the 1st and 3rd shares given)"}},
		{"duplicate, parsed", []*Share{ss[4], ss[1], ss[3], reparse(t, ss[1:2])[0]}, man,
			[]string{"share 2 was given twice (the 2nd and 4th shares given)"}},
		{"two claim the same number", []*Share{ss[1], ss[0], alt2}, man,
			[]string{"two different shares claim to be share 2 (the 1st and 3rd shares given)"}},
		{"two claim the same number, renumbered", []*Share{ss[0], ss[1], with(ss[2], func(s *Share) { s.Index = 2 })}, man,
			[]string{"two different shares claim to be share 2 (the 2nd and 3rd shares given)"}},
		{"altered with checksums", []*Share{ss[0], alt2, ss[2]}, man,
			[]string{"share 2 (the 2nd share given) is not the share 2 that was issued"}},
		{"altered x coordinate", []*Share{ss[0], ss[1], altered(t, ss[4], 32)}, man,
			[]string{"share 5 (the 3rd share given) is not the share 5 that was issued"}},
		{"renumbered", []*Share{ss[0], ss[1], with(ss[2], func(s *Share) { s.Index = 4 })}, man,
			[]string{"share 4 (the 3rd share given) is not the share 4 that was issued"}},
		{"altered, single share given", []*Share{alt2}, man, []string{"share 2 is not the share 2 that was issued"}},
		{"forged manifest hash", []*Share{ss[0], alt2, ss[2]}, &forged,
			[]string{"shares 1, 2, 3 rebuild a secret that does not match the manifest's commitment"}},
		{"wrong commitment", ss, &badCommit, []string{"shares 1, 2, 3, 4, 5 rebuild a secret that does not match"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			sec, err := Combine(c.shares, c.man)
			if sec != nil {
				t.Fatal("Combine returned a secret")
			}
			wantErr(t, err, c.subs...)
			assertNoSecret(t, err, all...)
			assertNoSecret(t, err, alt2)
			if !strings.HasPrefix(err.Error(), "combine: ") {
				t.Errorf("error %q lacks the prefix", err)
			}
			err2 := Check(c.shares, c.man)
			if err2 == nil || err2.Error() != err.Error() {
				t.Errorf("Check: %v, want %v", err2, err)
			}
		})
	}
}

// TestVaultCombineIsSilent documents why the checks exist: vault/shamir
// itself returns a wrong secret without an error in these cases.
func TestVaultCombineIsSilent(t *testing.T) {
	sec := randomSecret(t, 32)
	parts, err := shamir.Split(sec.Bytes(), 5, 3)
	if err != nil {
		t.Fatal(err)
	}
	got, err := shamir.Combine(parts[:2])
	if err != nil || bytes.Equal(got, sec.Bytes()) {
		t.Errorf("vault/shamir below threshold: err %v, right secret %v: its behaviour changed; "+
			"review the package documentation", err, bytes.Equal(got, sec.Bytes()))
	}
}

func TestCheckShare(t *testing.T) {
	ss, man, _ := split(t, Activation, 2, 3, 32)
	other, _, _ := split(t, Activation, 2, 3, 32)
	for _, s := range ss {
		if err := man.CheckShare(s); err != nil {
			t.Fatal(err)
		}
	}
	err := man.CheckShare(other[1])
	wantErr(t, err, "share 2 belongs to split")
	err = man.CheckShare(altered(t, ss[2], 0))
	wantErr(t, err, "share 3 is not the share 3 that was issued")
	err = man.CheckShare(with(ss[0], func(s *Share) { s.Purpose = Backup }))
	wantErr(t, err, "share 1 is a backup share; activation shares are needed")
	bad := *man
	bad.Version = 2
	err = bad.CheckShare(ss[0])
	wantErr(t, err, "manifest: version 2")
	var nilMan *Manifest
	if err := nilMan.CheckShare(ss[0]); err == nil {
		t.Error("nil manifest accepted")
	}
}

func TestCombineWipesNothingOfTheCaller(t *testing.T) {
	ss, man, sec := split(t, Backup, 3, 5, 32)
	before := make([][]byte, len(ss))
	for i, s := range ss {
		before[i] = bytes.Clone(s.Value.Bytes())
	}
	got, err := Combine(ss[:3], man)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), sec.Bytes()) {
		t.Fatal("wrong secret")
	}
	for i, s := range ss {
		if !bytes.Equal(s.Value.Bytes(), before[i]) {
			t.Fatalf("share %d changed", i+1)
		}
	}
	got.Wipe()
	if got.Len() != 0 {
		t.Fatal("Wipe left bytes")
	}
	for _, s := range ss {
		s.Wipe()
		if s.Value.Len() != 0 {
			t.Fatal("Share.Wipe left bytes")
		}
	}
}
