// Package dirindex answers "what is at this path" for many paths under one
// directory with one directory read per directory instead of one stat per
// path.
//
// A fetch of 5,000 new files asks, for every file, whether it is already at
// its final path, whether a staged copy exists and whether it sits under
// another known layout: some 25,000 stat calls that all fail, in a few hundred
// directories, most of which do not exist. An Index reads each directory the
// first time a path in it is asked about, and knows that a directory is
// missing without a syscall when its parent has been read and lacks it.
//
// An Index is a snapshot: it does not see entries created or removed after
// their directory was read. Use one for a batch of lookups (opening a
// torrent, planning a fetch) and drop it. Reading a directory costs about as
// much as a few stats per entry, so an Index pays only when many paths are
// asked about in few directories; for a handful of lookups, stat them.
package dirindex

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// maxEntries bounds one directory's listing. A larger directory is not
// indexed: lookups in it report unknown and the caller stats.
const maxEntries = 1 << 20

// Kind is what Lookup found.
type Kind uint8

// Lookup results.
const (
	// Unknown: the directory could not be read (permissions, too large, an
	// I/O error, not under the root); stat the path.
	Unknown Kind = iota
	// Missing: nothing exists at the path, or its directory does not exist.
	Missing
	// Present: an entry exists; Lookup's mode has its type bits (from the
	// directory entry, not followed: a symlink is fs.ModeSymlink).
	Present
)

// Index caches directory listings under a root. It is safe for concurrent
// use.
type Index struct {
	root string
	mu   sync.Mutex
	dirs map[string]*listing
}

type listing struct {
	names map[string]fs.FileMode // entry name → type bits
	err   error                  // nil, fs.ErrNotExist, or why it is unknown
}

// New returns an empty Index for paths under root (a clean path).
func New(root string) *Index {
	return &Index{root: filepath.Clean(root), dirs: make(map[string]*listing)}
}

// Lookup reports what is at path, which must be under the Index's root (or
// the result is Unknown).
func (x *Index) Lookup(path string) (Kind, fs.FileMode) {
	path = filepath.Clean(path)
	dir, name := filepath.Split(path)
	dir = filepath.Clean(dir)
	if !x.under(dir) || name == "" {
		return Unknown, 0
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	l := x.list(dir)
	switch {
	case l.err == nil:
	case errors.Is(l.err, fs.ErrNotExist):
		return Missing, 0
	default:
		return Unknown, 0
	}
	mode, ok := l.names[name]
	if !ok {
		return Missing, 0
	}
	return Present, mode
}

// Exists reports whether anything exists at path (lstat semantics); ok is
// false when the Index cannot tell and the caller should lstat.
func (x *Index) Exists(path string) (exists, ok bool) {
	switch k, _ := x.Lookup(path); k {
	case Present:
		return true, true
	case Missing:
		return false, true
	}
	return false, false
}

// under reports whether dir is the root or below it.
func (x *Index) under(dir string) bool {
	rel, err := filepath.Rel(x.root, dir)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// list returns dir's listing, reading it (and, to learn that it is missing
// for free, its parents' listings already known) on first use. x.mu is held.
func (x *Index) list(dir string) *listing {
	if l, ok := x.dirs[dir]; ok {
		return l
	}
	var l *listing
	if dir != x.root {
		parent := filepath.Dir(dir)
		pl := x.list(parent)
		switch {
		case errors.Is(pl.err, fs.ErrNotExist):
			l = &listing{err: fs.ErrNotExist}
		case pl.err == nil:
			if mode, ok := pl.names[filepath.Base(dir)]; !ok || (!mode.IsDir() && mode&fs.ModeSymlink == 0) {
				l = &listing{err: fs.ErrNotExist} // absent, or a file where the directory would be
			}
		}
	}
	if l == nil {
		l = read(dir)
	}
	x.dirs[dir] = l
	return l
}

// read lists dir. A regular file where dir should be counts as missing
// (as stat's ENOTDIR does for Find).
func read(dir string) *listing {
	f, err := os.Open(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return &listing{err: fs.ErrNotExist}
		}
		return &listing{err: err}
	}
	defer f.Close()
	names := make(map[string]fs.FileMode)
	for {
		ents, err := f.ReadDir(4096)
		for _, e := range ents {
			names[e.Name()] = e.Type()
		}
		if len(names) > maxEntries {
			return &listing{err: errors.New("directory too large to index")}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return &listing{names: names}
			}
			if errors.Is(err, syscall.ENOTDIR) {
				return &listing{err: fs.ErrNotExist}
			}
			return &listing{err: err}
		}
	}
}
