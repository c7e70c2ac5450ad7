package swarm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/anacrolix/torrent/metainfo"

	"github.com/distswarm/distswarm/manifest"
	"github.com/distswarm/distswarm/storage"
	"github.com/distswarm/distswarm/storage/layout"
	"github.com/distswarm/distswarm/swarm/collection"
)

// UnknownSize marks an authority entry whose size is not known (Portage's
// ${DIGESTS} carries hashes only): only the hashes are checked.
const UnknownSize = -1

// Authority is what files must be: distfile name → expected size and
// digests, from the user's Manifests, an ebuild repository, Portage's
// ${DIGESTS}, or (only when the user trusts it) a collection's own Manifest.
// It is safe for concurrent use.
type Authority struct {
	mu       sync.RWMutex
	entries  map[string]manifest.Entry
	sources  []string
	watchers map[int]func() // called after a source was added (watch)
	nextID   int
}

// NewAuthority returns an empty authority.
func NewAuthority() *Authority {
	return &Authority{entries: map[string]manifest.Entry{}}
}

// add records e under its name. A name the authority already knows with a
// different size or a differing common hash is an error: two authorities
// that disagree cannot both be right.
func (a *Authority) add(e manifest.Entry) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if old, ok := a.entries[e.Path]; ok {
		if err := compatible(old, e); err != nil {
			return err
		}
		merged := manifest.Digests{}
		for k, v := range old.Digests {
			merged[k] = v
		}
		for k, v := range e.Digests {
			merged[k] = v
		}
		if old.Size == UnknownSize {
			old.Size = e.Size
		}
		old.Digests = merged
		a.entries[e.Path] = old
		return nil
	}
	a.entries[e.Path] = e
	return nil
}

func compatible(a, b manifest.Entry) error {
	if a.Size != UnknownSize && b.Size != UnknownSize && a.Size != b.Size {
		return fmt.Errorf("%s: size %d at %s disagrees with size %d at %s", a.Path, a.Size, a.Pos, b.Size, b.Pos)
	}
	for k, v := range a.Digests {
		if w, ok := b.Digests[k]; ok && w != v {
			return fmt.Errorf("%s: %s at %s disagrees with %s", a.Path, k, a.Pos, b.Pos)
		}
	}
	return nil
}

// AddManifest adds every DIST entry of a Manifest file.
func (a *Authority) AddManifest(p string) error {
	m, err := manifest.ParseFile(p)
	if err != nil {
		return err
	}
	for _, e := range m.Dist() {
		if err := a.add(e); err != nil {
			return fmt.Errorf("authority: %w", err)
		}
	}
	a.note(p)
	return nil
}

// AddRepo adds the DIST entries of every package Manifest of an ebuild
// repository. Names whose digests disagree between packages are returned
// as conflicts and left out: such a file cannot be verified.
func (a *Authority) AddRepo(ctx context.Context, root string) ([]manifest.Conflict, error) {
	idx, err := manifest.LoadRepo(ctx, root)
	if err != nil {
		return nil, fmt.Errorf("load repository %s: %w", root, err)
	}
	bad := map[string]bool{}
	for _, c := range idx.Conflicts {
		bad[c.Name] = true
	}
	for name, e := range idx.Dist {
		if bad[name] {
			continue
		}
		if err := a.add(e); err != nil {
			return nil, fmt.Errorf("authority: %w", err)
		}
	}
	a.note(root)
	return idx.Conflicts, nil
}

// AddDigests adds one file known by Portage's ${DIGESTS} string
// ("blake2b:<hex> sha512:<hex>"); its size is unknown.
func (a *Authority) AddDigests(name, digests string) error {
	d, err := manifest.ParseDigestsArg(digests)
	if err != nil {
		return fmt.Errorf("--digests: %w", err)
	}
	if len(d) == 0 {
		return fmt.Errorf("--digests: no digest given")
	}
	if err := a.add(manifest.Entry{Tag: "DIST", Path: name, Size: UnknownSize, Digests: d, Pos: manifest.Position{File: "--digests"}}); err != nil {
		return err
	}
	a.note("--digests")
	return nil
}

