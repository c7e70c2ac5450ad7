package swarm

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"
	pp "github.com/anacrolix/torrent/peer_protocol"

	"github.com/distswarm/distswarm/swarm/collection"
)

// A given peer that connected to the fetching node itself (the node did not
// dial it), claims every piece, unchokes and then sends nothing: the node
// closes that connection once the torrent has been idle for stuckAfter, as
// it does with one it dialled, so that the redial to the peer's listening
// address is not refused as a duplicate of it. Before, such a connection
// stayed until the fetch's deadline.
func TestStuckIncomingConnectionFromGivenPeerIsClosed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	_, _, coll := corpusCollection(t, ctx, []int{1 << 20})
	ih := coll.Torrents[0].HashInfoBytes()
	listen := closedAddr(t) // the given peer's listening address: nobody answers there
	_, portStr, _ := net.SplitHostPort(listen)
	port, _ := strconv.Atoi(portStr)

	store, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	n, err := OpenNode(ctx, NodeOptions{Store: store, Client: loopback(), Peers: []string{listen}})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	fetchCtx, stopFetch := context.WithCancel(ctx)
	defer stopFetch()
	go n.Fetch(fetchCtx, FetchRequest{Collections: []*collection.Collection{coll}, TrustCollection: true, All: true})
	for {
		if _, ok := n.Client().Torrent(ih); ok {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the fetch never added its torrent")
		case <-time.After(50 * time.Millisecond):
		}
	}

	c, err := net.Dial("tcp4", fmt.Sprintf("127.0.0.1:%d", n.Port()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if err := silentInitiator(ctx, c, ih, port); err != nil {
		t.Fatal(err)
	}
	closed := make(chan time.Duration, 1)
	go func() {
		d := pp.Decoder{R: bufio.NewReader(c), MaxLength: 1 << 20, Pool: &sync.Pool{New: func() any { b := make([]byte, 1<<17); return &b }}}
		for {
			var m pp.Message
			if err := d.Decode(&m); err != nil {
				closed <- time.Since(start)
				return
			}
		}
	}()
	// stuckAfter, checked every redialEvery: about 10 s; three times that
	// leaves room for a busy machine.
	bound := 3 * (stuckAfter + redialEvery)
	select {
	case d := <-closed:
		t.Logf("the node closed the idle incoming connection after %s", d.Round(time.Millisecond))
	case <-time.After(bound):
		t.Fatalf("an idle connection from a given peer is still open after %s", bound)
	}
}

// silentInitiator handshakes on c for ih as a peer listening on port (its
// extended handshake says so), claims every piece and unchokes.
func silentInitiator(ctx context.Context, c net.Conn, ih metainfo.Hash, port int) error {
	var id [20]byte
	copy(id[:], "-SILENT-0002-xxxxxxx")
	ext := pp.NewPeerExtensionBytes(pp.ExtensionBitFast, pp.ExtensionBitLtep)
	hctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	res, err := pp.Handshake(hctx, c, &ih, id, ext)
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	if !res.PeerExtensionBits.SupportsFast() || !res.PeerExtensionBits.SupportsExtended() {
		return fmt.Errorf("the node offers neither the fast nor the extension protocol: %v", res.PeerExtensionBits)
	}
	hs, err := bencode.Marshal(pp.ExtendedHandshakeMessage{M: map[pp.ExtensionName]pp.ExtensionNumber{}, Port: port})
	if err != nil {
		return err
	}
	for _, m := range []pp.Message{
		{Type: pp.Extended, ExtendedID: pp.HandshakeExtendedID, ExtendedPayload: hs},
		{Type: pp.HaveAll}, {Type: pp.Unchoke},
	} {
		if _, err := c.Write(m.MustMarshalBinary()); err != nil {
			return fmt.Errorf("write %v: %w", m.Type, err)
		}
	}
	return nil
}
