package binpkg

import (
	"bytes"
	"os"
	"testing"
)

// BenchmarkReadIndex reads the real 161-package XPAK-era index (151 KB).
func BenchmarkReadIndex(b *testing.B) {
	data, err := os.ReadFile(xpakIndex)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ReadIndex(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteIndex writes it back.
func BenchmarkWriteIndex(b *testing.B) {
	data, err := os.ReadFile(xpakIndex)
	if err != nil {
		b.Fatal(err)
	}
	ix, err := ReadIndex(bytes.NewReader(data))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	var out bytes.Buffer
	for b.Loop() {
		out.Reset()
		if err := ix.Write(&out); err != nil {
			b.Fatal(err)
		}
	}
}
