package swarm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"time"

	"github.com/anacrolix/torrent/metainfo"

	"github.com/distswarm/distswarm/storage"
	"github.com/distswarm/distswarm/swarm/collection"
)

// FetchRequest asks a node for distfiles from collections.
type FetchRequest struct {
	Collections []*collection.Collection
	// Authority holds the digests files are verified against. Files it does
	// not know fail up front unless TrustCollection is set.
	Authority *Authority
	// TrustCollection takes a collection's own Manifest as the authority
	// for files the Authority does not know.
	TrustCollection bool
	Names           []string
	All             bool // every distfile of every collection
	// OnProgress, if set, is called about twice a second.
	OnProgress func(Progress)
}

// FileResult is the outcome for one requested distfile.
type FileResult struct {
	Name    string
	Outcome Outcome
	Path    string // final path in the store, when Outcome.OK()
	// Size is the file's size in bytes when Outcome.OK() and known from the
	// torrent, the authority or the store's record; 0 when not known.
	Size int64
	Err  error // why not, with the file name
}

// PlacedSize is r.Size, or when that is not known the size of the file at
// r.Path (0 if it cannot be read). Only meaningful when r.Outcome.OK().
func (r FileResult) PlacedSize() int64 {
	if r.Size > 0 {
		return r.Size
	}
	if st, err := os.Stat(r.Path); err == nil {
		return st.Size()
	}
	return 0
}

// fileKey identifies a torrent file.
type fileKey struct {
	ih    metainfo.Hash
	index int
}

// fetchRun is one FetchRequest in progress on a node.
type fetchRun struct {
	n         *Node
	req       FetchRequest
	log       *slog.Logger
	wants     []*want
	added     map[metainfo.Hash]*nodeTorrent
	waiting   map[fileKey]*want
	trustWait map[fileKey]*nodeTorrent
	started   bool
	stall     *stallWatch
	// lastRedial is when the given peers were last dialed again.
	lastRedial time.Time
	// bansSeen holds the banned addresses already reported (bans.go).
	bansSeen map[netip.Addr]bool
}

// prepareFetch plans the request and settles what needs no swarm: files
// already in the store, files no collection lists and files nothing can
// verify. It returns the wants and how many are left.
func prepareFetch(ctx context.Context, store *Store, req FetchRequest) ([]*want, int, error) {
	wants, err := planFetch(req.Collections, req.Names, req.All, req.Authority)
	if err != nil {
		return nil, 0, err
	}
	pending := 0
	find := store.findNames(len(wants))
	for _, w := range wants {
		if p, err := find(w.name); err == nil {
			if err := req.Authority.VerifyFile(ctx, w.name, p); err == nil {
				w.finish(OutcomePresent, p, nil)
				if e, ok := req.Authority.Lookup(w.name); ok && e.Size > 0 {
					w.res.Size = e.Size // VerifyFile checked it
				}
				continue
			}
		}
		if len(w.cands) == 0 {
			w.finish(OutcomeNotInCollections, "", fmt.Errorf("%s: %w", w.name, errNotInCollections))
			continue
		}
		if _, ok := req.Authority.Lookup(w.name); !ok && !req.TrustCollection {
			w.finish(OutcomeNoAuthority, "", fmt.Errorf("%s: no authority knows its digests: pass --manifest, --repo or --digests, or --trust-collection", w.name))
			continue
		}
		pending++
	}
	return wants, pending, nil
}

// Fetch downloads the requested distfiles from the collections' swarms
// (peers, trackers, webseeds), verifies each against the request's
// authority and places it in the store. It returns one result per
// requested file, in name order; the error is for failures that concern
// the whole request. Files already in the store that verify are not
// downloaded again, and a file another request is downloading is not
// downloaded twice.
func (n *Node) Fetch(ctx context.Context, req FetchRequest) ([]FileResult, error) {
	if req.Authority == nil {
		req.Authority = NewAuthority()
	}
	wants, pending, err := prepareFetch(ctx, n.store, req)
	if err != nil {
		return nil, err
	}
	return n.fetchPrepared(ctx, req, wants, pending)
}

// fetchPrepared runs a request that prepareFetch planned.
func (n *Node) fetchPrepared(ctx context.Context, req FetchRequest, wants []*want, pending int) ([]FileResult, error) {
	start := time.Now()
	if pending > 0 {
		r := &fetchRun{n: n, req: req, log: n.log, wants: wants,
			added: map[metainfo.Hash]*nodeTorrent{}, waiting: map[fileKey]*want{}, stall: newStallWatch(n.stallReport)}
		if err := r.run(ctx); err != nil {
			return nil, err
		}
	}
	res := results(wants)
	n.stats.recordFetch(res, SourceSwarm, time.Since(start))
	return res, nil
}

