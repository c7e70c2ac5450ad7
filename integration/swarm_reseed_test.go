package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// checkStoreExactly asserts that the store's distfiles tree holds exactly
// files (each at its GLEP 75 path with its content), nothing else, and that
// no regular file is left in its staging directory.
func checkStoreExactly(t *testing.T, label, store string, files []File) {
	t.Helper()
	CheckPlaced(t, store, files)
	var want []string
	for _, f := range files {
		rel, err := filepath.Rel(filepath.Join(store, "distfiles"), GLEP75Path(store, f.Name))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, filepath.ToSlash(rel))
	}
	sort.Strings(want)
	// A store's distfiles tree is a Portage mirror: besides the distfiles
	// it holds the layout.conf that describes it, and nothing else.
	want = append(want, "layout.conf")
	sort.Strings(want)
	conf, err := os.ReadFile(filepath.Join(store, "distfiles", "layout.conf"))
	if err != nil || !strings.Contains(string(conf), "filename-hash BLAKE2B 8") {
		t.Errorf("%s: distfiles/layout.conf does not name the default GLEP 75 layout (%v):\n%s", label, err, conf)
	}
	got := RegularFiles(t, filepath.Join(store, "distfiles"))
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		wantSet := map[string]bool{}
		for _, w := range want {
			wantSet[w] = true
		}
		for _, g := range got {
			if !wantSet[g] {
				t.Errorf("%s: stray file in distfiles: %s", label, g)
			}
		}
		t.Errorf("%s: distfiles holds %d files, want %d (with layout.conf)", label, len(got), len(want))
	}
	if left := RegularFiles(t, filepath.Join(store, ".partial")); len(left) > 0 {
		t.Errorf("%s: .partial still holds %d files after a complete fetch: %v", label, len(left), left)
	}
	if q := RegularFiles(t, filepath.Join(store, ".quarantine")); len(q) > 0 {
		t.Errorf("%s: quarantine holds %v after an honest fetch", label, q)
	}
}

// checkPrinted asserts that fetch printed exactly the GLEP 75 paths of files.
func checkPrinted(t *testing.T, label, store, stdout string, files []File) {
	t.Helper()
	var want []string
	for _, f := range files {
		want = append(want, GLEP75Path(store, f.Name))
	}
	sort.Strings(want)
	got := strings.Fields(stdout)
	sort.Strings(got)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s: fetch printed %d paths %v\nwant %d: %v", label, len(got), got, len(want), want)
	}
}

// TestOneSeederThreeLeechersThenReseed: one seeder process serves a
// 200-file collection (0 B … 8 MiB); three leecher processes with their
// own stores and Manifests fetch different, overlapping subsets at the same
// time, and each ends with exactly its files at their GLEP 75 paths. Then
// the seeder goes away, the first leecher seeds from its store, and a
// fourth peer fetches the first leecher's files from it alone: a leecher
// serves from its final paths.
func TestOneSeederThreeLeechersThenReseed(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	sizes := MixedSizes(200, 8<<20, 42)
	total := 0
	for i := range sizes {
		if i%2 == 1 && i%7 != 0 {
			sizes[i] /= 4 // keep the mid-sized files to ≤ 512 KiB
		}
		total += sizes[i]
	}
	if total > 150<<20 {
		t.Fatalf("corpus is %d MiB; keep it ≤ 150 MiB", total>>20)
	}
	files := Corpus(t, src, 42, sizes)
	torrent := filepath.Join(dir, "c.torrent")
	if r := Run(t, 2*time.Minute, "collection", "create", "--from", src, "--out", torrent); r.Code != 0 {
		t.Fatalf("create: exit %d\n%s", r.Code, r.Stderr)
	}
	seeder := StartSeeder(t, append(Loopback, "--store", filepath.Join(dir, "seedstore"), "--from", src, torrent)...)

	// Leecher k wants files i%5 == k (i < 180), plus the empty file and a
	// big one that every leecher wants.
	subsets := make([][]File, 3)
	for k := range subsets {
		seen := map[int]bool{}
		for _, i := range []int{0, 7} {
			seen[i] = true
			subsets[k] = append(subsets[k], files[i])
		}
		for i := 0; i < 180; i++ {
			if i%5 == k && !seen[i] {
				subsets[k] = append(subsets[k], files[i])
			}
		}
	}

	stores := make([]string, 3)
	results := make([]Result, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for k := range subsets {
		stores[k] = filepath.Join(dir, fmt.Sprintf("leech%d", k+1))
		mfDir := filepath.Join(dir, fmt.Sprintf("mf%d", k+1))
		mf := WriteManifest(t, mustMkdir(t, mfDir), subsets[k])
		args := FetchArgs(stores[k], "--torrent", torrent, "--manifest", mf, "--peer", seeder.Addr(), "--timeout", "90s")
		args = append(args, Names(subsets[k])...)
		wg.Add(1)
		go func(k int, args []string) {
			defer wg.Done()
			results[k], errs[k] = RunBg(2*time.Minute, args...)
		}(k, args)
	}
	wg.Wait()
	for k := range subsets {
		label := fmt.Sprintf("leecher %d", k+1)
		if errs[k] != nil {
			t.Fatalf("%s: %v", label, errs[k])
		}
		if results[k].Code != 0 {
			t.Fatalf("%s: fetch exit %d\n%s\nseeder:\n%s", label, results[k].Code, results[k].Stderr, seeder.Stderr())
		}
		checkPrinted(t, label, stores[k], results[k].Stdout, subsets[k])
		checkStoreExactly(t, label, stores[k], subsets[k])
	}
	if t.Failed() {
		t.FailNow()
	}

	// The original seeder leaves; leecher 1 seeds from its store alone.
	seeder.Stop()
	reseeder := StartSeeder(t, append(Loopback, "--store", stores[0], torrent)...)
	store4 := filepath.Join(dir, "peer4")
	mf4 := WriteManifest(t, mustMkdir(t, filepath.Join(dir, "mf4")), subsets[0])
	args := FetchArgs(store4, "--torrent", torrent, "--manifest", mf4, "--peer", reseeder.Addr(), "--timeout", "90s")
	r := Run(t, 2*time.Minute, append(args, Names(subsets[0])...)...)
	if r.Code != 0 {
		t.Fatalf("fetch from leecher 1: exit %d\n%s\nleecher 1 seeding:\n%s", r.Code, r.Stderr, reseeder.Stderr())
	}
	checkPrinted(t, "peer 4", store4, r.Stdout, subsets[0])
	checkStoreExactly(t, "peer 4", store4, subsets[0])
	// Seeding must not have moved or added anything in leecher 1's store.
	checkStoreExactly(t, "leecher 1 after seeding", stores[0], subsets[0])
}

func mustMkdir(t *testing.T, dir string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
