package swarm

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/anacrolix/dht/v2/krpc"
	"github.com/anacrolix/dht/v2/peer-store"
)

// Bounds of what our DHT node stores for others (BEP 5 announce_peer).
// Announces arrive from the network, so memory is bounded by these
// whatever peers send.
const (
	dhtPeerTTL          = 30 * time.Minute // BEP 5 peers re-announce within this
	dhtPeersPerHash     = 200              // oldest evicted beyond this
	dhtMaxHashes        = 10000            // announces for new infohashes dropped beyond this
	dhtPeersPerResponse = 50               // fits a get_peers reply in one UDP packet
)

// dhtPeerStore is the DHT node's announce_peer store, keyed by IP *and*
// port. The library ships none by default (so get_peers hands out no
// tokens and nothing can be announced to us), and its InMemory store keys
// by IP only, so peers sharing an address (a NAT, a LAN host running two
// clients, loopback) overwrite each other (ANACROLIX.md §5.1).
type dhtPeerStore struct {
	now func() time.Time

	mu     sync.Mutex
	hashes map[peer_store.InfoHash]map[string]dhtPeer
}

type dhtPeer struct {
	addr krpc.NodeAddr
	seen time.Time
}

var _ peer_store.Interface = (*dhtPeerStore)(nil)

func newDHTPeerStore(now func() time.Time) *dhtPeerStore {
	return &dhtPeerStore{now: now, hashes: make(map[peer_store.InfoHash]map[string]dhtPeer)}
}

// AddPeer records that addr announced ih.
func (s *dhtPeerStore) AddPeer(ih peer_store.InfoHash, addr krpc.NodeAddr) {
	if addr.Port <= 0 || addr.Port > 65535 || (addr.IP.To4() == nil && addr.IP.To16() == nil) {
		return
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	peers := s.hashes[ih]
	if peers == nil {
		if len(s.hashes) >= dhtMaxHashes {
			s.expireAll(now)
			if len(s.hashes) >= dhtMaxHashes {
				return
			}
		}
		peers = make(map[string]dhtPeer)
		s.hashes[ih] = peers
	}
	peers[addr.String()] = dhtPeer{addr: addr, seen: now}
	if len(peers) > dhtPeersPerHash {
		expire(peers, now)
		for len(peers) > dhtPeersPerHash {
			delete(peers, oldest(peers))
		}
	}
}

// GetPeers returns up to dhtPeersPerResponse live peers of ih, newest first.
func (s *dhtPeerStore) GetPeers(ih peer_store.InfoHash) []krpc.NodeAddr {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	peers := s.hashes[ih]
	expire(peers, now)
	if len(peers) == 0 {
		delete(s.hashes, ih)
		return nil
	}
	out := make([]dhtPeer, 0, len(peers))
	for _, p := range peers {
		out = append(out, p)
	}
	sortNewestFirst(out)
	if len(out) > dhtPeersPerResponse {
		out = out[:dhtPeersPerResponse]
	}
	addrs := make([]krpc.NodeAddr, len(out))
	for i, p := range out {
		addrs[i] = p.addr
	}
	return addrs
}

func (s *dhtPeerStore) expireAll(now time.Time) {
	for ih, peers := range s.hashes {
		expire(peers, now)
		if len(peers) == 0 {
			delete(s.hashes, ih)
		}
	}
}

func expire(peers map[string]dhtPeer, now time.Time) {
	for k, p := range peers {
		if now.Sub(p.seen) > dhtPeerTTL {
			delete(peers, k)
		}
	}
}

func oldest(peers map[string]dhtPeer) string {
	var key string
	var at time.Time
	for k, p := range peers {
		if key == "" || p.seen.Before(at) || (p.seen.Equal(at) && k < key) {
			key, at = k, p.seen
		}
	}
	return key
}

func sortNewestFirst(ps []dhtPeer) {
	slices.SortFunc(ps, func(a, b dhtPeer) int {
		if c := b.seen.Compare(a.seen); c != 0 {
			return c
		}
		return strings.Compare(a.addr.String(), b.addr.String())
	})
}
