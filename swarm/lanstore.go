package swarm

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/anacrolix/torrent/metainfo"

	"github.com/distswarm/distswarm/storage/layout"
)

// maxLearnedCollections bounds the collections a node learns from the
// LAN (kept in the store, and added to its client): the infohashes heard
// there come from anyone on the link.
const maxLearnedCollections = 64

// learnedDir holds the collections learned from the LAN,
// STORE/collections/lan/<infohash>.torrent. They are kept apart from
// the collections the store was given (STORE/collections/*.torrent): a
// daemon trusts the Manifests of those, never the LAN's. Their collection
// Manifests sit with the others (STORE/collections/<infohash>.Manifest),
// where the storage places them.
func (s *Store) learnedDir() string { return filepath.Join(s.collectionsDir(), "lan") }

// learnedPath is where the torrent of a collection learned from the LAN is kept.
func (s *Store) learnedPath(ih metainfo.Hash) string {
	return filepath.Join(s.learnedDir(), ih.HexString()+".torrent")
}

// RememberLearned records a collection learned from the LAN, so that a
// restarted node still finds distfiles in it. At most
// maxLearnedCollections are kept: past that it returns an error.
func (s *Store) RememberLearned(mi *metainfo.MetaInfo) error {
	ih := mi.HashInfoBytes()
	p := s.learnedPath(ih)
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	if n := len(s.learnedInfohashes()); n >= maxLearnedCollections {
		return fmt.Errorf("remember LAN collection %s: the store keeps %d already", ih.HexString(), n)
	}
	if err := os.MkdirAll(s.learnedDir(), 0o777); err != nil {
		return fmt.Errorf("remember LAN collection %s: %w", ih.HexString(), err)
	}
	var buf bytes.Buffer
	if err := withoutSources(mi).Write(&buf); err != nil {
		return fmt.Errorf("remember LAN collection %s: %w", ih.HexString(), err)
	}
	if err := layout.WriteFileAtomic(p, buf.Bytes()); err != nil {
		return fmt.Errorf("remember LAN collection %s: %w", ih.HexString(), err)
	}
	return nil
}

// learnedInfohashes are the infohashes of the collections learned from
// the LAN, by their file names (nothing is parsed), at most
// maxLearnedCollections, sorted.
func (s *Store) learnedInfohashes() []metainfo.Hash {
	ents, err := os.ReadDir(s.learnedDir())
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range ents {
		hexIH, ok := strings.CutSuffix(e.Name(), ".torrent")
		if ok && len(hexIH) == 40 && e.Type().IsRegular() {
			names = append(names, hexIH)
		}
	}
	sort.Strings(names)
	var out []metainfo.Hash
	for _, n := range names {
		var ih metainfo.Hash
		if ih.FromHexString(n) == nil && len(out) < maxLearnedCollections {
			out = append(out, ih)
		}
	}
	return out
}

// Learned loads the collections learned from the LAN (see
// RememberLearned), with the checks of Known.
func (s *Store) Learned() []*metainfo.MetaInfo {
	var out []*metainfo.MetaInfo
	for _, ih := range s.learnedInfohashes() {
		mi, err := loadKnownTorrent(s.learnedPath(ih))
		if err != nil || mi.HashInfoBytes() != ih {
			continue // damaged or renamed: not what was learned
		}
		out = append(out, mi)
	}
	return out
}
