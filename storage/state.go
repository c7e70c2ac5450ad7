package storage

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anacrolix/torrent/metainfo"
	bolt "go.etcd.io/bbolt"
)

// Bucket layout: torrents/<20-byte infohash>/{pieces,files}. pieces: big-endian uint32 piece index
// → 0x01 (present = complete). files: big-endian uint32 file index → JSON fileRecord.
var (
	bucketTorrents = []byte("torrents")
	bucketPieces   = []byte("pieces")
	bucketFiles    = []byte("files")
)

// fileRecord is the persisted per-file state. Missing and Staging are never persisted: they are
// derived from the piece bits.
type fileRecord struct {
	Phase     Phase  `json:"phase"`
	FinalPath string `json:"final_path,omitempty"`
	Size      int64  `json:"size,omitempty"`
	ModTime   int64  `json:"mtime_ns,omitempty"`
	Err       string `json:"err,omitempty"`
}

// stateDB wraps the bbolt database holding piece bits and file records.
//
// bbolt reads through a shared mapping of the whole file, and every page a transaction touches
// stays in the process's resident set: a seeder that opened a 100,000-file collection had the
// whole db (~35 MB) resident. The pages are dropped from the resident set (dropResident) after
// each torrent's state is loaded and every trimEvery write transactions.
//
// Piece bits are queued and committed together (flushPieces), at most pieceFlushDelay after the
// first of them: one write transaction per verified piece allocated ~30 KB (bbolt materializes
// the leaf it writes to), ~3 GB for the first check of a 100,000-file collection, and kept the
// garbage collector busy. A file record is written after the bits queued before it, in the same
// transaction, so the db never holds a record without the piece bits that led to it.
//
// A Verifying record (queueFile) is queued with the bits, in order, and committed unsynced: it
// only tells the next open to re-verify a file it finds at its final path; losing it on a power
// cut leaves the bits without a record, which the next open handles as well (see openTorrent).
// Records that decide what sits at a final path (Final, Rejected, ...) are written by setFile
// and setFiles, which commit the queue first and sync.
type stateDB struct {
	db     *bolt.DB
	lock   *stateLock   // held while db is open
	writes atomic.Int64 // write transactions, for trimEvery

	flushMu sync.Mutex // serializes writers of queued bits, to keep their order

	mu        sync.Mutex // guards the fields below
	pending   []pieceBit // queued piece bits and Verifying records, in call order
	scheduled bool       // a flush of pending is scheduled
	flushErr  error      // the last background flush's error, returned by the next setPiece
}

// pieceBit is a queued piece bit or, when rec is set, a queued file record of file index.
type pieceBit struct {
	ih       metainfo.Hash
	index    int
	complete bool
	rec      *fileRecord
}

// fileWrite is one file record of a setFiles batch.
type fileWrite struct {
	ih    metainfo.Hash
	index int
	rec   *fileRecord
}

// Piece bit queue bounds: a flush runs pieceFlushDelay after the first queued bit, or at once
// when maxPendingBits are queued.
const (
	pieceFlushDelay = 50 * time.Millisecond
	maxPendingBits  = 4096
)

// trimEvery is how many write transactions run between two dropResident calls.
const trimEvery = 2048

// wrote counts a write transaction and drops the mapped pages every trimEvery of them.
func (s *stateDB) wrote() {
	if s.writes.Add(1)%trimEvery == 0 {
		_ = dropResident(s.db)
	}
}

// lockWait is how long one attempt to open the state db waits for bbolt's
// own lock; Open's callers retry ErrLocked for as long as they are willing
// to wait.
const lockWait = 250 * time.Millisecond

// ErrLocked means another process has the store open (the state db is
// locked). Wait and retry, or talk to that process.
var ErrLocked = errors.New("store in use by another distswarm process")

// openStateDB opens (creating if needed) the state db at path. The store's
// lock file is taken first, so the damage check of openStateFile (which may
// move a db aside) never runs while another process has the db open.
func openStateDB(path string, fsys FileSystem, log *slog.Logger) (*stateDB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o777); err != nil {
		return nil, fmt.Errorf("state db dir: %w", err)
	}
	lock, err := lockStateFile(path + ".lock")
	if err != nil {
		return nil, err
	}
	db, err := openStateFile(path, fsys, log)
	if err != nil {
		_ = lock.Close()
		return nil, err
	}
	// Piece bits are committed without fsync: an fsync per verified piece
	// costs ~10 ms and made the initial check of a store crawl (~100
	// pieces/s). Losing recent piece bits on a power cut only means
	// re-hashing or re-downloading those pieces. File records, which
	// decide what sits at a final path, are synced explicitly (setFile,
	// setFiles).
	db.NoSync = true
	return &stateDB{db: db, lock: lock}, nil
}

