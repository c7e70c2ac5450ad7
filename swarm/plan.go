package swarm

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/anacrolix/torrent/metainfo"

	"github.com/distswarm/distswarm/swarm/collection"
)

// candidate is one torrent file that may provide a distfile.
type candidate struct {
	mi    *metainfo.MetaInfo
	ih    metainfo.Hash // mi.HashInfoBytes(), computed once
	index int
}

// want tracks one requested distfile.
type want struct {
	name  string
	cands []candidate
	cur   *candidate
	done  bool
	res   FileResult
}

func (w *want) finish(o Outcome, p string, err error) {
	w.done = true
	w.res.Outcome, w.res.Path, w.res.Err = o, p, err
}

// torrentIndex caches what planning needs per torrent: the infohash (a
// SHA-1 over the whole info dict, over 1 MB for a 1 GiB collection of
// small pieces), the checked info and its distfile names.
type torrentIndex struct {
	ihs   map[*metainfo.MetaInfo]metainfo.Hash
	infos map[metainfo.Hash]*metainfo.Info
	files map[*metainfo.Info]map[string]int
}

func newTorrentIndex() *torrentIndex {
	return &torrentIndex{
		ihs:   map[*metainfo.MetaInfo]metainfo.Hash{},
		infos: map[metainfo.Hash]*metainfo.Info{},
		files: map[*metainfo.Info]map[string]int{},
	}
}

func (x *torrentIndex) ih(mi *metainfo.MetaInfo) metainfo.Hash {
	ih, ok := x.ihs[mi]
	if !ok {
		ih = mi.HashInfoBytes()
		x.ihs[mi] = ih
	}
	return ih
}

// distfiles returns mi's distfile names → file indices. The info is
// checked as collection.Load checks it before any name is used.
func (x *torrentIndex) distfiles(mi *metainfo.MetaInfo) (map[string]int, error) {
	ih := x.ih(mi)
	info, ok := x.infos[ih]
	if !ok {
		var err error
		info, err = collection.ParseInfo(mi.InfoBytes)
		if err != nil {
			return nil, fmt.Errorf("torrent %s: %w", ih.HexString(), err)
		}
		x.infos[ih] = info
	}
	m, ok := x.files[info]
	if !ok {
		m = distfilesOf(info)
		x.files[info] = m
	}
	return m, nil
}

// planFetch resolves the wanted names (or every distfile, with all) to
// the torrent files that may provide each, in name order. It is pure: no
// network, no store.
func planFetch(colls []*collection.Collection, names []string, all bool, auth *Authority) ([]*want, error) {
	x := newTorrentIndex()
	names = slices.Clone(names)
	if all {
		more, err := allNames(x, colls)
		if err != nil {
			return nil, err
		}
		names = append(names, more...)
	}
	sort.Strings(names)
	names = slices.Compact(names)
	wants := make([]*want, 0, len(names))
	for _, n := range names {
		w := &want{name: n, res: FileResult{Name: n}}
		size := int64(UnknownSize)
		if e, ok := auth.Lookup(n); ok {
			size = e.Size
		}
		for _, c := range colls {
			for _, mi := range torrentsFor(c, n, size) {
				files, err := x.distfiles(mi)
				if err != nil {
					return nil, err
				}
				if idx, ok := files[n]; ok {
					w.cands = append(w.cands, candidate{mi: mi, ih: x.ih(mi), index: idx})
				}
			}
		}
		wants = append(wants, w)
	}
	return wants, nil
}

func allNames(x *torrentIndex, colls []*collection.Collection) ([]string, error) {
	var out []string
	for _, c := range colls {
		for _, mi := range c.Torrents {
			files, err := x.distfiles(mi)
			if err != nil {
				return nil, err
			}
			for n := range files {
				out = append(out, n)
			}
		}
	}
	return out, nil
}

// distfilesOf maps distfile names to file indices of a collection torrent
// (pads and the collection Manifest excluded); for a binpkg torrent, the
// package paths (see isBinpkgName).
func distfilesOf(info *metainfo.Info) map[string]int {
	if collection.IsBinpkgInfo(info) {
		return binpkgsOf(info)
	}
	out := map[string]int{}
	i := -1
	for f := range info.UpvertedFilesIter() { // UpvertedFiles would copy the list
		i++
		if strings.Contains(f.Attr, "p") || len(f.Path) == 0 {
			continue
		}
		p := strings.Join(f.Path, "/")
		if isCollectionManifest(p) {
			continue
		}
		name := path.Base(p)
		if _, dup := out[name]; !dup {
			out[name] = i
		}
	}
	return out
}

// torrentsFor returns the torrents of c that may hold the distfile. With an
// unknown size both size classes of a sharded collection are candidates.
// Binpkg collections shard by the package's base name.
func torrentsFor(c *collection.Collection, name string, size int64) []*metainfo.MetaInfo {
	name = path.Base(name)
	if size != UnknownSize {
		if mi, err := c.TorrentFor(name, size); err == nil {
			return []*metainfo.MetaInfo{mi}
		}
		return nil
	}
	if len(c.Torrents) == 1 {
		return c.Torrents
	}
	var out []*metainfo.MetaInfo
	for _, sz := range []int64{0, 1 << 62} {
		// TorrentFor returns the collection's own *MetaInfo, so pointer
		// equality is torrent identity (no info dict hashing per name).
		if mi, err := c.TorrentFor(name, sz); err == nil && !slices.Contains(out, mi) {
			out = append(out, mi)
		}
	}
	return out
}
