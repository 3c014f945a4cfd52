package qrframe_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/devicepki/ceremony/ceremony/bundle"
	"github.com/devicepki/ceremony/ceremony/qrframe"
	"github.com/devicepki/ceremony/internal/docvector"
)

// TestDocsFrameVector checks the QR frame test vector in docs/formats.md:
// the file the page names packs into the bundle whose digest it gives, the
// bundle cuts into exactly the page's frames, the frames reassemble (in
// reverse order) into that file, and the altered frame is refused with the
// page's message.
func TestDocsFrameVector(t *testing.T) {
	content := docvector.Vector(t, "frame-file")
	digest := strings.TrimSpace(docvector.Vector(t, "frame-digest"))
	lines := strings.Split(strings.TrimSpace(docvector.Vector(t, "frames")), "\n")

	packed, err := bundle.Pack([]bundle.File{{Name: "note.txt", Data: []byte(content)}})
	if err != nil {
		t.Fatal(err)
	}
	if got := bundle.Of(packed).Hex(); got != digest {
		t.Fatalf("note.txt packs into a bundle with SHA-256 %s; the page says %s", got, digest)
	}
	frames, err := qrframe.Split(packed, 32)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range frames {
		want = append(want, f.String())
	}
	if !slices.Equal(lines, want) {
		t.Errorf("the page's frames differ from the cut:\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}

	a := qrframe.NewAssembler("")
	for i, l := range slices.Backward(lines) {
		if out, _, err := a.Add(l, "frame"); err != nil || out != qrframe.Added {
			t.Fatalf("page frame %d: outcome %v, %v", i+1, out, err)
		}
	}
	set, data, err := a.Result()
	if err != nil {
		t.Fatal(err)
	}
	if set.ID() != bundle.Of(packed).ID() || set.Total != len(lines) {
		t.Errorf("set %s of %d frames", set.ID(), set.Total)
	}
	files, err := bundle.Unpack(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || files[0].Name != "note.txt" || string(files[0].Data) != content {
		t.Errorf("the frames unpack to %d files, first %q", len(files), files[0].Name)
	}

	altered := strings.Replace(lines[1], "RNXBJ", "RNXBK", 1)
	if altered == lines[1] {
		t.Fatal("frame 2 of the page does not contain RNXBJ")
	}
	_, err = qrframe.Parse(altered)
	if err == nil {
		t.Fatal("the altered frame parses")
	}
	if got, want := err.Error(), strings.TrimSpace(docvector.Vector(t, "frame-altered-error")); got != want {
		t.Errorf("altered frame refused with\n%s\nthe page says\n%s", got, want)
	}
}
