package swarm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"

	"github.com/distswarm/distswarm/storage"
	"github.com/distswarm/distswarm/swarm/collection"
	"github.com/distswarm/distswarm/swarm/lsd"
)

// Bounds of learning collections from the LAN: the infohashes heard there
// come from anyone on the link.
const (
	// learnQueueLen is how many infohashes may wait to be learned; more
	// are dropped (heard again at their next announce).
	learnQueueLen = 16
	// learnMetadataTimeout bounds the wait for a collection's info dict
	// from the peer that announced it (BEP 9).
	learnMetadataTimeout = 30 * time.Second
	// learnManifestTimeout bounds the wait for its collection Manifest.
	learnManifestTimeout = time.Minute
	// learnRetryAfter is when an infohash that is no distswarm
	// collection is tried again (a stranger's torrent, announced by
	// libtorrent, qBittorrent or Transmission on the LAN).
	learnRetryAfter = 10 * time.Minute
	// learnRetrySoon is when an infohash whose peer did not deliver (no
	// answer, a Manifest that did not come) is tried again.
	learnRetrySoon = 30 * time.Second
	// maxLearnPeers bounds the peers asked for one info dict.
	maxLearnPeers = 8
	// maxLearnTried bounds the infohashes remembered as tried.
	maxLearnTried = 1024
)

// errNoReachablePeer: every peer known for an infohash has an address the
// node cannot dial (an IPv6 announce heard by a node listening on IPv4).
var errNoReachablePeer = errors.New("no peer reachable")

// errNotCollection: an info dict without a collection Manifest first.
var errNotCollection = errors.New("not a distswarm collection (no Manifest first in its files)")

// LearnedCollection is a collection learned from the LAN.
type LearnedCollection struct {
	InfoHash string `json:"infohash"`
	Name     string `json:"name"`
	Files    int    `json:"files"` // distfiles it lists
	Bytes    int64  `json:"bytes"`
	// From is the peer it was learned from; empty when it was learned
	// by an earlier run (kept in the store).
	From    string    `json:"from,omitempty"`
	Learned time.Time `json:"learned"`
	// Manifest: its collection Manifest was fetched (or an earlier run
	// did), so `fetch --trust-collection` can verify against it.
	Manifest bool `json:"manifest"`
}

// lanLearner learns the collections announced on the LAN that the node
// does not have: one at a time, bounded in number and time.
type lanLearner struct {
	queue chan lsd.Peer
	done  chan struct{} // closed when learnLoop returned

	mu      sync.Mutex
	retry   map[metainfo.Hash]time.Time // not offered again before then
	learned map[metainfo.Hash]LearnedCollection
	failed  int64
}

func newLANLearner() *lanLearner {
	return &lanLearner{queue: make(chan lsd.Peer, learnQueueLen), done: make(chan struct{}),
		retry: map[metainfo.Hash]time.Time{}, learned: map[metainfo.Hash]LearnedCollection{}}
}

// offer queues p's infohash to be learned unless it was tried recently,
// is learned already or the queue is full. It never blocks.
func (l *lanLearner) offer(p lsd.Peer, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.learned[p.Infohash]; ok || len(l.learned) >= maxLearnedCollections {
		return
	}
	if at, ok := l.retry[p.Infohash]; ok && now.Before(at) {
		return
	}
	if len(l.retry) >= maxLearnTried {
		for ih, at := range l.retry {
			if !now.Before(at) {
				delete(l.retry, ih)
			}
		}
		if len(l.retry) >= maxLearnTried {
			return
		}
	}
	select {
	case l.queue <- p:
		// Not offered again while it waits or is learned.
		l.retry[p.Infohash] = now.Add(learnMetadataTimeout + learnManifestTimeout)
	default:
	}
}

func (l *lanLearner) add(c LearnedCollection, ih metainfo.Hash) {
	l.mu.Lock()
	l.learned[ih] = c
	l.mu.Unlock()
}

