package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/distswarm/distswarm/manifest"
	"github.com/distswarm/distswarm/manifest/binpkg"
)

// pkgdirIndex is a PKGDIR's own Packages, by path: the entries attest and
// trust derive build keys from (binpkg.BuildKey), as a node does from a
// collection made of the same PKGDIR.
type pkgdirIndex struct {
	dir    string
	header map[string]string // nil without Packages
	byPath map[string]binpkg.Package
}

func readPkgdirIndex(dir string) (pkgdirIndex, error) {
	px := pkgdirIndex{dir: dir, byPath: map[string]binpkg.Package{}}
	f, err := os.Open(filepath.Join(dir, "Packages"))
	if errors.Is(err, fs.ErrNotExist) {
		return px, nil
	}
	if err != nil {
		return px, fmt.Errorf("read PKGDIR index: %w", err)
	}
	defer f.Close()
	ix, err := binpkg.ReadIndex(f)
	if err != nil {
		return px, fmt.Errorf("%s: %w", f.Name(), err)
	}
	px.header = ix.Header
	for _, p := range ix.Packages {
		px.byPath[p[binpkg.KeyPath]] = p
	}
	return px, nil
}

// digest hashes the package at rel with every hash of a digest index.
func (px pkgdirIndex) digest(ctx context.Context, rel string) (int64, manifest.Digests, error) {
	d, n, err := manifest.SumFile(ctx, filepath.Join(px.dir, filepath.FromSlash(rel)), binpkg.DigestHashes)
	if err != nil {
		return 0, nil, fmt.Errorf("hash %s: %w", rel, err)
	}
	return n, d, nil
}

// buildKey derives the build key of the package at rel (of that size and
// those digests) from its Packages entry: the PKGDIR's when it matches the
// file, else the one Portage would write from its metadata.
func (px pkgdirIndex) buildKey(ctx context.Context, rel string, size int64, d manifest.Digests) (string, error) {
	bp, err := binpkg.ParsePath(rel)
	if err != nil {
		return "", fmt.Errorf("build key: %w (give --build-key)", err)
	}
	pkg, err := binpkg.PackageFor(ctx, px.dir, binpkg.DigestEntry{Path: bp, Size: size, Digests: d}, px.byPath[rel])
	if err != nil {
		return "", fmt.Errorf("build key: %w (give --build-key)", err)
	}
	return binpkg.BuildKey(px.header, pkg)
}
