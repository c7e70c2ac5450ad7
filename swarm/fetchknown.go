package swarm

import (
	"context"
	"errors"
	"fmt"

	"github.com/anacrolix/torrent/metainfo"

	"github.com/distswarm/distswarm/swarm/collection"
)

// errAllNeedsCollections: --all over whatever the node knows is refused.
var errAllNeedsCollections = errors.New("fetch --all needs the collections named (--torrent or --magnet)")

// FetchKnown is Fetch from the collections the node knows that list the
// names: those added to it, remembered by the store and learned from the
// LAN (req.Collections is ignored). A name none of them lists fails with
// OutcomeNotInCollections and an error saying how many were looked at.
func (n *Node) FetchKnown(ctx context.Context, req FetchRequest) ([]FileResult, error) {
	if req.All {
		return nil, errAllNeedsCollections
	}
	colls, err := n.knownListing(req.Names)
	if err != nil {
		return nil, err
	}
	req.Collections = colls
	res, err := n.Fetch(ctx, req)
	if err != nil {
		return nil, err
	}
	own, learned := n.knownCounts()
	for i := range res {
		if res[i].Outcome == OutcomeNotInCollections {
			res[i].Err = fmt.Errorf("%s: %w that this node knows (%d of the store's own, %d learned from the LAN)",
				res[i].Name, errNotInCollections, own, learned)
		}
	}
	return res, nil
}

// knownListing returns the known collections that list any of names,
// each once.
func (n *Node) knownListing(names []string) ([]*collection.Collection, error) {
	seen := map[metainfo.Hash]bool{}
	var out []*collection.Collection
	for _, name := range names {
		colls, err := n.collectionsListing(name)
		if err != nil {
			return nil, err
		}
		for _, c := range colls {
			ih := c.Torrents[0].HashInfoBytes()
			if !seen[ih] {
				seen[ih] = true
				out = append(out, c)
			}
		}
	}
	return out, nil
}

// knownCounts are how many collections the store was given and how many
// the node learned from the LAN.
func (n *Node) knownCounts() (own, learned int) {
	known, _ := n.store.Known()
	learnedIHs := map[metainfo.Hash]bool{}
	for _, ih := range n.store.learnedInfohashes() {
		learnedIHs[ih] = true
	}
	for _, nt := range n.reg.all() {
		if n.reg.isLearned(nt.ih) {
			learnedIHs[nt.ih] = true
		}
	}
	return len(known), len(learnedIHs)
}

// fetchKnownOnce is FetchKnown on a node of its own (Fetch with no
// collections given).
func fetchKnownOnce(ctx context.Context, o FetchOptions) ([]FileResult, error) {
	if o.All {
		return nil, errAllNeedsCollections
	}
	n, err := OpenNode(ctx, NodeOptions{Store: o.Store, Client: o.Client, Peers: o.Peers, OnLockWait: o.OnLockWait, Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	defer n.Close()
	defer n.reportReceived(o.OnReceived)
	return n.FetchKnown(ctx, FetchRequest{Authority: o.Authority, TrustCollection: o.TrustCollection, Names: o.Names, OnProgress: o.OnProgress})
}
