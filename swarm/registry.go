package swarm

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"

	"github.com/distswarm/distswarm/storage"
	"github.com/distswarm/distswarm/swarm/collection"
)

// registry is the set of torrents a node has added, each once.
type registry struct {
	cl    *torrent.Client
	st    *storage.Store
	store *Store
	peers []torrent.PeerInfo
	log   *slog.Logger
	// onWriteErr hears that a torrent stopped downloading because its
	// data could not be written.
	onWriteErr func(metainfo.Hash, error)
	// onInfo, if set, learns each torrent's info before the storage
	// attaches it (and may verify its files).
	onInfo func(metainfo.Hash, *metainfo.Info)

	mu   sync.Mutex
	byIH map[metainfo.Hash]*nodeTorrent
	// learned are the collections learned from the LAN: adding one does
	// not remember it among the store's collections (see
	// Store.RememberLearned).
	learned map[metainfo.Hash]bool
	// lanPeers, if set, are the peers heard on the LAN for a torrent,
	// given to it when it is added.
	lanPeers func(metainfo.Hash) []torrent.PeerInfo
	// extraTrackers are announced to for every torrent (the embedded
	// tracker); with onlyExtra the torrents' own trackers are not.
	extraTrackers []string
	onlyExtra     bool
}

// nodeTorrent is a torrent added to the node's client.
type nodeTorrent struct {
	t     *torrent.Torrent
	mi    *metainfo.MetaInfo
	ih    metainfo.Hash
	info  *metainfo.Info
	files map[string]int // distfile name → file index
	mfIdx int            // collection Manifest file index, -1 if none

	// used is set when a fetch asked for a file of the torrent: a
	// collection learned from the LAN is announced there only then.
	used atomic.Bool

	writes     writeGuard
	onWriteErr func(metainfo.Hash, error)

	mu            sync.Mutex
	trackers      [][]string
	trackersAdded bool
	seeding       bool
	progress      progressMark // for recycleIfStuck
	idle          progressMark // for nudgeIfIdle
	webseeds      webseedHold  // held back while peers deliver (webseedhold.go)
}

func newRegistry(cl *torrent.Client, st *storage.Store, store *Store, peers []torrent.PeerInfo, logger *slog.Logger, onWriteErr func(metainfo.Hash, error)) *registry {
	return &registry{cl: cl, st: st, store: store, peers: peers, log: logger, onWriteErr: onWriteErr,
		byIH: map[metainfo.Hash]*nodeTorrent{}, learned: map[metainfo.Hash]bool{}}
}

// watchWrites reports the torrent's write errors to the registry's onWriteErr.
func (nt *nodeTorrent) watchWrites() {
	nt.writes.watch(nt.t, func(err error) {
		if nt.onWriteErr != nil {
			nt.onWriteErr(nt.ih, err)
		}
	})
}

// resumeAfterWriteError lets the torrent download again if a write error
// stopped it: a new request may find the space freed.
func (nt *nodeTorrent) resumeAfterWriteError() { nt.writes.resume(nt.t) }

