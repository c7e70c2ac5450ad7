package swarm

import (
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/rand"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"
	"golang.org/x/crypto/blake2b"

	"github.com/distswarm/distswarm/storage"
	"github.com/distswarm/distswarm/swarm/collection"
)

// corpus writes n deterministic files of the given sizes into dir (flat)
// and returns name → content.
func corpus(t *testing.T, dir string, sizes []int) map[string][]byte {
	t.Helper()
	r := rand.New(rand.NewSource(1))
	out := map[string][]byte{}
	for i, sz := range sizes {
		name := fmt.Sprintf("pkg%03d-1.%d.tar.gz", i, sz)
		b := make([]byte, sz)
		r.Read(b)
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		out[name] = b
	}
	return out
}

// authorityFor returns an Authority that knows the named files, through a
// Manifest of their DIST lines (digests computed here, independently).
// checkFetched fails t for every result that is an error or whose placed
// file does not hold files[name].
func checkFetched(t *testing.T, res []FileResult, files map[string][]byte) {
	t.Helper()
	for _, r := range res {
		if r.Err != nil {
			t.Errorf("%s: %v", r.Name, r.Err)
			continue
		}
		if got, err := os.ReadFile(r.Path); err != nil || !bytes.Equal(got, files[r.Name]) {
			t.Errorf("%s: content differs at %s (%v)", r.Name, r.Path, err)
		}
		if r.Size != int64(len(files[r.Name])) {
			t.Errorf("%s: result says %d bytes, the file has %d", r.Name, r.Size, len(files[r.Name]))
		}
	}
}

func authorityFor(t *testing.T, files map[string][]byte, names ...string) *Authority {
	t.Helper()
	path := filepath.Join(t.TempDir(), "Manifest")
	var lines []string
	for _, n := range names {
		b := blake2b.Sum512(files[n])
		s := sha512.Sum512(files[n])
		lines = append(lines, fmt.Sprintf("DIST %s %d BLAKE2B %s SHA512 %s", n, len(files[n]), hex.EncodeToString(b[:]), hex.EncodeToString(s[:])))
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	auth := NewAuthority()
	if err := auth.AddManifest(path); err != nil {
		t.Fatal(err)
	}
	return auth
}

func loopback() ClientOptions {
	return ClientOptions{ListenAddr: "127.0.0.1:0", NoTrackers: true}
}

// attachedLeecher starts a loopback client over a fresh Store in dir, adds
// mi and attaches the store to it; the caller adds the peers and says what
// to download. Client and store are closed when the test ends.
func attachedLeecher(t *testing.T, dir string, mi *metainfo.MetaInfo) *torrent.Torrent {
	t.Helper()
	st, err := storage.Open(storage.Options{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	copts := loopback()
	copts.Storage = st
	cl, err := NewClient(copts)
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	// The client goes first; cleanups registered before this one (an
	// unmount) run after it.
	t.Cleanup(func() { cl.Close(); st.Close() })
	tor, err := addTorrent(cl, mi)
	if err != nil {
		t.Fatal(err)
	}
	<-tor.GotInfo()
	st.Attach(tor)
	return tor
}

// startSeeder runs Seed for coll, seeding src in place from a fresh store
// on loopback, until the test ends; it returns the seeder's port.
func startSeeder(t *testing.T, ctx context.Context, coll *collection.Collection, src string) int {
	t.Helper()
	return startSeederWith(t, ctx, coll, src, loopback())
}

// startSeederWith is startSeeder with the seeder's client options.
func startSeederWith(t *testing.T, ctx context.Context, coll *collection.Collection, src string, client ClientOptions) int {
	t.Helper()
	ready := make(chan int, 1)
	seedDone := runSeeder(t, ctx, coll, src, client, func(p int) { ready <- p })
	select {
	case port := <-ready:
		return port
	case err := <-seedDone:
		t.Fatalf("seeder: %v", err)
	case <-ctx.Done():
		t.Fatal("seeder not ready")
	}
	return 0
}

// runSeeder runs Seed for coll, seeding src in place from a fresh store,
// until the test ends; ready (may be nil) gets its port. The returned
// channel has Seed's error if it ends early.
func runSeeder(t *testing.T, ctx context.Context, coll *collection.Collection, src string, client ClientOptions, ready func(int)) <-chan error {
	t.Helper()
	seedStore, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	seedCtx, stopSeed := context.WithCancel(ctx)
	seedDone, finished := make(chan error, 1), make(chan struct{})
	go func() {
		defer close(finished)
		seedDone <- Seed(seedCtx, SeedOptions{Store: seedStore, Collections: []*collection.Collection{coll}, From: src, Client: client, Ready: ready})
	}()
	t.Cleanup(func() { stopSeed(); <-finished })
	return seedDone
}

// closedAddr returns a loopback address nothing listens on (a port just
// freed), for a peer that does not answer or listens only later.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// corpusCollection writes corpus files of sizes into a new directory and
// creates a collection of them.
func corpusCollection(t *testing.T, ctx context.Context, sizes []int) (src string, files map[string][]byte, coll *collection.Collection) {
	t.Helper()
	src = t.TempDir()
	files = corpus(t, src, sizes)
	coll, err := collection.Create(ctx, collection.CreateOptions{From: src})
	if err != nil {
		t.Fatal(err)
	}
	return src, files, coll
}

func TestSeedAndFetchInProcess(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	src := t.TempDir()
	files := corpus(t, src, []int{0, 1, 1000, 16 << 10, 40000, 300000, 2 << 20})
	coll, err := collection.Create(ctx, collection.CreateOptions{From: src})
	if err != nil {
		t.Fatal(err)
	}
	port := startSeeder(t, ctx, coll, src)

	leechStore, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"pkg001-1.1.tar.gz", "pkg002-1.1000.tar.gz", "pkg005-1.300000.tar.gz", "pkg006-1.2097152.tar.gz"}
	auth := authorityFor(t, files, want...)
	res, err := Fetch(ctx, FetchOptions{
		Store: leechStore, Collections: []*collection.Collection{coll}, Authority: auth,
		Names: want, Peers: []string{fmt.Sprintf("127.0.0.1:%d", port)}, Client: loopback(),
	})
	if err != nil {
		t.Fatal(err)
	}
	checkFetched(t, res, files)
	for _, r := range res {
		if r.Err == nil && r.Path != leechStore.DistfilePath(r.Name) {
			t.Errorf("%s placed at %s, want %s", r.Name, r.Path, leechStore.DistfilePath(r.Name))
		}
	}
	// Nothing else was placed.
	n := 0
	filepath.WalkDir(leechStore.DistfilesDir(), func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && d.Name() != "layout.conf" {
			n++
		}
		return nil
	})
	if n != len(want) {
		t.Errorf("%d files placed, want %d", n, len(want))
	}

	// Again: every file is present, with its size, and nothing is fetched.
	res, err = Fetch(ctx, FetchOptions{
		Store: leechStore, Collections: []*collection.Collection{coll}, Authority: auth,
		Names: want, Client: loopback(),
	})
	if err != nil {
		t.Fatal(err)
	}
	checkFetched(t, res, files)
	for _, r := range res {
		if r.Outcome != OutcomePresent {
			t.Errorf("%s: second fetch: %v, want %v", r.Name, r.Outcome, OutcomePresent)
		}
	}
}
