package storage

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
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

	dirsMu sync.Mutex
	dirs   map[string]bool // final directories known to exist (see finalDir)
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
	// staged: the staged file's size and mtime, taken by finalize before it verified the file
	// (stagedOK). A rename keeps both, so the record needs no stat of the final file.
	stagedOK                  bool
	stagedSize, stagedModTime int64
}

// maxKnownDirs bounds committer.dirs: a GLEP 75 tree has 256 directories, a two-level one
// 65,536.
const maxKnownDirs = 1 << 16

// maxBatch bounds how many files one batch commits.
const maxBatch = 2048

// commitEvery is the least time from one batch's start to the next one's while files keep
// coming: a file that becomes ready sooner waits for the others that follow it. Each batch
// costs two syncfs(2) and a synced db transaction, a few milliseconds however few its files;
// fetching 5,000 small files, batches taken as soon as the last one ended held about 36 files
// each and kept the committer busy for the whole fetch. A file ready after a quiet spell is
// committed at once.
const commitEvery = 50 * time.Millisecond

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
	var last time.Time // when the last batch started
	for {
		c.mu.Lock()
		for len(c.queue) == 0 && !c.stop {
			c.cond.Wait()
		}
		if len(c.queue) == 0 {
			c.mu.Unlock()
			return
		}
		if wait := commitEvery - time.Since(last); wait > 0 && !c.stop && len(c.queue) < maxBatch {
			c.mu.Unlock()
			time.Sleep(wait) // let the files that follow join this batch
			c.mu.Lock()
		}
		last = time.Now()
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
	c.batches.Add(1)
	failed := make([]error, len(batch))
	groups, slow := c.groupByFS(batch, failed)
	c.placeBatch(batch, groups, slow, failed)
	recs := c.record(batch, failed)
	for i, it := range batch { // 5. Memory and events.
		if err := failed[i]; err != nil {
			c.s.log.Error("place file", "file", it.t.path(it.f.index), "final", it.t.finalPath(it.f), "err", err)
			it.t.notPlaced(it.f, err)
		} else {
			it.t.finalized(it.f, recs[i])
		}
		it.t.finishJob(it.f)
	}
}

// groupByFS creates the final directories of the batch's files to be placed and groups those
// files by filesystem: a group's staging and final directories are on one device, so one
// SyncFS covers it. Files whose directories are on different devices, or whose device is
// unknown, are returned in slow, to be placed file by file.
func (c *committer) groupByFS(batch []commitItem, failed []error) (map[uint64]*fsGroup, []int) {
	fsys := c.s.o.FS
	devs := make(map[string]uint64)
	devOf := func(dir string) (uint64, error) {
		if d, ok := devs[dir]; ok {
			return d, nil
		}
		d, err := fsys.Device(dir)
		if err == nil {
			devs[dir] = d
		}
		return d, err
	}
	groups := make(map[uint64]*fsGroup)
	var slow []int
	for i, it := range batch {
		if !it.place {
			continue
		}
		dir := filepath.Dir(it.t.finalPath(it.f))
		if err := c.finalDir(dir); err != nil {
			failed[i] = err
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
	return groups, slow
}

// placeBatch runs steps 1 to 3: staged data durable (one SyncFS per group, or an fsync per file
// if it fails), each file renamed into place, directory entries durable. The slow files are
// placed one by one (place).
func (c *committer) placeBatch(batch []commitItem, groups map[uint64]*fsGroup, slow []int, failed []error) {
	fsys := c.s.o.FS
	for _, g := range groups {
		if err := fsys.SyncFS(g.path); err != nil {
			c.s.log.Warn("syncfs failed; syncing staged files one by one", "err", err)
			for _, i := range g.items {
				failed[i] = fsys.SyncFile(batch[i].t.staging(batch[i].f))
			}
		}
	}
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
	for _, g := range groups {
		c.syncDirs(batch, g, failed)
	}
}

// record runs step 4: one state db transaction records every file in place Final, and returns
// the records. A file whose record cannot be written fails: it is in place, verified, but the
// db does not say so (the next open finds it there, verifies it and adopts it).
func (c *committer) record(batch []commitItem, failed []error) []fileRecord {
	recs := make([]fileRecord, len(batch))
	ws := make([]fileWrite, 0, len(batch))
	written := make([]int, 0, len(batch))
	for i, it := range batch {
		if failed[i] != nil {
			continue
		}
		final := it.t.finalPath(it.f)
		if it.place && it.stagedOK {
			recs[i] = fileRecord{Phase: PhaseFinal, FinalPath: final, Size: it.stagedSize, ModTime: it.stagedModTime}
		} else {
			st, err := os.Stat(final)
			if err != nil {
				failed[i] = fmt.Errorf("stat final file: %w", err)
				continue
			}
			recs[i] = fileRecord{Phase: PhaseFinal, FinalPath: final, Size: st.Size(), ModTime: st.ModTime().UnixNano()}
		}
		if it.wasFinal && it.size == recs[i].Size && it.mtime == recs[i].ModTime {
			continue // recorded already, unchanged
		}
		ws = append(ws, fileWrite{ih: it.t.ih, index: it.f.index, rec: &recs[i]})
		written = append(written, i)
	}
	if err := c.s.db.setFiles(ws); err != nil {
		err = fmt.Errorf("%w: %w", ErrNotRecorded, err)
		for _, i := range written {
			failed[i] = err
		}
	}
	return recs
}

// finalDir creates the final directory dir unless the committer created or found it before
// (one stat per file otherwise, os.MkdirAll's). A directory removed since fails groupByFS's
// Device call, so its files are placed one by one (place), which creates it again.
func (c *committer) finalDir(dir string) error {
	c.dirsMu.Lock()
	known := c.dirs[dir]
	c.dirsMu.Unlock()
	if known {
		return nil
	}
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return fmt.Errorf("create final dir: %w", err)
	}
	c.dirsMu.Lock()
	if c.dirs == nil || len(c.dirs) >= maxKnownDirs {
		c.dirs = make(map[string]bool)
	}
	c.dirs[dir] = true
	c.dirsMu.Unlock()
	return nil
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
	err := c.s.o.FS.SyncFS(g.path)
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
			derr = c.s.o.FS.SyncDir(dir)
			dirErr[dir] = derr
		}
		failed[i] = derr
	}
}
