package lsd

import (
	"net/netip"
	"slices"
	"time"

	"github.com/anacrolix/torrent/metainfo"
)

// Bounds of the peer table.
const (
	// maxPeersPerInfohash is how many peers are remembered per infohash.
	maxPeersPerInfohash = 64
	// maxInfohashes is how many infohashes peers are remembered for.
	maxInfohashes = 1024
)

// peerTable remembers when each (infohash, peer) was last reported, so a
// peer is reported once per window however often it announces, and
// bounds the memory hostile announces can take. Not safe for concurrent
// use: the Service guards it.
type peerTable struct {
	window time.Duration
	byIH   map[metainfo.Hash]map[netip.AddrPort]time.Time
}

func newPeerTable(window time.Duration) *peerTable {
	return &peerTable{window: window, byIH: map[metainfo.Hash]map[netip.AddrPort]time.Time{}}
}

// fresh records (ih, addr) at now and reports whether it should be
// reported: it was not seen within the window and the table has room.
func (p *peerTable) fresh(ih metainfo.Hash, addr netip.AddrPort, now time.Time) bool {
	peers, ok := p.byIH[ih]
	if !ok {
		if len(p.byIH) >= maxInfohashes {
			p.prune(now)
			if len(p.byIH) >= maxInfohashes {
				return false
			}
		}
		peers = map[netip.AddrPort]time.Time{}
		p.byIH[ih] = peers
	}
	if last, seen := peers[addr]; seen && now.Sub(last) < p.window {
		return false
	}
	if _, seen := peers[addr]; !seen && len(peers) >= maxPeersPerInfohash {
		pruneOne(peers, now, p.window)
		if len(peers) >= maxPeersPerInfohash {
			return false
		}
	}
	peers[addr] = now
	return true
}

// prune forgets every entry older than the window.
func (p *peerTable) prune(now time.Time) {
	for ih, peers := range p.byIH {
		pruneOne(peers, now, p.window)
		if len(peers) == 0 {
			delete(p.byIH, ih)
		}
	}
}

func pruneOne(peers map[netip.AddrPort]time.Time, now time.Time, window time.Duration) {
	for a, t := range peers {
		if now.Sub(t) >= window {
			delete(peers, a)
		}
	}
}

// Sighting is a peer heard for an infohash, and when it was last reported.
type Sighting struct {
	Infohash metainfo.Hash
	Addr     netip.AddrPort
	Reported time.Time
}

// all returns the table's entries, newest report first.
func (p *peerTable) all() []Sighting {
	var out []Sighting
	for ih, peers := range p.byIH {
		for a, t := range peers {
			out = append(out, Sighting{Infohash: ih, Addr: a, Reported: t})
		}
	}
	slices.SortFunc(out, func(a, b Sighting) int { return b.Reported.Compare(a.Reported) })
	return out
}
