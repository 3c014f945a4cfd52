package transcript

import "testing"

func TestParseFault(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want faultPoint
	}{
		{"before:3", faultPoint{when: "before", event: 3}},
		{"after:artifact-written@5", faultPoint{when: "after", typ: "artifact-written", nth: 5}},
		{"torn:lint-passed@2", faultPoint{when: "torn", typ: "lint-passed", nth: 2}},
		{"", faultPoint{}}, {"later:3", faultPoint{}}, {"before:0", faultPoint{}}, {"after:x@0", faultPoint{}},
	} {
		if got := parseFault(tc.in); got != tc.want {
			t.Errorf("parseFault(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
	f := parseFault("after:artifact-written@2")
	if !f.matches("after", Event{Seq: 9, Type: "artifact-written"}, 2) || f.matches("after", Event{Seq: 9, Type: "artifact-written"}, 1) || f.matches("before", Event{Seq: 9, Type: "artifact-written"}, 2) {
		t.Error("matches")
	}
}
