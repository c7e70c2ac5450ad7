package swarm

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/types"

	"github.com/distswarm/distswarm/swarm/collection"
)

// startedTorrent returns a leecher's torrent of a collection of files of
// the given sizes, added to a real client, with no peers.
func startedTorrent(t *testing.T, ctx context.Context, sizes []int) (*torrent.Torrent, []*torrent.File) {
	t.Helper()
	src := t.TempDir()
	corpus(t, src, sizes)
	coll, err := collection.Create(ctx, collection.CreateOptions{From: src})
	if err != nil {
		t.Fatal(err)
	}
	tor := attachedLeecher(t, t.TempDir(), coll.Torrents[0])
	var real []*torrent.File
	for _, f := range tor.Files() {
		if f.Length() > 0 && f.FileInfo().Attr == "" { // not a pad
			real = append(real, f)
		}
	}
	if len(real) != len(sizes)+1 { // and the collection Manifest
		t.Fatalf("%d files in the torrent, want %d", len(real), len(sizes)+1)
	}
	return tor, real
}

// receivedAt tells s a block at byte off of f arrived.
func receivedAt(s *startedFiles, tor *torrent.Torrent, f *torrent.File, off int64) {
	pl := tor.Info().PieceLength
	at := f.Offset() + off
	s.received(tor, at/pl, at%pl)
}

// TestStartedFilesQueuesEachFileOnce: the first block of a file queues it,
// later blocks of it do not, and the file is found from any block.
func TestStartedFilesQueuesEachFileOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tor, files := startedTorrent(t, ctx, []int{300 << 10, 40 << 10, 200 << 10})
	s := newStartedFiles()
	for _, f := range files {
		for _, off := range []int64{f.Length() - 1, 0, f.Length() / 2} {
			receivedAt(s, tor, f, off)
		}
	}
	s.received(tor, int64(tor.Info().NumPieces()+5), 0) // past the end: ignored
	if got := len(s.queue); got != len(files) {
		t.Fatalf("%d files queued, want %d (one each)", got, len(files))
	}
	for _, want := range files {
		if got := (<-s.queue).f; got != want {
			t.Errorf("queued %s, want %s", got.DisplayPath(), want.DisplayPath())
		}
	}
}

// TestStartedFilesRaisesWantedFiles: run raises a queued file that is
// wanted to High, and leaves one nobody asked for at None.
func TestStartedFilesRaisesWantedFiles(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tor, files := startedTorrent(t, ctx, []int{300 << 10, 40 << 10, 200 << 10})
	wanted, unwanted, untouched := files[1], files[2], files[3]
	wanted.Download()
	untouched.Download()
	s := newStartedFiles()
	done := make(chan struct{})
	defer close(done)
	go s.run(done)
	receivedAt(s, tor, unwanted, 0)
	receivedAt(s, tor, wanted, 0)
	deadline := time.Now().Add(20 * time.Second)
	for wanted.Priority() != types.PiecePriorityHigh {
		if time.Now().After(deadline) {
			t.Fatalf("wanted file still at priority %v", wanted.Priority())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if p := unwanted.Priority(); p != types.PiecePriorityNone {
		t.Errorf("unwanted file raised to %v", p)
	}
	if p := untouched.Priority(); p != types.PiecePriorityNormal {
		t.Errorf("file without a block at %v, want normal", p)
	}

	// In a swarm (the seed cap on) nothing is raised.
	swarm := newStartedFiles()
	swarm.swarming = func() bool { return true }
	swarm.raise(untouched)
	if p := untouched.Priority(); p != types.PiecePriorityNormal {
		t.Errorf("file raised to %v while swarming", p)
	}
	swarm.swarming = func() bool { return false }
	swarm.raise(untouched)
	if p := untouched.Priority(); p != types.PiecePriorityHigh {
		t.Errorf("file at %v after the swarm ended, want high", p)
	}
}

// TestStartedFilesInFetch: in a real transfer every file the fetch took
// was raised by the client's own hook.
func TestStartedFilesInFetch(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	src := t.TempDir()
	corpus(t, src, []int{700 << 10, 90 << 10, 1 << 20, 5 << 10})
	coll, err := collection.Create(ctx, collection.CreateOptions{From: src})
	if err != nil {
		t.Fatal(err)
	}
	port := startSeeder(t, ctx, coll, src)
	tor := attachedLeecher(t, t.TempDir(), coll.Torrents[0])
	tor.AddPeers(peerInfosMust(t, fmt.Sprintf("127.0.0.1:%d", port)))
	for _, f := range tor.Files() {
		f.Download() // as a fetch asks for files (it never uses DownloadAll)
	}
	select {
	case <-tor.Complete().On():
	case <-ctx.Done():
		t.Fatal("transfer did not complete")
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, f := range tor.Files() {
		if f.Length() == 0 || f.FileInfo().Attr != "" || f.BytesCompleted() == 0 {
			continue
		}
		for f.Priority() != types.PiecePriorityHigh && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if p := f.Priority(); p != types.PiecePriorityHigh {
			t.Errorf("%s fetched at priority %v, want high", f.DisplayPath(), p)
		}
	}
}
