package swarm

import (
	"github.com/anacrolix/torrent/metainfo"

	"github.com/distswarm/distswarm/swarm/collection"
)

// KnownCollection describes one collection torrent the store remembers.
type KnownCollection struct {
	InfoHash    string `json:"infohash"`
	Name        string `json:"name"`
	Files       int    `json:"files"`   // distfiles (no Manifest, no pads)
	Bytes       int64  `json:"bytes"`   // their total size
	Present     int    `json:"present"` // of them, files at their place in the store
	PieceLength int64  `json:"piece_length"`
	Pieces      int    `json:"pieces"`
	Trackers    int    `json:"trackers"`
	Webseeds    int    `json:"webseeds"`
	Magnet      string `json:"magnet"`
}

// KnownCollections summarizes every collection torrent the store
// remembers, sorted by infohash; with withPresence it also counts the
// files the store holds (a stat per file).
func (s *Store) KnownCollections(withPresence bool) ([]KnownCollection, error) {
	known, err := s.Known()
	if err != nil {
		return nil, err
	}
	out := make([]KnownCollection, 0, len(known))
	for _, mi := range known {
		info, err := collection.ParseInfo(mi.InfoBytes)
		if err != nil {
			continue // Known checked it; a race with a rewrite
		}
		out = append(out, s.summarize(mi, info, withPresence))
	}
	return out, nil
}

// Describe summarizes collection torrent mi as KnownCollections does,
// whether or not the store knows it; with a store (s not nil) it counts
// the files the store holds.
func (s *Store) Describe(mi *metainfo.MetaInfo) (KnownCollection, error) {
	info, err := collection.ParseInfo(mi.InfoBytes)
	if err != nil {
		return KnownCollection{}, err
	}
	return s.summarize(mi, info, s != nil), nil
}

func (s *Store) summarize(mi *metainfo.MetaInfo, info *metainfo.Info, withPresence bool) KnownCollection {
	ih := mi.HashInfoBytes()
	files := info.UpvertedFiles()
	k := KnownCollection{
		InfoHash: ih.HexString(), Name: info.Name, PieceLength: info.PieceLength, Pieces: info.NumPieces(),
		Trackers: len(mi.UpvertedAnnounceList()), Webseeds: len(mi.UrlList),
		Magnet: metainfo.Magnet{InfoHash: ih, DisplayName: info.Name}.String(),
	}
	for name, idx := range distfilesOf(info) {
		k.Files++
		k.Bytes += files[idx].Length
		if withPresence {
			if _, err := s.Find(name); err == nil {
				k.Present++
			}
		}
	}
	return k
}
