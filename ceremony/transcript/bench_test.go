package transcript

import (
	"path/filepath"
	"testing"
)

// BenchmarkAppend measures one event written and fsync'ed.
func BenchmarkAppend(b *testing.B) {
	w, err := Create(filepath.Join(b.TempDir(), "transcript.jsonl"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	data := map[string]any{"label": "root-ca", "public_key_sha256": "6e8bff97230bd9622458cd288e1b9cd3dd46778dd5e2a26cf4075fb317e3c0b2"}
	for b.Loop() {
		if _, err := w.Append(Entry{Type: "bench", Step: "bench", Text: "an event of typical size", Data: data}); err != nil {
			b.Fatal(err)
		}
	}
}
