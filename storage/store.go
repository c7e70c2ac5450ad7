package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"
	astorage "github.com/anacrolix/torrent/storage"

	"github.com/distswarm/distswarm/storage/layout"
)

// ErrNoAuthority is returned (wrapped) by a Verifier that knows nothing about a file. The file
// stays staged and is reported Unverified.
var ErrNoAuthority = errors.New("no authority for file")

// ErrNotPlaceable is the Err of an Unverified file for which the Placement has no final path.
var ErrNotPlaceable = errors.New("file has no final path")

// FileRef names one file of a torrent.
type FileRef struct {
	InfoHash metainfo.Hash
	Index    int    // index in info.UpvertedFiles() (pads included in the numbering)
	Path     string // torrent-internal path joined with "/", without the torrent name
	Length   int64
}

// Placement decides where a torrent file lives once final. Pure function of metadata.
type Placement interface {
	// FinalPath returns the absolute final path for a (non-pad) file; ok=false means the file is
	// never placed (it stays staged, e.g. unknown paths).
	FinalPath(info *metainfo.Info, f FileRef) (path string, ok bool)
}

// Verifier checks a fully-downloaded staged file against the authority (Manifest digests). It
// runs on a finalize worker, never on the torrent client's hasher goroutine.
type Verifier interface {
	// Verify returns nil if the file is good; an error wrapping ErrNoAuthority if nothing is
	// known about it (it stays staged, reported Unverified); any other error rejects it.
	Verify(ctx context.Context, f FileRef, stagedPath string) error
}

// AuthorityWatcher may be implemented by a Verifier whose authority learns entries while the
// store is open (swarm trusts a collection's Manifest once the same client has fetched it). The
// store subscribes when it opens: after learnt is called, files reported Unverified for lack of
// authority are offered to the Verifier again. A file that is complete when its torrent opens
// (a 0-byte file has no piece to wait for) is verified at once, usually before that Manifest is
// in; without this it stayed Unverified until the next open. stop unsubscribes (on Close).
type AuthorityWatcher interface {
	WatchAuthority(learnt func()) (stop func())
}

// Options configures a Store.
type Options struct {
	// Dir is the store root. Staging: Dir/.partial/<infohash>/<index>; quarantine:
	// Dir/.quarantine/; state db: Dir/.distswarm/state.db (bbolt).
	Dir       string
	Placement Placement
	// Verifier nil => every completed file is Unverified.
	Verifier Verifier
	// OnEvent is called from worker goroutines; it must not block long.
	OnEvent func(Event)
	// MaxOpenFiles bounds the LRU of open files (default 128).
	MaxOpenFiles int
	// Workers is the number of finalize workers, which verify files in parallel (default: the
	// number of CPUs, at least 2 and at most 8).
	Workers int
	Logger  *slog.Logger
	// SeedRoots are extra absolute directories (besides Dir) under which FinalPath results are
	// accepted, e.g. a flat distdir seeded in place.
	SeedRoots []string
	// FS is the filesystem the store makes files durable, places them and keeps its state db
	// with; nil means OSFileSystem.
	FS FileSystem
}

// Store is an anacrolix storage.ClientImplCloser backed by real named files with a
// verify-and-place finalize pipeline. Create it with Open.
type Store struct {
	o          Options
	dir        string
	tree       layout.Tree
	partialDir string
	quarDir    string
	rootsMu    sync.RWMutex
	roots      []string // cleaned absolute roots FinalPath results must be under; guarded by rootsMu
	log        *slog.Logger
	db         *stateDB
	files      *fileCache
	commit     *committer // places and records verified files in batches
	hashBufs   sync.Pool  // *[]byte of hashReadSize: pieceImpl.WriteTo's read buffers

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	cond     *sync.Cond // signalled on queue changes; guarded by mu
	queue    []job
	inflight int
	closed   bool
	torrents map[metainfo.Hash]*torrentStore
	attached map[metainfo.Hash]*torrent.Torrent

	dirsMu sync.Mutex
	dirs   map[string]string // interned final directories (internDir)

	learnGen  atomic.Uint64 // counts AuthorityWatcher notifications
	stopWatch func()        // unsubscribes from the Verifier's authority; nil if none
}

// internDir returns the one copy of dir the store keeps for its files' final paths.
func (s *Store) internDir(dir string) string {
	s.dirsMu.Lock()
	defer s.dirsMu.Unlock()
	if d, ok := s.dirs[dir]; ok {
		return d
	}
	if s.dirs == nil {
		s.dirs = make(map[string]string)
	}
	d := strings.Clone(dir)
	s.dirs[d] = d
	return d
}

var _ astorage.ClientImplCloser = (*Store)(nil)

