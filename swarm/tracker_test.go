package swarm

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/distswarm/distswarm/swarm/collection"
	"github.com/distswarm/distswarm/swarm/lantracker"
)

// TestEmbeddedTrackerFindsPeers: a seeding node and a fetching node,
// given no peers, find each other through the embedded tracker on
// 127.0.0.1 alone (with only=true, as with --offline), and the fetch
// completes, verified.
func TestEmbeddedTrackerFindsPeers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	tr := lantracker.New(0)
	srv := httptest.NewServer(tr)
	defer srv.Close()
	url := srv.URL + "/announce"
	src := t.TempDir()
	files := corpus(t, src, []int{5000, 200000, 1 << 20})
	coll, err := collection.Create(ctx, collection.CreateOptions{From: src, Trackers: []string{"http://192.0.2.1:1/announce"}})
	if err != nil {
		t.Fatal(err)
	}
	copts := ClientOptions{ListenAddr: "127.0.0.1:0"} // trackers on: the embedded one is the only one used
	seedStore, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	seeder, err := OpenNode(ctx, NodeOptions{Store: seedStore, Client: copts, SeedFrom: []string{src}})
	if err != nil {
		t.Fatal(err)
	}
	defer seeder.Close()
	seeder.UseTracker(url, true)
	if _, err := seeder.Seed(ctx, []*collection.Collection{coll}); err != nil {
		t.Fatal(err)
	}
	leechStore, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	leech, err := OpenNode(ctx, NodeOptions{Store: leechStore, Client: copts})
	if err != nil {
		t.Fatal(err)
	}
	defer leech.Close()
	leech.UseTracker(url, true)
	names := []string{"pkg001-1.200000.tar.gz", "pkg002-1.1048576.tar.gz"}
	res, err := leech.Fetch(ctx, FetchRequest{Collections: []*collection.Collection{coll}, Authority: authorityFor(t, files, names...), Names: names})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if !r.Outcome.OK() {
			t.Errorf("%s through the embedded tracker: %v %v", r.Name, r.Outcome, r.Err)
		}
	}
	if torrents, peers := tr.Stats(); torrents != 1 || peers != 2 {
		t.Errorf("tracker knows %d torrents and %d peers, want 1 and 2", torrents, peers)
	}
	if st := leech.Status(); st.TrackerURL != url {
		t.Errorf("status tracker URL %q, want %q", st.TrackerURL, url)
	}
}
