package swarm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"

	"github.com/distswarm/distswarm/storage"
	"github.com/distswarm/distswarm/swarm/collection"
)

// fetchSeedRequestCap is the number of requests a fetch keeps outstanding
// to a seed while at least two other downloading peers are connected (see
// seedCap). On the P3 benchmark (one origin, 8 leechers on loopback) 4 made
// the origin upload 1.2× the collection where the library's 250 made it 5×;
// 8 gave 1.8×, 16 gave 2.3×.
const fetchSeedRequestCap = 4

// FetchOptions configures Fetch.
type FetchOptions struct {
	Store       *Store
	Collections []*collection.Collection
	// Authority holds the digests files are verified against. Files it does
	// not know fail up front unless TrustCollection is set.
	Authority *Authority
	// TrustCollection takes a collection's own Manifest as the authority
	// for files the Authority does not know.
	TrustCollection bool
	Names           []string
	All             bool // every distfile of every collection
	Peers           []string
	Client          ClientOptions
	// OnProgress, if set, is called about twice a second.
	OnProgress func(Progress)
	Logger     *slog.Logger
}

// Progress is a snapshot of a running fetch.
type Progress struct {
	Files, FilesDone int
	Bytes, BytesDone int64
	Peers            int
	// Moved is the piece data received from peers and webseeds, pad
	// bytes included: Moved ÷ Bytes is the transfer overhead of the
	// collection's piece alignment.
	Moved int64
}

// FileResult is the outcome for one requested distfile.
type FileResult struct {
	Name string
	Path string // final path in the store, when Err is nil
	Err  error
}

// candidate is one torrent file that may provide a distfile.
type candidate struct {
	mi    *metainfo.MetaInfo
	ih    metainfo.Hash // mi.HashInfoBytes(), computed once
	index int
}

// fetchTorrent is a torrent added to the client during a fetch.
type fetchTorrent struct {
	t      *torrent.Torrent
	files  map[string]int // distfile name → file index
	mfIdx  int            // collection Manifest file index, -1 if none
	mfPath string
}

// want tracks one requested distfile.
type want struct {
	name  string
	cands []candidate
	cur   *candidate
	done  bool
	res   FileResult
}

type eventQueue struct {
	mu     sync.Mutex
	events []storage.Event
	signal chan struct{}
}

func newEventQueue() *eventQueue { return &eventQueue{signal: make(chan struct{}, 1)} }

