package storage

import (
	"encoding/binary"
	"log/slog"
	"testing"
	"time"

	"github.com/anacrolix/torrent/metainfo"
	bolt "go.etcd.io/bbolt"
)

// committedBits reads the committed piece bits of ih directly (without flushing the queue).
func committedBits(t *testing.T, s *stateDB, ih metainfo.Hash) map[int]bool {
	t.Helper()
	got := map[int]bool{}
	if err := s.db.View(func(tx *bolt.Tx) error {
		b, _ := torrentBucket(tx, ih, bucketPieces, false)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, _ []byte) error {
			got[int(binary.BigEndian.Uint32(k))] = true
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestPieceBitsQueued: piece bits are committed together shortly after they are set, before a
// file record written after them (in the same order: a record's cleared range stays cleared),
// and on Close.
func TestPieceBitsQueued(t *testing.T) {
	path := t.TempDir() + "/state.db"
	s, err := openStateDB(path, OSFileSystem{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ih := metainfo.HashBytes([]byte("queued"))
	for i := range 10 {
		if err := s.setPiece(ih, i, true); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(committedBits(t, s, ih)) != 10 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := committedBits(t, s, ih); len(got) != 10 {
		t.Fatalf("%d bits committed %v after the flush delay, want 10", len(got), pieceFlushDelay)
	}

	// Queued sets of pieces 20..29, then a record clearing 20..24: the clear wins.
	for i := 20; i < 30; i++ {
		s.setPiece(ih, i, true)
	}
	if err := s.setFile(ih, 3, &fileRecord{Phase: PhaseRejected, Err: "x"}, 20, 25); err != nil {
		t.Fatal(err)
	}
	got := committedBits(t, s, ih)
	for i := 20; i < 30; i++ {
		if got[i] != (i >= 25) {
			t.Errorf("piece %d committed %v after the record", i, got[i])
		}
	}

	// Queued at Close: committed.
	s.setPiece(ih, 40, true)
	s.setPiece(ih, 0, false)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = openStateDB(path, OSFileSystem{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got = committedBits(t, s, ih)
	if !got[40] || got[0] {
		t.Errorf("after Close: piece 40 %v (want true), piece 0 %v (want false)", got[40], got[0])
	}
}
