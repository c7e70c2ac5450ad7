package swarm

import (
	"sync/atomic"
	"time"

	"github.com/anacrolix/torrent"
	pp "github.com/anacrolix/torrent/peer_protocol"
)

// uploadBalanceEvery is how often uploadBalance compares the client's
// upload and download rates.
const uploadBalanceEvery = time.Second

// uploadBalance keeps a downloading client from uploading faster than it
// downloads: while its upload rate over the last uploadBalanceEvery exceeds
// its download rate, the library's tit-for-tat applies to the torrents it
// still downloads (ClientConfig.DisableAggressiveUpload: upload to a peer
// only while it has pieces we want and we have not sent it more than 100
// KiB beyond what it sent us). Torrents it has complete keep seeding to
// everyone, and so does a client that downloads faster than it uploads.
//
// On links that carry both directions (N1: 8 leechers and an origin, each
// on a 100 Mbit/s link), a leecher whose pieces everyone wanted filled its
// uplink at the link rate; the acknowledgements and requests of its own
// downloads queued behind that data, and its download fell to 3–5 MiB/s
// for 5–20 s while the others ran at 11. It finished last, and the origin
// served its tail alone. Always-on tit-for-tat evened the others out but
// starved a leecher that had nothing to trade yet (100 KiB of credit is
// less than a 512 KiB piece, so it could not complete one to offer).
//
// The library reads DisableAggressiveUpload under the client lock; the
// ReadMessage callback runs with that lock held, so the flag is set there.
type uploadBalance struct {
	cfg  *torrent.ClientConfig
	cl   atomic.Pointer[torrent.Client]
	last time.Time
	up   int64 // client totals at last
	down int64
}

// install chains the balance into cfg's ReadMessage callback; start
// gives it the client once created.
func (b *uploadBalance) install(cfg *torrent.ClientConfig) {
	b.cfg = cfg
	next := cfg.Callbacks.ReadMessage
	cfg.Callbacks.ReadMessage = func(c *torrent.PeerConn, m *pp.Message) {
		if next != nil {
			next(c, m)
		}
		b.check(time.Now())
	}
}

func (b *uploadBalance) start(cl *torrent.Client) { b.cl.Store(cl) }

// check re-decides at most every uploadBalanceEvery. Called with the
// client lock held.
func (b *uploadBalance) check(now time.Time) {
	if now.Sub(b.last) < uploadBalanceEvery {
		return
	}
	cl := b.cl.Load()
	if cl == nil {
		return
	}
	s := cl.ConnStats() // atomic counters: no lock
	b.observe(now, s.BytesWrittenData.Int64(), s.BytesReadData.Int64())
}

// observe takes the client's payload totals (bytes uploaded and
// downloaded) at now, and turns tit-for-tat on while the upload since the
// previous observation exceeds the download, off otherwise. The first
// observation only records the totals.
func (b *uploadBalance) observe(now time.Time, up, down int64) {
	if !b.last.IsZero() {
		b.cfg.DisableAggressiveUpload = up-b.up > down-b.down
	}
	b.last, b.up, b.down = now, up, down
}
