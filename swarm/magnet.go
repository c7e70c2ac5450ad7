package swarm

import (
	"context"
	"errors"
	"fmt"
	"time"

	g "github.com/anacrolix/generics"
	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"
	tstorage "github.com/anacrolix/torrent/storage"
	infohash_v2 "github.com/anacrolix/torrent/types/infohash-v2"

	"github.com/distswarm/distswarm/swarm/collection"
)

// ResolveMagnet fetches a collection's info dict from peers (BEP 9) for a
// magnet URI and returns it as a metainfo (with the magnet's trackers and
// webseeds). Nothing is downloaded besides the metadata, and nothing is
// written: the info dict is validated like a loaded .torrent
// (collection.ParseInfo) before it is returned.
func ResolveMagnet(ctx context.Context, uri string, peers []string, copts ClientOptions) (*metainfo.MetaInfo, error) {
	m, err := metainfo.ParseMagnetUri(uri)
	if err != nil {
		return nil, fmt.Errorf("--magnet: %w", err)
	}
	pis, err := peerInfos(peers)
	if err != nil {
		return nil, err
	}
	// The info dict comes from peers: until collection.ParseInfo has
	// checked it, none of its names may reach the store's storage (which
	// maps them to paths when the library opens the torrent).
	copts.Storage = metadataOnlyStorage{}
	cl, err := NewClient(copts)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	// By its v1 infohash only: a connection that knows the v2 infohash is
	// upgraded to v2 in the handshake, and anacrolix v1.61 then asks for
	// and mishandles BEP 52 piece hashes (a panic in
	// Torrent.getFileByPiecesRoot) once the info is there.
	spec, err := torrent.TorrentSpecFromMagnetUri(uri)
	if err != nil {
		return nil, fmt.Errorf("--magnet: %w", err)
	}
	if spec.InfoHash == (metainfo.Hash{}) {
		return nil, errors.New("--magnet: a v2-only magnet (urn:btmh without urn:btih) is not supported")
	}
	spec.InfoHashV2 = g.None[infohash_v2.T]()
	t, _, err := cl.AddTorrentSpec(spec)
	if err != nil {
		return nil, fmt.Errorf("--magnet: %w", err)
	}
	if err := waitMetadata(ctx, t, pis); err != nil {
		return nil, fmt.Errorf("metadata of %s: %w (%d peers connected)", m.InfoHash.HexString(), err, t.Stats().ActivePeers)
	}
	// ParseInfo scans the bencode (depth, values, file entries) before it
	// decodes it. The library itself decodes the metadata once it has all
	// of it, before it checks it against the infohash (anacrolix v1.61
	// Torrent.setInfoBytesLocked), and that decode is not guarded: a peer
	// of the swarm can still send up to 16 MiB of nested metadata there.
	mi := t.Metainfo()
	if _, err := collection.ParseInfo(mi.InfoBytes); err != nil {
		return nil, fmt.Errorf("metadata of %s from peers: %w", m.InfoHash.HexString(), err)
	}
	if info := t.Info(); info != nil && !info.HasV2() {
		// Metainfo() always sets an empty piece-layers map, which makes a
		// later AddTorrent of this v1 torrent look for v2 piece roots.
		mi.PieceLayers = nil
	}
	mi.UrlList = append(mi.UrlList, m.Params["ws"]...)
	if len(m.Trackers) > 0 {
		mi.AnnounceList = [][]string{m.Trackers}
	}
	if mi.HashInfoBytes() != m.InfoHash {
		return nil, fmt.Errorf("metadata of %s: got info for %s", m.InfoHash.HexString(), mi.HashInfoBytes().HexString())
	}
	return &mi, nil
}

// waitMetadata waits for nt's info, dialling the given peers it is not
// connected to again every redialEvery: the library forgets a peer whose
// first dial failed (on a busy machine, a magnet fetch then waited out its
// whole deadline with 0 peers connected).
func waitMetadata(ctx context.Context, t *torrent.Torrent, peers []torrent.PeerInfo) error {
	t.AddPeers(peers)
	tick := time.NewTicker(redialEvery)
	defer tick.Stop()
	for {
		select {
		case <-t.GotInfo():
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			redialMissing(t, peers)
		}
	}
}

// metadataOnlyStorage is the storage of the client that resolves a magnet:
// it holds no data and touches no disk, so an info dict received from peers
// is never mapped to paths before it is validated.
type metadataOnlyStorage struct{}

// OpenTorrent accepts any info dict: nothing of it is used.
func (metadataOnlyStorage) OpenTorrent(context.Context, *metainfo.Info, metainfo.Hash) (tstorage.TorrentImpl, error) {
	return tstorage.TorrentImpl{
		Piece: func(metainfo.Piece) tstorage.PieceImpl { return noPiece{} },
		Close: func() error { return nil },
	}, nil
}

var errMetadataOnly = errors.New("magnet resolution stores no piece data")

// noPiece is a piece that is never complete and cannot be written.
type noPiece struct{}

func (noPiece) ReadAt([]byte, int64) (int, error)  { return 0, errMetadataOnly }
func (noPiece) WriteAt([]byte, int64) (int, error) { return 0, errMetadataOnly }
func (noPiece) MarkComplete() error                { return errMetadataOnly }
func (noPiece) MarkNotComplete() error             { return nil }
func (noPiece) Completion() tstorage.Completion    { return tstorage.Completion{Ok: true} }