// Open opens (creating if needed) the store rooted at o.Dir and starts its finalize workers.
func Open(o Options) (*Store, error) {
	if o.Dir == "" {
		return nil, errors.New("storage: Options.Dir is required")
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	if o.MaxOpenFiles <= 0 {
		o.MaxOpenFiles = 128
	}
	if o.Workers <= 0 {
		o.Workers = min(max(runtime.NumCPU(), 2), 8)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.FS == nil {
		o.FS = OSFileSystem{}
	}
	s := &Store{
		o:          o,
		dir:        dir,
		tree:       layout.Tree{Root: dir},
		partialDir: layout.Tree{Root: dir}.Partial(),
		quarDir:    layout.Tree{Root: dir}.Quarantine(),
		roots:      []string{dir},
		log:        o.Logger.With("component", "storage"),
		files:      newFileCache(o.MaxOpenFiles),
		torrents:   make(map[metainfo.Hash]*torrentStore),
		attached:   make(map[metainfo.Hash]*torrent.Torrent),
	}
	for _, r := range o.SeedRoots {
		if !filepath.IsAbs(r) {
			return nil, fmt.Errorf("storage: seed root %q is not absolute", r)
		}
		s.roots = append(s.roots, filepath.Clean(r))
	}
	s.cond = sync.NewCond(&s.mu)
	s.db, err = openStateDB(s.tree.StateDB(), o.FS, s.log)
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.commit = newCommitter(s)
	if w, ok := o.Verifier.(AuthorityWatcher); ok {
		s.stopWatch = w.WatchAuthority(s.authorityLearnt)
	}
	for range o.Workers {
		s.wg.Add(1)
		go s.worker()
	}
	return s, nil
}

// Close stops the finalize workers (an interrupted verification stays Verifying and is re-queued
// on the next open), commits the files already verified, closes open files and the state db.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.queue = nil
	s.cond.Broadcast()
	s.mu.Unlock()
	if s.stopWatch != nil {
		s.stopWatch()
	}
	s.cancel()
	s.wg.Wait()
	s.commit.shutdown()
	return errors.Join(s.files.closeAll(), s.db.Close())
}

// OpenTorrent implements storage.ClientImpl. It is called with the torrent client's lock held:
// it reads the state db once and does no per-file filesystem work.
func (s *Store) OpenTorrent(ctx context.Context, info *metainfo.Info, ih metainfo.Hash) (astorage.TorrentImpl, error) {
	trimFiles(info)
	t, err := s.openTorrent(info, ih)
	if err != nil {
		return astorage.TorrentImpl{}, fmt.Errorf("storage: open torrent %s: %w", ih.HexString(), err)
	}
	return t.impl(), nil
}

// trimFiles gives info.Files an exact capacity. anacrolix decodes the file list by appending one
// entry at a time, so its backing array has up to ~1.5× the slots needed (160 bytes each), and it
// keeps the Info for the torrent's life: ~16 MB of slack for a 100,000-file collection. anacrolix
// v1.61 calls OpenTorrent on the Info it has just decoded, before storing or sharing it
// (Torrent.setInfo), so the swap of the slice for an equal copy is invisible to it.
func trimFiles(info *metainfo.Info) {
	if n := len(info.Files); cap(info.Files)-n > n/16 {
		info.Files = slices.Clone(info.Files)
	}
}

// Attach lets the store act on the torrent: set priority None on rejected files and refresh piece
// completion after demotions. Call it after AddTorrent and once the info is known (GotInfo).
func (s *Store) Attach(t *torrent.Torrent) {
	ih := t.InfoHash()
	s.mu.Lock()
	s.attached[ih] = t
	ts := s.torrents[ih]
	s.mu.Unlock()
	if ts != nil {
		ts.attach(t)
	}
}

// attachedTorrent returns the torrent attached for ih, if any.
func (s *Store) attachedTorrent(ih metainfo.Hash) *torrent.Torrent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attached[ih]
}

// State reports the state of file index of torrent ih. For a torrent that is not open, it is
// read from the state db (Missing if unknown).
func (s *Store) State(ih metainfo.Hash, index int) FileState {
	s.mu.Lock()
	t := s.torrents[ih]
	s.mu.Unlock()
	if t != nil {
		return t.state(index)
	}
	r, ok, err := s.db.getFile(ih, index)
	if err != nil {
		return FileState{Phase: PhaseMissing, Err: err}
	}
	if !ok {
		return FileState{Phase: PhaseMissing}
	}
	return r.fileState()
}

// WaitIdle waits until the finalize queue is drained and no job is running.
func (s *Store) WaitIdle(ctx context.Context) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		s.mu.Lock()
		idle := len(s.queue) == 0 && s.inflight == 0
		s.mu.Unlock()
		if idle {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("storage: wait idle: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

func (s *Store) emit(ev Event) {
	if s.o.OnEvent != nil {
		s.o.OnEvent(ev)
	}
}

// underRoot reports whether the cleaned absolute path p is strictly inside one of the roots and
// not inside the store's private directories.
func (s *Store) underRoot(p string) bool {
	if !filepath.IsAbs(p) || filepath.Clean(p) != p {
		return false
	}
	for _, private := range s.tree.Private() {
		if within(private, p) || p == private {
			return false
		}
	}
	s.rootsMu.RLock()
	defer s.rootsMu.RUnlock()
	for _, r := range s.roots {
		if within(r, p) {
			return true
		}
	}
	return false
}

// AddSeedRoot accepts FinalPath results under dir (absolute) from now on, as
// Options.SeedRoots does at Open: a distdir seeded in place.
func (s *Store) AddSeedRoot(dir string) error {
	if !filepath.IsAbs(dir) {
		return fmt.Errorf("storage: seed root %s is not absolute", dir)
	}
	dir = filepath.Clean(dir)
	s.rootsMu.Lock()
	defer s.rootsMu.Unlock()
	if !slices.Contains(s.roots, dir) {
		s.roots = append(s.roots, dir)
	}
	return nil
}

// authorityLearnt offers the files of every open torrent that are Unverified for lack of
// authority to the Verifier again.
func (s *Store) authorityLearnt() {
	s.learnGen.Add(1)
	s.mu.Lock()
	ts := make([]*torrentStore, 0, len(s.torrents))
	for _, t := range s.torrents {
		ts = append(ts, t)
	}
	s.mu.Unlock()
	for _, t := range ts {
		t.retryUnverified()
	}
}

// within reports whether p is strictly below dir (both clean and absolute).
func within(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	if err != nil || rel == "." || rel == ".." {
		return false
	}
	return !filepath.IsAbs(rel) && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}
