package swarm

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anacrolix/torrent/metainfo"
	pp "github.com/anacrolix/torrent/peer_protocol"

	"github.com/distswarm/distswarm/internal/btpeer"
	"github.com/distswarm/distswarm/swarm/collection"
)

// A connection whose requests go unanswered has nothing to write; its
// message writer must still wake by itself within writerWakeEvery (it then
// sends a keep-alive), because that wake is what ends the library's lost
// wake-up (see writerWakeEvery): with the library's default of a minute, a
// connection with a request update pending and none to process it requested
// nothing for up to that long. The peer here claims every piece, unchokes,
// and answers nothing; the test waits for the client's first keep-alive.
func TestIdleConnectionWriterWakes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	src := t.TempDir()
	corpus(t, src, []int{1 << 20})
	coll, err := collection.Create(ctx, collection.CreateOptions{From: src})
	if err != nil {
		t.Fatal(err)
	}
	mi := coll.Torrents[0]
	peer := startSilentSeed(t, mi.HashInfoBytes())

	tor := attachedLeecher(t, t.TempDir(), mi)
	tor.AddPeers(peerInfosMust(t, peer.addr))
	tor.DownloadAll()

	// Ten times writerWakeEvery leaves room for a busy machine and is
	// still far below the library's default of a minute.
	bound := 10 * writerWakeEvery
	select {
	case idle := <-peer.keepAlive:
		t.Logf("first keep-alive after %s without another message (%d requests before it)", idle.Round(time.Millisecond), peer.requests.Load())
		if peer.requests.Load() == 0 {
			t.Fatalf("the client requested nothing from a seed it was interested in")
		}
	case <-time.After(bound):
		t.Fatalf("no keep-alive within %s on a connection idle since its requests (%d requests)", bound, peer.requests.Load())
	}
}

// silentSeed is a BitTorrent peer that claims every piece (BEP 6 HaveAll),
// unchokes, and answers no request. It reports on keepAlive how long the
// connection had been quiet when the client's first keep-alive came.
type silentSeed struct {
	addr      string
	keepAlive chan time.Duration
	requests  atomic.Int64
}

func startSilentSeed(t *testing.T, ih metainfo.Hash) *silentSeed {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &silentSeed{addr: ln.Addr().String(), keepAlive: make(chan time.Duration, 1)}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		stop := context.AfterFunc(t.Context(), func() { c.Close() })
		defer stop()
		if err := s.serve(c, ih); err != nil {
			t.Logf("silent seed: %v", err)
		}
	}()
	return s
}

func (s *silentSeed) serve(c net.Conn, ih metainfo.Hash) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var id [20]byte
	copy(id[:], "-SILENT-0001-xxxxxxx")
	br, w, res, err := btpeer.Accept(ctx, c, ih, id, pp.NewPeerExtensionBytes(pp.ExtensionBitFast))
	if err != nil {
		return err
	}
	if !res.PeerExtensionBits.SupportsFast() {
		return fmt.Errorf("the client does not offer the fast extension")
	}
	for _, m := range []pp.Message{{Type: pp.HaveAll}, {Type: pp.Unchoke}} {
		if _, err := w.Write(m.MustMarshalBinary()); err != nil {
			return fmt.Errorf("write %v: %w", m.Type, err)
		}
	}
	d := pp.Decoder{R: br, MaxLength: 1 << 20, Pool: &sync.Pool{New: func() any { b := make([]byte, 1<<17); return &b }}}
	last := time.Now()
	for {
		var m pp.Message
		if err := d.Decode(&m); err != nil {
			return nil // the client closed the connection at the end of the test
		}
		now := time.Now()
		if m.Keepalive {
			select {
			case s.keepAlive <- now.Sub(last):
			default:
			}
			continue
		}
		if m.Type == pp.Request {
			s.requests.Add(1)
		}
		last = now
	}
}
