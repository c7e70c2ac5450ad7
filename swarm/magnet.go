package swarm

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/anacrolix/torrent/metainfo"

	"github.com/distswarm/distswarm/storage"
)

// ResolveMagnet fetches a collection's info dict from peers (BEP 9) for a
// magnet URI and returns it as a metainfo (with the magnet's trackers and
// webseeds). Nothing is downloaded besides the metadata.
func ResolveMagnet(ctx context.Context, st *Store, uri string, peers []string, copts ClientOptions, logger *slog.Logger) (*metainfo.MetaInfo, error) {
	m, err := metainfo.ParseMagnetUri(uri)
	if err != nil {
		return nil, fmt.Errorf("--magnet: %w", err)
	}
	pis, err := peerInfos(peers)
	if err != nil {
		return nil, err
	}
	store, err := storage.Open(storage.Options{Dir: st.Root, Placement: storePlacement{st: st}, Logger: logger})
	if err != nil {
		return nil, err
	}
	defer store.Close()
	copts.Storage = store
	cl, err := NewClient(copts)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	t, err := cl.AddMagnet(uri)
	if err != nil {
		return nil, fmt.Errorf("--magnet: %w", err)
	}
	if len(pis) > 0 {
		t.AddPeers(pis)
	}
	select {
	case <-t.GotInfo():
	case <-ctx.Done():
		return nil, fmt.Errorf("metadata of %s: %w (%d peers connected)", m.InfoHash.HexString(), ctx.Err(), t.Stats().ActivePeers)
	}
	mi := t.Metainfo()
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
