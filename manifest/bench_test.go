package manifest

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Measured on the 2-core AMD EPYC (Zen 4) dev machine, 1 GiB page-cached
// file, user CPU seconds (wall is noisy on the shared machine):
// BLAKE2B 1.1-1.2, SHA512 1.1, both 2.1-2.2 split over two threads
// (best wall 1.20 s); coreutils sha512sum 1.3-1.4 user (best wall 1.47 s),
// b2sum 0.75-0.8 user.
const benchSize = 256 << 20

func benchData(b *testing.B) []byte {
	b.Helper()
	data := make([]byte, benchSize)
	if _, err := rand.Read(data); err != nil {
		b.Fatal(err)
	}
	return data
}

// BenchmarkSum hashes 256 MiB held in memory (MB/s via SetBytes).
func BenchmarkSum(b *testing.B) {
	data := benchData(b)
	for _, tc := range []struct {
		name  string
		names []string
	}{
		{"BLAKE2B+SHA512", []string{BLAKE2B, SHA512}},
		{"BLAKE2B", []string{BLAKE2B}},
		{"SHA512", []string{SHA512}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(benchSize)
			for b.Loop() {
				if _, n, err := Sum(context.Background(), bytes.NewReader(data), tc.names); err != nil || n != benchSize {
					b.Fatal(err, n)
				}
			}
		})
	}
	// Reference: both hashes in one goroutine (what io.MultiWriter gives).
	b.Run("sequential-BLAKE2B+SHA512", func(b *testing.B) {
		b.SetBytes(benchSize)
		for b.Loop() {
			h1, _ := NewHash(BLAKE2B)
			h2, _ := NewHash(SHA512)
			io.CopyBuffer(io.MultiWriter(h1, h2), bytes.NewReader(data), make([]byte, 1<<20))
		}
	})
}

// BenchmarkSumFile hashes a 256 MiB temporary file (page-cache hot).
func BenchmarkSumFile(b *testing.B) {
	p := filepath.Join(b.TempDir(), "big")
	if err := os.WriteFile(p, benchData(b), 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(benchSize)
	for b.Loop() {
		if _, _, err := SumFile(context.Background(), p, StrongHashes); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSumFileEnv hashes the file named by $MANIFEST_BENCH_FILE with
// BLAKE2B+SHA512 (or the space-separated $MANIFEST_BENCH_HASHES), for
// comparison with coreutils on the same file:
//
//	MANIFEST_BENCH_FILE=/tmp/big go test -run '^$' -bench SumFileEnv -benchtime 3x ./manifest/
//	time sha512sum /tmp/big; time b2sum /tmp/big
func BenchmarkSumFileEnv(b *testing.B) {
	p := os.Getenv("MANIFEST_BENCH_FILE")
	if p == "" {
		b.Skip("MANIFEST_BENCH_FILE not set")
	}
	st, err := os.Stat(p)
	if err != nil {
		b.Fatal(err)
	}
	names := StrongHashes
	if h := os.Getenv("MANIFEST_BENCH_HASHES"); h != "" {
		names = strings.Fields(h)
	}
	b.SetBytes(st.Size())
	for b.Loop() {
		if _, _, err := SumFile(context.Background(), p, names); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParse parses the 4,063-entry tex-overlay Manifest from memory.
func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile("testdata/gentoo-mirror_tex-overlay__dev-texlive__texlive-latexextra__Manifest")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(bytes.NewReader(data), "Manifest"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawHash measures each implementation alone, one goroutine,
// 1 MiB writes from memory: the floor analysis for P4/P5 compares these
// with coreutils on the same bytes from the page cache. cpu-s/GiB is
// process CPU time (user+sys), which a loaded machine distorts less than
// wall time.
//
// On the 2-core AMD EPYC dev machine (Zen 4), idle: SHA512 ~990 MB/s
// (1.08 s/GiB), BLAKE2B ~690 MB/s (1.54 s/GiB; x/crypto's AVX2 code, its
// fastest path here: AVX 440, SSE4 380, generic 390 MB/s), SHA1 ~2.1 GB/s
// and SHA256 ~2.0 GB/s (SHA-NI). coreutils 9.1 on the same page-cached
// GiB: sha512sum 1.33-1.46 CPU s, b2sum 0.81-0.95 CPU s.
func BenchmarkRawHash(b *testing.B) {
	data := benchData(b)
	names := []string{SHA512, BLAKE2B, SHA1, SHA256}
	if h := os.Getenv("MANIFEST_BENCH_HASHES"); h != "" {
		names = strings.Fields(h)
	}
	for _, name := range names {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(benchSize)
			c0 := cpuTime(b)
			for b.Loop() {
				h, _ := NewHash(name)
				for off := 0; off < len(data); off += 1 << 20 {
					h.Write(data[off : off+1<<20])
				}
				h.Sum(nil)
			}
			b.ReportMetric((cpuTime(b)-c0).Seconds()/float64(b.N)*float64(1<<30)/benchSize, "cpu-s/GiB")
		})
	}
}

// cpuTime returns the process's user+sys CPU time.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
