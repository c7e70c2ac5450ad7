package swarm

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/anacrolix/torrent/metainfo"

	"github.com/distswarm/distswarm/storage/layout"
	"github.com/distswarm/distswarm/swarm/collection"
)

// Store is a distswarm store directory:
//
//	<root>/distfiles/             GLEP 75 tree + layout.conf: a Portage filesystem mirror
//	<root>/.partial/              downloads in progress (package storage)
//	<root>/.quarantine/           files that failed verification
//	<root>/.distswarm/state.db    piece and file state (package storage)
//	<root>/collections/<infohash>.torrent   collections this store knows (+ .Manifest)
type Store struct {
	Root   string
	conf   *layout.Config
	finder *layout.Finder // the distfiles tree's layouts, read once (Find runs per wanted file)
	known  knownCache     // parsed remembered torrents (Known)
}

// SystemStoreDir is the machine-wide store: the one root, the portage user
// and the daemon share.
const SystemStoreDir = "/var/cache/distswarm"

// DefaultStoreDir is the store used when none is given (see defaultStoreDir).
func DefaultStoreDir() string { return defaultStoreDir(SystemStoreDir, os.Geteuid()) }

// defaultStoreDir is system whenever it is a directory the caller can
// write to, whatever the uid and HOME: Portage's FEATURES=userfetch runs
// FETCHCOMMAND as the portage user with HOME set to a per-package
// temporary directory, so a store under HOME would be thrown away with it.
// Otherwise it is system for root (which creates it), else the user's cache
// directory ($XDG_CACHE_HOME/distswarm or ~/.cache/distswarm).
func defaultStoreDir(system string, euid int) string {
	if euid == 0 || writableDir(system) {
		return system
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "distswarm")
	}
	return filepath.Join(os.TempDir(), "distswarm")
}

// OpenDefaultStore is OpenStore for a store nobody chose (no --store):
// when it cannot be created, the error says how to provide one.
func OpenDefaultStore(root string) (*Store, error) {
	s, err := OpenStore(root)
	if err != nil {
		return nil, fmt.Errorf("%w (create %s writable by the portage group: "+
			"install -d -o portage -g portage -m 2775 %s; or pass --store DIR)", err, SystemStoreDir, SystemStoreDir)
	}
	return s, nil
}

// OpenStore creates the store layout under root if needed. A new store's
// distfiles directory gets layout.conf with the default GLEP 75 layout.
func OpenStore(root string) (*Store, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", root, err)
	}
	s := &Store{Root: abs}
	for _, d := range []string{s.DistfilesDir(), s.collectionsDir()} {
		if err := os.MkdirAll(d, 0o777); err != nil {
			return nil, fmt.Errorf("store %s: %w", root, err)
		}
	}
	confPath := filepath.Join(s.DistfilesDir(), layout.ConfigName)
	if _, err := os.Stat(confPath); errors.Is(err, fs.ErrNotExist) {
		if err := layout.WriteConfig(s.DistfilesDir(), layout.Default()); err != nil {
			return nil, fmt.Errorf("store %s: %w", root, err)
		}
	}
	s.conf, err = layout.LoadConfig(confPath)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", root, err)
	}
	s.finder = layout.NewFinder(s.DistfilesDir())
	return s, nil
}

// ErrNoStore is returned by OpenExistingStore for a directory that holds no store.
var ErrNoStore = errors.New("not a distswarm store")

// OpenExistingStore opens a store that exists, creating nothing when it
// does not: for commands that only read a store (collection list, info).
func OpenExistingStore(root string) (*Store, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", root, err)
	}
	if _, err := os.Stat(layout.Tree{Root: abs}.Distfiles()); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w (nothing was fetched or seeded there yet)", abs, ErrNoStore)
	}
	return OpenStore(abs)
}

// DistfilesDir is the GLEP 75 tree (GENTOO_MIRRORS="<root>/distfiles").
func (s *Store) DistfilesDir() string { return s.tree().Distfiles() }

// tree is the store's directory tree: the one place its names are spelled.
func (s *Store) tree() layout.Tree { return layout.Tree{Root: s.Root} }

func (s *Store) collectionsDir() string { return s.tree().Collections() }

// collectionManifestPath is where the collection Manifest of a remembered
// torrent is kept.
func (s *Store) collectionManifestPath(ih string) string {
	return filepath.Join(s.collectionsDir(), ih+".Manifest")
}

// HTTPStagingDir holds HTTP downloads until they are verified.
func (s *Store) HTTPStagingDir() string { return s.tree().HTTPStaging() }

// StateDir is the store's private state (state db, control socket).
func (s *Store) StateDir() string { return s.tree().State() }

