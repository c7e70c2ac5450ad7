package swarm

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"

	"github.com/distswarm/distswarm/storage"
	"github.com/distswarm/distswarm/storage/layout"
)

// NodeOptions configures a Node.
type NodeOptions struct {
	Store  *Store
	Client ClientOptions
	// Peers (HOST:PORT) are given to every torrent the node adds.
	Peers []string
	// SeedFrom are distdirs (flat or nested) whose files are seeded in
	// place; more can be added with AddSeedRoot.
	SeedFrom []string
	// OnLockWait, if set, is called once when another process holds the
	// store and the node waits for it.
	OnLockWait func()
	// Authority is the node's own: files it knows are verified against it
	// whoever asks (the daemon's --repo and --manifest, and the Manifests
	// of the collections the store holds). Requests bring their own too.
	Authority *Authority
	Logger    *slog.Logger
	// OnCheck, if set, hears the progress of Seed's first check of the
	// files (pieces checked, total), about twice a second.
	OnCheck func(checked, pieces int)
	// StallReport is how long a fetch receives no data before it logs why
	// (default 30 s; later reports come at doubling intervals).
	StallReport time.Duration
}

// Node is one store, one BitTorrent client, the collections added to it
// and a stream of file events. One-shot commands open a Node for their
// run; the daemon keeps one for its life. Its methods are safe for
// concurrent use: concurrent requests for the same file are served by one
// download.
type Node struct {
	store   *Store
	st      *storage.Store
	cl      *torrent.Client
	reg     *registry
	bus     *eventBus
	roots   *seedRoots
	verify  *nodeVerifier
	stats   *nodeStats
	obtains *flights
	log     *slog.Logger
	started time.Time

	trustedMu sync.Mutex
	trusted   map[metainfo.Hash]bool // collection Manifests in the node's authority

	// verified remembers store copies already verified (the gateway
	// serves the same files over and over).
	verified *verifiedCopies

	// binpkgIdx caches the parsed index files of binpkg torrents (a
	// torrent's never change: its infohash covers them).
	binpkgIdx binpkgSourceCache
	// judged keeps the latest trust judgement of each binary package.
	judged judgementLog
	// gatewayPools is the binhost's pooled attestations (poolCache).
	gatewayPools poolCache

	stallReport time.Duration
	onCheck     func(checked, pieces int)

	// copts are the client's options (the LAN learner's metadata client
	// copies some).
	copts ClientOptions
	// lan is LAN discovery, once StartLAN ran.
	lanMu      sync.Mutex
	lan        *lanState
	trackerURL string // the embedded tracker's announce URL, if any
}

// OpenNode opens the store's state and starts the client. When another
// process has the store open, it waits (calling o.OnLockWait once) until
// ctx is done.
func OpenNode(ctx context.Context, o NodeOptions) (*Node, error) {
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	n := &Node{
		store:   o.Store,
		bus:     newEventBus(),
		roots:   &seedRoots{},
		verify:  newNodeVerifier(o.Authority),
		stats:   newNodeStats(),
		obtains: newFlights(),
		trusted: map[metainfo.Hash]bool{},
		log:     logger,
		started: time.Now(),

		stallReport: o.StallReport,
		onCheck:     o.OnCheck,
	}
	n.verified = newVerifiedCopies()
	var seedDirs []string
	for _, d := range o.SeedFrom {
		abs, err := n.roots.add(d)
		if err != nil {
			return nil, err
		}
		seedDirs = append(seedDirs, abs)
	}
	st, err := openStorageWaiting(ctx, storage.Options{
		Dir:          o.Store.Root,
		Placement:    storePlacement{st: o.Store, seedFrom: n.roots},
		Verifier:     n.verify,
		OnEvent:      n.onStorageEvent,
		Logger:       logger,
		MaxOpenFiles: fetchMaxOpenFiles(),
		SeedRoots:    seedDirs,
	}, o.OnLockWait)
	if err != nil {
		return nil, err
	}
	n.st = st
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
		st.Close()
		return nil, err
	}
	n.cl = cl
	n.copts = o.Client
	peers, err := peerInfos(o.Peers)
	if err != nil {
		n.Close()
		return nil, err
	}
	n.reg = newRegistry(cl, st, o.Store, peers, logger, n.onWriteError)
	n.reg.onInfo = n.verify.binpkg.note
	for _, ih := range o.Store.learnedInfohashes() {
		n.reg.markLearned(ih)
	}
	return n, nil
}

