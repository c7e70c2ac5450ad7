package swarm

import (
	"context"
	"fmt"
	"math/rand"
	"sort"
	"testing"
	"time"

	"github.com/distswarm/distswarm/swarm/collection"
)

// measureMoved seeds src as one collection and fetches names from it over
// loopback, returning piece bytes received ÷ payload bytes.
func measureMoved(t *testing.T, files map[string][]byte, coll *collection.Collection, src string, names []string) float64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	seedStore, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ready := make(chan int, 1)
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- Seed(sctx, SeedOptions{Store: seedStore, Collections: []*collection.Collection{coll}, From: src, Client: loopback(), Ready: func(p int) { ready <- p }})
	}()
	var port int
	select {
	case port = <-ready:
	case err := <-done:
		t.Fatalf("seeder: %v", err)
	}
	defer func() { stop(); <-done }()
	leech, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	auth := authorityFor(t, files, names...)
	var last Progress
	res, err := Fetch(ctx, FetchOptions{
		Store: leech, Collections: []*collection.Collection{coll}, Authority: auth, Names: names,
		Peers: []string{fmt.Sprintf("127.0.0.1:%d", port)}, Client: loopback(),
		OnProgress: func(p Progress) { last = p },
	})
	if err != nil {
		t.Fatal(err)
	}
	var payload int64
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("%s: %v", r.Name, r.Err)
		}
		payload += int64(len(files[r.Name]))
	}
	if payload == 0 {
		t.Fatal("empty payload")
	}
	return float64(last.Moved) / float64(payload)
}

func sortedNames(files map[string][]byte) []string {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// randomFraction picks about frac of names (at least one), deterministically.
func randomFraction(names []string, frac float64, seed int64) []string {
	r := rand.New(rand.NewSource(seed))
	var out []string
	for _, n := range names {
		if r.Float64() < frac {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		out = names[:1]
	}
	return out
}

// TestBytesMovedOverPayload measures, on a real loopback transfer, the
// bytes the collection's pad alignment makes a fetch move (anacrolix
// transfers pad bytes like data): goals ≤ 1.05 for a full fetch of a mixed
// corpus, ≤ 1.3 for small files and for a random 5 % of either.
func TestBytesMovedOverPayload(t *testing.T) {
	if testing.Short() {
		t.Skip("transfers ~100 MB")
	}
	r := rand.New(rand.NewSource(7))
	cases := []struct {
		name  string
		sizes []int
		full  float64
	}{
		{"mixed", func() []int {
			var s []int
			for i := 0; i < 120; i++ {
				switch {
				case i%2 == 0:
					s = append(s, 1+r.Intn(32<<10))
				case i%10 == 1:
					s = append(s, 4<<20+r.Intn(4<<20))
				default:
					s = append(s, r.Intn(1<<20))
				}
			}
			return s
		}(), 1.05},
		{"small-1-32KiB", func() []int {
			var s []int
			for i := 0; i < 1500; i++ {
				s = append(s, 1<<10+r.Intn(31<<10))
			}
			return s
		}(), 1.3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := t.TempDir()
			files := corpus(t, src, c.sizes)
			coll, err := collection.Create(context.Background(), collection.CreateOptions{From: src})
			if err != nil {
				t.Fatal(err)
			}
			info, _ := coll.Torrents[0].UnmarshalInfo()
			names := sortedNames(files)
			full := measureMoved(t, files, coll, src, names)
			part := measureMoved(t, files, coll, src, randomFraction(names, 0.05, 5))
			t.Logf("%s: %d files, piece length %d KiB, %d torrent(s): moved/payload full %.3f, random 5%% %.3f",
				c.name, len(files), info.PieceLength>>10, len(coll.Torrents), full, part)
			if full > c.full || part > 1.3 {
				t.Errorf("moved/payload full %.3f (goal ≤ %.2f), 5%% %.3f (goal ≤ 1.3)", full, c.full, part)
			}
		})
	}
}
