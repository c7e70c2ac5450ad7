package integration

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDaemonPrefersPeerOverWebseed: a collection with a GLEP 75 mirror as
// its webseed, seeded by one seeder process, fetched through a daemon given
// that peer: every file comes from the peer and the mirror receives no
// request (the webseeds are held back while peers deliver). The origin
// (a daemon too) uploads at 2 MiB/s so that the fetch outlasts the
// library's first webseed round (it plans webseed requests every 5 s):
// webseeds given to the library with the torrent would take part of the
// data.
func TestDaemonPrefersPeerOverWebseed(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	files := Corpus(t, src, 6, []int{100, 70000, 300001, 3<<20 + 17, 8<<20 + 5})
	mirror := filepath.Join(dir, "mirror")
	WriteGLEP75Tree(t, mirror, files)
	srv := ServeDir(t, mirror)
	torrent := filepath.Join(dir, "c.torrent")
	if r := Run(t, time.Minute, "collection", "create", "--from", src, "--out", torrent, "--webseed", srv.URL+"/"); r.Code != 0 {
		t.Fatalf("create: %d %s", r.Code, r.Stderr)
	}
	origin := StartDaemon(t, filepath.Join(dir, "origin"), "--upload-rate", "2MiB")
	if r := Run(t, time.Minute, "seed", "--store", origin.Store, "--from", src, torrent); r.Code != 0 {
		t.Fatalf("seed through the origin daemon: %d %s", r.Code, r.Stderr)
	}
	// The origin must seed every file before the fetch starts: a peer that
	// is still checking its files delivers nothing, and the fetch then
	// rightly releases the webseeds after the grace period (seen with the
	// -race binaries in CI).
	waitSeedingAll(t, origin, len(files))
	store := filepath.Join(dir, "store")
	d := StartDaemon(t, store, "--peer", fmt.Sprintf("127.0.0.1:%d", origin.Port))
	args := FetchArgs(store, "--torrent", torrent, "--manifest", WriteManifest(t, dir, files), "--timeout", "90s")
	r := Run(t, 2*time.Minute, append(args, Names(files)...)...)
	if r.Code != 0 || !strings.Contains(r.Stderr, "through the distswarm daemon") {
		t.Fatalf("fetch via daemon: exit %d\n%s", r.Code, r.Stderr)
	}
	CheckPlaced(t, store, files)
	if reqs := srv.Requests(); len(reqs) > 0 {
		t.Errorf("the mirror received %d requests while the peer had every file, first %+v", len(reqs), reqs[0])
	}
	if strings.Contains(d.Stderr(), "webseeds released") {
		t.Errorf("the daemon released the webseeds although the peer delivered:\n%s", d.Stderr())
	}
}

// waitSeedingAll waits, up to 2 minutes, until d seeds a collection with
// all of its files (files of them) in its store.
func waitSeedingAll(t *testing.T, d *Daemon, files int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		for _, c := range d.Status(t).Collections {
			if c.Seeding && c.Files == files && c.FilesHere == files {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the origin daemon does not seed all %d files after 2 min: %+v", files, d.Status(t).Collections)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
