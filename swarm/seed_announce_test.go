package swarm

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/distswarm/distswarm/swarm/collection"
)

// TestSeedAnnouncesAsSeeder: a seeder whose files are hashed for the first
// time (fresh store) announces to the collection's tracker with left=0,
// never as a leecher. (anacrolix announced on add, before the check, with
// left=<everything>, and never corrected it until the next interval.)
func TestSeedAnnouncesAsSeeder(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var mu sync.Mutex
	var lefts []string
	announced := make(chan struct{}, 16)
	tracker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		lefts = append(lefts, r.URL.Query().Get("left"))
		mu.Unlock()
		w.Write([]byte("d8:intervali1800e5:peers0:e"))
		select {
		case announced <- struct{}{}:
		default:
		}
	}))
	defer tracker.Close()

	src := t.TempDir()
	corpus(t, src, []int{1000, 300000, 2 << 20})
	coll, err := collection.Create(ctx, collection.CreateOptions{From: src, Trackers: []string{tracker.URL + "/announce"}})
	if err != nil {
		t.Fatal(err)
	}
	seedStore, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	seedCtx, stopSeed := context.WithCancel(ctx)
	seedDone := make(chan error, 1)
	go func() {
		seedDone <- Seed(seedCtx, SeedOptions{
			Store: seedStore, Collections: []*collection.Collection{coll}, From: src,
			Client: ClientOptions{ListenAddr: "127.0.0.1:0"},
		})
	}()
	defer func() { stopSeed(); <-seedDone }()
	select {
	case <-announced:
	case err := <-seedDone:
		t.Fatalf("seeder: %v", err)
	case <-ctx.Done():
		t.Fatal("seeder never announced")
	}
	mu.Lock()
	defer mu.Unlock()
	for i, l := range lefts {
		if l != "0" {
			t.Errorf("announce %d: left=%s, want 0 (seeder announced as a leecher)", i, l)
		}
	}
}
