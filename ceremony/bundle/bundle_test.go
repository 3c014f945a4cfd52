package bundle_test

import (
	"archive/tar"
	"bytes"
	"compress/flate"
	"fmt"
	"strings"
	"testing"

	"github.com/devicepki/ceremony/ceremony/bundle"
)

func sample() []bundle.File {
	return []bundle.File{
		{Name: "transcript.jsonl", Data: []byte(strings.Repeat(`{"seq":1,"type":"x"}`+"\n", 50))},
		{Name: "transcript.sig", Data: []byte{0x30, 0x82, 0x00, 0x01, 0xff}},
		{Name: "artifacts/root-ca.crt.pem", Data: []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")},
		{Name: "empty", Data: nil},
	}
}

func TestRoundTrip(t *testing.T) {
	in := sample()
	packed, err := bundle.Pack(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := bundle.Unpack(packed)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("%d files back, want %d", len(out), len(in))
	}
	for i := range in {
		if out[i].Name != in[i].Name || !bytes.Equal(out[i].Data, in[i].Data) {
			t.Fatalf("file %d: got %q (%d bytes), want %q (%d bytes)", i, out[i].Name, len(out[i].Data), in[i].Name, len(in[i].Data))
		}
	}
}

func TestDeterministic(t *testing.T) {
	a, err := bundle.Pack(sample())
	if err != nil {
		t.Fatal(err)
	}
	b, err := bundle.Pack(sample())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) || bundle.Of(a) != bundle.Of(b) {
		t.Fatal("the same files packed twice give different bundles")
	}
	other := sample()
	other[1].Data = []byte{0x30, 0x82, 0x00, 0x01, 0xfe}
	c, err := bundle.Pack(other)
	if err != nil {
		t.Fatal(err)
	}
	if bundle.Of(c) == bundle.Of(a) {
		t.Fatal("a changed byte does not change the digest")
	}
}

func TestCompresses(t *testing.T) {
	packed, err := bundle.Pack(sample())
	if err != nil {
		t.Fatal(err)
	}
	// 1000 bytes of repeated JSON plus four 512-byte headers and the
	// end-of-archive blocks: DEFLATE should leave a small fraction.
	if len(packed) > 400 {
		t.Fatalf("packed bundle is %d bytes; DEFLATE is not working", len(packed))
	}
}

func TestDigestForms(t *testing.T) {
	d := bundle.Of([]byte("x"))
	if len(d.Hex()) != 64 || len(d.Base32()) != 52 || d.ID() != d.Base32()[:8] {
		t.Fatalf("hex %q base32 %q id %q", d.Hex(), d.Base32(), d.ID())
	}
	back, err := bundle.ParseDigest(d.Base32())
	if err != nil || back != d {
		t.Fatalf("ParseDigest: %v %v", back, err)
	}
	for _, bad := range []string{"", d.Base32()[:51], d.Base32() + "A", strings.ToLower(d.Base32()), d.Base32()[:51] + "1"} {
		if _, err := bundle.ParseDigest(bad); err == nil {
			t.Errorf("ParseDigest(%q) accepted", bad)
		}
	}
}

func TestPackRefuses(t *testing.T) {
	cases := map[string][]bundle.File{
		"no files":  nil,
		"absolute":  {{Name: "/etc/passwd"}},
		"dot dot":   {{Name: "../x"}},
		"inner dot": {{Name: "a/../b"}},
		"hidden":    {{Name: ".x"}},
		"space":     {{Name: "a b"}},
		"backslash": {{Name: `a\b`}},
		"empty":     {{Name: ""}},
		"trailing":  {{Name: "a/"}},
		"deep":      {{Name: "a/b/c/d"}},
		"long":      {{Name: strings.Repeat("a", 101)}},
		"duplicate": {{Name: "a"}, {Name: "a"}},
	}
	for name, files := range cases {
		if _, err := bundle.Pack(files); err == nil {
			t.Errorf("%s: packed", name)
		}
	}
	many := make([]bundle.File, bundle.MaxFiles+1)
	for i := range many {
		many[i].Name = "f" + strings.Repeat("x", i%50) + string(rune('a'+i%26)) + strings.Repeat("y", i/26)
	}
	if _, err := bundle.Pack(many); err == nil {
		t.Error("more than MaxFiles packed")
	}
}

// deflate compresses an arbitrary archive the way Pack does.
func deflate(t *testing.T, archive []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestCompression)
	w.Write(archive)
	w.Close()
	return b.Bytes()
}

// archive builds a tar archive with the given headers and contents.
func archive(t *testing.T, entries ...tarEntry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		if err := tw.WriteHeader(e.hdr); err != nil {
			t.Fatal(err)
		}
		tw.Write(e.data)
	}
	tw.Close()
	return b.Bytes()
}

type tarEntry struct {
	hdr  *tar.Header
	data []byte
}

func reg(name string, data string) tarEntry {
	return tarEntry{&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(data)), Mode: 0o644, Format: tar.FormatUSTAR}, []byte(data)}
}

