package collection

import (
	"bytes"
	"fmt"
	"io"

	"github.com/anacrolix/torrent/metainfo"
)

// FromTorrent builds a one-torrent collection from a .torrent's bytes and,
// when given, its collection Manifest, with Load's checks: the torrent is
// validated and the Manifest must match the torrent's piece hashes. The
// control API receives collections this way.
func FromTorrent(torrent, manifest []byte) (*Collection, error) {
	if len(torrent) > MaxTorrentSize {
		return nil, fmt.Errorf("torrent larger than %d bytes", MaxTorrentSize)
	}
	mi, info, err := parseTorrent(torrent)
	if err != nil {
		return nil, err
	}
	var m []byte
	if manifest != nil {
		m, err = loadManifest(info, func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(manifest)), nil })
		if err != nil {
			return nil, err
		}
	}
	return &Collection{Torrents: []*metainfo.MetaInfo{mi}, Manifests: [][]byte{m}}, nil
}
