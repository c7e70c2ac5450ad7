package swarm

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/anacrolix/torrent/metainfo"

	"github.com/distswarm/distswarm/manifest"
	"github.com/distswarm/distswarm/manifest/attest"
	"github.com/distswarm/distswarm/manifest/binpkg"
	"github.com/distswarm/distswarm/storage"
	"github.com/distswarm/distswarm/storage/layout"
	"github.com/distswarm/distswarm/swarm/collection"
)

// Binary packages travel through the same pipeline as distfiles. What a
// fetch asks for is a name: a distfile name, which never contains '/', or
// a binpkg's PKGDIR path (category/PN/PF-BUILD_ID.gpkg.tar, ...), which
// always does. In a binpkg collection torrent (collection.IsBinpkgInfo)
// packages are known by path, verified against the authority's entry for
// that path, and placed at STORE/binpkgs/<path>; the torrent's Packages
// and Packages.digests are kept beside the torrent in STORE/collections.

// isBinpkgName reports whether a fetch name is a PKGDIR path.
func isBinpkgName(name string) bool { return strings.Contains(name, "/") }

// BinpkgsDir is the store's PKGDIR of fetched binary packages.
func (s *Store) BinpkgsDir() string { return s.tree().Binpkgs() }

// BinpkgPath is where the package at PKGDIR path p lives in the store.
func (s *Store) BinpkgPath(p binpkg.Path) string {
	return filepath.Join(s.BinpkgsDir(), filepath.FromSlash(p.String()))
}

// findName returns the path of a distfile or binpkg present in the store.
func (s *Store) findName(name string) (string, error) {
	return s.findNameWith(nil, name)
}

// findNames returns findName for a batch of n lookups: from n on
// bulkFindFrom, distfiles are looked up in directory listings read once
// (layout.Finder.WithIndex) instead of with a stat per candidate path.
func (s *Store) findNames(n int) func(name string) (string, error) {
	if n < bulkFindFrom || s.finder == nil {
		return s.findName
	}
	f := s.finder.WithIndex()
	return func(name string) (string, error) { return s.findNameWith(f, name) }
}

// bulkFindFrom: see findNames. A fetch of 5,000 new files made 15,000
// failing stat calls before its first request (three layouts per name).
const bulkFindFrom = 64

func (s *Store) findNameWith(f *layout.Finder, name string) (string, error) {
	if !isBinpkgName(name) {
		if f != nil {
			return f.Find(name, nil)
		}
		return s.Find(name)
	}
	bp, err := binpkg.ParsePath(name)
	if err != nil {
		return "", err
	}
	p := s.BinpkgPath(bp)
	if _, err := os.Stat(p); err != nil {
		return "", err
	}
	return p, nil
}

// BinpkgIndexPath is where the store keeps a binpkg torrent's Packages
// (digests=false) or Packages.digests (digests=true).
func (s *Store) BinpkgIndexPath(ih string, digests bool) string {
	if digests {
		return filepath.Join(s.collectionsDir(), ih+"."+binpkg.DigestIndexName)
	}
	return filepath.Join(s.collectionsDir(), ih+"."+collection.PackagesName)
}

// RememberBinpkgFiles stores a binpkg torrent's index files where the
// storage places them, so a seeder serves them without fetching them.
func (s *Store) RememberBinpkgFiles(ih string, f collection.BinpkgFiles) error {
	for _, x := range []struct {
		data    []byte
		digests bool
	}{{f.Packages, false}, {f.Digests, true}} {
		p := s.BinpkgIndexPath(ih, x.digests)
		if _, err := os.Stat(p); err == nil {
			continue
		}
		if err := layout.WriteFileAtomic(p, x.data); err != nil {
			return fmt.Errorf("remember binpkg collection %s: %w", ih, err)
		}
	}
	for _, a := range f.Attestations {
		p, ok := s.BinpkgAttestationPath(ih, a.Path)
		if !ok {
			return fmt.Errorf("remember binpkg collection %s: bad attestation path %q", ih, a.Path)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("remember binpkg collection %s: %w", ih, err)
		}
		if err := layout.WriteFileAtomic(p, a.Data); err != nil {
			return fmt.Errorf("remember binpkg collection %s: %w", ih, err)
		}
	}
	return nil
}

// BinpkgAttestationPath is where the store keeps the attestation file at
// rel (attestations/…) of binpkg torrent ih: under
// STORE/collections/<ih>.attestations/<key>/<PKGDIR path>.attestation. ok is false for a path that is not
// a safe attestation path.
func (s *Store) BinpkgAttestationPath(ih, rel string) (string, bool) {
	if !attest.IsAttestationPath(rel) || attest.CheckPath(rel) != nil {
		return "", false
	}
	return filepath.Join(s.collectionsDir(), ih+"."+attest.Dir, filepath.FromSlash(strings.TrimPrefix(rel, attest.Dir+"/"))), true
}

