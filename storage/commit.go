package storage

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/distswarm/distswarm/storage/layout"
)

// committer makes files Final in batches (group commit). The finalize workers verify files in
// parallel and hand each good one over; the committer takes whatever is queued (no waiting when
// idle: files that become ready while a batch is being committed form the next batch) and, for
// the whole batch:
//
//  1. makes the staged data durable: one syncfs(2) per filesystem when the staging and final
//     directories are on the same one (st_dev), an fsync per file otherwise;
//  2. renames each file to its final path;
//  3. makes the directory entries durable: syncfs again (or an fsync per directory);
//  4. records every file Final in one state db transaction, synced once;
//  5. updates the in-memory state and emits the events.
//
// A file is thus at its final path only once it has verified and its data is durable, and it is
// recorded Final only once its directory entry is durable too. A crash between two steps leaves
// the staged file (re-verified on the next open: its record is Verifying, or it has piece bits
// and no record) or a file at its final path without a Final record (found there and adopted by
// the next open, see missingStaged and resolve). A failure of one file (rename, stat) makes that
// file Unverified and does not affect the others.
type committer struct {
	s    *Store
	done chan struct{} // closed when run returns

	mu    sync.Mutex
	cond  *sync.Cond // signalled when queue grows or stop is set; guarded by mu
	queue []commitItem
	stop  bool

	batches atomic.Int64 // committed batches (for tests and debugging)
}

// commitItem is one file for the committer.
type commitItem struct {
	t *torrentStore
	f *fileEntry
	// place: the file is staged and verified, move it to its final path; otherwise it is
	// already there (adopted, or placed before a crash) and only recorded.
	place bool
	// wasFinal, size, mtime: the file's record when it was queued for finalization. A file
	// that was already Final with the same size and mtime is not recorded again.
	wasFinal    bool
	size, mtime int64
}

// maxBatch bounds how many files one batch commits.
const maxBatch = 2048

// newCommitter starts the committer of s.
func newCommitter(s *Store) *committer {
	c := &committer{s: s, done: make(chan struct{})}
	c.cond = sync.NewCond(&c.mu)
	go c.run()
	return c
}

