package qrframe

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/devicepki/ceremony/ceremony/bundle"
)

// MaxBundles bounds how many different bundles (or cuts of one) an
// Assembler keeps frames of.
const MaxBundles = 32

// MaxHeld bounds the payload bytes an Assembler holds in all.
const MaxHeld = 64 << 20

// key identifies one cut of one bundle: frames with the same key slot
// together.
type key struct {
	digest bundle.Digest
	total  int
}

// Set is the frames of one cut of one bundle seen so far.
type Set struct {
	Digest bundle.Digest
	Total  int
	// First is the order in which this set's first frame arrived (0 for
	// the first set seen).
	First    int
	payloads map[int][]byte
	sources  map[int]string
	// slice is the payload length of every frame but the last (0 until
	// one arrived); last the last frame's.
	slice, last int
	// Conflicts are frames seen twice with different payloads, both
	// passing their check: never a scanning error.
	Conflicts []string
}

// ID is the set's bundle id.
func (s *Set) ID() string { return s.Digest.ID() }

// Have is how many different frames of the set arrived.
func (s *Set) Have() int { return len(s.payloads) }

// Complete reports whether every frame arrived.
func (s *Set) Complete() bool { return len(s.payloads) == s.Total }

// Missing lists the numbers of the frames not yet seen, in order.
func (s *Set) Missing() []int {
	var m []int
	for i := 1; i <= s.Total; i++ {
		if _, ok := s.payloads[i]; !ok {
			m = append(m, i)
		}
	}
	return m
}

// Progress is the set's state in words: "12 of 17 frames, missing 4, 9, 13".
func (s *Set) Progress() string {
	p := fmt.Sprintf("%d of %d frames", s.Have(), s.Total)
	if m := s.Missing(); len(m) > 0 {
		p += ", missing " + NumberList(m, 12)
	}
	return p
}

// NumberList writes numbers separated by commas, at most max of them and
// then how many more.
func NumberList(ns []int, max int) string {
	parts := make([]string, 0, min(len(ns), max)+1)
	for i, n := range ns {
		if i == max {
			parts = append(parts, fmt.Sprintf("and %d more", len(ns)-max))
			break
		}
		parts = append(parts, strconv.Itoa(n))
	}
	return strings.Join(parts, ", ")
}

// Bundle joins the frames of a complete set and checks the result against
// the digest the frames carry.
func (s *Set) Bundle() ([]byte, error) {
	if len(s.Conflicts) > 0 {
		return nil, fmt.Errorf("bundle %s: %s", s.ID(), s.Conflicts[0])
	}
	if !s.Complete() {
		return nil, fmt.Errorf("bundle %s: %s", s.ID(), s.Progress())
	}
	var b bytes.Buffer
	for i := 1; i <= s.Total; i++ {
		b.Write(s.payloads[i])
	}
	if bundle.Of(b.Bytes()) != s.Digest {
		return nil, fmt.Errorf("bundle %s: the %d frames join into data whose SHA-256 is not the bundle's: a frame was forged or altered past its check; nothing is written", s.ID(), s.Total)
	}
	return b.Bytes(), nil
}

// Outcome is what became of one line given to an Assembler.
type Outcome int

const (
	// Added: a new frame of a set.
	Added Outcome = iota
	// Repeated: a frame already seen, identical.
	Repeated
	// Blank: an empty line.
	Blank
	// Rejected: not a good frame (the error says why).
	Rejected
	// Conflicting: a frame already seen with different content.
	Conflicting
	// Ignored: a frame of another bundle than the one asked for.
	Ignored
)

// Assembler collects frames from scanned lines, sorting them into sets by
// bundle and cut.
type Assembler struct {
	// Want, if set, is the id (or a longer prefix of the base32 digest)
	// of the only bundle to collect; frames of others are Ignored.
	Want string

	sets    map[key]*Set
	order   []*Set
	ignored map[string]int
	held    int
}

// NewAssembler returns an empty Assembler collecting the bundle want
// (empty for any).
func NewAssembler(want string) *Assembler {
	return &Assembler{Want: strings.ToUpper(strings.TrimSpace(want)), sets: map[key]*Set{}, ignored: map[string]int{}}
}

