package swarm

import (
	"fmt"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"
	pp "github.com/anacrolix/torrent/peer_protocol"
)

// defaultChunkSize is anacrolix's request size (16 KiB).
const defaultChunkSize = 16 << 10

// addTorrent adds a collection torrent. Torrents with pieces smaller than
// the 16 KiB chunk size (collections of small files use them to cut pad
// waste) are added with the chunk size equal to the piece length:
// anacrolix v1.61 computes its request index space as length/chunk and
// would otherwise never request pieces past length/16 KiB.
func addTorrent(cl *torrent.Client, mi *metainfo.MetaInfo) (*torrent.Torrent, error) {
	spec, err := torrent.TorrentSpecFromMetaInfoErr(mi)
	if err != nil {
		return nil, fmt.Errorf("torrent %s: %w", mi.HashInfoBytes().HexString(), err)
	}
	info, err := mi.UnmarshalInfo()
	if err != nil {
		return nil, fmt.Errorf("torrent %s: %w", mi.HashInfoBytes().HexString(), err)
	}
	if info.PieceLength > 0 && info.PieceLength < defaultChunkSize {
		spec.ChunkSize = pp.Integer(info.PieceLength)
	}
	t, _, err := cl.AddTorrentSpec(spec)
	if err != nil {
		return nil, fmt.Errorf("add torrent %s: %w", mi.HashInfoBytes().HexString(), err)
	}
	return t, nil
}
