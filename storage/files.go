package storage

import (
	"container/list"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/distswarm/distswarm/internal/regfile"
)

// fileCache is a bounded LRU of open *os.File keyed by path. Handles are reference counted: an
// entry in use is never closed; the cache may briefly exceed its bound while all entries are busy.
type fileCache struct {
	mu      sync.Mutex
	max     int
	entries map[string]*cacheEntry
	lru     *list.List // front = most recently used; values are *cacheEntry
}

type cacheEntry struct {
	path string
	f    *os.File
	rw   bool
	refs int
	dead bool // removed from the map; close when refs drops to 0
	elem *list.Element
}

func newFileCache(max int) *fileCache {
	return &fileCache{max: max, entries: make(map[string]*cacheEntry), lru: list.New()}
}

// acquire returns an open handle for path. rw opens read-write; create also creates the file.
// The caller must release the entry.
func (c *fileCache) acquire(path string, rw, create bool) (*cacheEntry, error) {
	c.mu.Lock()
	if e, ok := c.entries[path]; ok && (e.rw || !rw) {
		e.refs++
		c.lru.MoveToFront(e.elem)
		c.mu.Unlock()
		return e, nil
	}
	c.mu.Unlock()

	flag := os.O_RDONLY
	if rw {
		flag = os.O_RDWR
		if create {
			flag |= os.O_CREATE
		}
	}
	f, err := regfile.Open(path, flag, 0o666)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.entries[path]; ok {
		if old.rw || !rw {
			// Lost a race with another opener that has an adequate handle.
			old.refs++
			c.lru.MoveToFront(old.elem)
			_ = f.Close()
			return old, nil
		}
		c.removeLocked(old)
	}
	e := &cacheEntry{path: path, f: f, rw: rw, refs: 1}
	e.elem = c.lru.PushFront(e)
	c.entries[path] = e
	c.evictLocked()
	return e, nil
}

func (c *fileCache) release(e *cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e.refs--
	if e.refs == 0 && e.dead {
		_ = e.f.Close()
		return
	}
	c.evictLocked()
}

func (c *fileCache) removeLocked(e *cacheEntry) {
	if e.dead {
		return
	}
	e.dead = true
	delete(c.entries, e.path)
	c.lru.Remove(e.elem)
	if e.refs == 0 {
		_ = e.f.Close()
	}
}

func (c *fileCache) evictLocked() {
	for el := c.lru.Back(); el != nil && c.lru.Len() > c.max; {
		prev := el.Prev()
		if e := el.Value.(*cacheEntry); e.refs == 0 {
			c.removeLocked(e)
		}
		el = prev
	}
}

// forget closes (or schedules closing of) the handle for path, e.g. before a rename.
func (c *fileCache) forget(path string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[path]; ok {
		c.removeLocked(e)
	}
}

// closeAll closes every idle handle and marks busy ones for closing.
func (c *fileCache) closeAll() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, e := range c.entries {
		e.dead = true
		c.lru.Remove(e.elem)
		if e.refs == 0 {
			if err := e.f.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close %s: %w", e.path, err))
			}
		}
	}
	clear(c.entries)
	return errors.Join(errs...)
}