// binpkgFinalPath places a file of a binpkg torrent: index files beside
// the torrent, packages found in a seed root (a published PKGDIR) where
// they are, else in STORE/binpkgs.
func (p storePlacement) binpkgFinalPath(f storage.FileRef) (string, bool) {
	ih := f.InfoHash.HexString()
	if collection.IsBinpkgIndexFile(f.Path) {
		return p.st.BinpkgIndexPath(ih, f.Path == binpkg.DigestIndexName), true
	}
	if attest.IsAttestationPath(f.Path) {
		return p.st.BinpkgAttestationPath(ih, f.Path)
	}
	bp, err := binpkg.ParsePath(f.Path)
	if err != nil {
		return "", false
	}
	for _, root := range p.seedFrom.dirList() {
		cand := filepath.Join(root, filepath.FromSlash(bp.String()))
		if _, err := os.Stat(cand); err == nil {
			return cand, true
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", false
		}
	}
	return p.st.BinpkgPath(bp), true
}

// dirList returns the seed roots' directories.
func (r *seedRoots) dirList() []string {
	if r == nil {
		return nil
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.dirs
}

// binpkgsOf maps the package paths of a binpkg torrent to file indices.
func binpkgsOf(info *metainfo.Info) map[string]int {
	out := map[string]int{}
	for i, f := range info.UpvertedFiles() {
		if strings.Contains(f.Attr, "p") || len(f.Path) < 2 {
			continue
		}
		if bp, err := binpkg.ParsePath(strings.Join(f.Path, "/")); err == nil {
			out[bp.String()] = i
		}
	}
	return out
}

// binpkgTorrents is the set of binpkg torrents a node's verifier knows
// (the storage hands it a file reference, not the torrent's info).
type binpkgTorrents struct {
	mu  sync.RWMutex
	set map[metainfo.Hash]bool
}

func (b *binpkgTorrents) note(ih metainfo.Hash, info *metainfo.Info) {
	if !collection.IsBinpkgInfo(info) {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.set == nil {
		b.set = map[metainfo.Hash]bool{}
	}
	b.set[ih] = true
}

func (b *binpkgTorrents) has(ih metainfo.Hash) bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.set[ih]
}

// AddBinpkgDigests adds every package of a strong-digest index, keyed by
// its PKGDIR path, with the four hashes the index carries (Portage's MD5
// and SHA1 among them). src names the index in messages.
func (a *Authority) AddBinpkgDigests(dx *binpkg.DigestIndex, src string) error {
	for _, e := range dx.Entries() {
		me := e.ManifestEntry()
		me.Pos = manifest.Position{File: src}
		if err := a.add(me); err != nil {
			return fmt.Errorf("authority: %w", err)
		}
	}
	a.note(src)
	return nil
}

// RefreshBinpkgIndex rewrites STORE/binpkgs/Packages so the directory is a
// PKGDIR Portage can use as a binhost: the entries it had whose file is
// still there with its SIZE, plus added (which replace entries of the same
// path), under header without URI and with TIMESTAMP now. Concurrent
// refreshes are not merged: the last one written wins.
func (s *Store) RefreshBinpkgIndex(added []binpkg.Package, header map[string]string) error {
	p := filepath.Join(s.BinpkgsDir(), collection.PackagesName)
	var keep []binpkg.Package
	if old, err := readIndexFile(p); err == nil {
		for _, e := range old.Packages {
			if s.holdsPackage(e) {
				keep = append(keep, e)
			}
		}
		if header == nil {
			header = old.Header
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("refresh %s: %w", p, err)
	}
	h := maps.Clone(header)
	if h == nil {
		h = map[string]string{}
	}
	delete(h, "URI")
	h[binpkg.KeyTimestamp] = strconv.FormatInt(time.Now().Unix(), 10)
	ix, err := binpkg.MergeIndexes(h, &binpkg.Index{Packages: added}, &binpkg.Index{Packages: dropPaths(keep, added)})
	if err != nil {
		return fmt.Errorf("refresh %s: %w", p, err)
	}
	var buf bytes.Buffer
	if err := ix.Write(&buf); err != nil {
		return fmt.Errorf("refresh %s: %w", p, err)
	}
	if err := os.MkdirAll(s.BinpkgsDir(), 0o777); err != nil {
		return fmt.Errorf("refresh %s: %w", p, err)
	}
	if err := layout.WriteFileAtomic(p, buf.Bytes()); err != nil {
		return fmt.Errorf("refresh %s: %w", p, err)
	}
	return nil
}

// holdsPackage reports whether the store has an entry's file, of its SIZE.
func (s *Store) holdsPackage(e binpkg.Package) bool {
	bp, err := e.Path()
	if err != nil {
		return false
	}
	size, err := e.Size()
	if err != nil {
		return false
	}
	fi, err := os.Stat(s.BinpkgPath(bp))
	return err == nil && fi.Mode().IsRegular() && fi.Size() == size
}

// dropPaths returns the entries of old whose PATH no entry of added has.
func dropPaths(old, added []binpkg.Package) []binpkg.Package {
	seen := map[string]bool{}
	for _, e := range added {
		seen[e[binpkg.KeyPath]] = true
	}
	var out []binpkg.Package
	for _, e := range old {
		if !seen[e[binpkg.KeyPath]] {
			out = append(out, e)
		}
	}
	return out
}

func readIndexFile(p string) (*binpkg.Index, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return binpkg.ReadIndex(f)
}
