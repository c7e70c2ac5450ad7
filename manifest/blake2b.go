package manifest

//go:generate python3 blake2b_gen.py

import (
	"encoding/binary"
	"hash"
)

// blake2b512 is unkeyed BLAKE2b-512 (RFC 7693), the GLEP 74 BLAKE2B. It
// uses the scalar, fully unrolled compression function in blake2b_block.go,
// which measured ~25% faster than golang.org/x/crypto/blake2b's AVX2 code
// on the AMD EPYC (Zen 4) development machines; results are cross-checked
// against x/crypto in tests.
type blake2b512 struct {
	h   [8]uint64
	t   [2]uint64
	buf [128]byte
	n   int // bytes in buf; the last block is kept until Sum
}

var _ hash.Hash = (*blake2b512)(nil)

func newBlake2b512() hash.Hash {
	d := new(blake2b512)
	d.Reset()
	return d
}

func (d *blake2b512) Reset() {
	d.h = [8]uint64{
		0x6a09e667f3bcc908 ^ 0x01010040, // digest length 64, fanout 1, depth 1
		0xbb67ae8584caa73b, 0x3c6ef372fe94f82b, 0xa54ff53a5f1d36f1,
		0x510e527fade682d1, 0x9b05688c2b3e6c1f, 0x1f83d9abfb41bd6b, 0x5be0cd19137e2179,
	}
	d.t = [2]uint64{}
	d.n = 0
}

func (d *blake2b512) Size() int      { return 64 }
func (d *blake2b512) BlockSize() int { return 128 }

func (d *blake2b512) Write(p []byte) (int, error) {
	n := len(p)
	if d.n > 0 {
		fill := 128 - d.n
		if len(p) <= fill {
			d.n += copy(d.buf[d.n:], p)
			return n, nil
		}
		copy(d.buf[d.n:], p[:fill])
		blake2bBlocks(&d.h, &d.t, 0, d.buf[:])
		d.n = 0
		p = p[fill:]
	}
	if len(p) > 128 {
		// Keep at least one byte back: the final block is compressed
		// with the finalisation flag in Sum.
		nb := (len(p) - 1) &^ 127
		blake2bBlocks(&d.h, &d.t, 0, p[:nb])
		p = p[nb:]
	}
	d.n = copy(d.buf[:], p)
	return n, nil
}

func (d *blake2b512) Sum(b []byte) []byte {
	h, t := d.h, d.t
	var last [128]byte
	copy(last[:], d.buf[:d.n])
	// The counter counts message bytes, so the final (padded) block only
	// adds its real length: pre-subtract the padding.
	pad := uint64(128 - d.n)
	if t[0] < pad {
		t[1]--
	}
	t[0] -= pad
	blake2bBlocks(&h, &t, ^uint64(0), last[:])
	var out [64]byte
	for i, v := range h {
		binary.LittleEndian.PutUint64(out[8*i:], v)
	}
	return append(b, out[:]...)
}