func (r *fetchRun) run(ctx context.Context) error {
	q, unsubscribe := r.n.subscribe()
	defer unsubscribe()
	release := r.n.verify.claim(r.req.Authority, r.pendingNames())
	defer release()
	if err := r.begin(ctx); err != nil {
		return err
	}
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		if err := r.startWhenTrusted(ctx); err != nil {
			return err
		}
		if r.started && allDone(r.wants) {
			break
		}
		select {
		case <-ctx.Done():
			r.giveUp(ctx.Err())
			return nil
		case now := <-tick.C:
			r.progress()
			r.reportBans()
			r.releaseWebseeds(now)
			r.stallCheck(now)
			r.redialKnown(now)
			r.nudgeIdle(now)
		case <-q.signal:
			for _, ev := range q.drain() {
				if err := r.handle(ctx, ev); err != nil {
					return err
				}
			}
		}
	}
	r.progress()
	return nil
}

func (r *fetchRun) pendingNames() []string {
	var out []string
	for _, w := range r.wants {
		if !w.done {
			out = append(out, w.name)
		}
	}
	return out
}

// begin starts every file, or with TrustCollection first the collection
// Manifests, which become the authority for files the user's own
// authority does not know.
func (r *fetchRun) begin(ctx context.Context) error {
	if !r.req.TrustCollection {
		r.started = true
		for _, w := range r.wants {
			if !w.done {
				if err := r.start(ctx, w); err != nil {
					return err
				}
			}
		}
		return nil
	}
	r.trustWait = map[fileKey]*nodeTorrent{}
	for _, w := range r.wants {
		if w.done {
			continue
		}
		for _, c := range w.cands {
			if err := r.startManifest(ctx, c); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *fetchRun) startManifest(ctx context.Context, c candidate) error {
	nt, err := r.add(ctx, c)
	if err != nil {
		return err
	}
	if nt.mfIdx < 0 {
		return nil
	}
	key := fileKey{c.ih, nt.mfIdx}
	if _, ok := r.trustWait[key]; ok {
		return nil
	}
	if s := r.n.st.State(key.ih, key.index); s.Phase == storage.PhaseFinal {
		return r.req.Authority.trustCollectionManifest(s.FinalPath, key.ih)
	}
	r.trustWait[key] = nt
	nt.t.Files()[nt.mfIdx].Download()
	return nil
}

// startWhenTrusted starts the files once no collection Manifest is
// outstanding, which may be right away: the Manifests were placed by an
// earlier fetch, or the torrents (foreign ones) have none.
func (r *fetchRun) startWhenTrusted(ctx context.Context) error {
	if r.started || len(r.trustWait) > 0 {
		return nil
	}
	r.started = true
	for _, w := range r.wants {
		if w.done {
			continue
		}
		if _, ok := r.req.Authority.Lookup(w.name); !ok {
			w.finish(OutcomeNoAuthority, "", fmt.Errorf("%s: no authority knows its digests, and no collection Manifest lists it", w.name))
			continue
		}
		if err := r.start(ctx, w); err != nil {
			return err
		}
	}
	return nil
}

// add adds c's torrent to the node once per request.
func (r *fetchRun) add(ctx context.Context, c candidate) (*nodeTorrent, error) {
	if nt := r.added[c.ih]; nt != nil {
		return nt, nil
	}
	nt, err := r.n.reg.add(ctx, c.mi, c.ih, nil)
	if err != nil {
		return nil, err
	}
	nt.announce()
	r.added[nt.ih] = nt
	return nt, nil
}

// start asks the swarm for w from its next candidate torrent.
func (r *fetchRun) start(ctx context.Context, w *want) error {
	for len(w.cands) > 0 {
		c := w.cands[0]
		w.cands = w.cands[1:]
		nt, err := r.add(ctx, c)
		if err != nil {
			return err
		}
		w.cur = &c
		nt.resumeAfterWriteError()
		key := fileKey{c.ih, c.index}
		s := r.n.st.State(key.ih, key.index)
		switch s.Phase {
		case storage.PhaseRejected:
			w.res.Outcome = OutcomeRejected
			w.res.Err = fmt.Errorf("%s: rejected earlier from collection %s: %v", w.name, key.ih.HexString(), s.Err)
			continue
		case storage.PhaseFinal:
			// Already placed by this store: the event will not come again.
			w.finish(OutcomePresent, s.FinalPath, nil)
			w.res.Size = s.Size
			return nil
		case storage.PhaseUnverified:
			// Completed earlier with no authority: this request brings one.
			r.n.st.Retry(key.ih, key.index)
		}
		r.waiting[key] = w
		nt.used.Store(true)
		nt.t.Files()[c.index].Download()
		return nil
	}
	if w.res.Err == nil {
		w.finish(OutcomeNotInCollections, "", fmt.Errorf("%s: %w", w.name, errNotInCollections))
	} else {
		w.done = true
	}
	return nil
}

// handle applies one storage event to the request.
func (r *fetchRun) handle(ctx context.Context, ev nodeEvent) error {
	if ev.writeErr != nil {
		r.writeFailed(ev.File.InfoHash, ev.writeErr)
		return nil
	}
	key := fileKey{ev.File.InfoHash, ev.File.Index}
	if _, ok := r.trustWait[key]; ok {
		delete(r.trustWait, key)
		if ev.Kind != storage.EventFinal {
			r.log.Warn("collection Manifest not usable", "infohash", key.ih.HexString(), "event", ev.Kind, "err", ev.Err)
			return nil
		}
		return r.req.Authority.trustCollectionManifest(ev.Path, key.ih)
	}
	w, ok := r.waiting[key]
	if !ok {
		return nil
	}
	switch ev.Kind {
	case storage.EventFinal:
		delete(r.waiting, key)
		w.finish(OutcomePlaced, ev.Path, nil)
		w.res.Size = ev.File.Length
	case storage.EventRejected:
		delete(r.waiting, key)
		r.log.Warn("rejected", "file", w.name, "infohash", key.ih.HexString(), "err", ev.Err)
		w.res.Outcome = OutcomeRejected
		w.res.Err = fmt.Errorf("%s: rejected (quarantined at %s): %v", w.name, ev.Path, ev.Err)
		return r.start(ctx, w)
	case storage.EventUnverified:
		delete(r.waiting, key)
		w.finish(OutcomeUnverified, "", fmt.Errorf("%s: downloaded but unverified (%v); it stays in %s", w.name, ev.Err, ev.Path))
	}
	return nil
}

// writeFailed ends the files waiting on torrent ih, whose download stopped
// because its data could not be written (a full disk): waiting on would
// only hang until the deadline.
func (r *fetchRun) writeFailed(ih metainfo.Hash, err error) {
	for key, w := range r.waiting {
		if key.ih == ih {
			delete(r.waiting, key)
			w.finish(OutcomeFailed, "", fmt.Errorf("%s: %w", w.name, err))
		}
	}
}

// giveUp ends every unfinished file when the deadline passes or the caller
// cancels.
func (r *fetchRun) giveUp(err error) {
	o, word := OutcomeInterrupted, "interrupted"
	if errors.Is(err, context.DeadlineExceeded) {
		o, word = OutcomeTimedOut, "timed out"
	}
	for _, w := range r.wants {
		if !w.done {
			w.finish(o, "", fmt.Errorf("%s: %s: %s", w.name, word, r.describe(w)))
		}
	}
	for key := range r.trustWait {
		r.log.Warn("collection Manifest not fetched", "infohash", key.ih.HexString())
	}
}

func (r *fetchRun) describe(w *want) string {
	if w.cur == nil {
		return "not started"
	}
	nt := r.added[w.cur.ih]
	if nt == nil {
		return "not started"
	}
	f := nt.t.Files()[w.cur.index]
	stats := nt.t.Stats()
	return fmt.Sprintf("%d of %d bytes verified, %d peers connected", f.BytesCompleted(), f.Length(), stats.ActivePeers)
}

func (r *fetchRun) progress() {
	if r.req.OnProgress != nil {
		r.req.OnProgress(progressOf(r.wants, r.added))
	}
}

func progressOf(wants []*want, added map[metainfo.Hash]*nodeTorrent) Progress {
	var p Progress
	for _, w := range wants {
		p.Files++
		if w.done {
			p.FilesDone++
		}
		if w.cur == nil {
			continue
		}
		nt := added[w.cur.ih]
		if nt == nil {
			continue
		}
		f := nt.t.Files()[w.cur.index]
		p.Bytes += f.Length()
		if w.done && w.res.Err == nil {
			p.BytesDone += f.Length()
		} else {
			p.BytesDone += f.BytesCompleted()
		}
	}
	for _, nt := range added {
		s := nt.t.Stats()
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
