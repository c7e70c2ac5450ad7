package manifest

import (
	"bytes"
	"encoding/hex"
	"testing"

	"golang.org/x/crypto/blake2b"
)

// The local BLAKE2b-512 must equal x/crypto's for every length and any
// split of the writes.
func TestBlake2bMatchesXCrypto(t *testing.T) {
	data := randBytes(t, 5000)
	for n := 0; n <= len(data); n += 1 + n/7 {
		want := blake2b.Sum512(data[:n])
		h := newBlake2b512()
		h.Write(data[:n])
		if got := h.Sum(nil); !bytes.Equal(got, want[:]) {
			t.Fatalf("len %d: %x want %x", n, got, want)
		}
		// Split writes at odd boundaries, Sum twice (Sum must not change state).
		h.Reset()
		for i := 0; i < n; {
			k := min(n-i, 1+(i*31)%300)
			h.Write(data[i : i+k])
			i += k
		}
		_ = h.Sum(nil)
		if got := h.Sum(nil); !bytes.Equal(got, want[:]) {
			t.Fatalf("len %d split: %x", n, got)
		}
	}
	if got := hex.EncodeToString(newBlake2b512().Sum(nil)); got != b2Empty {
		t.Errorf("empty: %s", got)
	}
	// RFC 7693 Appendix A: BLAKE2b-512("abc").
	h := newBlake2b512()
	h.Write([]byte("abc"))
	if got := hex.EncodeToString(h.Sum(nil)); got != "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923" {
		t.Errorf("abc: %s", got)
	}
}

func FuzzBlake2b(f *testing.F) {
	f.Add([]byte("abc"), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, split uint8) {
		want := blake2b.Sum512(data)
		h := newBlake2b512()
		k := int(split)%len(want) + 1
		for i := 0; i < len(data); i += k {
			h.Write(data[i:min(i+k, len(data))])
		}
		if got := h.Sum(nil); !bytes.Equal(got, want[:]) {
			t.Fatalf("%x want %x", got, want)
		}
	})
}

func BenchmarkBlake2bImpl(b *testing.B) {
	data := make([]byte, 64<<20)
	b.Run("local", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			h := newBlake2b512()
			h.Write(data)
			h.Sum(nil)
		}
	})
	b.Run("x-crypto", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			blake2b.Sum512(data)
		}
	})
}
