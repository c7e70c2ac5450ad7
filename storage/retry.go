package storage

import "github.com/anacrolix/torrent/metainfo"

// Retry queues an Unverified file of an open torrent for verification
// again: a long-running node learns digests after a file completed (a new
// request brings an authority that knows it). It reports whether the file
// was queued.
func (s *Store) Retry(ih metainfo.Hash, index int) bool {
	s.mu.Lock()
	t := s.torrents[ih]
	s.mu.Unlock()
	if t == nil {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if index < 0 || index >= len(t.files) {
		return false
	}
	f := t.files[index]
	if f == nil || f.phase != PhaseUnverified || f.queued {
		return false
	}
	f.phase = PhaseVerifying
	t.enqueueLocked(f)
	return f.queued
}
