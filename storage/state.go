package storage

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
type stateDB struct {
	db     *bolt.DB
	writes atomic.Int64 // write transactions, for trimEvery
}

// trimEvery is how many write transactions run between two dropResident calls.
const trimEvery = 2048

// wrote counts a write transaction and drops the mapped pages every trimEvery of them.
func (s *stateDB) wrote() {
	if s.writes.Add(1)%trimEvery == 0 {
		_ = dropResident(s.db)
	}
}

func openStateDB(path string) (*stateDB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("state db dir: %w", err)
	}
	db, err := bolt.Open(path, 0o644, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open state db %s: %w", path, err)
	}
	// Piece bits are committed without fsync: an fsync per verified piece
	// costs ~10 ms and made the initial check of a store crawl (~100
	// pieces/s). Losing recent piece bits on a power cut only means
	// re-hashing or re-downloading those pieces. File records, which
	// decide what sits at a final path, are synced explicitly (setFile).
	db.NoSync = true
	return &stateDB{db: db}, nil
}

func (s *stateDB) Close() error { return s.db.Close() }

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

// setPiece persists one piece bit. A plain (unsynced) Update: bbolt's Batch
// waits up to MaxBatchDelay (10 ms) to gather callers, and with the library's
// two hashers per torrent that capped hashing at ~100 pieces/s.
func (s *stateDB) setPiece(ih metainfo.Hash, index int, complete bool) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := torrentBucket(tx, ih, bucketPieces, true)
		if err != nil {
			return err
		}
		if complete {
			return b.Put(u32key(index), []byte{1})
		}
		return b.Delete(u32key(index))
	})
	s.wrote()
	if err != nil {
		return fmt.Errorf("persist piece %d of %s: %w", index, ih.HexString(), err)
	}
	return nil
}

// setFile persists a file record and, in the same transaction, clears the bits of pieces
// [clearBegin, clearEnd) (pass an empty range to keep them).
func (s *stateDB) setFile(ih metainfo.Hash, index int, r *fileRecord, clearBegin, clearEnd int) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		fb, err := torrentBucket(tx, ih, bucketFiles, true)
		if err != nil {
			return err
		}
		if r == nil {
			if err := fb.Delete(u32key(index)); err != nil {
				return err
			}
		} else {
			v, err := json.Marshal(r)
			if err != nil {
				return err
			}
			if err := fb.Put(u32key(index), v); err != nil {
				return err
			}
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
