package swarm

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"

	"github.com/distswarm/distswarm/swarm/collection"
)

// symlinkTorrent is a collection torrent whose one file is a BEP 47
// symlink pointing out of the store.
func symlinkTorrent(t *testing.T) *metainfo.MetaInfo {
	t.Helper()
	f := metainfo.FileInfo{Path: []string{"ab", "x-1.tar.gz"}, Length: 1}
	f.Attr, f.SymlinkPath = "l", []string{"..", "..", "etc", "passwd"}
	b, err := bencode.Marshal(metainfo.Info{
		Name: "distfiles", PieceLength: 16 << 10, Pieces: make([]byte, 20),
		Files: []metainfo.FileInfo{f},
	})
	if err != nil {
		t.Fatal(err)
	}
	return &metainfo.MetaInfo{InfoBytes: b}
}

// TestFetchRefusesUncheckedCollection: a collection that did not come
// through collection.Load or ResolveMagnet (a library caller's, or one
// remembered by an older distswarm) is checked by Fetch the same way.
func TestFetchRefusesUncheckedCollection(t *testing.T) {
	st, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = Fetch(ctx, FetchOptions{
		Store:           st,
		Collections:     []*collection.Collection{{Torrents: []*metainfo.MetaInfo{symlinkTorrent(t)}}},
		Names:           []string{"x-1.tar.gz"},
		TrustCollection: true,
		Client:          loopback(),
	})
	if err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Fatalf("Fetch of a symlink collection: %v, want a refusal naming the symlink", err)
	}
}

// TestKnownSkipsRefusedCollections: Store.Known (Portage mode's
// collections) leaves out a remembered torrent that ParseInfo refuses.
func TestKnownSkipsRefusedCollections(t *testing.T) {
	st, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(st.collectionsDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := st.Remember(symlinkTorrent(t), nil); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(st.collectionsDir()); len(ents) != 1 {
		t.Fatalf("remembered %d entries, want 1", len(ents))
	}
	known, err := st.Known()
	if err != nil {
		t.Fatal(err)
	}
	if len(known) != 0 {
		t.Errorf("Known returned %d collections, want the refused one left out (%s)", len(known), filepath.Join(st.collectionsDir()))
	}
}
