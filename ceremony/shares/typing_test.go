package shares

import (
	"strconv"
	"strings"
	"testing"
)

func TestCheckTypingFlagsTheGroupAsTyped(t *testing.T) {
	shs, _, _ := split(t, Backup, 3, 5, 32)
	compact := string(shs[1].Compact().Bytes())
	text := string(shs[1].Text().Bytes())

	// Every prefix of a correct share is OK, with the right count.
	for i := 0; i <= len(compact); i++ {
		got := CheckTyping([]byte(compact[:i]))
		if !got.OK() {
			t.Fatalf("prefix %d of a correct share flagged: %+v", i, got)
		}
	}
	if got := CheckTyping([]byte(compact)); !got.Complete() || got.Groups != typicalGroups || got.Expected != typicalGroups {
		t.Fatalf("whole share: %+v, want complete with %d groups", got, typicalGroups)
	}
	if got := CheckTyping([]byte(text)); !got.Complete() {
		t.Fatalf("text form with comment and lines: %+v, want complete", got)
	}

	// One wrong character in group 7 is flagged at group 7 as soon as the
	// group is complete, not before, and it stays flagged.
	groups := strings.Split(compact, "-")
	for g := 1; g < len(groups); g++ {
		wrong := append([]string(nil), groups...)
		b := []byte(wrong[g])
		b[2] = swapChar(b[2])
		wrong[g] = string(b)
		typed := strings.Join(wrong, "-")
		upTo := len(strings.Join(wrong[:g+1], "-"))
		before := CheckTyping([]byte(typed[:upTo-1]))
		if !before.OK() {
			t.Fatalf("group %d flagged before it was complete: %+v", g, before)
		}
		for _, n := range []int{upTo, len(typed)} {
			got := CheckTyping([]byte(typed[:n]))
			if got.Bad != g || got.Complete() {
				t.Fatalf("typo in group %d, %d chars typed: %+v", g, n, got)
			}
			if !strings.Contains(got.Problem, "group "+strconv.Itoa(g)) {
				t.Fatalf("problem %q does not name group %d", got.Problem, g)
			}
			if strings.Contains(got.Problem, wrong[g]) {
				t.Fatalf("problem %q holds share characters", got.Problem)
			}
		}
	}

	// Adjacent swap inside a group.
	b := []byte(groups[3])
	if b[0] != b[1] {
		b[0], b[1] = b[1], b[0]
		sw := append([]string(nil), groups...)
		sw[3] = string(b)
		if got := CheckTyping([]byte(strings.Join(sw, "-"))); got.Bad != 3 {
			t.Fatalf("swap in group 3: %+v", got)
		}
	}

	for _, tc := range []struct {
		in      string
		bad     int
		badTag  bool
		problem string
	}{
		{"XS1B", 0, true, "starts with CS1A or CS1B"},
		{"CS1Q", 0, true, "A (activation) or B (backup)"},
		{"cs1b-" + strings.ToLower(groups[1])[:3] + "u", 1, false, "no U"},
		{"CS1B-" + groups[1] + "-AB!", 2, false, "character 3 of group 2"},
	} {
		got := CheckTyping([]byte(tc.in))
		if got.Bad != tc.bad || got.BadTag != tc.badTag || !strings.Contains(got.Problem, tc.problem) {
			t.Errorf("CheckTyping(%q) = %+v, want bad %d tag %v problem %q", tc.in, got, tc.bad, tc.badTag, tc.problem)
		}
	}
	if got := CheckTyping(nil); !got.OK() || got.Tag || got.Complete() {
		t.Fatalf("empty: %+v", got)
	}
}

// swapChar returns another character of the alphabet.
func swapChar(c byte) byte {
	if c == '7' {
		return '8'
	}
	return '7'
}
