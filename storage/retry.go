package storage

import "github.com/anacrolix/torrent/metainfo"

// Unverified files (complete, but no authority knew them) are offered to
// the Verifier again in two cases, both through requeueLocked: a request
// that knows one file arrives (Retry), or the Verifier's own authority
// learnt entries (AuthorityWatcher → authorityLearnt → retryUnverified).

// Retry queues an Unverified file of an open torrent for verification
// again: a long-running node learns digests after a file completed (a new
// request brings an authority that knows it). It reports whether the file
// was queued.
func (s *Store) Retry(ih metainfo.Hash, index int) bool {
	s.mu.Lock()
	t := s.torrents[ih]
	s.mu.Unlock()
	if t == nil || index < 0 || index >= len(t.files) {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.requeueLocked(t.files[index])
}

// retryUnverified queues every Unverified file of t again.
func (t *torrentStore) retryUnverified() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, f := range t.files {
		t.requeueLocked(f)
	}
}

// requeueLocked queues f for verification again if it is Unverified and
// placeable; it reports whether f was queued.
func (t *torrentStore) requeueLocked(f *fileEntry) bool {
	if f == nil || f.phase != PhaseUnverified || f.finalDir == "" || f.queued {
		return false
	}
	f.phase = PhaseVerifying
	t.enqueueLocked(f)
	return f.queued
}
