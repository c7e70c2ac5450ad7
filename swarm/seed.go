package swarm

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"

	"github.com/distswarm/distswarm/swarm/collection"
)

// SeedOptions configures Seed.
type SeedOptions struct {
	Store       *Store
	Collections []*collection.Collection
	// From is a distdir (flat or nested) whose files are seeded in place;
	// files not found there are looked for in the store.
	From   string
	Peers  []string
	Client ClientOptions
	// OnStatus, if set, is called every StatusEvery (default 2 s) and once
	// more when ctx is cancelled.
	OnStatus    func(SeedStatus)
	StatusEvery time.Duration
	// Ready, if set, is called once every torrent is added and its
	// existing files are checked, with the client's listen port.
	Ready func(port int)
	// OnNode, if set, is called after Ready with the seeder's node, which
	// lives until Seed returns (the CLI serves the control API with it).
	OnNode func(*Node)
	// OnLockWait, if set, is called once if another process holds the
	// store and the seeder waits for it.
	OnLockWait func()
	// OnCheck, if set, is called about twice a second while the files
	// found for the first time are hashed, with the pieces checked so far
	// and the total (before Ready).
	OnCheck func(checked, pieces int)
	Logger  *slog.Logger
}

// SeedStatus is a snapshot of a running seeder.
type SeedStatus struct {
	Torrents       int
	PiecesComplete int
	Pieces         int
	Peers          int
	BytesUploaded  int64
}

// Seed serves the collections on a node of its own until ctx is
// cancelled. Files are read where they are: in From (seeded in place) or
// in the store.
func Seed(ctx context.Context, o SeedOptions) error {
	var from []string
	if o.From != "" {
		from = []string{o.From}
	}
	n, err := OpenNode(ctx, NodeOptions{Store: o.Store, Client: o.Client, Peers: o.Peers,
		SeedFrom: from, OnLockWait: o.OnLockWait, OnCheck: o.OnCheck, Logger: o.Logger})
	if err != nil {
		return err
	}
	defer n.Close()
	ts, err := n.Seed(ctx, o.Collections)
	if err != nil {
		return err
	}
	if o.Ready != nil {
		o.Ready(n.Port())
	}
	if o.OnNode != nil {
		o.OnNode(n)
	}
	every := o.StatusEvery
	if every <= 0 {
		every = 2 * time.Second
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			// A last snapshot, so the final upload total is reported.
			if o.OnStatus != nil {
				o.OnStatus(seedStatus(ts))
			}
			return nil
		case <-tick.C:
			if o.OnStatus != nil {
				o.OnStatus(seedStatus(ts))
			}
		}
	}
}

// Seed adds the collections' torrents, remembers them in the store, waits
// until what the store (and the seed roots) hold is checked, then
// announces to their trackers. It returns the torrents.
func (n *Node) Seed(ctx context.Context, colls []*collection.Collection) ([]*torrent.Torrent, error) {
	var nts []*nodeTorrent
	for _, c := range colls {
		for i, mi := range c.Torrents {
			var mf []byte
			if i < len(c.Manifests) {
				mf = c.Manifests[i]
			}
			ih := mi.HashInfoBytes()
			if i < len(c.Binpkgs) {
				if err := n.store.RememberBinpkgFiles(ih.HexString(), c.Binpkgs[i]); err != nil {
					return nil, err
				}
			}
			if n.reg.unmarkLearned(ih) {
				// Given now, no longer only learned from the LAN.
				if err := n.store.Remember(mi, mf); err != nil {
					return nil, err
				}
			}
			nt, err := n.reg.add(ctx, mi, ih, mf)
			if err != nil {
				return nil, err
			}
			nt.setSeeding()
			nts = append(nts, nt)
		}
	}
	ts := make([]*torrent.Torrent, len(nts))
	for i, nt := range nts {
		ts[i] = nt.t
	}
	if err := waitChecked(ctx, ts, n.onCheck); err != nil {
		return nil, err
	}
	for _, nt := range nts {
		nt.announce()
	}
	return ts, nil
}

// SeedKnown seeds every collection the store remembers that the node has
// not added yet, and returns how many it added.
func (n *Node) SeedKnown(ctx context.Context) (int, error) {
	known, err := n.store.Known()
	if err != nil {
		return 0, err
	}
	var fresh []*collection.Collection
	for _, mi := range known {
		if n.reg.get(mi.HashInfoBytes()) == nil {
			fresh = append(fresh, &collection.Collection{Torrents: []*metainfo.MetaInfo{mi}})
		}
	}
	if len(fresh) == 0 {
		return 0, nil
	}
	if _, err := n.Seed(ctx, fresh); err != nil {
		return 0, fmt.Errorf("seed known collections: %w", err)
	}
	return len(fresh), nil
}

// waitChecked waits until no piece of the torrents is queued for or being
// hashed, so that Ready means "serving what we have". progress, if set,
// hears the pieces checked so far about twice a second.
func waitChecked(ctx context.Context, ts []*torrent.Torrent, progress func(checked, pieces int)) error {
	lastReport := time.Now()
	for {
		busy, pieces := 0, 0
		for _, t := range ts {
			for _, r := range t.PieceStateRuns() {
				pieces += r.Length
				if r.Checking || r.QueuedForHash || r.Hashing {
					busy += r.Length
				}
			}
		}
		if busy == 0 {
			return nil
		}
		if progress != nil && time.Since(lastReport) >= 500*time.Millisecond {
			progress(pieces-busy, pieces)
			lastReport = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func seedStatus(ts []*torrent.Torrent) SeedStatus {
	s := SeedStatus{Torrents: len(ts)}
	for _, t := range ts {
		stats := t.Stats()
		s.PiecesComplete += stats.PiecesComplete
		s.Pieces += t.NumPieces()
		s.Peers += stats.ActivePeers
		s.BytesUploaded += stats.BytesWrittenData.Int64()
	}
	return s
}