// note records a source whose entries were added and tells the watchers.
func (a *Authority) note(src string) {
	a.mu.Lock()
	a.sources = append(a.sources, src)
	watchers := make([]func(), 0, len(a.watchers))
	for _, w := range a.watchers {
		watchers = append(watchers, w)
	}
	a.mu.Unlock()
	for _, w := range watchers {
		w()
	}
}

// watch calls learnt after each source of entries is added, until stop.
func (a *Authority) watch(learnt func()) (stop func()) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.watchers == nil {
		a.watchers = map[int]func(){}
	}
	id := a.nextID
	a.nextID++
	a.watchers[id] = learnt
	return func() {
		a.mu.Lock()
		delete(a.watchers, id)
		a.mu.Unlock()
	}
}

// Lookup returns the expected entry of a distfile.
func (a *Authority) Lookup(name string) (manifest.Entry, bool) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	e, ok := a.entries[name]
	return e, ok
}

// Len is the number of distfiles the authority knows.
func (a *Authority) Len() int {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return len(a.entries)
}

// Names lists the distfiles the authority knows.
func (a *Authority) Names() []string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	names := make([]string, 0, len(a.entries))
	for n := range a.entries {
		names = append(names, n)
	}
	return names
}

// VerifyFile checks the file at p against the authority's entry for name:
// its size and one hash that alone is enough to trust it (BLAKE2B when the
// entry has it, else SHA512…; see manifest.OneSufficient), so the file is
// read and hashed once. An entry of unknown size is checked by that hash
// alone.
func (a *Authority) VerifyFile(ctx context.Context, name, p string) error {
	want, ok := a.Lookup(name)
	if !ok {
		return fmt.Errorf("%s: %w", name, storage.ErrNoAuthority)
	}
	if want.Size == UnknownSize {
		st, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("verify %s: %w", name, err)
		}
		want.Size = st.Size()
	}
	_, err := manifest.VerifyFile(ctx, p, manifest.OneSufficient(want))
	return err
}

// isCollectionManifest reports whether a torrent-internal path is the
// collection Manifest at the torrent root.
func isCollectionManifest(p string) bool {
	return p == collection.ManifestName || (len(p) > len(collection.ManifestName) && p[:len(collection.ManifestName)+1] == collection.ManifestName+".")
}

// trustCollectionManifest adds the DIST entries of a collection Manifest
// (already verified against its torrent's piece hashes) to the authority.
func (a *Authority) trustCollectionManifest(p string, ih metainfo.Hash) error {
	m, err := manifest.ParseFile(p)
	if err != nil {
		return fmt.Errorf("collection %s: %w", ih.HexString(), err)
	}
	for _, e := range m.Dist() {
		if err := a.add(e); err != nil {
			return fmt.Errorf("collection %s disagrees with your authority: %w", ih.HexString(), err)
		}
	}
	a.note("collection " + ih.HexString())
	return nil
}

var errNotInCollections = errors.New("not in any collection")

// AddEntry adds one DIST entry, e.g. one a client sent over the control
// API; src names where it came from.
func (a *Authority) AddEntry(e manifest.Entry, src string) error {
	if err := layout.ValidName(e.Path); err != nil {
		return err
	}
	if len(e.Digests) == 0 {
		return fmt.Errorf("%s: entry from %s has no digests", e.Path, src)
	}
	e.Tag = "DIST"
	e.Pos = manifest.Position{File: src}
	if err := a.add(e); err != nil {
		return err
	}
	a.note(src)
	return nil
}

// Subset returns the entries of the names the authority knows.
func (a *Authority) Subset(names []string) []manifest.Entry {
	a.mu.RLock()
	defer a.mu.RUnlock()
	var out []manifest.Entry
	for _, n := range names {
		if e, ok := a.entries[n]; ok {
			out = append(out, e)
		}
	}
	return out
}

// All returns every entry the authority knows.
func (a *Authority) All() []manifest.Entry {
	a.mu.RLock()
	defer a.mu.RUnlock()
	out := make([]manifest.Entry, 0, len(a.entries))
	for _, e := range a.entries {
		out = append(out, e)
	}
	return out
}
