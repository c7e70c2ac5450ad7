package swarm

import (
	"net"
	"testing"
	"time"

	"github.com/anacrolix/dht/v2/krpc"
)

// fakeClock is a settable clock for the DHT peer store.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestDHTPeerStoreKeysByIPAndPort(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	s := newDHTPeerStore(clk.now)
	ih := [20]byte{1}
	lo := net.IPv4(127, 0, 0, 1)
	s.AddPeer(ih, krpc.NodeAddr{IP: lo, Port: 6881})
	clk.t = clk.t.Add(time.Second)
	s.AddPeer(ih, krpc.NodeAddr{IP: lo, Port: 6882})
	s.AddPeer(ih, krpc.NodeAddr{IP: lo, Port: 0})     // no port: useless
	s.AddPeer(ih, krpc.NodeAddr{IP: lo, Port: 70000}) // out of range
	s.AddPeer(ih, krpc.NodeAddr{IP: nil, Port: 1})    // no address
	got := s.GetPeers(ih)
	if len(got) != 2 || got[0].Port != 6882 || got[1].Port != 6881 {
		t.Fatalf("GetPeers = %v, want 127.0.0.1:6882 then :6881", got)
	}
	if other := s.GetPeers([20]byte{2}); len(other) != 0 {
		t.Fatalf("unknown infohash has peers %v", other)
	}
}

func TestDHTPeerStoreExpiresAndBounds(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	s := newDHTPeerStore(clk.now)
	ih := [20]byte{3}
	for i := range dhtPeersPerHash + 25 {
		s.AddPeer(ih, krpc.NodeAddr{IP: net.IPv4(10, 0, byte(i>>8), byte(i)), Port: 1000 + i})
		clk.t = clk.t.Add(time.Millisecond)
	}
	if n := len(s.hashes[ih]); n != dhtPeersPerHash {
		t.Fatalf("stored %d peers for one infohash, want the cap %d", n, dhtPeersPerHash)
	}
	got := s.GetPeers(ih)
	if len(got) != dhtPeersPerResponse || got[0].Port != 1000+dhtPeersPerHash+24 {
		t.Fatalf("GetPeers gave %d peers starting %v; want %d newest first", len(got), got[0], dhtPeersPerResponse)
	}
	for _, p := range s.hashes[ih] {
		if p.addr.Port < 1025 {
			t.Fatalf("oldest peer %v survived eviction", p.addr)
		}
	}
	clk.t = clk.t.Add(dhtPeerTTL + time.Second)
	if got := s.GetPeers(ih); len(got) != 0 {
		t.Fatalf("expired peers returned: %d", len(got))
	}
	if _, ok := s.hashes[ih]; ok {
		t.Fatal("empty infohash entry kept after expiry")
	}

	// The number of infohashes is bounded too; expired ones make room.
	for i := range dhtMaxHashes + 10 {
		s.AddPeer([20]byte{byte(i), byte(i >> 8), 9}, krpc.NodeAddr{IP: net.IPv4(10, 1, 1, 1), Port: 1})
	}
	if len(s.hashes) != dhtMaxHashes {
		t.Fatalf("stored %d infohashes, want the cap %d", len(s.hashes), dhtMaxHashes)
	}
	clk.t = clk.t.Add(dhtPeerTTL + time.Second)
	s.AddPeer([20]byte{0xff, 0xff, 0xff}, krpc.NodeAddr{IP: net.IPv4(10, 1, 1, 1), Port: 1})
	if len(s.hashes) != 1 {
		t.Fatalf("after expiry %d infohashes remain, want only the new one", len(s.hashes))
	}
}
