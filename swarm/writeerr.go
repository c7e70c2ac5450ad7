package swarm

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/anacrolix/torrent"

	"github.com/distswarm/distswarm/storage"
)

// writeGuard replaces anacrolix's default handling of a failed chunk write (it logs at
// Critical, which distswarm only shows with -v, and quietly stops downloading the torrent for
// good: a fetch onto a full disk then hung until its --timeout) with a report and a way back.
// The first write error stops the torrent's downloading, as the library's default does, so no
// more data is fetched that cannot be written, and is reported once; resume lets a later request
// try again (space may have been freed), which re-arms the report.
type writeGuard struct {
	mu      sync.Mutex
	stopped bool
	resumed time.Time // the last resume
}

// watch sends t's first write error since the last resume (ENOSPC with the staging path, wrapped
// by the storage) to onErr, on its own goroutine.
func (g *writeGuard) watch(t *torrent.Torrent, onErr func(error)) {
	t.SetOnWriteChunkError(func(err error) { g.failed(t, err, onErr) })
}

// failed handles a failed chunk write of t. A write that began before the last resume is not
// news: blocks requested before the disk filled keep arriving, and one whose write failed then
// may be reported after the resume (seen under the race detector in
// TestNodeFetchFullDiskFailsThenResumes); taken as new, it stopped the resumed torrent again.
func (g *writeGuard) failed(t *torrent.Torrent, err error, onErr func(error)) {
	g.mu.Lock()
	var we *storage.WriteError
	if errors.As(err, &we) && we.Began.Before(g.resumed) {
		g.mu.Unlock()
		return
	}
	first := !g.stopped
	g.stopped = true
	g.mu.Unlock()
	if first {
		t.DisallowDataDownload()
		onErr(fmt.Errorf("torrent %s: writing downloaded data: %w", t.InfoHash().HexString(), err))
	}
}

// resume allows t to download again after a write error stopped it.
func (g *writeGuard) resume(t *torrent.Torrent) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped {
		g.stopped = false
		g.resumed = time.Now()
		t.AllowDataDownload()
	}
}

// nudge makes the library update the requests of every connection of t,
// unless a write error stopped t's downloading: it disallows and allows t's
// downloading again, which asks every connection to update its requests
// (Torrent.AllowDataDownload). Requests still outstanding are cancelled
// and asked again. It reports whether it nudged.
func (g *writeGuard) nudge(t *torrent.Torrent) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped {
		return false
	}
	t.DisallowDataDownload()
	t.AllowDataDownload()
	return true
}

// watchWriteErrors reports t's first write error to onErr (see writeGuard).
func watchWriteErrors(t *torrent.Torrent, onErr func(error)) {
	(&writeGuard{}).watch(t, onErr)
}
