package qrimage

import (
	"bytes"
	"image/png"
	"testing"
)

// A frame of about 1200 characters, the size the exporter aims for.
func benchFrame() string { return frameText(newRand(60), 1200) }

func BenchmarkEncode(b *testing.B) {
	text := benchFrame()
	for b.Loop() {
		if _, err := Encode(text, Medium); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPNG(b *testing.B) {
	text := benchFrame()
	for b.Loop() {
		if _, err := PNG(text, Medium, 4); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTerminal(b *testing.B) {
	text := benchFrame()
	for b.Loop() {
		if _, _, _, err := Terminal(text, Medium, true); err != nil {
			b.Fatal(err)
		}
	}
}

// Decode of a clean render (the first attempt reads it).
func BenchmarkDecode(b *testing.B) {
	text := benchFrame()
	data, err := PNG(text, Medium, 4)
	if err != nil {
		b.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if got, err := Decode(img); err != nil || got != text {
			b.Fatal(got, err)
		}
	}
}

// DecodeFile of a PNG file: reading, PNG decoding and Decode.
func BenchmarkDecodeFile(b *testing.B) {
	text := benchFrame()
	data, err := PNG(text, Medium, 4)
	if err != nil {
		b.Fatal(err)
	}
	p := writeFile(b, b.TempDir(), "frame.png", data)
	for b.Loop() {
		if got, err := DecodeFile(p); err != nil || got != text {
			b.Fatal(got, err)
		}
	}
}

// Decode of a photograph: the clean-render attempts fail first.
func BenchmarkDecodePhoto(b *testing.B) {
	text := benchFrame()
	img := photo(modulesOf(b, text, Medium), 4.3, 6, 1)
	for b.Loop() {
		if got, err := Decode(img); err != nil || got != text {
			b.Fatal(got, err)
		}
	}
}

// Decode of an image with no code in it: every attempt fails.
func BenchmarkDecodeNothing(b *testing.B) {
	img := scaled([][]bool{{false}}, 500)
	for b.Loop() {
		if _, err := Decode(img); err == nil {
			b.Fatal("found a code in a blank image")
		}
	}
}
