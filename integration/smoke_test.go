package integration

import (
	"fmt"
	"path/filepath"
	"regexp"
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
	// The summary says where the data came from: all of it from the peer.
	if m := receivedLine.FindStringSubmatch(r.Stderr); m == nil || m[2] == "0 B" || m[3] != "" {
		t.Errorf("want a \"received …: … from peers\" line and no other source, got:\n%s", r.Stderr)
	} else {
		t.Log(m[0])
	}
}

// receivedLine is fetch's summary of where the data came from:
// "received 1.2 MiB: 1.1 MiB from peers, 100 KiB from webseeds"; groups:
// the total, the bytes from peers, and the other sources.
var receivedLine = regexp.MustCompile(`(?m)^received ([^:]+): (.+?) from peers(.*)$`)

// TestFetchByMagnet: the leecher has only the magnet link; the info dict
// comes from the seeder (BEP 9), then the files are fetched and verified.
func TestFetchByMagnet(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	files := Corpus(t, src, 2, []int{5, 40000, 200000})
	torrent := filepath.Join(dir, "c.torrent")
	r := Run(t, time.Minute, "collection", "create", "--from", src, "--out", torrent)
	if r.Code != 0 {
		t.Fatalf("create: %d %s", r.Code, r.Stderr)
	}
	var magnet string
	for _, l := range strings.Split(r.Stdout, "\n") {
		if m, ok := strings.CutPrefix(l, "magnet "); ok {
			magnet = m
		}
	}
	if !strings.HasPrefix(magnet, "magnet:?xt=urn:btih:") {
		t.Fatalf("no magnet in create output:\n%s", r.Stdout)
	}
	seeder := StartSeeder(t, append(Loopback, "--store", filepath.Join(dir, "s1"), "--from", src, torrent)...)
	mf := WriteManifest(t, dir, files)
	store := filepath.Join(dir, "leech")
	args := append([]string{"fetch"}, Loopback...)
	args = append(args, "--store", store, "--magnet", magnet, "--manifest", mf, "--peer", seeder.Addr(), "--timeout", "60s")
	r = Run(t, 90*time.Second, append(args, Names(files)...)...)
	if r.Code != 0 {
		t.Fatalf("fetch by magnet: exit %d\n%s", r.Code, r.Stderr)
	}
	CheckPlaced(t, store, files)

	// A magnet nobody serves fails cleanly within the timeout.
	args = append([]string{"fetch"}, Loopback...)
	args = append(args, "--store", filepath.Join(dir, "leech2"), "--magnet", "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567", "--manifest", mf, "--timeout", "2s")
	r = Run(t, 30*time.Second, append(args, files[0].Name)...)
	if r.Code != 1 || !strings.Contains(r.Stderr, "metadata of 0123456789abcdef0123456789abcdef01234567") {
		t.Fatalf("unserved magnet: exit %d stderr %q", r.Code, r.Stderr)
	}
}

// TestSeedRelativeFrom: `seed --from DIR` with a relative DIR (as a user
// types it) seeds, instead of failing on a non-absolute seed root: a fetch
// from it places every file.
func TestSeedRelativeFrom(t *testing.T) {
	dir := t.TempDir()
	files := Corpus(t, filepath.Join(dir, "src"), 3, []int{10, 5000})
	if r := Run(t, time.Minute, "collection", "create", "--from", filepath.Join(dir, "src"), "--out", filepath.Join(dir, "c.torrent")); r.Code != 0 {
		t.Fatalf("create: %d %s", r.Code, r.Stderr)
	}
	p := StartExt(t, time.Minute, dir, binary, "seed", "--listen", "127.0.0.1:0", "--offline", "--store", "store", "--from", "src", "c.torrent")
	port := 0
	for deadline := time.Now().Add(30 * time.Second); port == 0; {
		if m := readyLine.FindStringSubmatch(p.Output()); m != nil {
			fmt.Sscan(m[1], &port)
			break
		}
		select {
		case <-p.Done():
			t.Fatalf("seed --from src exited: %s", p.Output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("seed --from src not ready after 30s: %s", p.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
	store := filepath.Join(dir, "leech")
	args := FetchArgs(store, "--torrent", filepath.Join(dir, "c.torrent"), "--manifest", WriteManifest(t, dir, files),
		"--peer", fmt.Sprintf("127.0.0.1:%d", port), "--timeout", "60s")
	if r := Run(t, 90*time.Second, append(args, Names(files)...)...); r.Code != 0 {
		t.Fatalf("fetch from the seeder of a relative --from: exit %d\n%s", r.Code, r.Stderr)
	}
	CheckPlaced(t, store, files)
}
