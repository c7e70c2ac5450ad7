// Command gencorpus writes the deterministic benchmark corpora of
// integration/bench: the same flags always give the same bytes (ChaCha8
// streams seeded from -seed and the file index), written by parallel workers.
//
//	gencorpus -mode mixed -bytes N -out DIR   # log-uniform sizes, few bytes .. 48 MiB, total exactly N
//	gencorpus -mode small -n N -min A -max B -out DIR  # N files, uniform sizes in [A,B]
//	gencorpus -mode many  -n N -out DIR       # N files of 1–4 KiB in a GLEP 75 tree (DIR/<2hex>/name)
//	gencorpus -mode single -bytes N -out FILE # one file
//
// Prints "files N bytes B" on success.
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"golang.org/x/crypto/blake2b"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
)

type file struct {
	path string
	size int64
	idx  uint64
}

func main() {
	mode := flag.String("mode", "mixed", "mixed, small, many or single")
	out := flag.String("out", "", "output directory (file for -mode single)")
	seed := flag.Uint64("seed", 1, "PRNG seed")
	total := flag.Int64("bytes", 1<<30, "mixed/single: total bytes")
	n := flag.Int("n", 5000, "small/many: number of files")
	minSz := flag.Int64("min", 1<<10, "small: smallest file")
	maxSz := flag.Int64("max", 32<<10, "small: largest file")
	flag.Parse()
	if *out == "" {
		fail("need -out")
	}
	sizes := rand.New(rand.NewPCG(*seed, 0x6469737473776172))
	var files []file
	switch *mode {
	case "single":
		files = []file{{path: *out, size: *total}}
	case "mixed":
		// Log-uniform sizes: many small files, a few tens of MiB; the last
		// one is cut so the total is exact.
		lo, hi := math.Log(16), math.Log(48<<20)
		var sum int64
		for i := 0; sum < *total; i++ {
			sz := int64(math.Exp(lo + sizes.Float64()*(hi-lo)))
			if sum+sz > *total {
				sz = *total - sum
			}
			sum += sz
			files = append(files, file{path: filepath.Join(*out, fmt.Sprintf("pkg%04d-%d.%d.tar.xz", i, i%7, i%13)), size: sz, idx: uint64(i)})
		}
	case "small":
		for i := 0; i < *n; i++ {
			sz := *minSz + sizes.Int64N(*maxSz-*minSz+1)
			files = append(files, file{path: filepath.Join(*out, fmt.Sprintf("small%05d.tar.gz", i)), size: sz, idx: uint64(i)})
		}
	case "many":
		for i := 0; i < *n; i++ {
			sz := int64(1024 + sizes.IntN(3*1024+1))
			name := fmt.Sprintf("f%06d-%d.tar.xz", i, sz)
			files = append(files, file{path: filepath.Join(*out, glep75Dir(name), name), size: sz, idx: uint64(i)})
		}
	default:
		fail("unknown -mode %q", *mode)
	}
	dirs := map[string]bool{}
	for _, f := range files {
		d := filepath.Dir(f.path)
		if !dirs[d] {
			dirs[d] = true
			if err := os.MkdirAll(d, 0o755); err != nil {
				fail("%v", err)
			}
		}
	}
	var wg sync.WaitGroup
	work := make(chan file)
	errs := make(chan error, 1)
	for w := 0; w < 2*runtime.NumCPU(); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1<<20)
			for f := range work {
				if err := write(f, *seed, buf); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	var sum int64
	for _, f := range files {
		work <- f
		sum += f.size
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		fail("%v", err)
	default:
	}
	fmt.Printf("files %d bytes %d\n", len(files), sum)
}

// glep75Dir is the GLEP 75 directory of a distfile: the first two hex
// digits of the BLAKE2B-512 of its name.
func glep75Dir(name string) string {
	h := blake2b.Sum512([]byte(name))
	return fmt.Sprintf("%02x", h[0])
}

func write(f file, seed uint64, buf []byte) error {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[0:], seed)
	binary.LittleEndian.PutUint64(key[8:], f.idx)
	r := rand.NewChaCha8(key)
	fh, err := os.Create(f.path)
	if err != nil {
		return err
	}
	for left := f.size; left > 0; {
		b := buf
		if int64(len(b)) > left {
			b = b[:left]
		}
		r.Read(b)
		if _, err := fh.Write(b); err != nil {
			fh.Close()
			return err
		}
		left -= int64(len(b))
	}
	return fh.Close()
}

func fail(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "gencorpus: "+format+"\n", a...)
	os.Exit(2)
}
