package swarm

import (
	"bytes"
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

// TestKnownFollowsTheDirectory: Known parses a remembered torrent once, but
// a file replaced in place (another torrent under the same name) or removed
// is seen on the next call.
func TestKnownFollowsTheDirectory(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var infohashes []metainfo.Hash
	for i := range 2 {
		src := t.TempDir()
		corpus(t, src, []int{1000 + i})
		coll, err := collection.Create(ctx, collection.CreateOptions{From: src})
		if err != nil {
			t.Fatal(err)
		}
		infohashes = append(infohashes, coll.Torrents[0].HashInfoBytes())
		if i == 0 {
			if err := st.Remember(coll.Torrents[0], nil); err != nil {
				t.Fatal(err)
			}
			continue
		}
		// The second torrent takes the first one's file.
		var buf bytes.Buffer
		if err := coll.Torrents[0].Write(&buf); err != nil {
			t.Fatal(err)
		}
		first := filepath.Join(st.collectionsDir(), infohashes[0].HexString()+".torrent")
		if got := knownHashes(t, st); len(got) != 1 || got[0] != infohashes[0] {
			t.Fatalf("known %v, want %v", got, infohashes[:1])
		}
		if err := os.WriteFile(first, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := knownHashes(t, st); len(got) != 1 || got[0] != infohashes[1] {
			t.Fatalf("after the file was replaced: known %v, want %v", got, infohashes[1:])
		}
		if err := os.Remove(first); err != nil {
			t.Fatal(err)
		}
		if got := knownHashes(t, st); len(got) != 0 {
			t.Fatalf("after the file was removed: known %v", got)
		}
	}
}

func knownHashes(t *testing.T, st *Store) []metainfo.Hash {
	t.Helper()
	known, err := st.Known()
	if err != nil {
		t.Fatal(err)
	}
	var out []metainfo.Hash
	for _, mi := range known {
		out = append(out, mi.HashInfoBytes())
	}
	return out
}
