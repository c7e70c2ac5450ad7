package swarm

import (
	"log/slog"
	"time"

	"github.com/anacrolix/torrent"
)

// Webseeds are held back while peers deliver (issue 11). anacrolix v1.61
// requests pieces from a torrent's webseeds (BEP 19 url-list, a GLEP 75
// HTTP mirror) and its peers at once, so at a LAN event a fetch took a
// large share of its data from the Internet mirror although the LAN peers
// had every piece. The registry therefore adds every torrent without its
// webseeds, and each wait on a torrent's data (a fetch, a binpkg
// collection's index files) releases them, with AddWebSeeds, when:
//
//   - the node has no peer source for the torrent (no given peer, no LAN
//     discovery, no tracker, no DHT, no peer known): at once, as before;
//   - no peer connected within webseedGrace of the wait's start;
//   - the connected peers delivered no useful piece data for webseedGrace
//     while data the wait wants is missing.
//
// Released webseeds stay. They go through the client's WebTransport (the
// library hands every webseed the client's one http.Client), so
// padRoundTripper answers their pad file requests as before. A torrent
// only seeded, that nothing waits on, keeps them held: it needs none.
const webseedGrace = 5 * time.Second

// webseedHold is a torrent's held-back webseeds and what the waits on its
// data saw of its peers (nodeTorrent.mu held).
type webseedHold struct {
	urls              []string // held back; nil once released
	checked           time.Time
	since             time.Time // since when peers delivered nothing
	connected         bool      // a peer was connected during this wait
	good, bad, useful int64     // the torrent's counters at the last check
}

// observe takes the torrent's stats and returns why the webseeds should
// be released, "" while peers deliver or still have time to.
func (h *webseedHold) observe(st torrent.TorrentStats, now time.Time) string {
	good, bad, useful := st.PiecesDirtiedGood.Int64(), st.PiecesDirtiedBad.Int64(), st.PeerConns.BytesReadUsefulData.Int64()
	// Data that fails its hash check is no delivery (as for stallWatch).
	progress := good != h.good || (useful != h.useful && bad == h.bad)
	h.good, h.bad, h.useful = good, bad, useful
	// A check long after the last one starts a new wait: the peers did not
	// fail a wait that nobody made.
	newWait := h.checked.IsZero() || now.Sub(h.checked) > webseedGrace/2
	h.checked = now
	if newWait {
		h.connected = false
	}
	// The first peer to connect gets a whole grace period to deliver.
	firstPeer := st.ActivePeers > 0 && !h.connected
	h.connected = h.connected || st.ActivePeers > 0
	if newWait || progress || firstPeer {
		h.since = now
		return ""
	}
	idle := now.Sub(h.since)
	if idle < webseedGrace {
		return ""
	}
	if st.ActivePeers == 0 {
		return "no peer connected for " + idle.Round(time.Second).String()
	}
	return "the connected peers delivered no piece data for " + idle.Round(time.Second).String()
}

// webseedsHeld is how many of the torrent's webseeds are held back.
func (nt *nodeTorrent) webseedsHeld() int {
	nt.mu.Lock()
	defer nt.mu.Unlock()
	return len(nt.webseeds.urls)
}

// tendWebseeds is called about every half second while a wait on the
// torrent's data lasts: it releases the held-back webseeds when the node
// has no peer source for it, or when the peers do not deliver while
// missing (data the wait wants is not there yet).
func (n *Node) tendWebseeds(nt *nodeTorrent, now time.Time, missing bool) {
	if nt.webseedsHeld() == 0 {
		return
	}
	if !n.hasPeerSource(nt) {
		nt.releaseWebseeds(n.log, "no peer source: no given peer, LAN discovery, tracker or DHT")
		return
	}
	st := nt.t.Stats()
	nt.mu.Lock()
	why := nt.webseeds.observe(st, now)
	nt.mu.Unlock()
	if why != "" && missing {
		nt.releaseWebseeds(n.log, why)
	}
}

// hasPeerSource reports whether peers may come for the torrent.
func (n *Node) hasPeerSource(nt *nodeTorrent) bool {
	if len(n.reg.peers) > 0 || n.copts.DHT || n.lanState() != nil {
		return true
	}
	if !n.copts.NoTrackers && nt.hasTrackers() {
		return true
	}
	return nt.t.Stats().TotalPeers > 0
}

// hasTrackers reports whether the torrent announces (or will) to a tracker.
func (nt *nodeTorrent) hasTrackers() bool {
	nt.mu.Lock()
	defer nt.mu.Unlock()
	for _, tier := range nt.trackers {
		if len(tier) > 0 {
			return true
		}
	}
	return false
}

// releaseWebseeds gives the torrent its held-back webseeds, once.
func (nt *nodeTorrent) releaseWebseeds(log *slog.Logger, why string) {
	nt.mu.Lock()
	urls := nt.webseeds.urls
	nt.webseeds.urls = nil
	nt.mu.Unlock()
	if len(urls) == 0 {
		return
	}
	nt.t.AddWebSeeds(urls)
	log.Info("webseeds released: "+why, "infohash", nt.ih.HexString(), "webseeds", len(urls))
}

// releaseWebseeds tends the webseeds of every torrent the request waits
// on (see tendWebseeds).
func (r *fetchRun) releaseWebseeds(now time.Time) {
	for nt, missing := range r.heldWaits() {
		r.n.tendWebseeds(nt, now, missing)
	}
}

// heldWaits are the torrents the request waits on that hold webseeds
// back, each with whether a file it waits on there misses data.
func (r *fetchRun) heldWaits() map[*nodeTorrent]bool {
	out := map[*nodeTorrent]bool{}
	note := func(nt *nodeTorrent, index int) {
		if nt == nil || out[nt] || nt.webseedsHeld() == 0 {
			return
		}
		f := nt.t.Files()[index]
		out[nt] = f.BytesCompleted() < f.Length()
	}
	for key, nt := range r.trustWait {
		note(nt, key.index)
	}
	for key := range r.waiting {
		note(r.added[key.ih], key.index)
	}
	return out
}
