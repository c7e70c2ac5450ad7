package integration

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// TestDHTOnlyDiscovery: a leecher that is given no peer and no tracker
// finds the seeder through a private DHT of two distswarm nodes on
// 127.0.0.1 (each the other's only bootstrap node, so nothing ever
// reaches a public node). This needs the DHT node to store announces
// (swarm/dhtpeers.go): the leecher's announce_peer makes the seeder dial
// it.
func TestDHTOnlyDiscovery(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	files := Corpus(t, src, 21, []int{3000, 70000, 1 << 20})
	torrent := filepath.Join(dir, "c.torrent")
	if r := Run(t, time.Minute, "collection", "create", "--from", src, "--out", torrent); r.Code != 0 {
		t.Fatalf("create: %d %s", r.Code, r.Stderr)
	}
	mf := WriteManifest(t, dir, files)
	store := filepath.Join(dir, "leech")
	// The seeder binds a port of its own choosing; the leecher's port is
	// given to the seeder in advance and taken by the fetch later, so it
	// may be gone by then: the fetch is then retried on another port.
	var r Result
	OnFreePort(t, "127.0.0.1", func(leechPort int) error {
		leechAddr := fmt.Sprintf("127.0.0.1:%d", leechPort)
		seeder := StartSeeder(t, "--listen", "127.0.0.1:0", "--dht-node", leechAddr,
			"--store", filepath.Join(dir, "seed"), "--from", src, torrent)
		defer seeder.Stop()
		args := []string{"fetch", "--listen", leechAddr, "--dht-node", seeder.Addr(), "--store", store,
			"--torrent", torrent, "--manifest", mf, "--timeout", "60s"}
		r = Run(t, 90*time.Second, append(args, Names(files)...)...)
		if r.Code != 0 && addrInUse(r.Stderr) {
			return fmt.Errorf("fetch: %s: %w", r.Stderr, errPortTaken)
		}
		return nil
	})
	if r.Code != 0 {
		t.Fatalf("fetch over DHT discovery: exit %d\n%s", r.Code, r.Stderr)
	}
	CheckPlaced(t, store, files)
}
