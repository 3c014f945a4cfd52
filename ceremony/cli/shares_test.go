package cli

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/devicepki/ceremony/ceremony/secret"
	"github.com/devicepki/ceremony/ceremony/shares"
)

// Shares typed or scanned one after another on standard input are told
// apart by their four-character tag group, never by a data line whose
// first group happens to begin with CS (about one share in two hundred
// has one: the story that typed two shares failed that way in CI).
func TestStdinSharesSplitAtTags(t *testing.T) {
	var stdin bytes.Buffer
	var want []string
	for tries := 0; len(want) < 2; tries++ {
		if tries > 5000 {
			t.Fatal("no share with a data line beginning CS in 5000 splits")
		}
		sec := secret.New(make([]byte, 32))
		if _, err := rand.Read(sec.Bytes()); err != nil {
			t.Fatal(err)
		}
		list, _, err := shares.Split(rand.Reader, sec, shares.Backup, 2, 3)
		sec.Wipe()
		if err != nil {
			t.Fatal(err)
		}
		for _, sh := range list {
			text := string(sh.Text().Bytes())
			if dataLineStartsCS(text) || len(want) == 1 {
				stdin.WriteString(text)
				want = append(want, text)
				if len(want) == 2 {
					break
				}
			}
		}
	}
	got, err := readShares("-", &stdin)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d shares read from two", len(got))
	}
	for i, in := range got {
		if _, err := shares.Parse(in.text.Bytes()); err != nil {
			t.Errorf("share %d: %v", i+1, err)
		}
	}
}

// dataLineStartsCS reports whether a line after a share's tag line begins
// with CS.
func dataLineStartsCS(text string) bool {
	seenTag := false
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(l, "#") || l == "":
		case !seenTag:
			seenTag = true
		case strings.HasPrefix(l, "CS"):
			return true
		}
	}
	return false
}