// forget lets ih be offered again at once (it was not tried).
func (l *lanLearner) forget(ih metainfo.Hash) {
	l.mu.Lock()
	delete(l.retry, ih)
	l.mu.Unlock()
}

// fail notes that ih could not be learned: it is offered again after
// learnRetryAfter when it is no collection, else after learnRetrySoon.
func (l *lanLearner) fail(ih metainfo.Hash, err error, now time.Time) {
	after := learnRetrySoon
	if errors.Is(err, errNotCollection) {
		after = learnRetryAfter
	}
	l.mu.Lock()
	l.failed++
	l.retry[ih] = now.Add(after)
	l.mu.Unlock()
}

// list returns the collections learned, newest first.
func (l *lanLearner) list() ([]LearnedCollection, int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]LearnedCollection, 0, len(l.learned))
	for _, c := range l.learned {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Learned.Equal(out[j].Learned) {
			return out[i].Learned.After(out[j].Learned)
		}
		return out[i].InfoHash < out[j].InfoHash
	})
	return out, l.failed
}

// loadLearned lists the collections an earlier run learned (the registry
// knows them as learned since OpenNode).
func (n *Node) loadLearned(l *lanLearner) {
	for _, mi := range n.store.Learned() {
		info, err := collection.ParseInfo(mi.InfoBytes)
		if err != nil {
			continue
		}
		ih := mi.HashInfoBytes()
		c := learnedOf(info, ih, "")
		if st, err := os.Stat(n.store.learnedPath(ih)); err == nil {
			c.Learned = st.ModTime()
		}
		_, err = os.Stat(n.store.collectionManifestPath(ih.HexString()))
		c.Manifest = err == nil
		l.add(c, ih)
	}
}

func learnedOf(info *metainfo.Info, ih metainfo.Hash, from string) LearnedCollection {
	c := LearnedCollection{InfoHash: ih.HexString(), Name: info.BestName(), From: from, Learned: time.Now()}
	files := info.UpvertedFiles()
	for _, idx := range distfilesOf(info) {
		c.Files++
		c.Bytes += files[idx].Length
	}
	return c
}

// learnLoop learns the infohashes offered, one at a time, until ctx ends.
func (n *Node) learnLoop(ctx context.Context, l *lanLearner) {
	defer close(l.done)
	for {
		select {
		case <-ctx.Done():
			return
		case p := <-l.queue:
			err := n.learn(ctx, l, p)
			if errors.Is(err, errNoReachablePeer) {
				// Nothing was asked: the same machine's announce on
				// the other family (sent at once) is offered anew.
				l.forget(p.Infohash)
				continue
			}
			if err != nil && ctx.Err() == nil {
				l.fail(p.Infohash, err, time.Now())
				n.log.Info("LAN collection not learned", "infohash", p.Infohash.HexString(), "from", p.Addr.String(), "err", err)
			}
		}
	}
}

// learn gets the info dict of the collection p announced from p (BEP 9),
// checks it is a distswarm collection, adds it to the node and the store
// as learned, and fetches its collection Manifest (nothing else).
func (n *Node) learn(ctx context.Context, l *lanLearner, p lsd.Peer) error {
	if n.reg.get(p.Infohash) != nil || n.reg.isLearned(p.Infohash) {
		return nil
	}
	mi, info, err := n.learnMetadata(ctx, p)
	if err != nil {
		return err
	}
	n.reg.markLearned(p.Infohash)
	nt, err := n.reg.add(ctx, mi, p.Infohash, nil)
	if err != nil {
		return err
	}
	if err := n.store.RememberLearned(mi); err != nil {
		n.log.Warn("LAN collection not kept in the store", "err", err)
	}
	c := learnedOf(info, p.Infohash, p.Addr.String())
	l.add(c, p.Infohash)
	n.log.Info("learned a collection from the LAN", "name", c.Name, "infohash", p.Infohash.HexString(), "files", c.Files, "from", c.From)
	if err := n.learnManifest(ctx, p, nt); err != nil {
		return err
	}
	c.Manifest = true
	l.add(c, p.Infohash)
	return nil
}