// hand gives it to the committer, which finishes its job (finishJob). After shutdown the batch
// of one is committed on the caller's goroutine.
func (c *committer) hand(it commitItem) {
	c.s.mu.Lock()
	c.s.inflight++ // WaitIdle counts the files waiting for a commit
	c.s.mu.Unlock()
	c.mu.Lock()
	if !c.stop {
		c.queue = append(c.queue, it)
		c.cond.Signal()
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	c.s.mu.Lock()
	c.s.inflight--
	c.s.mu.Unlock()
	c.commit([]commitItem{it})
}

// shutdown commits what is queued and stops the committer. Call it once no worker can hand it
// files any more.
func (c *committer) shutdown() {
	c.mu.Lock()
	c.stop = true
	c.cond.Broadcast()
	c.mu.Unlock()
	<-c.done
}

func (c *committer) run() {
	defer close(c.done)
	for {
		c.mu.Lock()
		for len(c.queue) == 0 && !c.stop {
			c.cond.Wait()
		}
		if len(c.queue) == 0 {
			c.mu.Unlock()
			return
		}
		var batch []commitItem
		if len(c.queue) <= maxBatch {
			batch, c.queue = c.queue, nil
		} else {
			batch = make([]commitItem, maxBatch)
			copy(batch, c.queue)
			c.queue = append(c.queue[:0], c.queue[maxBatch:]...)
		}
		c.mu.Unlock()
		c.commit(batch)
		c.s.mu.Lock()
		c.s.inflight -= len(batch)
		c.s.mu.Unlock()
	}
}

// fsGroup is the part of a batch placed within one filesystem.
type fsGroup struct {
	path  string // a directory on that filesystem, for syncFS
	items []int  // indexes into the batch
}

// commit runs one batch through the steps described at committer and finishes every item's job.
func (c *committer) commit(batch []commitItem) {
	s := c.s
	c.batches.Add(1)
	failed := make([]error, len(batch))

	devs := make(map[string]uint64)
	devOf := func(dir string) (uint64, error) {
		if d, ok := devs[dir]; ok {
			return d, nil
		}
		d, err := deviceOf(dir)
		if err == nil {
			devs[dir] = d
		}
		return d, err
	}
	groups := make(map[uint64]*fsGroup)
	var slow []int // placed file by file: staging and final path on different filesystems
	for i, it := range batch {
		if !it.place {
			continue
		}
		dir := filepath.Dir(it.t.finalPath(it.f))
		if err := os.MkdirAll(dir, 0o777); err != nil {
			failed[i] = fmt.Errorf("create final dir: %w", err)
			continue
		}
		fd, ferr := devOf(dir)
		sd, serr := devOf(it.t.stagingDir)
		if ferr != nil || serr != nil || fd != sd {
			slow = append(slow, i)
			continue
		}
		g := groups[fd]
		if g == nil {
			g = &fsGroup{path: dir}
			groups[fd] = g
		}
		g.items = append(g.items, i)
	}

	// 1. Staged data durable.
	for _, g := range groups {
		if err := syncFS(g.path); err != nil {
			s.log.Warn("syncfs failed; syncing staged files one by one", "err", err)
			for _, i := range g.items {
				failed[i] = fsyncFile(batch[i].t.staging(batch[i].f))
			}
		}
	}
	// 2. Into place.
	for _, g := range groups {
		for _, i := range g.items {
			if failed[i] == nil {
				failed[i] = batch[i].t.moveToFinal(batch[i].f)
			}
		}
	}
	for _, i := range slow {
		failed[i] = batch[i].t.place(batch[i].f)
	}
	// 3. Directory entries durable.
	for _, g := range groups {
		c.syncDirs(batch, g, failed)
	}

	// 4. One transaction for the records.
	recs := make([]fileRecord, len(batch))
	ws := make([]fileWrite, 0, len(batch))
	for i, it := range batch {
		if failed[i] != nil {
			continue
		}
		final := it.t.finalPath(it.f)
		st, err := os.Stat(final)
		if err != nil {
			failed[i] = fmt.Errorf("stat final file: %w", err)
			continue
		}
		recs[i] = fileRecord{Phase: PhaseFinal, FinalPath: final, Size: st.Size(), ModTime: st.ModTime().UnixNano()}
		if it.wasFinal && it.size == recs[i].Size && it.mtime == recs[i].ModTime {
			continue // recorded already, unchanged
		}
		ws = append(ws, fileWrite{ih: it.t.ih, index: it.f.index, rec: &recs[i]})
	}
	if err := s.db.setFiles(ws); err != nil {
		s.log.Error("persist final", "files", len(ws), "err", err)
	}

	// 5. Memory and events.
	for i, it := range batch {
		if err := failed[i]; err != nil {
			s.log.Error("place file", "file", it.t.path(it.f.index), "final", it.t.finalPath(it.f), "err", err)
			it.t.unverified(it.f, err)
		} else {
			it.t.finalized(it.f, recs[i])
		}
		it.t.finishJob(it.f)
	}
}

// syncDirs makes the directory entries of g's renamed files durable: one syncfs, or an fsync
// per directory if that fails. A file whose directory cannot be synced fails.
func (c *committer) syncDirs(batch []commitItem, g *fsGroup, failed []error) {
	renamed := false
	for _, i := range g.items {
		renamed = renamed || failed[i] == nil
	}
	if !renamed {
		return
	}
	err := syncFS(g.path)
	if err == nil {
		return
	}
	c.s.log.Warn("syncfs failed; syncing directories one by one", "err", err)
	dirErr := make(map[string]error)
	for _, i := range g.items {
		if failed[i] != nil {
			continue
		}
		dir := filepath.Dir(batch[i].t.finalPath(batch[i].f))
		derr, done := dirErr[dir]
		if !done {
			derr = layout.SyncDir(dir)
			dirErr[dir] = derr
		}
		failed[i] = derr
	}
}