// Close commits the queued piece bits and closes the db.
func (s *stateDB) Close() error {
	return errors.Join(s.flushPieces(), s.db.Close(), s.lock.Close())
}

func u32key(i int) []byte {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(i))
	return b[:]
}

// torrentBucket returns (creating if asked) the sub-bucket `name` of torrent ih.
func torrentBucket(tx *bolt.Tx, ih metainfo.Hash, name []byte, create bool) (*bolt.Bucket, error) {
	if !create {
		root := tx.Bucket(bucketTorrents)
		if root == nil {
			return nil, nil
		}
		tb := root.Bucket(ih[:])
		if tb == nil {
			return nil, nil
		}
		return tb.Bucket(name), nil
	}
	root, err := tx.CreateBucketIfNotExists(bucketTorrents)
	if err != nil {
		return nil, err
	}
	tb, err := root.CreateBucketIfNotExists(ih[:])
	if err != nil {
		return nil, err
	}
	return tb.CreateBucketIfNotExists(name)
}

// load reads every complete piece bit and every file record of a torrent in one read transaction.
func (s *stateDB) load(ih metainfo.Hash, numPieces int) (pieces []bool, files map[int]fileRecord, err error) {
	if err := s.flushPieces(); err != nil {
		return nil, nil, fmt.Errorf("load state of %s: %w", ih.HexString(), err)
	}
	pieces = make([]bool, numPieces)
	files = make(map[int]fileRecord)
	err = s.db.View(func(tx *bolt.Tx) error {
		pb, _ := torrentBucket(tx, ih, bucketPieces, false)
		if pb != nil {
			if err := pb.ForEach(func(k, _ []byte) error {
				if len(k) == 4 {
					if i := int(binary.BigEndian.Uint32(k)); i < numPieces {
						pieces[i] = true
					}
				}
				return nil
			}); err != nil {
				return err
			}
		}
		fb, _ := torrentBucket(tx, ih, bucketFiles, false)
		if fb == nil {
			return nil
		}
		return fb.ForEach(func(k, v []byte) error {
			if len(k) != 4 {
				return nil
			}
			var r fileRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("file record %x: %w", k, err)
			}
			files[int(binary.BigEndian.Uint32(k))] = r
			return nil
		})
	})
	if err != nil {
		return nil, nil, fmt.Errorf("load state of %s: %w", ih.HexString(), err)
	}
	_ = dropResident(s.db) // only a matter of memory use
	return pieces, files, nil
}

// setPiece queues one piece bit for commit (see stateDB). The commit is a plain (unsynced)
// Update. It returns the error of an earlier background commit, if any.
func (s *stateDB) setPiece(ih metainfo.Hash, index int, complete bool) error {
	return s.queue(pieceBit{ih: ih, index: index, complete: complete})
}

// queueFile queues a file record with the piece bits (see stateDB): it is committed, unsynced,
// with them. Use it only for records whose loss on a power cut is harmless (Verifying).
func (s *stateDB) queueFile(ih metainfo.Hash, index int, r *fileRecord) error {
	return s.queue(pieceBit{ih: ih, index: index, rec: r})
}

// queue appends op to the pending queue and schedules (or runs, when the queue is full) its
// commit. It returns the error of an earlier background commit, if any.
func (s *stateDB) queue(op pieceBit) error {
	s.mu.Lock()
	s.pending = append(s.pending, op)
	full := len(s.pending) >= maxPendingBits
	schedule := !full && !s.scheduled
	if schedule {
		s.scheduled = true
	}
	err := s.flushErr
	s.flushErr = nil
	s.mu.Unlock()
	switch {
	case full:
		if ferr := s.flushPieces(); ferr != nil {
			err = ferr
		}
	case schedule:
		time.AfterFunc(pieceFlushDelay, func() {
			if err := s.flushPieces(); err != nil && !errors.Is(err, bolt.ErrDatabaseNotOpen) {
				s.mu.Lock()
				s.flushErr = err
				s.mu.Unlock()
			}
		})
	}
	return err
}

// takePending returns the queued bits and empties the queue. Call with flushMu held.
func (s *stateDB) takePending() []pieceBit {
	s.mu.Lock()
	defer s.mu.Unlock()
	bits := s.pending
	s.pending, s.scheduled = nil, false
	return bits
}

