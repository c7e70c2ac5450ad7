package swarm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"

	"github.com/distswarm/distswarm/swarm/collection"
	"github.com/distswarm/distswarm/swarm/lsd"
)

// lanPeer is an LSD sighting of ih at 127.0.0.1:port.
func lanPeer(ih metainfo.Hash, port int) lsd.Peer {
	return lsd.Peer{Infohash: ih, Addr: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))}
}

// TestLearnCollectionFromPeer: a node learns a collection it was never
// given from the peer that announced it (info over BEP 9, then the
// collection Manifest only), keeps it apart from the store's own
// collections, finds distfiles in it with FetchKnown, and a node opened
// again on the store still does.
func TestLearnCollectionFromPeer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	src := t.TempDir()
	files := corpus(t, src, []int{1000, 300000, 70000})
	coll, err := collection.Create(ctx, collection.CreateOptions{From: src})
	if err != nil {
		t.Fatal(err)
	}
	port := startSeeder(t, ctx, coll, src)
	ih := coll.Torrents[0].HashInfoBytes()

	store, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	n, err := OpenNode(ctx, NodeOptions{Store: store, Client: loopback()})
	if err != nil {
		t.Fatal(err)
	}
	l := newLANLearner()
	if err := n.learn(ctx, l, lanPeer(ih, port)); err != nil {
		t.Fatalf("learn: %v", err)
	}
	learned, _ := l.list()
	if len(learned) != 1 || learned[0].InfoHash != ih.HexString() || !learned[0].Manifest || learned[0].Files != len(files) {
		t.Fatalf("learned %+v, want %s with its Manifest and %d files", learned, ih.HexString(), len(files))
	}
	if _, err := os.Stat(filepath.Join(store.collectionsDir(), ih.HexString()+".torrent")); err == nil {
		t.Error("a learned collection was remembered among the store's own (whose Manifests a daemon trusts)")
	}
	if known, _ := store.Known(); len(known) != 0 {
		t.Errorf("store.Known lists %d collections, want none of its own", len(known))
	}
	name := "pkg001-1.300000.tar.gz"
	for _, nt := range n.reg.all() {
		if nt.ih == ih && nt.t.BytesCompleted() >= int64(len(files[name])) {
			t.Errorf("learning downloaded %d bytes of data besides the Manifest", nt.t.BytesCompleted())
		}
	}
	checkFetchKnown(t, ctx, n, files, name, port)
	n.Close()

	// A node opened again on the store finds the distfiles of the learned
	// collection, and does not remember it among the store's own either.
	n2, err := OpenNode(ctx, NodeOptions{Store: store, Client: loopback()})
	if err != nil {
		t.Fatal(err)
	}
	defer n2.Close()
	l2 := newLANLearner()
	n2.loadLearned(l2)
	if again, _ := l2.list(); len(again) != 1 || again[0].InfoHash != ih.HexString() || !again[0].Manifest || again[0].From != "" {
		t.Errorf("after a restart the node lists as learned %+v, want %s with its Manifest, from an earlier run", again, ih.HexString())
	}
	checkFetchKnown(t, ctx, n2, files, "pkg002-1.70000.tar.gz", port)
	if _, err := os.Stat(filepath.Join(store.collectionsDir(), ih.HexString()+".torrent")); err == nil {
		t.Error("the learned collection was remembered among the store's own by a later fetch")
	}
}

