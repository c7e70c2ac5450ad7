package swarm

import (
	"sync"

	"github.com/anacrolix/torrent"
	pp "github.com/anacrolix/torrent/peer_protocol"
)

// seedCapMinPeers is how many connected peers that are still downloading
// (not seeds) a client needs before it limits its requests to seeds.
const seedCapMinPeers = 2

// seedCap limits the requests a client keeps outstanding to a seed (a peer
// that announced every piece) while at least seedCapMinPeers other,
// non-seed peers are connected.
//
// When several leechers fetch the same collection at once (a LAN party
// with one origin), each would otherwise keep as many requests at the
// origin as the origin allows (250 by default) and take most of the data
// from it: the origin always has the piece the library wants next, while
// the other leechers only have what they fetched. With a short pipeline to
// the origin a leecher gets from it what nobody else has yet and the rest
// from the other leechers, which it still asks as deeply as before. A
// client that only knows seeds (one seeder → one leecher, or webseeds) is
// not limited.
//
// The cap is never below the number of requests one piece takes (16 KiB
// each). With 4 requests and 128 KiB pieces, the library asked the origin
// for the first four blocks of one piece after another and for none of the
// second halves: in the first 2 s of a 64 MiB swarm a leecher got 1,332
// blocks of 335 pieces and completed none, so it had nothing to announce
// and the others took everything from the origin too (4.4–4.6 copies; with
// a whole piece's worth of requests, 1.2).
//
// While active it also lifts the library's window of requestable pieces
// (ClientConfig.MaxUnverifiedBytes, 64 MiB by default). The library orders
// pieces by priority, availability and index and only requests from the
// first 64 MiB of that order; rarest first puts the pieces that only the
// seed has at the front, so while more than 64 MiB of those are left, a
// piece another leecher already holds is outside every window and nobody
// asks that leecher for it. The leechers then take everything from the seed
// until the last 64 MiB, and trade only at the end. N1 (8 leechers, 100
// Mbit/s links, 256 MiB) finished in 51.6 s with the origin sending 2.13
// copies; without the window, in 35.8 s (libtorrent: 35.1–35.6 s) with 1.45.
// It costs CPU: the library sorts every missing block of the window on each
// request update, so a one-to-one fetch, which has nobody to trade with,
// keeps the window.
//
// The library calls these callbacks with the client lock held, which
// guards PeerConn.PeerMaxRequests and the configuration's
// MaxUnverifiedBytes (read under the same lock when requests are updated);
// mu guards seedCap's own maps.
type seedCap struct {
	limit int
	cfg   *torrent.ClientConfig // nil in unit tests
	// window is the configuration's MaxUnverifiedBytes, restored when the
	// cap is off.
	window int64

	mu       sync.Mutex
	seeds    map[*torrent.PeerConn]int // seed → the request limit it announced
	nonSeeds map[*torrent.PeerConn]struct{}
}

func newSeedCap(limit int) *seedCap {
	return &seedCap{
		limit:    limit,
		seeds:    make(map[*torrent.PeerConn]int),
		nonSeeds: make(map[*torrent.PeerConn]struct{}),
	}
}

// install hooks the cap into a client configuration's callbacks, and keeps
// cfg to lift its window while the cap is active.
func (s *seedCap) install(cfg *torrent.ClientConfig) {
	s.cfg, s.window = cfg, cfg.MaxUnverifiedBytes
	cb := &cfg.Callbacks
	cb.ReadMessage = s.readMessage
	cb.ReadExtendedHandshake = s.readExtendedHandshake
	cb.PeerConnClosed = s.closed
}

func (s *seedCap) readMessage(c *torrent.PeerConn, m *pp.Message) {
	var seed bool
	switch m.Type {
	case pp.HaveAll:
		seed = true
	case pp.Bitfield:
		seed = allTrue(m.Bitfield)
	case pp.HaveNone, pp.Have:
	default:
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.seeds[c]; ok {
		return
	}
	if !seed {
		if _, ok := s.nonSeeds[c]; !ok {
			s.nonSeeds[c] = struct{}{}
			s.applyLocked()
		}
		return
	}
	delete(s.nonSeeds, c)
	s.seeds[c] = c.PeerMaxRequests
	s.applyLocked()
}

// readExtendedHandshake keeps the cap when a seed's extended handshake (which
// sets the peer's request limit) comes after its bitfield.
func (s *seedCap) readExtendedHandshake(c *torrent.PeerConn, h *pp.ExtendedHandshakeMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.seeds[c]; !ok || h.Reqq == 0 {
		return
	}
	s.seeds[c] = h.Reqq
	if limit := s.limitFor(c); s.active() && h.Reqq > limit {
		h.Reqq = limit
	}
}

func (s *seedCap) closed(c *torrent.PeerConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.nonSeeds[c]; ok {
		delete(s.nonSeeds, c)
		s.applyLocked()
	}
	delete(s.seeds, c)
}

func (s *seedCap) active() bool { return len(s.nonSeeds) >= seedCapMinPeers }

// isActive reports whether the cap is on: the client trades with at least
// seedCapMinPeers downloading peers.
func (s *seedCap) isActive() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active()
}

// applyLocked sets every seed's request limit: capped while active, the
// seed's own otherwise; and the window: none while active.
func (s *seedCap) applyLocked() {
	on := s.active()
	for c, own := range s.seeds {
		if on {
			c.PeerMaxRequests = min(own, s.limitFor(c))
		} else {
			c.PeerMaxRequests = own
		}
	}
	if s.cfg != nil {
		if on {
			s.cfg.MaxUnverifiedBytes = 0
		} else {
			s.cfg.MaxUnverifiedBytes = s.window
		}
	}
}

// requestSize is the size of the library's block requests.
const requestSize = 16 << 10

// limitFor is the cap for seed c: s.limit, or the number of requests one
// piece of c's torrent takes if that is more. Torrent.Info takes no client
// lock, so it is safe in the callbacks.
func (s *seedCap) limitFor(c *torrent.PeerConn) int {
	var pieceLength int64
	if t := c.Torrent(); t != nil {
		if info := t.Info(); info != nil {
			pieceLength = info.PieceLength
		}
	}
	return seedLimit(s.limit, pieceLength)
}

// seedLimit is limit, raised to the requests a piece of pieceLength takes.
func seedLimit(limit int, pieceLength int64) int {
	if pieceLength <= 0 {
		return limit
	}
	return max(limit, int((pieceLength+requestSize-1)/requestSize))
}

func allTrue(bits []bool) bool {
	for _, b := range bits {
		if !b {
			return false
		}
	}
	return len(bits) > 0
}
