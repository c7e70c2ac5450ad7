package swarm

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"

	"github.com/distswarm/distswarm/swarm/collection"
)

// TestFetchTrustCollectionManifestAlreadyPlaced: a second --trust-collection
// fetch from the same store, whose collection Manifest an earlier fetch
// already placed, starts its files instead of waiting for the timeout.
func TestFetchTrustCollectionManifestAlreadyPlaced(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	src := t.TempDir()
	files := corpus(t, src, []int{100, 20000, 300000})
	coll, err := collection.Create(ctx, collection.CreateOptions{From: src})
	if err != nil {
		t.Fatal(err)
	}
	port := startSeeder(t, ctx, coll, src)

	leech, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"pkg000-1.100.tar.gz", "pkg002-1.300000.tar.gz"} {
		fctx, fcancel := context.WithTimeout(ctx, 20*time.Second)
		res, err := Fetch(fctx, FetchOptions{
			Store: leech, Collections: []*collection.Collection{coll}, TrustCollection: true,
			Names: []string{name}, Peers: []string{fmt.Sprintf("127.0.0.1:%d", port)}, Client: loopback(),
		})
		fcancel()
		if err != nil {
			t.Fatalf("fetch %d: %v", i+1, err)
		}
		if len(res) != 1 || res[0].Err != nil {
			t.Fatalf("fetch %d of %s: %+v", i+1, name, res)
		}
		got, err := os.ReadFile(res[0].Path)
		if err != nil || string(got) != string(files[name]) {
			t.Fatalf("fetch %d: %s has wrong content (%v)", i+1, name, err)
		}
	}
}

// TestFetchTrustCollectionForeignTorrent: with --trust-collection and a
// torrent that carries no collection Manifest (one another client made),
// a file no authority knows fails at once with a clear error instead of
// hanging until the timeout.
func TestFetchTrustCollectionForeignTorrent(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "distfiles", "ab")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "foo-1.tar.gz"), []byte("foreign"), 0o644); err != nil {
		t.Fatal(err)
	}
	info := metainfo.Info{PieceLength: 16 << 10}
	if err := info.BuildFromFilePath(filepath.Join(dir, "distfiles")); err != nil {
		t.Fatal(err)
	}
	ib, err := bencode.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	mi := &metainfo.MetaInfo{InfoBytes: ib}
	store, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	res, err := Fetch(ctx, FetchOptions{
		Store: store, Collections: []*collection.Collection{{Torrents: []*metainfo.MetaInfo{mi}}},
		TrustCollection: true, Names: []string{"foo-1.tar.gz"}, Client: loopback(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatalf("fetch waited for its deadline (%s)", time.Since(start))
	}
	if len(res) != 1 || res[0].Err == nil || !strings.Contains(res[0].Err.Error(), "no authority knows its digests") {
		t.Fatalf("want a no-authority error, got %+v", res)
	}
}

// TestFetchTrustCollectionEmptyFile: a --trust-collection --all fetch of a
// collection holding a 0-byte file places it with the others. It has no
// piece, so the store verified it when the torrent opened, before the
// collection Manifest was in, and the fetch waited for it until the
// timeout (issue 12, case 8).
func TestFetchTrustCollectionEmptyFile(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	src := t.TempDir()
	files := corpus(t, src, []int{100, 0, 20000})
	coll, err := collection.Create(ctx, collection.CreateOptions{From: src})
	if err != nil {
		t.Fatal(err)
	}
	port := startSeeder(t, ctx, coll, src)
	leech, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	fctx, fcancel := context.WithTimeout(ctx, 30*time.Second)
	defer fcancel()
	res, err := Fetch(fctx, FetchOptions{
		Store: leech, Collections: []*collection.Collection{coll}, TrustCollection: true, All: true,
		Peers: []string{fmt.Sprintf("127.0.0.1:%d", port)}, Client: loopback(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != len(files) {
		t.Fatalf("%d results for %d files: %+v", len(res), len(files), res)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("%s: %v", r.Name, r.Err)
		}
		got, err := os.ReadFile(r.Path)
		if err != nil || string(got) != string(files[r.Name]) {
			t.Fatalf("%s: placed %d bytes (%v), want %d", r.Name, len(got), err, len(files[r.Name]))
		}
	}
}
