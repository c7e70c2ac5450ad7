// Command genbinpkgs writes a deterministic PKGDIR of synthetic binary
// packages for the binpkg benchmarks: N XPAK packages
// (app-misc/pkgNNNNN/pkgNNNNN-1-1.xpak), half of them under 32 KiB (4–32
// KiB), the rest 32 KiB–2 MiB, each a ChaCha8 stream standing in for the
// compressed tar followed by a real XPAK trailer with the metadata Portage
// indexes (CATEGORY, PF, SLOT, EAPI, ...). The archive is not a valid tar:
// publishing reads only the metadata.
//
//	genbinpkgs -n 2000 -out DIR
//
// Prints "files N bytes B" on success.
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/distswarm/distswarm/manifest/binpkg"
)

func main() {
	n := flag.Int("n", 2000, "number of packages")
	out := flag.String("out", "", "PKGDIR to write")
	seed := flag.Uint64("seed", 1, "PRNG seed")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "genbinpkgs: -out DIR is required")
		os.Exit(2)
	}
	var total int64
	for i := range *n {
		size, err := writePackage(*out, i, *seed)
		if err != nil {
			fmt.Fprintln(os.Stderr, "genbinpkgs:", err)
			os.Exit(1)
		}
		total += size
	}
	fmt.Printf("files %d bytes %d\n", *n, total)
}

// writePackage writes package i and returns its size.
func writePackage(dir string, i int, seed uint64) (int64, error) {
	r := rand.New(rand.NewChaCha8(seedBytes(seed, uint64(i))))
	size := 4<<10 + r.Int64N(28<<10)
	if i%2 == 1 {
		size = 32<<10 + r.Int64N(2<<20-32<<10)
	}
	data := make([]byte, size)
	for j := range data {
		data[j] = byte(r.Uint32())
	}
	pn := fmt.Sprintf("pkg%05d", i)
	md := binpkg.Metadata{
		"CATEGORY": []byte("app-misc\n"), "PF": []byte(pn + "-1\n"), "SLOT": []byte("0\n"),
		"EAPI": []byte("8\n"), "BUILD_ID": []byte("1\n"), "BUILD_TIME": []byte("1700000000\n"),
		"CHOST": []byte("x86_64-pc-linux-gnu\n"), "KEYWORDS": []byte("amd64\n"), "LICENSE": []byte("MIT\n"),
		"USE": []byte("amd64 elibc_glibc kernel_linux\n"), "repository": []byte("test\n"),
	}
	blob, err := binpkg.EncodeXPAK(md, md.Keys())
	if err != nil {
		return 0, err
	}
	data = append(append(data, blob...), binpkg.XPAKTrailer(blob)...)
	p := filepath.Join(dir, "app-misc", pn, pn+"-1-1.xpak")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return 0, err
	}
	return int64(len(data)), os.WriteFile(p, data, 0o644)
}

func seedBytes(seed, idx uint64) [32]byte {
	var b [32]byte
	for k := range 8 {
		b[k] = byte(seed >> (8 * k))
		b[8+k] = byte(idx >> (8 * k))
	}
	return b
}