func (q *eventQueue) push(ev storage.Event) {
	q.mu.Lock()
	q.events = append(q.events, ev)
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

func (q *eventQueue) drain() []storage.Event {
	q.mu.Lock()
	defer q.mu.Unlock()
	evs := q.events
	q.events = nil
	return evs
}

// fileKey identifies a torrent file.
type fileKey struct {
	ih    metainfo.Hash
	index int
}

// Fetch downloads the requested distfiles from the collections' swarms
// (peers, trackers, webseeds), verifies each against the authority and
// places it in the store. It returns one result per requested file, in
// name order; the error is for failures that concern the whole fetch.
// Files already in the store that verify are not downloaded again.
func Fetch(ctx context.Context, o FetchOptions) ([]FileResult, error) {
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if o.Authority == nil {
		o.Authority = NewAuthority()
	}
	// HashInfoBytes is a SHA-1 over the whole info dict (over 1 MB for a
	// 1 GiB collection of small pieces): compute it once per torrent, not
	// per file and per progress tick.
	ihs := map[*metainfo.MetaInfo]metainfo.Hash{}
	ihOf := func(mi *metainfo.MetaInfo) metainfo.Hash {
		ih, ok := ihs[mi]
		if !ok {
			ih = mi.HashInfoBytes()
			ihs[mi] = ih
		}
		return ih
	}
	infos := map[metainfo.Hash]*metainfo.Info{}
	infoOf := func(mi *metainfo.MetaInfo) (*metainfo.Info, error) {
		ih := ihOf(mi)
		if info, ok := infos[ih]; ok {
			return info, nil
		}
		// Collections normally come from collection.Load or ResolveMagnet,
		// which checked them; a library caller's or a remembered one is
		// checked here the same way before any name is used.
		info, err := collection.ParseInfo(mi.InfoBytes)
		if err != nil {
			return nil, fmt.Errorf("torrent %s: %w", ih.HexString(), err)
		}
		infos[ih] = info
		return info, nil
	}
	// distfiles maps each torrent's distfile names to file indices, built
	// once per torrent: looking names up one by one must not rebuild it.
	distfiles := map[*metainfo.Info]map[string]int{}
	filesOf := func(info *metainfo.Info) map[string]int {
		m, ok := distfiles[info]
		if !ok {
			m = distfilesOf(info)
			distfiles[info] = m
		}
		return m
	}

	// Resolve what to fetch and where each file may come from.
	names := append([]string(nil), o.Names...)
	if o.All {
		seen := map[string]bool{}
		for _, c := range o.Collections {
			for _, mi := range c.Torrents {
				info, err := infoOf(mi)
				if err != nil {
					return nil, err
				}
				for n := range filesOf(info) {
					if !seen[n] {
						seen[n] = true
						names = append(names, n)
					}
				}
			}
		}
	}
	sort.Strings(names)
	wants := make([]*want, 0, len(names))
	for _, n := range names {
		w := &want{name: n, res: FileResult{Name: n}}
		size := int64(UnknownSize)
		if e, ok := o.Authority.Lookup(n); ok {
			size = e.Size
		}
		for _, c := range o.Collections {
			for _, mi := range torrentsFor(c, n, size) {
				info, err := infoOf(mi)
				if err != nil {
					return nil, err
				}
				if idx, ok := filesOf(info)[n]; ok {
					w.cands = append(w.cands, candidate{mi: mi, ih: ihOf(mi), index: idx})
				}
			}
		}
		wants = append(wants, w)
	}

	// Files already in the store that verify need no swarm at all.
	pending := 0
	for _, w := range wants {
		if p, err := o.Store.Find(w.name); err == nil {
			if err := o.Authority.VerifyFile(ctx, w.name, p); err == nil {
				w.done, w.res.Path = true, p
				continue
			}
		}
		if len(w.cands) == 0 {
			w.done, w.res.Err = true, fmt.Errorf("%s: %w", w.name, errNotInCollections)
			continue
		}
		if _, ok := o.Authority.Lookup(w.name); !ok && !o.TrustCollection {
			w.done, w.res.Err = true, fmt.Errorf("%s: no authority knows its digests: pass --manifest, --repo or --digests, or --trust-collection", w.name)
			continue
		}
		pending++
	}
	if pending == 0 {
		return results(wants), nil
	}

	queue := newEventQueue()
	st, err := storage.Open(storage.Options{
		Dir:          o.Store.Root,
		Placement:    storePlacement{st: o.Store},
		Verifier:     verifier{auth: o.Authority},
		OnEvent:      queue.push,
		Logger:       logger,
		MaxOpenFiles: fetchMaxOpenFiles(),
	})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	copts := o.Client
	copts.Storage = st
	if copts.SeedRequestCap == 0 {
		copts.SeedRequestCap = fetchSeedRequestCap
	}
	if copts.Logger == nil {
		copts.Logger = o.Logger
	}
	cl, err := NewClient(copts)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	peers, err := peerInfos(o.Peers)
	if err != nil {
		return nil, err
	}

	added := map[metainfo.Hash]*fetchTorrent{}
	addTorrent := func(mi *metainfo.MetaInfo) (*fetchTorrent, error) {
		ih := ihOf(mi)
		if ft, ok := added[ih]; ok {
			return ft, nil
		}
		t, err := addTorrent(cl, mi)
		if err != nil {
			return nil, err
		}
		select {
		case <-t.GotInfo():
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		st.Attach(t)
		if len(peers) > 0 {
			t.AddPeers(peers)
		}
		info, _ := infoOf(mi)
		ft := &fetchTorrent{t: t, files: filesOf(info), mfIdx: -1}
		if mf, ok := collection.ManifestFile(info); ok {
			ft.mfPath = strings.Join(mf, "/")
			for i, f := range info.UpvertedFiles() {
				if strings.Join(f.Path, "/") == ft.mfPath {
					ft.mfIdx = i
				}
			}
		}
		added[ih] = ft
		if err := o.Store.Remember(mi, nil); err != nil {
			logger.Warn("remember collection", "err", err)
		}
		return ft, nil
	}

	waiting := map[fileKey]*want{}
	var trustWait map[fileKey]*fetchTorrent
	start := func(w *want) error {
		for len(w.cands) > 0 {
			c := w.cands[0]
			w.cands = w.cands[1:]
			ft, err := addTorrent(c.mi)
			if err != nil {
				return err
			}
			w.cur = &c
			key := fileKey{c.ih, c.index}
			s := st.State(key.ih, key.index)
			if s.Phase == storage.PhaseRejected {
				w.res.Err = fmt.Errorf("%s: rejected earlier from collection %s: %v", w.name, key.ih.HexString(), s.Err)
				continue
			}
			waiting[key] = w
			if s.Phase == storage.PhaseFinal {
				// Already placed by this store: the event will not come again.
				w.done, w.res.Path, w.res.Err = true, s.FinalPath, nil
				delete(waiting, key)
				return nil
			}
			ft.t.Files()[c.index].Download()
			return nil
		}
		w.done = true
		if w.res.Err == nil {
			w.res.Err = fmt.Errorf("%s: %w", w.name, errNotInCollections)
		}
		return nil
	}

	if o.TrustCollection {
		// Fetch the collection Manifests first: they become the authority
		// for files the user's own authority does not know.
		trustWait = map[fileKey]*fetchTorrent{}
		for _, w := range wants {
			if w.done {
				continue
			}
			for _, c := range w.cands {
				ft, err := addTorrent(c.mi)
				if err != nil {
					return nil, err
				}
				if ft.mfIdx < 0 {
					continue
				}
				key := fileKey{c.ih, ft.mfIdx}
				if _, ok := trustWait[key]; ok {
					continue
				}
				if s := st.State(key.ih, key.index); s.Phase == storage.PhaseFinal {
					if err := o.Authority.trustCollectionManifest(s.FinalPath, key.ih); err != nil {
						return nil, err
					}
					continue
				}
				trustWait[key] = ft
				ft.t.Files()[ft.mfIdx].Download()
			}
		}
	} else {
		for _, w := range wants {
			if !w.done {
				if err := start(w); err != nil {
					return nil, err
				}
			}
		}
	}

	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	// Without --trust-collection every file was started above. With it,
	// files start once no collection Manifest is outstanding, which may be
	// right away: the Manifests were placed by an earlier fetch, or the
	// torrents (foreign ones) have none.
	started := !o.TrustCollection
	for {
		if !started && len(trustWait) == 0 {
			started = true
			for _, w := range wants {
				if w.done {
					continue
				}
				if _, ok := o.Authority.Lookup(w.name); !ok {
					w.done, w.res.Err = true, fmt.Errorf("%s: no authority knows its digests, and no collection Manifest lists it", w.name)
					continue
				}
				if err := start(w); err != nil {
					return nil, err
				}
			}
		}
		if started && allDone(wants) {
			break
		}
		select {
		case <-ctx.Done():
			for _, w := range wants {
				if !w.done {
					w.done = true
					w.res.Err = fmt.Errorf("%s: %s: %s", w.name, timeoutWord(ctx.Err()), describeProgress(w, added))
				}
			}
			for key := range trustWait {
				logger.Warn("collection Manifest not fetched", "infohash", key.ih.HexString())
			}
			return results(wants), nil
		case <-tick.C:
			if o.OnProgress != nil {
				o.OnProgress(progressOf(wants, added))
			}
		case <-queue.signal:
			for _, ev := range queue.drain() {
				key := fileKey{ev.File.InfoHash, ev.File.Index}
				if _, ok := trustWait[key]; ok {
					delete(trustWait, key)
					if ev.Kind != storage.EventFinal {
						logger.Warn("collection Manifest not usable", "infohash", key.ih.HexString(), "event", ev.Kind, "err", ev.Err)
						continue
					}
					if err := o.Authority.trustCollectionManifest(ev.Path, key.ih); err != nil {
						return nil, err
					}
					continue
				}
				w, ok := waiting[key]
				if !ok {
					continue
				}
				switch ev.Kind {
				case storage.EventFinal:
					delete(waiting, key)
					w.done, w.res.Path, w.res.Err = true, ev.Path, nil
				case storage.EventRejected:
					delete(waiting, key)
					logger.Warn("rejected", "file", w.name, "infohash", key.ih.HexString(), "err", ev.Err)
					w.res.Err = fmt.Errorf("%s: rejected (quarantined at %s): %v", w.name, ev.Path, ev.Err)
					if err := start(w); err != nil {
						return nil, err
					}
				case storage.EventUnverified:
					delete(waiting, key)
					w.done = true
					w.res.Err = fmt.Errorf("%s: downloaded but unverified (%v); it stays in %s", w.name, ev.Err, ev.Path)
				}
			}
		}
	}
	if o.OnProgress != nil {
		o.OnProgress(progressOf(wants, added))
	}
	if err := st.WaitIdle(ctx); err != nil {
		logger.Warn("store not idle", "err", err)
	}
	return results(wants), nil
}

func timeoutWord(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	return "interrupted"
}

func describeProgress(w *want, added map[metainfo.Hash]*fetchTorrent) string {
	if w.cur == nil {
		return "not started"
	}
	ft := added[w.cur.ih]
	if ft == nil {
		return "not started"
	}
	f := ft.t.Files()[w.cur.index]
	stats := ft.t.Stats()
	return fmt.Sprintf("%d of %d bytes verified, %d peers connected", f.BytesCompleted(), f.Length(), stats.ActivePeers)
}

func progressOf(wants []*want, added map[metainfo.Hash]*fetchTorrent) Progress {
	var p Progress
	for _, w := range wants {
		p.Files++
		if w.done {
			p.FilesDone++
		}
		if w.cur == nil {
			continue
		}
		ft := added[w.cur.ih]
		if ft == nil {
			continue
		}
		f := ft.t.Files()[w.cur.index]
		p.Bytes += f.Length()
		if w.done && w.res.Err == nil {
			p.BytesDone += f.Length()
		} else {
			p.BytesDone += f.BytesCompleted()
		}
	}
	for _, ft := range added {
		s := ft.t.Stats()
		p.Peers += s.ActivePeers
		p.Moved += s.BytesReadData.Int64()
	}
	return p
}

func allDone(wants []*want) bool {
	for _, w := range wants {
		if !w.done {
			return false
		}
	}
	return true
}

func results(wants []*want) []FileResult {
	out := make([]FileResult, len(wants))
	for i, w := range wants {
		out[i] = w.res
	}
	return out
}

// distfilesOf maps distfile names to file indices of a collection torrent
// (pads and the collection Manifest excluded).
func distfilesOf(info *metainfo.Info) map[string]int {
	out := map[string]int{}
	for i, f := range info.UpvertedFiles() {
		if strings.Contains(f.Attr, "p") || len(f.Path) == 0 {
			continue
		}
		p := strings.Join(f.Path, "/")
		if isCollectionManifest(p) {
			continue
		}
		name := path.Base(p)
		if _, dup := out[name]; !dup {
			out[name] = i
		}
	}
	return out
}

// torrentsFor returns the torrents of c that may hold the distfile. With an
// unknown size both size classes of a sharded collection are candidates.
func torrentsFor(c *collection.Collection, name string, size int64) []*metainfo.MetaInfo {
	if size != UnknownSize {
		if mi, err := c.TorrentFor(name, size); err == nil {
			return []*metainfo.MetaInfo{mi}
		}
		return nil
	}
	if len(c.Torrents) == 1 {
		return c.Torrents
	}
	var out []*metainfo.MetaInfo
	for _, sz := range []int64{0, 1 << 62} {
		// TorrentFor returns the collection's own *MetaInfo, so pointer
		// equality is torrent identity (no info dict hashing per name).
		if mi, err := c.TorrentFor(name, sz); err == nil && !slices.Contains(out, mi) {
			out = append(out, mi)
		}
	}
	return out
}

// peerInfos resolves --peer HOST:PORT arguments.
func peerInfos(addrs []string) ([]torrent.PeerInfo, error) {
	var out []torrent.PeerInfo
	for _, a := range addrs {
		ta, err := net.ResolveTCPAddr("tcp", a)
		if err != nil || ta.Port == 0 {
			return nil, fmt.Errorf("--peer %q: want HOST:PORT", a)
		}
		out = append(out, torrent.PeerInfo{Addr: ta, Source: torrent.PeerSourceDirect})
	}
	return out, nil
}
