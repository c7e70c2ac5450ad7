package swarm

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/distswarm/distswarm/swarm/collection"
)

// TestSeedFinalStatus: when the seeder is stopped, OnStatus is called one
// last time with the total payload uploaded (make bench reads it for the
// origin upload ratio), even if no periodic status fell due.
func TestSeedFinalStatus(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	src := t.TempDir()
	files := corpus(t, src, []int{1000, 300000, 1 << 20})
	coll, err := collection.Create(ctx, collection.CreateOptions{From: src})
	if err != nil {
		t.Fatal(err)
	}
	seedStore, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ready := make(chan int, 1)
	statuses := make(chan SeedStatus, 16)
	seedCtx, stopSeed := context.WithCancel(ctx)
	defer stopSeed()
	seedDone := make(chan error, 1)
	go func() {
		seedDone <- Seed(seedCtx, SeedOptions{
			Store: seedStore, Collections: []*collection.Collection{coll}, From: src, Client: loopback(),
			Ready:       func(p int) { ready <- p },
			StatusEvery: time.Hour,
			OnStatus:    func(s SeedStatus) { statuses <- s },
		})
	}()
	var port int
	select {
	case port = <-ready:
	case err := <-seedDone:
		t.Fatalf("seeder: %v", err)
	case <-ctx.Done():
		t.Fatal("seeder not ready")
	}
	names := []string{"pkg000-1.1000.tar.gz", "pkg001-1.300000.tar.gz", "pkg002-1.1048576.tar.gz"}
	var want int64
	for _, n := range names {
		want += int64(len(files[n]))
	}
	leechStore, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	auth := authorityFor(t, files, names...)
	res, err := Fetch(ctx, FetchOptions{
		Store: leechStore, Collections: []*collection.Collection{coll}, Authority: auth,
		Names: names, Peers: []string{fmt.Sprintf("127.0.0.1:%d", port)}, Client: loopback(),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("%s: %v", r.Name, r.Err)
		}
	}
	stopSeed()
	if err := <-seedDone; err != nil {
		t.Fatalf("seeder: %v", err)
	}
	var last SeedStatus
	select {
	case last = <-statuses:
	default:
		t.Fatal("no status reported when the seeder stopped")
	}
	if last.BytesUploaded < want {
		t.Errorf("final status: uploaded %d bytes, want at least the %d fetched", last.BytesUploaded, want)
	}
}
