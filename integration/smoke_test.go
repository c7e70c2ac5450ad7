package integration

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSeedFetchSmoke: one seeder process, one leecher process, a handful
// of files, verified against the leecher's own Manifest.
func TestSeedFetchSmoke(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	files := Corpus(t, src, 1, []int{0, 100, 20000, 300000})
	torrent := filepath.Join(dir, "c.torrent")
	if r := Run(t, time.Minute, "collection", "create", "--from", src, "--out", torrent); r.Code != 0 {
		t.Fatalf("create: %d %s", r.Code, r.Stderr)
	}
	seeder := StartSeeder(t, append(Loopback, "--store", filepath.Join(dir, "s1"), "--from", src, torrent)...)
	mf := WriteManifest(t, dir, files)
	store := filepath.Join(dir, "leech")
	args := append([]string{"fetch"}, Loopback...)
	args = append(args, "--store", store, "--torrent", torrent, "--manifest", mf, "--peer", seeder.Addr(), "--timeout", "60s")
	r := Run(t, 90*time.Second, append(args, Names(files)...)...)
	if r.Code != 0 {
		t.Fatalf("fetch: exit %d\n%s", r.Code, r.Stderr)
	}
	if got := strings.Count(r.Stdout, "\n"); got != len(files) {
		t.Errorf("fetch printed %d paths, want %d", got, len(files))
	}
	CheckPlaced(t, store, files)
}