// learnMetadata fetches and checks the info dict on a client of its own
// that stores nothing (ResolveMagnet), with no DHT and no tracker.
func (n *Node) learnMetadata(ctx context.Context, p lsd.Peer) (*metainfo.MetaInfo, *metainfo.Info, error) {
	ctx, cancel := context.WithTimeout(ctx, learnMetadataTimeout)
	defer cancel()
	listen := ephemeralListen(n.copts.ListenAddr)
	peers := n.learnPeers(p, listen)
	if len(peers) == 0 {
		return nil, nil, fmt.Errorf("%w from %s", errNoReachablePeer, listen)
	}
	copts := ClientOptions{ListenAddr: listen, UTP: n.copts.UTP, NoTrackers: true, NoUpload: true, Logger: n.log}
	mi, err := ResolveMagnet(ctx, "magnet:?xt=urn:btih:"+p.Infohash.HexString(), peers, copts)
	if err != nil {
		return nil, nil, err
	}
	info, err := collection.ParseInfo(mi.InfoBytes)
	if err != nil {
		return nil, nil, err
	}
	if _, ok := collection.ManifestFile(info); !ok {
		return nil, nil, errNotCollection
	}
	mi.AnnounceList, mi.Announce, mi.UrlList = nil, "", nil
	return mi, info, nil
}

// learnPeers are p and the other peers heard for its infohash (at most
// maxLearnPeers) that a client listening on listen can dial: an IPv4
// listen address cannot reach IPv6 peers.
func (n *Node) learnPeers(p lsd.Peer, listen string) []string {
	addrs := []netip.AddrPort{p.Addr}
	if ls := n.lanState(); ls != nil {
		for _, s := range ls.svc.Seen() {
			if s.Infohash == p.Infohash && s.Addr != p.Addr && len(addrs) < maxLearnPeers {
				addrs = append(addrs, s.Addr)
			}
		}
	}
	host, _, _ := net.SplitHostPort(listen)
	v4Only := false
	if ip, err := netip.ParseAddr(host); err == nil && ip.Unmap().Is4() {
		v4Only = true
	}
	var out []string
	for _, a := range addrs {
		if !v4Only || a.Addr().Unmap().Is4() {
			out = append(out, a.String())
		}
	}
	return out
}

// ephemeralListen is the host of listen with port 0: the metadata client
// dials from the interface the node listens on.
func ephemeralListen(listen string) string {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return ":0"
	}
	return net.JoinHostPort(host, "0")
}

// learnManifest downloads the collection Manifest of a learned torrent
// (nothing else), from p and the peers heard for it.
func (n *Node) learnManifest(ctx context.Context, p lsd.Peer, nt *nodeTorrent) error {
	ctx, cancel := context.WithTimeout(ctx, learnManifestTimeout)
	defer cancel()
	if nt.mfIdx < 0 {
		return errNotCollection
	}
	nt.t.AddPeers([]torrent.PeerInfo{{Addr: net.TCPAddrFromAddrPort(p.Addr), Source: peerSourceLSD}})
	q, cancelSub := n.subscribe()
	defer cancelSub()
	key := fileKey{nt.ih, nt.mfIdx}
	if n.st.State(key.ih, key.index).Phase == storage.PhaseFinal {
		return nil
	}
	nt.t.Files()[nt.mfIdx].Download()
	return waitFileEvent(ctx, q, key)
}

// waitFileEvent waits for the storage's verdict on one file.
func waitFileEvent(ctx context.Context, q *eventQueue, key fileKey) error {
	for {
		for _, ev := range q.drain() {
			if ev.File.InfoHash != key.ih {
				continue
			}
			if ev.writeErr != nil {
				return ev.writeErr
			}
			if ev.File.Index != key.index {
				continue
			}
			switch {
			case ev.Kind == storage.EventFinal:
				return nil
			case ev.Kind == storage.EventRejected:
				return fmt.Errorf("collection Manifest rejected: %v", ev.Err)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("collection Manifest: %w", ctx.Err())
		case <-q.signal:
		}
	}
}