// flushPieces commits the queued piece bits in one transaction.
func (s *stateDB) flushPieces() error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	bits := s.takePending()
	if len(bits) == 0 {
		return nil
	}
	err := s.db.Update(func(tx *bolt.Tx) error { return putBits(tx, bits) })
	s.wrote()
	return err
}

// putBits writes queued piece bits and file records in order.
func putBits(tx *bolt.Tx, bits []pieceBit) error {
	var (
		b    *bolt.Bucket
		last metainfo.Hash
	)
	for _, p := range bits {
		if p.rec != nil {
			if err := putFile(tx, p.ih, p.index, p.rec); err != nil {
				return err
			}
			continue
		}
		if b == nil || p.ih != last {
			var err error
			if b, err = torrentBucket(tx, p.ih, bucketPieces, true); err != nil {
				return err
			}
			last = p.ih
		}
		var err error
		if p.complete {
			err = b.Put(u32key(p.index), []byte{1})
		} else {
			err = b.Delete(u32key(p.index))
		}
		if err != nil {
			return fmt.Errorf("persist piece %d of %s: %w", p.index, p.ih.HexString(), err)
		}
	}
	return nil
}

// putFile writes (r != nil) or deletes the record of file index of torrent ih.
func putFile(tx *bolt.Tx, ih metainfo.Hash, index int, r *fileRecord) error {
	fb, err := torrentBucket(tx, ih, bucketFiles, true)
	if err != nil {
		return fmt.Errorf("files bucket of %s: %w", ih.HexString(), err)
	}
	if r == nil {
		if err := fb.Delete(u32key(index)); err != nil {
			return fmt.Errorf("delete file %d of %s: %w", index, ih.HexString(), err)
		}
		return nil
	}
	v, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode file %d of %s: %w", index, ih.HexString(), err)
	}
	if err := fb.Put(u32key(index), v); err != nil {
		return fmt.Errorf("persist file %d of %s: %w", index, ih.HexString(), err)
	}
	return nil
}

// setFiles persists file records in one transaction, after the queued piece bits, and syncs
// once: the group commit of the finalize committer.
func (s *stateDB) setFiles(ws []fileWrite) error {
	if len(ws) == 0 {
		return nil
	}
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	bits := s.takePending()
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := putBits(tx, bits); err != nil {
			return err
		}
		for _, w := range ws {
			if err := putFile(tx, w.ih, w.index, w.rec); err != nil {
				return err
			}
		}
		return nil
	})
	s.wrote()
	if err != nil {
		return fmt.Errorf("persist %d file records: %w", len(ws), err)
	}
	if err := s.db.Sync(); err != nil {
		return fmt.Errorf("persist %d file records: sync: %w", len(ws), err)
	}
	return nil
}

// setFile persists a file record and, in the same transaction, clears the bits of pieces
// [clearBegin, clearEnd) (pass an empty range to keep them).
func (s *stateDB) setFile(ih metainfo.Hash, index int, r *fileRecord, clearBegin, clearEnd int) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	bits := s.takePending()
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := putBits(tx, bits); err != nil {
			return err
		}
		if err := putFile(tx, ih, index, r); err != nil {
			return err
		}
		if clearBegin >= clearEnd {
			return nil
		}
		pb, err := torrentBucket(tx, ih, bucketPieces, true)
		if err != nil {
			return err
		}
		for p := clearBegin; p < clearEnd; p++ {
			if err := pb.Delete(u32key(p)); err != nil {
				return err
			}
		}
		return nil
	})
	s.wrote()
	if err != nil {
		return fmt.Errorf("persist file %d of %s: %w", index, ih.HexString(), err)
	}
	if err := s.db.Sync(); err != nil {
		return fmt.Errorf("persist file %d of %s: sync: %w", index, ih.HexString(), err)
	}
	return nil
}

// getFile reads one file record; ok=false when there is none.
func (s *stateDB) getFile(ih metainfo.Hash, index int) (r fileRecord, ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		fb, _ := torrentBucket(tx, ih, bucketFiles, false)
		if fb == nil {
			return nil
		}
		v := fb.Get(u32key(index))
		if v == nil {
			return nil
		}
		ok = true
		return json.Unmarshal(v, &r)
	})
	if err != nil && !errors.Is(err, bolt.ErrDatabaseNotOpen) {
		err = fmt.Errorf("read file %d of %s: %w", index, ih.HexString(), err)
	}
	return r, ok, err
}
