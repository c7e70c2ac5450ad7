package swarm

import (
	"errors"
	"io/fs"
	"path"

	"github.com/anacrolix/torrent/metainfo"

	"github.com/distswarm/distswarm/storage"
	"github.com/distswarm/distswarm/storage/layout"
	"github.com/distswarm/distswarm/swarm/collection"
)

// storePlacement puts binary packages of binpkg torrents at their PKGDIR
// path (binpkgFinalPath) and distfiles at their GLEP 75 path in the store's
// distfiles directory (by name, whatever layout the collection itself used)
// and collection Manifests under the store's private state. With seedFrom, a
// file already present in that directory (flat or nested) is used where it
// is: seeded in place, never copied.
type storePlacement struct {
	st       *Store
	seedFrom *seedRoots // nil or empty: nothing is seeded in place
}

func (p storePlacement) FinalPath(info *metainfo.Info, f storage.FileRef) (string, bool) {
	if isCollectionManifest(f.Path) {
		return p.st.collectionManifestPath(f.InfoHash.HexString()), true
	}
	if collection.IsBinpkgInfo(info) {
		return p.binpkgFinalPath(f)
	}
	name := path.Base(f.Path)
	if layout.ValidName(name) != nil {
		return "", false
	}
	for _, f := range p.seedFrom.list() {
		if found, err := f.Find(name, nil); err == nil {
			return found, true
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", false
		}
	}
	return p.st.DistfilePath(name), true
}
