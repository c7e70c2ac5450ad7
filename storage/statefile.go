package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The state db file is checked before bbolt maps it. bbolt reads its pages through a mapping of
// the file rounded up to its mmap size: a file cut short (the disk filled up while bbolt created
// it: its meta pages were written, its freelist and root pages were not) is mapped past its end,
// and the first read there kills the process with SIGBUS — on every later open, even after space
// was freed. So a new db is created under a temporary name and renamed into place once complete
// and synced, and an existing one whose pages do not all lie inside the file is moved aside (the
// store then starts from an empty state: files at their final paths are hashed again and
// adopted, partial downloads start over).

// bbolt's on-disk meta page (go.etcd.io/bbolt internal/common: Page, Meta), little-endian as
// bbolt writes it on the platforms distswarm runs on.
const (
	boltMagic      = 0xED0CDAED
	boltVersion    = 2
	boltPageHeader = 16 // id u64, flags u16, count u16, overflow u32
	boltMetaSize   = 64 // magic, version, pageSize, flags u32; root u64, seq u64; freelist, pgid, txid u64; checksum u64
	boltMinPages   = 4  // two meta pages, the freelist and the root leaf (bbolt's init)
)

// boltMeta is what checkBoltFile reads of a meta page.
type boltMeta struct {
	pageSize uint32
	pgid     uint64 // high water mark: pages [0, pgid) are in use
	txid     uint64
}

// readBoltMeta decodes and checks the meta page at off (magic, version, checksum).
func readBoltMeta(f io.ReaderAt, off int64) (boltMeta, error) {
	buf := make([]byte, boltPageHeader+boltMetaSize)
	if _, err := f.ReadAt(buf, off); err != nil {
		return boltMeta{}, fmt.Errorf("read meta page at %d: %w", off, err)
	}
	m := buf[boltPageHeader:]
	le := binary.LittleEndian
	if le.Uint32(m[0:]) != boltMagic {
		return boltMeta{}, fmt.Errorf("meta page at %d: not a bbolt meta page", off)
	}
	if v := le.Uint32(m[4:]); v != boltVersion {
		return boltMeta{}, fmt.Errorf("meta page at %d: bbolt version %d", off, v)
	}
	h := fnv.New64a()
	h.Write(m[:56])
	if h.Sum64() != le.Uint64(m[56:]) {
		return boltMeta{}, fmt.Errorf("meta page at %d: bad checksum", off)
	}
	return boltMeta{pageSize: le.Uint32(m[8:]), pgid: le.Uint64(m[40:]), txid: le.Uint64(m[48:])}, nil
}

// checkBoltFile reports why the bbolt file at path cannot be opened safely: too small, no valid
// meta page, or pages in use past the end of the file. A missing or empty file is fine (bbolt
// creates it; see createStateDB).
func checkBoltFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	size := st.Size()
	if size == 0 {
		return nil
	}
	m0, err0 := readBoltMeta(f, 0)
	if err0 != nil {
		return fmt.Errorf("%d bytes: %w", size, err0)
	}
	best := m0
	// The second meta page, one page further; bbolt uses the valid one with the higher txid.
	if m1, err := readBoltMeta(f, int64(m0.pageSize)); err == nil && m1.pageSize == m0.pageSize && m1.txid > m0.txid {
		best = m1
	}
	ps := int64(best.pageSize)
	if ps < 512 || ps > 1<<16 || ps&(ps-1) != 0 {
		return fmt.Errorf("page size %d", ps)
	}
	if need := int64(max(best.pgid, boltMinPages)) * ps; size < need {
		return fmt.Errorf("%d bytes, its pages need %d (cut short, e.g. by a full disk)", size, need)
	}
	return nil
}

// openStateFile opens the state db at path. A file that checkBoltFile refuses is renamed to
// path.broken-<time> with a warning and replaced by a new, empty db; a new db is created complete
// under a temporary name first (createStateDB).
func openStateFile(path string, fsys FileSystem, log *slog.Logger) (*bolt.DB, error) {
	if err := checkBoltFile(path); err != nil {
		aside := fmt.Sprintf("%s.broken-%s", path, time.Now().UTC().Format("20060102T150405.000000000"))
		if rerr := os.Rename(path, aside); rerr != nil {
			return nil, fmt.Errorf("state db %s is damaged (%v) and cannot be moved aside: %w", path, err, rerr)
		}
		log.Warn("state db damaged: moved aside, starting from an empty state (files in the store are hashed again)",
			"path", path, "moved_to", aside, "err", err)
	}
	if st, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) || (err == nil && st.Size() == 0) {
		if err := createStateDB(path, fsys); err != nil {
			return nil, err
		}
	}
	db, err := bolt.Open(path, 0o666, &bolt.Options{Timeout: lockWait, OpenFile: fsys.OpenDB})
	if errors.Is(err, bolt.ErrTimeout) { // a distswarm that predates the lock file
		return nil, fmt.Errorf("open state db %s: %w", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open state db %s: %w", path, err)
	}
	return db, nil
}

// createStateDB creates an empty bbolt db at path.tmp, syncs it and renames it to path, so that
// path is either absent or complete. A failure (ENOSPC) removes the temporary file.
func createStateDB(path string, fsys FileSystem) (err error) {
	tmp := path + ".tmp"
	_ = os.Remove(tmp) // left by a crash during an earlier creation
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
			err = fmt.Errorf("create state db %s: %w", path, err)
		}
	}()
	db, err := bolt.Open(tmp, 0o666, &bolt.Options{Timeout: 5 * time.Second, OpenFile: fsys.OpenDB})
	if err != nil {
		return err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketTorrents)
		return err
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := checkBoltFile(tmp); err != nil {
		return err
	}
	if err := fsys.SyncFile(tmp); err != nil {
		return err
	}
	if err := fsys.Rename(tmp, path); err != nil {
		return err
	}
	return fsys.SyncDir(filepath.Dir(path))
}