// Add takes one scanned line; source names where it came from ("line 12",
// "frame-03.png") for messages. It returns what became of the line, the
// set the frame belongs to (nil if none), and for Rejected and
// Conflicting an error naming source.
func (a *Assembler) Add(line, source string) (Outcome, *Set, error) {
	if strings.TrimSpace(line) == "" {
		return Blank, nil, nil
	}
	f, err := Parse(line)
	if err != nil {
		return Rejected, nil, fmt.Errorf("%s: %w", source, err)
	}
	if a.Want != "" && !strings.HasPrefix(f.Digest.Base32(), a.Want) {
		a.ignored[f.ID()]++
		return Ignored, nil, nil
	}
	if a.held+len(f.Payload) > MaxHeld {
		return Rejected, nil, fmt.Errorf("%s: more than %d bytes of frames: scan one bundle at a time", source, MaxHeld)
	}
	k := key{f.Digest, f.Total}
	s := a.sets[k]
	if s == nil {
		if len(a.sets) == MaxBundles {
			return Rejected, nil, fmt.Errorf("%s: frames of more than %d different bundles: scan one bundle at a time", source, MaxBundles)
		}
		s = &Set{Digest: f.Digest, Total: f.Total, First: len(a.order), payloads: map[int][]byte{}, sources: map[int]string{}}
		a.sets[k] = s
		a.order = append(a.order, s)
	}
	// Every frame but the last carries a slice of the same length; the
	// last one the rest.
	if prev, ok := s.payloads[f.Index]; ok {
		if bytes.Equal(prev, f.Payload) {
			return Repeated, s, nil
		}
		msg := fmt.Sprintf("frame %d of %d arrived twice with different content (%s and %s), both passing their check: the frames are not all from one export", f.Index, f.Total, s.sources[f.Index], source)
		s.Conflicts = append(s.Conflicts, msg)
		return Conflicting, s, fmt.Errorf("%s: bundle %s: %s", source, s.ID(), msg)
	}
	if err := s.fits(f); err != nil {
		s.Conflicts = append(s.Conflicts, err.Error())
		return Conflicting, s, fmt.Errorf("%s: bundle %s: %w", source, s.ID(), err)
	}
	a.held += len(f.Payload)
	s.payloads[f.Index] = f.Payload
	s.sources[f.Index] = source
	return Added, s, nil
}

// fits checks a new frame's payload length against the frames of its set
// already seen: all but the last are the same length (the first one seen
// fixes it), the last no longer.
func (s *Set) fits(f Frame) error {
	n := len(f.Payload)
	switch {
	case f.Index != s.Total && s.slice == 0:
		if s.last > n {
			return fmt.Errorf("frame %d of %d carries %d bytes, fewer than the last frame's %d: the frames are not all from one export", f.Index, f.Total, n, s.last)
		}
		s.slice = n
	case f.Index != s.Total && n != s.slice:
		return fmt.Errorf("frame %d of %d carries %d bytes, but the other frames %d: the frames are not all from one export", f.Index, f.Total, n, s.slice)
	case f.Index == s.Total && s.slice != 0 && n > s.slice:
		return fmt.Errorf("the last frame (%d of %d) carries %d bytes, more than the other frames' %d: the frames are not all from one export", f.Index, f.Total, n, s.slice)
	case f.Index == s.Total:
		s.last = n
	}
	return nil
}

// Sets returns the sets seen, in the order their first frames arrived.
func (a *Assembler) Sets() []*Set { return a.order }

// IgnoredCounts returns, by bundle id, how many frames of unwanted bundles
// were ignored.
func (a *Assembler) IgnoredCounts() map[string]int { return a.ignored }

// ErrNoFrames is returned by Result when no frame arrived.
var ErrNoFrames = errors.New("no QR frame was read")

// Result picks the bundle to import: the one complete set. It fails when
// no set is complete (naming what each one misses), when two different
// bundles are complete (choose one with Want), or when the complete set's
// frames conflict or do not join into its digest.
func (a *Assembler) Result() (*Set, []byte, error) {
	if len(a.order) == 0 {
		if len(a.ignored) > 0 {
			return nil, nil, fmt.Errorf("no frame of bundle %s was read (only frames of %s)", a.Want, strings.Join(slices.Sorted(maps.Keys(a.ignored)), ", "))
		}
		return nil, nil, ErrNoFrames
	}
	var complete []*Set
	for _, s := range a.order {
		if s.Complete() {
			complete = append(complete, s)
		}
	}
	switch {
	case len(complete) == 0:
		var parts []string
		for _, s := range a.byProgress() {
			parts = append(parts, fmt.Sprintf("bundle %s: %s", s.ID(), s.Progress()))
		}
		return nil, nil, fmt.Errorf("incomplete: %s; nothing is written", strings.Join(parts, "; "))
	case len(complete) > 1 && !sameBundle(complete):
		ids := make([]string, len(complete))
		for i, s := range complete {
			ids[i] = s.ID()
		}
		return nil, nil, fmt.Errorf("frames of %d complete bundles (%s): choose one with --bundle ID", len(complete), strings.Join(ids, ", "))
	}
	s := complete[0]
	data, err := s.Bundle()
	if err != nil {
		return s, nil, err
	}
	return s, data, nil
}

// byProgress orders sets by how many frames they have, most first.
func (a *Assembler) byProgress() []*Set {
	s := append([]*Set(nil), a.order...)
	sort.SliceStable(s, func(i, j int) bool { return s[i].Have() > s[j].Have() })
	return s
}

// Others returns the sets other than s, for reporting frames that were
// not used.
func (a *Assembler) Others(s *Set) []*Set {
	var out []*Set
	for _, o := range a.order {
		if o != s {
			out = append(out, o)
		}
	}
	return out
}

func sameBundle(sets []*Set) bool {
	for _, s := range sets[1:] {
		if s.Digest != sets[0].Digest {
			return false
		}
	}
	return true
}