func checkFetchKnown(t *testing.T, ctx context.Context, n *Node, files map[string][]byte, name string, port int) {
	t.Helper()
	n.reg.peers = peerInfosMust(t, fmt.Sprintf("127.0.0.1:%d", port))
	res, err := n.FetchKnown(ctx, FetchRequest{Authority: authorityFor(t, files, name), Names: []string{name, "nosuch-1.0.tar.gz"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		switch r.Name {
		case name:
			got, err := os.ReadFile(r.Path)
			if r.Err != nil || err != nil || !bytes.Equal(got, files[name]) {
				t.Errorf("%s from the learned collection: %v %v", name, r.Err, err)
			}
		default:
			if r.Outcome != OutcomeNotInCollections || r.Err == nil || !strings.Contains(r.Err.Error(), "1 learned from the LAN") {
				t.Errorf("%s: %v %v, want not-in-collections naming the learned one", r.Name, r.Outcome, r.Err)
			}
		}
	}
}

func peerInfosMust(t *testing.T, addrs ...string) []torrent.PeerInfo {
	t.Helper()
	pis, err := peerInfos(addrs)
	if err != nil {
		t.Fatal(err)
	}
	return pis
}

// TestLearnRefusesNonCollections: an infohash whose torrent is no
// distswarm collection (no Manifest first) is not learned, and one whose
// announcer does not answer fails within the deadline.
func TestLearnRefusesNonCollections(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	src := t.TempDir()
	corpus(t, src, []int{5000, 9000})
	info := metainfo.Info{PieceLength: 16 << 10}
	if err := info.BuildFromFilePath(src); err != nil {
		t.Fatal(err)
	}
	infoBytes, err := bencode.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	mi := &metainfo.MetaInfo{InfoBytes: infoBytes}
	coll := &collection.Collection{Torrents: []*metainfo.MetaInfo{mi}}
	port := startSeeder(t, ctx, coll, src)
	store, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	n, err := OpenNode(ctx, NodeOptions{Store: store, Client: loopback()})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	l := newLANLearner()
	if err := n.learn(ctx, l, lanPeer(coll.Torrents[0].HashInfoBytes(), port)); !errors.Is(err, errNotCollection) {
		t.Errorf("learn a torrent without a collection Manifest: %v, want %v", err, errNotCollection)
	}
	if len(n.reg.all()) != 0 || len(store.learnedInfohashes()) != 0 {
		t.Error("a torrent that is no collection was added or kept")
	}
	// A port nobody answers on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	sctx, scancel := context.WithTimeout(ctx, 3*time.Second)
	defer scancel()
	if err := n.learn(sctx, l, lanPeer(metainfo.Hash{1, 2, 3}, dead)); err == nil {
		t.Error("learning from a peer that does not answer succeeded")
	}
	// An IPv6 announce, heard by a node listening on IPv4.
	v6 := lsd.Peer{Infohash: metainfo.Hash{4, 5, 6}, Addr: netip.MustParseAddrPort("[fe80::1%lo]:6881")}
	if err := n.learn(sctx, l, v6); !errors.Is(err, errNoReachablePeer) {
		t.Errorf("learn from an IPv6 peer on an IPv4 node: %v, want %v", err, errNoReachablePeer)
	}
}

// TestLearnerBounds: the learner's queue, retry times and count are
// bounded: strangers' infohashes cannot make it grow or spin.
func TestLearnerBounds(t *testing.T) {
	l := newLANLearner()
	now := time.Now()
	ih := func(i int) metainfo.Hash { return metainfo.Hash{byte(i), byte(i >> 8), 1} }
	for i := range 3 * learnQueueLen {
		l.offer(lanPeer(ih(i), 6881), now)
	}
	if len(l.queue) != learnQueueLen {
		t.Fatalf("queue holds %d, want its bound %d", len(l.queue), learnQueueLen)
	}
	first := <-l.queue
	l.offer(first, now)
	if len(l.queue) != learnQueueLen-1 {
		t.Error("an infohash being learned was queued again")
	}
	l.fail(first.Infohash, errNotCollection, now)
	l.offer(first, now.Add(learnRetrySoon+time.Second))
	if len(l.queue) != learnQueueLen-1 {
		t.Error("a torrent that is no collection was offered again before learnRetryAfter")
	}
	l.offer(first, now.Add(learnRetryAfter+time.Second))
	if len(l.queue) != learnQueueLen {
		t.Error("a torrent that is no collection was not offered again after learnRetryAfter")
	}
	for len(l.queue) > 0 {
		<-l.queue
	}
	second := lanPeer(ih(1), 6881)
	l.fail(second.Infohash, errors.New("no answer"), now)
	l.offer(second, now.Add(learnRetrySoon+time.Second))
	if len(l.queue) != 1 {
		t.Error("an infohash whose peer did not answer was not offered again after learnRetrySoon")
	}
	<-l.queue
	l.forget(second.Infohash)
	l.offer(second, now)
	if len(l.queue) != 1 {
		t.Error("an infohash forgotten (no peer reachable, nothing tried) was not offered again at once")
	}
	<-l.queue
	for i := range maxLearnedCollections {
		l.add(LearnedCollection{InfoHash: ih(1000 + i).HexString()}, ih(1000+i))
	}
	l.offer(lanPeer(ih(5000), 6881), now.Add(time.Hour))
	if len(l.queue) != 0 {
		t.Errorf("offered past the bound of %d learned collections", maxLearnedCollections)
	}
}
