package integration

import (
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestHundredThousandFileCollection: a 100,000-file distdir (1–4 KiB each)
// becomes a sharded collection (JSON index + shard torrents); a seeder
// serves it in place and a leecher fetches 50 named files with --peer.
// Logs the creation time, the seeder's own start-up time and its peak RSS.
func TestHundredThousandFileCollection(t *testing.T) {
	if testing.Short() {
		t.Skip("100k files: skipped with -short")
	}
	const n = 100000
	dir := t.TempDir()
	// A GLEP 75 tree (as on a mirror): creating 100k entries in one flat
	// directory is serialized by its inode lock and takes ~25 s alone.
	src := filepath.Join(dir, "distfiles")
	for b := 0; b < 256; b++ {
		if err := os.MkdirAll(filepath.Join(src, fmt.Sprintf("%02x", b)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	pathOf := func(name string) string { return GLEP75Path(dir, name) }
	r := rand.New(rand.NewSource(8))
	pick := map[int]bool{}
	for len(pick) < 50 {
		pick[r.Intn(n)] = true
	}
	// Each file's content comes from its own seed, so the files can be
	// written by parallel workers (and removed the same way at the end:
	// unlinking 100k files one by one dominates the test otherwise).
	gen := func(i int, buf []byte) (string, []byte) {
		r := rand.New(rand.NewSource(int64(i)))
		sz := 1024 + r.Intn(3*1024+1)
		b := buf[:sz]
		r.Read(b)
		return fmt.Sprintf("f%06d-%d.tar.xz", i, sz), b
	}
	workers := 2 * runtime.NumCPU()
	parallel := func(fn func(i int, buf []byte) error) error {
		var wg sync.WaitGroup
		errs := make([]error, workers)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := make([]byte, 4096)
				for i := w; i < n && errs[w] == nil; i += workers {
					errs[w] = fn(i, buf)
				}
			}()
		}
		wg.Wait()
		return errors.Join(errs...)
	}
	t.Cleanup(func() {
		began := time.Now()
		parallel(func(i int, buf []byte) error {
			name, _ := gen(i, buf)
			os.Remove(pathOf(name))
			return nil
		})
		t.Logf("removed %d files in %s", n, time.Since(began).Round(time.Millisecond))
	})
	began := time.Now()
	if err := parallel(func(i int, buf []byte) error {
		name, b := gen(i, buf)
		return os.WriteFile(pathOf(name), b, 0o644)
	}); err != nil {
		t.Fatal(err)
	}
	var want []File
	for i := range pick {
		name, b := gen(i, make([]byte, 4096))
		want = append(want, File{Name: name, Data: b})
	}
	t.Logf("wrote %d files in %s", n, time.Since(began).Round(time.Millisecond))

	index := filepath.Join(dir, "big.json")
	began = time.Now()
	if res := Run(t, 5*time.Minute, "collection", "create", "--from", src, "--out", index); res.Code != 0 { // 1 min 43 s seen under load
		t.Fatalf("create: %d %s", res.Code, res.Stderr)
	}
	createTime := time.Since(began)
	shards, _ := filepath.Glob(filepath.Join(index+".shards", "*.torrent"))
	if len(shards) < 2 {
		t.Fatalf("a %d-file collection was not sharded: %d shard torrents in %s.shards", n, len(shards), index)
	}

	began = time.Now()
	seeder, ready := StartSeederTimed(t, append(Loopback, "--store", filepath.Join(dir, "seedstore"), "--from", src, index)...)
	wall := time.Since(began)
	hwm, rss := ProcStatus(seeder.Pid(), "VmHWM"), ProcStatus(seeder.Pid(), "VmRSS")

	mf := WriteManifest(t, dir, want)
	store := filepath.Join(dir, "leech")
	args := append([]string{"fetch"}, Loopback...)
	args = append(args, "--store", store, "--torrent", index, "--manifest", mf, "--peer", seeder.Addr(), "--timeout", "90s")
	began = time.Now()
	res := Run(t, 2*time.Minute, append(args, Names(want)...)...)
	if res.Code != 0 {
		t.Fatalf("fetch: exit %d\n%s", res.Code, res.Stderr)
	}
	fetchTime := time.Since(began)
	if got := strings.Count(res.Stdout, "\n"); got != len(want) {
		t.Errorf("fetch printed %d paths, want %d", got, len(want))
	}
	CheckPlaced(t, store, want)
	if _, probs := NewStoreChecker(store, want).Check(); len(probs) > 0 {
		t.Errorf("store: %s", strings.Join(probs, "\n"))
	}
	t.Logf("100k files: create %s (%d shards); seeder ready in %s (reported; %s wall), RSS peak %s (now %s); fetch of 50 files %s",
		createTime.Round(time.Millisecond), len(shards), ready, wall.Round(time.Millisecond), hwm, rss, fetchTime.Round(time.Millisecond))
}
