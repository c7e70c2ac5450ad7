package swarm

import (
	"errors"
	"fmt"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"
	pp "github.com/anacrolix/torrent/peer_protocol"

	"github.com/distswarm/distswarm/swarm/collection"
)

// defaultChunkSize is anacrolix's request size (16 KiB).
const defaultChunkSize = 16 << 10

// addTorrent adds a collection torrent. Torrents with pieces smaller than
// the 16 KiB chunk size (collections of small files use them to cut pad
// waste) are added with the chunk size equal to the piece length:
// anacrolix v1.61 computes its request index space as length/chunk and
// would otherwise never request pieces past length/16 KiB.
//
// The info dict is decoded in full once, by the client. A 100,000-file
// collection is ~200,000 file entries: torrent.TorrentSpecFromMetaInfoErr,
// a second decode for the piece length and AddTorrentSpec (which decodes
// the info again in MergeSpec) each produced as much garbage as the
// client's own copy, and a seeder's start-up is mostly such decoding. Here
// only the info's top-level integers are read (infoHead) and the spec is
// merged without its InfoBytes.
func addTorrent(cl *torrent.Client, mi *metainfo.MetaInfo) (*torrent.Torrent, error) {
	ih := mi.HashInfoBytes()
	head, err := decodeInfoHead(mi.InfoBytes)
	if err != nil {
		return nil, fmt.Errorf("torrent %s: %w", ih.HexString(), err)
	}
	var spec *torrent.TorrentSpec
	if head.MetaVersion == 2 {
		if err := checkV2PieceLayers(mi, head.PieceLength); err != nil {
			return nil, fmt.Errorf("torrent %s: %w", ih.HexString(), err)
		}
		// Hybrid (or v2): the library's spec carries the v2 infohash.
		spec, err = torrent.TorrentSpecFromMetaInfoErr(mi)
		if err != nil {
			return nil, fmt.Errorf("torrent %s: %w", ih.HexString(), err)
		}
	} else {
		spec = specFromV1MetaInfo(mi, ih)
	}
	if head.PieceLength > 0 && head.PieceLength < defaultChunkSize {
		spec.ChunkSize = pp.Integer(head.PieceLength)
	}
	// AddTorrentSpec without its second decode: AddTorrentOpt sets the info
	// (and ignores a decoding error); MergeSpec gets no InfoBytes.
	t, isNew := cl.AddTorrentOpt(spec.AddTorrentOpts)
	if t.Info() == nil {
		// Bad info bytes, or the torrent was known without its info (a
		// magnet): setting them again reports the error or completes it.
		if err := t.SetInfoBytes(spec.InfoBytes); err != nil {
			if isNew {
				t.Drop()
			}
			return nil, fmt.Errorf("add torrent %s: %w", ih.HexString(), err)
		}
	}
	merge := *spec
	merge.InfoBytes = nil
	merge.ChunkSize = 0 // applied by AddTorrentOpt; MergeSpec refuses to change it
	if err := t.MergeSpec(&merge); err != nil {
		if isNew {
			t.Drop()
		}
		return nil, fmt.Errorf("add torrent %s: %w", ih.HexString(), err)
	}
	return t, nil
}

// specFromV1MetaInfo is torrent.TorrentSpecFromMetaInfoErr for a v1 torrent
// without decoding the info: same trackers, webseeds, DHT nodes, piece
// layers and infohash (ih, computed by the caller); no display name (the client names a torrent after
// its info).
func specFromV1MetaInfo(mi *metainfo.MetaInfo, ih metainfo.Hash) *torrent.TorrentSpec {
	nodes := make([]string, 0, len(mi.Nodes))
	for _, n := range mi.Nodes {
		nodes = append(nodes, string(n))
	}
	return &torrent.TorrentSpec{
		Trackers:    mi.UpvertedAnnounceList(),
		PieceLayers: mi.PieceLayers,
		Webseeds:    mi.UrlList,
		DhtNodes:    nodes,
		AddTorrentOpts: torrent.AddTorrentOpts{
			InfoHash:  ih,
			InfoBytes: mi.InfoBytes,
		},
	}
}

// infoHead is what addTorrent reads of an info dict. The big values are
// declared as skipValue so that the decoder steps over them without
// building them.
type infoHead struct {
	PieceLength int64     `bencode:"piece length"`
	MetaVersion int64     `bencode:"meta version"`
	Files       skipValue `bencode:"files"`
	FileTree    skipValue `bencode:"file tree"`
	Pieces      skipValue `bencode:"pieces"`
}

// skipValue accepts any bencode value and keeps nothing of it.
type skipValue struct{}

func (*skipValue) UnmarshalBencode([]byte) error { return nil }

func decodeInfoHead(infoBytes []byte) (infoHead, error) {
	var h infoHead
	if len(infoBytes) == 0 {
		return h, errors.New("no info dict")
	}
	// The decoder recurses without a depth limit: scan first.
	if err := collection.ScanBencode(infoBytes); err != nil {
		return h, fmt.Errorf("info dict: %w", err)
	}
	if err := bencode.Unmarshal(infoBytes, &h); err != nil {
		return h, fmt.Errorf("info dict: %w", err)
	}
	return h, nil
}

// ErrV2NoPieceLayers refuses a hybrid (BitTorrent v2) torrent that lacks
// the piece layers of a file longer than one piece, as one resolved from a
// magnet does: anacrolix v1.61 would ask peers for those hashes and then
// crash on their answer (a panic in Torrent.getFileByPiecesRoot).
var ErrV2NoPieceLayers = errors.New("hybrid (BitTorrent v2) torrent without its piece layers, as from a magnet link: not supported; fetch it with its .torrent file")

// checkV2PieceLayers returns ErrV2NoPieceLayers when a file of the v2
// torrent mi spans more than one piece and mi has no piece layers.
func checkV2PieceLayers(mi *metainfo.MetaInfo, pieceLength int64) error {
	if len(mi.PieceLayers) > 0 || pieceLength <= 0 {
		return nil
	}
	info, err := collection.ParseInfo(mi.InfoBytes)
	if err != nil {
		return err
	}
	for _, f := range info.UpvertedFiles() {
		if f.Length > pieceLength {
			return ErrV2NoPieceLayers
		}
	}
	return nil
}
