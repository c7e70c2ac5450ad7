package swarm

import (
	"testing"

	"github.com/anacrolix/torrent"
	pp "github.com/anacrolix/torrent/peer_protocol"
)

func TestSeedCapOnlyWithDownloadingPeers(t *testing.T) {
	s := newSeedCap(4)
	seed := &torrent.PeerConn{PeerMaxRequests: 250}
	a := &torrent.PeerConn{PeerMaxRequests: 250}
	b := &torrent.PeerConn{PeerMaxRequests: 250}

	s.readMessage(seed, &pp.Message{Type: pp.HaveAll})
	if seed.PeerMaxRequests != 250 {
		t.Fatalf("seed alone: limit %d, want 250 (not capped)", seed.PeerMaxRequests)
	}
	s.readMessage(a, &pp.Message{Type: pp.HaveNone})
	if seed.PeerMaxRequests != 250 {
		t.Fatalf("one downloading peer: limit %d, want 250", seed.PeerMaxRequests)
	}
	s.readMessage(b, &pp.Message{Type: pp.Bitfield, Bitfield: []bool{true, false}})
	if seed.PeerMaxRequests != 4 {
		t.Fatalf("two downloading peers: limit %d, want 4", seed.PeerMaxRequests)
	}
	if a.PeerMaxRequests != 250 || b.PeerMaxRequests != 250 {
		t.Fatalf("downloading peers limited: %d, %d", a.PeerMaxRequests, b.PeerMaxRequests)
	}
	// A seed's extended handshake after its bitfield keeps the cap.
	h := &pp.ExtendedHandshakeMessage{Reqq: 500}
	s.readExtendedHandshake(seed, h)
	if h.Reqq != 4 {
		t.Fatalf("extended handshake reqq %d, want 4", h.Reqq)
	}
	s.closed(a)
	if seed.PeerMaxRequests != 500 {
		t.Fatalf("after a peer left: limit %d, want the seed's own 500", seed.PeerMaxRequests)
	}
	// A second seed is capped as soon as it is known while active.
	s.readMessage(a, &pp.Message{Type: pp.Have, Index: 1})
	seed2 := &torrent.PeerConn{PeerMaxRequests: 100}
	s.readMessage(seed2, &pp.Message{Type: pp.Bitfield, Bitfield: []bool{true, true}})
	if seed.PeerMaxRequests != 4 || seed2.PeerMaxRequests != 4 {
		t.Fatalf("limits %d, %d, want 4, 4", seed.PeerMaxRequests, seed2.PeerMaxRequests)
	}
	s.closed(seed)
	if len(s.seeds) != 1 {
		t.Fatalf("closed seed still tracked")
	}
}

// While the cap is active the library's window of requestable pieces is
// lifted, so leechers can ask each other for pieces that only the seed
// would otherwise serve; it comes back when the swarm is gone.
func TestSeedCapLiftsWindowInSwarm(t *testing.T) {
	cfg := torrent.NewDefaultClientConfig()
	window := cfg.MaxUnverifiedBytes
	if window == 0 {
		t.Fatal("the library's default window is 0 (none); this test needs one")
	}
	s := newSeedCap(4)
	s.install(cfg)
	seed := &torrent.PeerConn{PeerMaxRequests: 250}
	a := &torrent.PeerConn{PeerMaxRequests: 250}
	b := &torrent.PeerConn{PeerMaxRequests: 250}
	s.readMessage(seed, &pp.Message{Type: pp.HaveAll})
	s.readMessage(a, &pp.Message{Type: pp.HaveNone})
	if cfg.MaxUnverifiedBytes != window {
		t.Fatalf("one downloading peer: window %d, want the default %d", cfg.MaxUnverifiedBytes, window)
	}
	s.readMessage(b, &pp.Message{Type: pp.HaveNone})
	if cfg.MaxUnverifiedBytes != 0 {
		t.Fatalf("two downloading peers: window %d, want 0 (none)", cfg.MaxUnverifiedBytes)
	}
	s.closed(b)
	if cfg.MaxUnverifiedBytes != window {
		t.Fatalf("after a peer left: window %d, want the default %d", cfg.MaxUnverifiedBytes, window)
	}
}

// The cap is raised to a whole piece's worth of 16 KiB requests: with 4
// requests and 128 KiB pieces the library only ever asked a seed for the
// first half of each piece.
func TestSeedLimitCoversAPiece(t *testing.T) {
	for _, c := range []struct {
		limit       int
		pieceLength int64
		want        int
	}{
		{4, 0, 4}, {4, 16 << 10, 4}, {4, 64 << 10, 4}, {4, 128 << 10, 8}, {4, 1 << 20, 64},
		{4, 100 << 10, 7}, {16, 128 << 10, 16},
	} {
		if got := seedLimit(c.limit, c.pieceLength); got != c.want {
			t.Errorf("seedLimit(%d, %d) = %d, want %d", c.limit, c.pieceLength, got, c.want)
		}
	}
}
