package swarm

import (
	"context"
	"reflect"
	"testing"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"
	tstorage "github.com/anacrolix/torrent/storage"

	"github.com/distswarm/distswarm/swarm/collection"
)

// TestAddTorrentDecodesInfoOnce: addTorrent reads the piece length without decoding the file
// list, builds the same spec as the library would for a v1 torrent, adds the torrent with its
// info, is idempotent, and rejects an info dict the client cannot decode without leaving the
// torrent behind.
func TestAddTorrentDecodesInfoOnce(t *testing.T) {
	src := t.TempDir()
	corpus(t, src, []int{1, 1000, 3000, 5000})
	coll, err := collection.Create(context.Background(), collection.CreateOptions{
		From: src, Trackers: []string{"http://127.0.0.1:1/announce"}, Webseeds: []string{"http://127.0.0.1:1/"},
	})
	if err != nil {
		t.Fatal(err)
	}
	mi := coll.Torrents[0]
	info, err := mi.UnmarshalInfo()
	if err != nil {
		t.Fatal(err)
	}
	head, err := decodeInfoHead(mi.InfoBytes)
	if err != nil {
		t.Fatal(err)
	}
	if head.PieceLength != info.PieceLength || head.MetaVersion != info.MetaVersion {
		t.Errorf("info head: piece length %d meta version %d, want %d %d", head.PieceLength, head.MetaVersion, info.PieceLength, info.MetaVersion)
	}
	want, err := torrent.TorrentSpecFromMetaInfoErr(mi)
	if err != nil {
		t.Fatal(err)
	}
	want.DisplayName = ""
	if got := specFromV1MetaInfo(mi, mi.HashInfoBytes()); !reflect.DeepEqual(got, want) {
		t.Errorf("spec:\n got %+v\nwant %+v", got, want)
	}

	copts := loopback()
	copts.Storage = tstorage.NewFile(t.TempDir()) // not the library's default, in the working directory
	cl, err := NewClient(copts)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	tor, err := addTorrent(cl, mi)
	if err != nil {
		t.Fatal(err)
	}
	if tor.Info() == nil || tor.NumPieces() != info.NumPieces() {
		t.Fatalf("added torrent: info %v, %d pieces", tor.Info() != nil, tor.NumPieces())
	}
	again, err := addTorrent(cl, mi)
	if err != nil || again != tor {
		t.Errorf("second add: %v, same torrent %v", err, again == tor)
	}

	// Decodable as a dict head, not as an info (files is not a list).
	bad, err := bencode.Marshal(map[string]any{"name": "x", "piece length": 4096, "pieces": "", "files": 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := addTorrent(cl, &metainfo.MetaInfo{InfoBytes: bad}); err == nil {
		t.Error("bad info dict added without error")
	}
	if n := len(cl.Torrents()); n != 1 {
		t.Errorf("%d torrents in the client after a failed add, want 1", n)
	}
}
