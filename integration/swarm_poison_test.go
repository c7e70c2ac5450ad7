package integration

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPoisonedCollectionIsQuarantined: a self-consistent collection whose
// copy of one distfile differs from what the leecher's Manifest says. The
// leecher downloads it (the torrent's piece hashes match), rejects it
// against its Manifest, quarantines it and never places it. With an honest
// second collection of the true file (another infohash, another seeder) the
// same fetch completes from that one, both in a fresh store and in the store
// that already rejected the poisoned copy.
func TestPoisonedCollectionIsQuarantined(t *testing.T) {
	dir := t.TempDir()
	honestSrc := filepath.Join(dir, "honest-src")
	files := Corpus(t, honestSrc, 3, []int{5000, 70000, 300000, 1<<20 + 3})
	victim := files[2]

	// The poisoned distdir: the same files, but the victim has other bytes
	// (same size, one byte changed in the middle).
	poisonSrc := filepath.Join(dir, "poison-src")
	if err := os.MkdirAll(poisonSrc, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		data := f.Data
		if f.Name == victim.Name {
			data = bytes.Clone(f.Data)
			data[len(data)/2] ^= 0x5a
		}
		if err := os.WriteFile(filepath.Join(poisonSrc, f.Name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	poisoned := filepath.Join(dir, "poisoned.torrent")
	poisonedIH := createCollection(t, poisonSrc, poisoned)
	// The honest collection holds only the true victim.
	onlyVictim := filepath.Join(dir, "only-victim")
	if err := os.MkdirAll(onlyVictim, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(onlyVictim, victim.Name), victim.Data, 0o644); err != nil {
		t.Fatal(err)
	}
	honest := filepath.Join(dir, "honest.torrent")
	honestIH := createCollection(t, onlyVictim, honest)
	if strings.Join(poisonedIH, ",") == strings.Join(honestIH, ",") {
		t.Fatalf("poisoned and honest collections share infohash %v", honestIH)
	}

	mf := WriteManifest(t, dir, files) // the truth
	bad := StartSeeder(t, append(Loopback, "--store", filepath.Join(dir, "bad-store"), "--from", poisonSrc, poisoned)...)

	// 1. Only the poisoned source: rejected, quarantined, not placed.
	store := filepath.Join(dir, "leech")
	r := Run(t, 2*time.Minute, append(FetchArgs(store, "--torrent", poisoned, "--manifest", mf, "--peer", bad.Addr(), "--timeout", "60s"), victim.Name)...)
	if r.Code != 1 {
		t.Fatalf("fetch of the poisoned file: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
	var failLine string
	for _, l := range strings.Split(r.Stderr, "\n") {
		if strings.Contains(l, "FAILED") && strings.Contains(l, victim.Name) {
			failLine = l
		}
	}
	if failLine == "" || !(strings.Contains(failLine, "rejected") || strings.Contains(failLine, "quarantine")) {
		t.Errorf("stderr has no FAILED line naming %s as rejected/quarantined:\n%s", victim.Name, r.Stderr)
	}
	if strings.Contains(r.Stdout, victim.Name) {
		t.Errorf("fetch printed the poisoned file as placed:\n%s", r.Stdout)
	}
	if _, err := os.Lstat(GLEP75Path(store, victim.Name)); !os.IsNotExist(err) {
		t.Errorf("poisoned file at its GLEP 75 path (stat: %v)", err)
	}
	for _, p := range RegularFiles(t, filepath.Join(store, "distfiles")) {
		if p != "layout.conf" {
			t.Errorf("distfiles holds %s after a rejected fetch", p)
		}
	}
	checkQuarantined(t, "poisoned only", store, victim)

	// 2. An honest second source: the fetch falls through to it.
	good := StartSeeder(t, append(Loopback, "--store", filepath.Join(dir, "good-store"), "--from", onlyVictim, honest)...)
	both := func(store string) Result {
		args := FetchArgs(store, "--torrent", poisoned, "--torrent", honest, "--manifest", mf,
			"--peer", bad.Addr(), "--peer", good.Addr(), "--timeout", "60s")
		return Run(t, 2*time.Minute, append(args, victim.Name)...)
	}
	fresh := filepath.Join(dir, "leech2")
	for _, s := range []struct{ label, store string }{
		{"fresh store", fresh},
		{"store that rejected it", store},
	} {
		r := both(s.store)
		if r.Code != 0 {
			t.Errorf("%s: fetch with an honest second collection: exit %d\n%s\nhonest seeder:\n%s", s.label, r.Code, r.Stderr, good.Stderr())
			continue
		}
		if got, want := strings.TrimSpace(r.Stdout), GLEP75Path(s.store, victim.Name); got != want {
			t.Errorf("%s: fetch printed %q, want %q", s.label, got, want)
		}
		CheckPlaced(t, s.store, []File{victim})
	}
	// Collections are tried in the order given: the fresh store got the
	// poisoned copy first and quarantined it before falling through.
	checkQuarantined(t, "fresh store", fresh, victim)
}

// checkQuarantined asserts a store's quarantine holds a copy of f's name
// and size whose content is not f's.
func checkQuarantined(t *testing.T, label, store string, f File) {
	t.Helper()
	qs := RegularFiles(t, filepath.Join(store, ".quarantine"))
	for _, q := range qs {
		data, err := os.ReadFile(filepath.Join(store, ".quarantine", q))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(filepath.Base(q), f.Name) && len(data) == len(f.Data) && !bytes.Equal(data, f.Data) {
			return
		}
	}
	t.Errorf("%s: no quarantined copy of the poisoned %s under .quarantine: %v", label, f.Name, qs)
}
