package shares

import (
	"crypto/rand"
	"testing"
)

func BenchmarkSplitCombine(b *testing.B) {
	sec := randomSecret(b, 32)
	for b.Loop() {
		ss, man, err := Split(rand.Reader, sec, Backup, 3, 5)
		if err != nil {
			b.Fatal(err)
		}
		got, err := Combine(ss[1:4], man)
		if err != nil {
			b.Fatal(err)
		}
		got.Wipe()
	}
}

func BenchmarkCombine(b *testing.B) {
	ss, man, _ := split(b, Backup, 3, 5, 32)
	for b.Loop() {
		got, err := Combine(ss[1:4], man)
		if err != nil {
			b.Fatal(err)
		}
		got.Wipe()
	}
}

func BenchmarkParse(b *testing.B) {
	ss, _, _ := split(b, Backup, 3, 5, 32)
	text := ss[0].Text().Bytes()
	for b.Loop() {
		s, err := Parse(text)
		if err != nil {
			b.Fatal(err)
		}
		s.Wipe()
	}
}

func BenchmarkText(b *testing.B) {
	ss, _, _ := split(b, Backup, 3, 5, 32)
	for b.Loop() {
		ss[0].Text().Wipe()
	}
}

func BenchmarkQRPNG(b *testing.B) {
	ss, _, _ := split(b, Backup, 3, 5, 32)
	for b.Loop() {
		if _, err := ss[0].QRPNG(); err != nil {
			b.Fatal(err)
		}
	}
}