// openStorageWaiting opens the storage, retrying while another process
// holds the store's state db.
func openStorageWaiting(ctx context.Context, o storage.Options, onWait func()) (*storage.Store, error) {
	waited := false
	for {
		st, err := storage.Open(o)
		if !errors.Is(err, storage.ErrLocked) {
			return st, err
		}
		if !waited && onWait != nil {
			onWait()
		}
		waited = true
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("store %s is in use by another distswarm process (a seed or fetch without a daemon); gave up waiting: %w", o.Dir, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Close stops the client and closes the store's state (verified files are
// committed first).
func (n *Node) Close() error {
	if n.cl != nil {
		n.cl.Close()
	}
	return n.st.Close()
}

// Store is the node's store.
func (n *Node) Store() *Store { return n.store }

// Port is the BitTorrent listen port.
func (n *Node) Port() int { return n.cl.LocalPort() }

// Authority is the node's own authority (never nil): adding to it is
// safe while the node runs.
func (n *Node) Authority() *Authority { return n.verify.base }

// Client is the node's BitTorrent client.
func (n *Node) Client() *torrent.Client { return n.cl }

// AddSeedRoot seeds the files of distdir dir (flat or nested) in place,
// for torrents added from now on.
func (n *Node) AddSeedRoot(dir string) error {
	abs, err := n.roots.add(dir)
	if err != nil {
		return err
	}
	return n.st.AddSeedRoot(abs)
}

// subscribe returns a queue of every file event of the node, until cancel
// is called.
func (n *Node) subscribe() (*eventQueue, func()) { return n.bus.subscribe() }

func (n *Node) onStorageEvent(ev storage.Event) {
	n.bus.publish(nodeEvent{Event: ev})
}

// onWriteError tells every request that torrent ih stopped downloading
// because its data could not be written.
func (n *Node) onWriteError(ih metainfo.Hash, err error) {
	n.log.Error("download stopped: cannot write its data", "infohash", ih.HexString(), "err", err)
	n.bus.publish(nodeEvent{Event: storage.Event{File: storage.FileRef{InfoHash: ih, Index: -1}}, writeErr: err})
}

// nodeEvent is a storage event, or (writeErr set) the report that writing
// downloaded data of torrent File.InfoHash failed and its download stopped.
type nodeEvent struct {
	storage.Event
	writeErr error
}

// seedRoots are the distdirs seeded in place.
type seedRoots struct {
	mu      sync.RWMutex
	dirs    []string
	finders []*layout.Finder
}

func (r *seedRoots) add(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("seed --from %s: %w", dir, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range r.dirs {
		if d == abs {
			return abs, nil
		}
	}
	r.dirs = append(r.dirs, abs)
	r.finders = append(r.finders, layout.NewFinder(abs))
	return abs, nil
}

func (r *seedRoots) list() []*layout.Finder {
	if r == nil {
		return nil
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.finders
}

// eventBus fans storage events out to subscribers.
type eventBus struct {
	mu   sync.Mutex
	subs map[*eventQueue]struct{}
}

func newEventBus() *eventBus { return &eventBus{subs: map[*eventQueue]struct{}{}} }

func (b *eventBus) publish(ev nodeEvent) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for q := range b.subs {
		q.push(ev)
	}
}

func (b *eventBus) subscribe() (*eventQueue, func()) {
	q := newEventQueue()
	b.mu.Lock()
	b.subs[q] = struct{}{}
	b.mu.Unlock()
	return q, func() {
		b.mu.Lock()
		delete(b.subs, q)
		b.mu.Unlock()
	}
}

// eventQueue is an unbounded queue of events with a wake-up signal: the
// storage's workers never block on a slow subscriber.
type eventQueue struct {
	mu     sync.Mutex
	events []nodeEvent
	signal chan struct{}
}

func newEventQueue() *eventQueue { return &eventQueue{signal: make(chan struct{}, 1)} }

func (q *eventQueue) push(ev nodeEvent) {
	q.mu.Lock()
	q.events = append(q.events, ev)
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

func (q *eventQueue) drain() []nodeEvent {
	q.mu.Lock()
	defer q.mu.Unlock()
	evs := q.events
	q.events = nil
	return evs
}

// flights makes concurrent work on the same key run once: later callers
// wait for the first one's result.
type flights struct {
	mu  sync.Mutex
	run map[string]*flight
}

type flight struct {
	done chan struct{}
	res  ObtainResult
	err  error
}

func newFlights() *flights { return &flights{run: map[string]*flight{}} }

// do runs fn for key unless a run is under way, whose result it then
// returns (shared=true).
func (f *flights) do(ctx context.Context, key string, fn func() (ObtainResult, error)) (res ObtainResult, shared bool, err error) {
	f.mu.Lock()
	if fl, ok := f.run[key]; ok {
		f.mu.Unlock()
		select {
		case <-fl.done:
			return fl.res, true, fl.err
		case <-ctx.Done():
			return ObtainResult{}, true, ctx.Err()
		}
	}
	fl := &flight{done: make(chan struct{})}
	f.run[key] = fl
	f.mu.Unlock()
	fl.res, fl.err = fn()
	f.mu.Lock()
	delete(f.run, key)
	f.mu.Unlock()
	close(fl.done)
	return fl.res, false, fl.err
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
