package binpkg

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/distswarm/distswarm/manifest"
)

// DigestIndexName is the conventional file name of a digest index beside
// Packages in a published PKGDIR.
const DigestIndexName = "Packages.digests"

// DigestHashes are the hashes a digest index carries for every package:
// the strong pair distswarm verifies with, and the two Portage's Packages
// index and BinpkgVerifier use.
var DigestHashes = []string{manifest.BLAKE2B, manifest.SHA512, manifest.MD5, manifest.SHA1}

// DigestEntry is one package of a digest index.
type DigestEntry struct {
	Path    Path
	Size    int64
	Digests manifest.Digests // every name in DigestHashes, lowercase hex
}

// ManifestEntry is the entry as a GLEP 74 DATA entry, for
// manifest.VerifyFile and manifest.VerifyReader.
func (e DigestEntry) ManifestEntry() manifest.Entry {
	return manifest.Entry{Tag: manifest.TagDATA, Path: e.Path.String(), Size: e.Size, Digests: e.Digests}
}

// CheckPackage reports whether a Packages entry describes the same file:
// same PATH, SIZE, MD5 and SHA1.
func (e DigestEntry) CheckPackage(p Package) error {
	if p[KeyPath] != e.Path.String() {
		return fmt.Errorf("package %s: PATH %q, digest index has %s", p[KeyCPV], p[KeyPath], e.Path)
	}
	if p[KeySize] != strconv.FormatInt(e.Size, 10) {
		return fmt.Errorf("package %s: SIZE %q, digest index has %d", e.Path, p[KeySize], e.Size)
	}
	for _, h := range []string{manifest.MD5, manifest.SHA1} {
		if !strings.EqualFold(p[h], e.Digests[h]) {
			return fmt.Errorf("package %s: %s %q, digest index has %s", e.Path, h, p[h], e.Digests[h])
		}
	}
	return nil
}

// DigestIndex lists strong digests for the binpkgs of a PKGDIR. Its text
// form is a GLEP 74 Manifest of DATA entries, one per package, sorted by
// path: "DATA cat/pn/pf-1.gpkg.tar SIZE BLAKE2B … MD5 … SHA1 … SHA512 …".
// A DigestIndex is immutable and safe for concurrent use.
type DigestIndex struct {
	entries []DigestEntry // sorted by path
	byPath  map[Path]int
}

// NewDigestIndex validates entries (a valid path, a size and every one of
// DigestHashes, nothing else) and indexes them by path; a path may appear
// once.
func NewDigestIndex(entries []DigestEntry) (*DigestIndex, error) {
	x := &DigestIndex{
		entries: slices.SortedFunc(slices.Values(entries), compareDigestEntries),
		byPath:  make(map[Path]int, len(entries)),
	}
	for i, e := range x.entries {
		if err := checkDigestEntry(e); err != nil {
			return nil, fmt.Errorf("digest index: %w", err)
		}
		if _, dup := x.byPath[e.Path]; dup {
			return nil, fmt.Errorf("digest index: %s twice", e.Path)
		}
		x.byPath[e.Path] = i
	}
	return x, nil
}

// Entries returns the entries sorted by path (a copy).
func (x *DigestIndex) Entries() []DigestEntry { return slices.Clone(x.entries) }

// Len is the number of packages.
func (x *DigestIndex) Len() int { return len(x.entries) }

// Lookup finds the entry for a path.
func (x *DigestIndex) Lookup(p Path) (DigestEntry, bool) {
	i, ok := x.byPath[p]
	if !ok {
		return DigestEntry{}, false
	}
	return x.entries[i], true
}

func compareDigestEntries(a, b DigestEntry) int { return cmp.Compare(a.Path.String(), b.Path.String()) }

// Write writes the index deterministically: entries sorted by path,
// hashes sorted by name.
func (x *DigestIndex) Write(w io.Writer) error {
	bw := bufio.NewWriter(w)
	for _, e := range x.entries {
		if _, err := bw.WriteString(e.ManifestEntry().String() + "\n"); err != nil {
			return fmt.Errorf("write digest index: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write digest index: %w", err)
	}
	return nil
}

// ComputeDigestEntry hashes the package at pkgdir/p once for all of
// DigestHashes.
func ComputeDigestEntry(ctx context.Context, pkgdir string, p Path) (DigestEntry, error) {
	d, n, err := manifest.SumFile(ctx, filepath.Join(pkgdir, filepath.FromSlash(p.String())), DigestHashes)
	if err != nil {
		return DigestEntry{}, fmt.Errorf("digest %s: %w", p, err)
	}
	return DigestEntry{Path: p, Size: n, Digests: d}, nil
}

func checkDigestEntry(e DigestEntry) error {
	if e.Path.IsZero() || e.Size < 0 {
		return fmt.Errorf("entry %q: no path or negative size", e.Path)
	}
	for _, h := range DigestHashes {
		if len(e.Digests[h]) != 2*manifest.DigestSize(h) {
			return fmt.Errorf("%s: no valid %s", e.Path, h)
		}
	}
	if len(e.Digests) != len(DigestHashes) {
		return fmt.Errorf("%s: hashes other than %v", e.Path, DigestHashes)
	}
	return nil
}

// ReadDigestIndex parses a digest index with the manifest package's
// parser (and its bounds): only DATA entries, each with a valid binpkg
// path and every one of DigestHashes; a path listed twice with different
// data is an error (the same data twice is merged, as GLEP 74 says).
func ReadDigestIndex(r io.Reader) (*DigestIndex, error) {
	m, err := manifest.Parse(r, DigestIndexName)
	if err != nil {
		return nil, fmt.Errorf("read digest index: %w", err)
	}
	entries := make([]DigestEntry, 0, len(m.Entries))
	for _, me := range m.Entries {
		if me.Tag != manifest.TagDATA {
			return nil, fmt.Errorf("read digest index: %s: %s entry", me.Pos, me.Tag)
		}
		p, err := ParsePath(me.Path)
		if err != nil {
			return nil, fmt.Errorf("read digest index: %s: %w", me.Pos, err)
		}
		e := DigestEntry{Path: p, Size: me.Size, Digests: me.Digests}
		if err := checkDigestEntry(e); err != nil {
			return nil, fmt.Errorf("read digest index: %s: %w", me.Pos, err)
		}
		entries = append(entries, e)
	}
	x, err := NewDigestIndex(entries)
	if err != nil {
		return nil, fmt.Errorf("read %w", err)
	}
	return x, nil
}