// add adds mi to the client once (later calls return the same torrent),
// attaches it to the storage and remembers it in the store. Trackers are
// not announced to yet: see announce.
//
// ih is mi.HashInfoBytes(), which callers compute once: it hashes the whole
// info dict (hundreds of KiB for thousands of files), and a fetch adds the
// same torrent once per wanted file.
func (r *registry) add(ctx context.Context, mi *metainfo.MetaInfo, ih metainfo.Hash, mf []byte) (*nodeTorrent, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if nt, ok := r.byIH[ih]; ok {
		return nt, nil
	}
	// Every caller checked the info with collection.ParseInfo already
	// (planFetch, Store.Known, collection.Load and FromTorrent); the
	// client's own decode is used below instead of a second one, which
	// doubled a 100,000-file seeder's start-up.
	// Remembered first: the storage then finds the collection Manifest
	// at its final path and serves it without fetching it.
	// One learned from the LAN is remembered apart, once its Manifest came.
	if !r.learned[ih] {
		if err := r.store.Remember(mi, mf); err != nil {
			r.log.Warn("remember collection", "infohash", ih.HexString(), "err", err)
		}
	}
	t, err := addTorrent(r.cl, withoutSources(mi))
	if err != nil {
		return nil, err
	}
	select {
	case <-t.GotInfo():
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if r.onInfo != nil {
		r.onInfo(ih, t.Info())
	}
	r.st.Attach(t)
	nt := &nodeTorrent{t: t, mi: mi, ih: ih, info: t.Info(), trackers: r.trackersOf(mi), onWriteErr: r.onWriteErr,
		webseeds: webseedHold{urls: mi.UrlList}}
	nt.files, nt.mfIdx = distfilesOf(nt.info), manifestIndex(nt.info)
	nt.watchWrites()
	if len(r.peers) > 0 {
		t.AddPeers(r.peers)
	}
	if r.lanPeers != nil {
		t.AddPeers(r.lanPeers(ih))
	}
	r.byIH[ih] = nt
	return nt, nil
}

// trackersOf are the tiers a torrent announces to (r.mu held).
func (r *registry) trackersOf(mi *metainfo.MetaInfo) [][]string {
	var tiers [][]string
	if !r.onlyExtra {
		tiers = mi.UpvertedAnnounceList()
	}
	for _, u := range r.extraTrackers {
		tiers = append(tiers, []string{u})
	}
	return tiers
}

// useTracker makes every torrent announce to url too, those added already
// included; only stops the torrents added from now on announcing to their
// own trackers.
func (r *registry) useTracker(url string, only bool) {
	r.mu.Lock()
	r.extraTrackers = append(r.extraTrackers, url)
	r.onlyExtra = r.onlyExtra || only
	nts := make([]*nodeTorrent, 0, len(r.byIH))
	for _, nt := range r.byIH {
		nts = append(nts, nt)
	}
	r.mu.Unlock()
	for _, nt := range nts {
		nt.addTracker(url)
	}
}

// addTracker announces to url too: now if the torrent announces already,
// else when it starts to.
func (nt *nodeTorrent) addTracker(url string) {
	nt.mu.Lock()
	defer nt.mu.Unlock()
	nt.trackers = append(nt.trackers, []string{url})
	if nt.trackersAdded {
		nt.t.AddTrackers([][]string{{url}})
	}
}

// setLANPeers sets where added torrents get the peers heard on the LAN.
func (r *registry) setLANPeers(fn func(metainfo.Hash) []torrent.PeerInfo) {
	r.mu.Lock()
	r.lanPeers = fn
	r.mu.Unlock()
}

// tended are the peers a request that waits on ih keeps connected (see
// fetchRun.redialKnown): the given ones (--peer) and those heard on the
// LAN for ih.
func (r *registry) tended(ih metainfo.Hash) []torrent.PeerInfo {
	r.mu.Lock()
	lan := r.lanPeers
	r.mu.Unlock()
	out := r.peers // set once, when the node opens
	if lan != nil {
		out = append(append([]torrent.PeerInfo(nil), out...), lan(ih)...)
	}
	return out
}

// markLearned notes that ih was learned from the LAN.
func (r *registry) markLearned(ih metainfo.Hash) {
	r.mu.Lock()
	r.learned[ih] = true
	r.mu.Unlock()
}

// unmarkLearned makes ih one of the store's own collections again (the
// user gave it), reporting whether it was learned.
func (r *registry) unmarkLearned(ih metainfo.Hash) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	was := r.learned[ih]
	delete(r.learned, ih)
	return was
}

func (r *registry) isLearned(ih metainfo.Hash) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.learned[ih]
}

// get returns the torrent added for ih, if any.
func (r *registry) get(ih metainfo.Hash) *nodeTorrent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.byIH[ih]
}

// all returns every added torrent.
func (r *registry) all() []*nodeTorrent {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*nodeTorrent, 0, len(r.byIH))
	for _, nt := range r.byIH {
		out = append(out, nt)
	}
	return out
}

// announce adds the torrent's trackers, once. A seeder calls it after the
// initial check: anacrolix announces as soon as a torrent has trackers, and
// files hashed for the first time are not complete yet then. It would
// announce left=<everything> and, as their completion was unknown rather
// than missing, never send the "completed" event: trackers would count the
// seeder as a leecher for a whole interval (30 min on opentracker).
func (nt *nodeTorrent) announce() {
	nt.mu.Lock()
	defer nt.mu.Unlock()
	if nt.trackersAdded {
		return
	}
	nt.trackersAdded = true
	if len(nt.trackers) > 0 {
		nt.t.AddTrackers(nt.trackers)
	}
}

func (nt *nodeTorrent) setSeeding() {
	nt.mu.Lock()
	nt.seeding = true
	nt.mu.Unlock()
}

func (nt *nodeTorrent) isSeeding() bool {
	nt.mu.Lock()
	defer nt.mu.Unlock()
	return nt.seeding
}

// manifestIndex is the file index of the collection Manifest, -1 if none.
func manifestIndex(info *metainfo.Info) int {
	mf, ok := collection.ManifestFile(info)
	if !ok {
		return -1
	}
	i := 0
	for f := range info.UpvertedFilesIter() { // UpvertedFiles would copy the list
		if slices.Equal(f.Path, mf) {
			return i
		}
		i++
	}
	return -1
}

// withoutSources returns a shallow copy of mi without announce URLs and
// webseeds (the infohash covers neither): the torrent announces once
// announce runs, and gets its webseeds once peers fail to deliver
// (webseedhold.go).
func withoutSources(mi *metainfo.MetaInfo) *metainfo.MetaInfo {
	c := *mi
	c.Announce = ""
	c.AnnounceList = nil
	c.UrlList = nil
	return &c
}