func TestUnpackRefusesHostileBundles(t *testing.T) {
	good, err := bundle.Pack(sample())
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		packed []byte
		want   string
	}{
		"not deflate":       {[]byte{0xff, 0xff, 0xff}, "the bundle's compressed data is damaged: the frames do not come from one intact export (flate: corrupt input before offset 1)"},
		"truncated":         {good[:len(good)/2], "the bundle's compressed data is damaged: the frames do not come from one intact export (it ends early)"},
		"trailing bytes":    {append(append([]byte(nil), good...), 0), "follow the compressed bundle"},
		"path traversal":    {deflate(t, archive(t, reg("../../etc/cron.d/x", "boom"))), "bad name"},
		"absolute path":     {deflate(t, archive(t, reg("/tmp/x", "boom"))), "bad name"},
		"symlink":           {deflate(t, archive(t, tarEntry{&tar.Header{Typeflag: tar.TypeSymlink, Name: "link", Linkname: "/etc/passwd"}, nil})), "not a regular file"},
		"directory":         {deflate(t, archive(t, tarEntry{&tar.Header{Typeflag: tar.TypeDir, Name: "artifacts", Mode: 0o755}, nil})), "not a regular file"},
		"duplicate":         {deflate(t, archive(t, reg("a", "1"), reg("a", "2"))), "twice"},
		"empty archive":     {deflate(t, archive(t)), "no files"},
		"garbage after end": {deflate(t, append(archive(t, reg("a", "1")), []byte("hidden")...)), "follows the end"},
		"not tar":           {deflate(t, bytes.Repeat([]byte("x"), 1024)), "the bundle's archive is damaged: the frames do not come from one intact export ("},
		"bomb":              {deflate(t, make([]byte, bundle.MaxSize+1)), "more than"},
		"sparse bomb":       {deflate(t, sparseBomb(1<<28)), "only plain ustar"},
		"pax header": {deflate(t, archive(t, tarEntry{&tar.Header{Typeflag: tar.TypeReg, Name: "x.pem", Size: 1, Mode: 0o644, Format: tar.FormatPAX,
			PAXRecords: map[string]string{"comment": "hello"}}, []byte("x")})), "only plain ustar"},
		"gnu header": {deflate(t, archive(t, tarEntry{&tar.Header{Typeflag: tar.TypeReg, Name: "x.pem", Size: 1, Mode: 0o644, Format: tar.FormatGNU}, []byte("x")})), "only plain ustar"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := bundle.Unpack(c.packed)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
			// A decoder's text only as a parenthesised cause.
			for _, lib := range []string{"flate:", "archive/tar:", "EOF"} {
				if i := strings.Index(err.Error(), lib); i >= 0 && !strings.Contains(err.Error()[:i], "(") {
					t.Fatalf("got %q: %s without a sentence first", err, lib)
				}
			}
		})
	}
}

// FuzzUnpack: Unpack never panics, never returns more bytes than the
// archive holds, and what it accepts packs back to the same files.
func FuzzUnpack(f *testing.F) {
	good, _ := bundle.Pack(sample())
	f.Add(good)
	f.Add([]byte{0x01, 0x00, 0x00, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, packed []byte) {
		files, err := bundle.Unpack(packed)
		if err != nil {
			return
		}
		n := 0
		for _, fl := range files {
			n += len(fl.Data)
			if bundle.CheckName(fl.Name) != nil {
				t.Fatalf("accepted name %q", fl.Name)
			}
		}
		if n > bundle.MaxSize {
			t.Fatalf("%d bytes out", n)
		}
		if _, err := bundle.Pack(files); err != nil {
			t.Fatalf("accepted files do not pack: %v", err)
		}
	})
}

// rawHeader is a ustar header block written by hand, as an attacker would.
func rawHeader(name string, size int, typ byte) []byte {
	b := make([]byte, 512)
	copy(b, name)
	copy(b[100:], "0000644\x00")
	copy(b[108:], "0000000\x00")
	copy(b[116:], "0000000\x00")
	copy(b[124:], fmt.Sprintf("%011o\x00", size))
	copy(b[136:], "00000000000\x00")
	b[156] = typ
	copy(b[257:], "ustar\x0000")
	copy(b[148:], "        ")
	sum := 0
	for _, c := range b {
		sum += int(c)
	}
	copy(b[148:], fmt.Sprintf("%06o\x00 ", sum))
	return b
}

func padBlock(b []byte) []byte {
	for len(b)%512 != 0 {
		b = append(b, 0)
	}
	return b
}

// sparseBomb is a tar archive of a few blocks holding a PAX "sparse" file
// that Go's tar reader expands to realsize zero bytes.
func sparseBomb(realsize int) []byte {
	var pax []byte
	for _, r := range []string{"GNU.sparse.major=1", "GNU.sparse.minor=0", "GNU.sparse.name=x.pem", fmt.Sprintf("GNU.sparse.realsize=%d", realsize)} {
		n := len(r) + 3
		for len(fmt.Sprintf("%d %s\n", n, r)) != n {
			n = len(fmt.Sprintf("%d %s\n", n, r))
		}
		pax = append(pax, fmt.Sprintf("%d %s\n", n, r)...)
	}
	smap := padBlock([]byte(fmt.Sprintf("1\n%d\n0\n", realsize)))
	var a []byte
	a = append(a, rawHeader("PaxHeaders/x", len(pax), 'x')...)
	a = append(a, padBlock(pax)...)
	a = append(a, rawHeader("GNUSparseFile.0/x.pem", len(smap), '0')...)
	a = append(a, smap...)
	return append(a, make([]byte, 1024)...)
}

// The sparse bomb is what it says without the ustar check: Go's reader
// would expand it.
func TestSparseBombIsReal(t *testing.T) {
	tr := tar.NewReader(bytes.NewReader(sparseBomb(1 << 20)))
	hdr, err := tr.Next()
	if err != nil || hdr.Size != 1<<20 {
		t.Fatalf("header %+v, %v", hdr, err)
	}
}