// QuarantineDir holds the files that failed verification.
func (s *Store) QuarantineDir() string { return s.tree().Quarantine() }

// ControlSocket is where a daemon on this store listens for commands.
func (s *Store) ControlSocket() string { return s.tree().ControlSocket() }

// DistfilePath is where a distfile of that name lives in the store.
func (s *Store) DistfilePath(name string) string {
	return filepath.Join(s.DistfilesDir(), filepath.FromSlash(s.conf.Path(name, nil)))
}

// Find returns the path of a distfile present in the store. The store's
// layout.conf is read once, when the store is opened, as for DistfilePath.
func (s *Store) Find(name string) (string, error) {
	if s.finder == nil { // a Store not made by OpenStore
		return layout.Find(s.DistfilesDir(), name, nil)
	}
	return s.finder.Find(name, nil)
}

// Remember records a collection torrent in the store so later fetches
// (Portage mode) know where to look. manifest, when known, is the
// collection Manifest (already checked against the torrent by
// collection.Load): it is put where the storage expects it, so a seeder
// serves it without fetching it first.
func (s *Store) Remember(mi *metainfo.MetaInfo, manifest []byte) error {
	ih := mi.HashInfoBytes().HexString()
	p := filepath.Join(s.collectionsDir(), ih+".torrent")
	if _, err := os.Stat(p); err != nil {
		var buf bytes.Buffer
		if err := mi.Write(&buf); err != nil {
			return fmt.Errorf("remember collection %s: %w", ih, err)
		}
		if err := layout.WriteFileAtomic(p, buf.Bytes()); err != nil {
			return fmt.Errorf("remember collection %s: %w", ih, err)
		}
	}
	if manifest != nil {
		mp := s.collectionManifestPath(ih)
		if _, err := os.Stat(mp); err != nil {
			if err := layout.WriteFileAtomic(mp, manifest); err != nil {
				return fmt.Errorf("remember collection %s: %w", ih, err)
			}
		}
	}
	return nil
}

// Known loads every collection torrent the store remembers, sorted by
// infohash.
func (s *Store) Known() ([]*metainfo.MetaInfo, error) {
	ents, err := os.ReadDir(s.collectionsDir())
	if err != nil {
		return nil, fmt.Errorf("known collections: %w", err)
	}
	var names []fs.DirEntry
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".torrent") && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e)
		}
	}
	sort.Slice(names, func(i, j int) bool { return names[i].Name() < names[j].Name() })
	var out []*metainfo.MetaInfo
	paths := make(map[string]bool, len(names))
	for _, e := range names {
		paths[filepath.Join(s.collectionsDir(), e.Name())] = true
	}
	s.known.keepOnly(paths)
	for _, e := range names {
		mi, err := s.known.load(filepath.Join(s.collectionsDir(), e.Name()), e)
		if err != nil {
			continue // a damaged entry, or one a newer check refuses, must not block fetching
		}
		cp := *mi // callers get their own struct; the parsed fields are shared, read-only
		out = append(out, &cp)
	}
	return out, nil
}

// knownCache keeps the remembered torrents Known parsed, by path, while
// their size and modification time stay the same: the gateway and Portage
// mode list the known collections on every request, and decoding every
// torrent again each time dominated a binhost's CPU.
type knownCache struct {
	mu      sync.Mutex
	entries map[string]knownEntry
}

type knownEntry struct {
	size  int64
	mtime int64
	mi    *metainfo.MetaInfo
}

// keepOnly forgets the torrents no longer in the directory.
func (c *knownCache) keepOnly(paths map[string]bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for p := range c.entries {
		if !paths[p] {
			delete(c.entries, p)
		}
	}
}

// load returns the torrent at path (the directory entry e), parsed once.
func (c *knownCache) load(path string, e fs.DirEntry) (*metainfo.MetaInfo, error) {
	info, err := e.Info()
	if err != nil {
		return nil, err
	}
	size, mtime := info.Size(), info.ModTime().UnixNano()
	c.mu.Lock()
	ent, ok := c.entries[path]
	c.mu.Unlock()
	if ok && ent.size == size && ent.mtime == mtime {
		return ent.mi, nil
	}
	mi, err := loadKnownTorrent(path)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = make(map[string]knownEntry)
	}
	c.entries[path] = knownEntry{size: size, mtime: mtime, mi: mi}
	return mi, nil
}

// loadKnownTorrent reads a remembered collection torrent with the checks of
// collection.Load (bounded size, bencode scanned before it is decoded,
// validated info).
func loadKnownTorrent(path string) (*metainfo.MetaInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, collection.MaxTorrentSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	mi, err := collection.ParseTorrent(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return mi, nil
}
