package swarm

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"github.com/anacrolix/torrent"

	"github.com/distswarm/distswarm/swarm/collection"
)

// fetchSeedRequestCap is the number of requests a fetch keeps outstanding
// to a seed while at least two other downloading peers are connected (see
// seedCap), raised to a whole piece's worth of requests for pieces larger
// than 64 KiB. On the P3 benchmark (one origin, 8 leechers on loopback) 4
// made the origin upload 1.2× the collection where the library's 250 made
// it 5×; 8 gave 1.8×, 16 gave 2.3× (2026-11-21).
const fetchSeedRequestCap = 4

// FetchOptions configures Fetch, a one-shot fetch on its own node.
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
	// OnLockWait, if set, is called once if another process holds the
	// store and the fetch waits for it.
	OnLockWait func()
	// OnReceived, if set, is called once when a fetch that opened a node
	// ends, with where the piece data came from (peers or webseeds).
	OnReceived func(ByteCounters)
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

// Fetch runs one FetchRequest on a node of its own, opened for the call
// (see Node.Fetch; with no Collections, Node.FetchKnown). No node is opened when the store already holds every
// file or nothing can be fetched.
func Fetch(ctx context.Context, o FetchOptions) ([]FileResult, error) {
	if o.Authority == nil {
		o.Authority = NewAuthority()
	}
	if len(o.Collections) == 0 {
		return fetchKnownOnce(ctx, o)
	}
	req := FetchRequest{
		Collections: o.Collections, Authority: o.Authority, TrustCollection: o.TrustCollection,
		Names: o.Names, All: o.All, OnProgress: o.OnProgress,
	}
	wants, pending, err := prepareFetch(ctx, o.Store, req)
	if err != nil {
		return nil, err
	}
	if pending == 0 {
		return results(wants), nil
	}
	n, err := OpenNode(ctx, NodeOptions{Store: o.Store, Client: o.Client, Peers: o.Peers, OnLockWait: o.OnLockWait, Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	defer n.Close()
	defer n.reportReceived(o.OnReceived)
	return n.fetchPrepared(ctx, req, wants, pending)
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
