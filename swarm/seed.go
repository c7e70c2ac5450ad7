package swarm

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"

	"github.com/distswarm/distswarm/storage"
	"github.com/distswarm/distswarm/storage/layout"
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
	Ready  func(port int)
	Logger *slog.Logger
}

// SeedStatus is a snapshot of a running seeder.
type SeedStatus struct {
	Torrents       int
	PiecesComplete int
	Pieces         int
	Peers          int
	BytesUploaded  int64
}

// Seed serves the collections until ctx is cancelled. Files are read where
// they are: in From (seeded in place) or in the store.
func Seed(ctx context.Context, o SeedOptions) error {
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var seedRoots []string
	var seedFrom *layout.Finder
	if o.From != "" {
		from, err := filepath.Abs(o.From)
		if err != nil {
			return fmt.Errorf("seed --from %s: %w", o.From, err)
		}
		seedRoots = []string{from}
		seedFrom = layout.NewFinder(from)
	}
	st, err := storage.Open(storage.Options{
		Dir:       o.Store.Root,
		Placement: storePlacement{st: o.Store, seedFrom: seedFrom},
		Verifier:  verifier{auth: NewAuthority()},
		Logger:    logger,
		SeedRoots: seedRoots,
	})
	if err != nil {
		return err
	}
	defer st.Close()
	copts := o.Client
	copts.Storage = st
	if copts.Logger == nil {
		copts.Logger = o.Logger
	}
	cl, err := NewClient(copts)
	if err != nil {
		return err
	}
	defer cl.Close()
	peers, err := peerInfos(o.Peers)
	if err != nil {
		return err
	}
	var ts []*torrent.Torrent
	var trackers [][][]string
	for _, c := range o.Collections {
		for i, mi := range c.Torrents {
			var mf []byte
			if i < len(c.Manifests) {
				mf = c.Manifests[i]
			}
			if err := o.Store.Remember(mi, mf); err != nil {
				logger.Warn("remember collection", "err", err)
			}
			// Trackers are added once the existing data is checked (below).
			trackers = append(trackers, mi.UpvertedAnnounceList())
			t, err := addTorrent(cl, withoutTrackers(mi))
			if err != nil {
				return err
			}
			<-t.GotInfo()
			st.Attach(t)
			if len(peers) > 0 {
				t.AddPeers(peers)
			}
			ts = append(ts, t)
		}
	}
	if err := waitChecked(ctx, ts); err != nil {
		return err
	}
	// Announce only now, with what was found: anacrolix announces as soon
	// as a torrent has trackers, and files hashed for the first time are
	// not complete yet then. It would announce left=<everything> and, as
	// their completion was unknown rather than missing, never send the
	// "completed" event: trackers would count the seeder as a leecher for
	// a whole interval (30 min on opentracker).
	for i, t := range ts {
		if len(trackers[i]) > 0 {
			t.AddTrackers(trackers[i])
		}
	}
	if o.Ready != nil {
		o.Ready(cl.LocalPort())
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

// waitChecked waits until no piece of the torrents is queued for or being
// hashed, so that Ready means "serving what we have".
func waitChecked(ctx context.Context, ts []*torrent.Torrent) error {
	for {
		busy := false
		for _, t := range ts {
			for _, r := range t.PieceStateRuns() {
				if r.Checking || r.QueuedForHash || r.Hashing {
					busy = true
					break
				}
			}
			if busy {
				break
			}
		}
		if !busy {
			return nil
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

// withoutTrackers returns a shallow copy of mi without announce URLs (the
// infohash does not cover them).
func withoutTrackers(mi *metainfo.MetaInfo) *metainfo.MetaInfo {
	c := *mi
	c.Announce = ""
	c.AnnounceList = nil
	return &c
}
