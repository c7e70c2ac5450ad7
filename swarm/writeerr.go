package swarm

import (
	"fmt"
	"sync"

	"github.com/anacrolix/torrent"
)

// watchWriteErrors replaces anacrolix's default handling of a failed chunk write (it logs at
// Critical, which distswarm only shows with -v, and quietly stops downloading the torrent: a
// fetch onto a full disk then hung until its --timeout) with a report: onErr receives the first
// write error of t (ENOSPC with the staging path, wrapped by the storage), once, on its own
// goroutine. Downloading of t is still stopped, as the library's default does, so that no more
// data is fetched that cannot be written; the caller decides whether to fail the fetch.
func watchWriteErrors(t *torrent.Torrent, onErr func(error)) {
	var once sync.Once
	t.SetOnWriteChunkError(func(err error) {
		once.Do(func() {
			t.DisallowDataDownload()
			onErr(fmt.Errorf("torrent %s: writing downloaded data: %w", t.InfoHash().HexString(), err))
		})
	})
}
