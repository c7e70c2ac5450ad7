package binpkg

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// BuildKey is the build-configuration key attestations name and trust
// evaluation compares: the Digest of BuildConfigFromPackage(header, p),
// "sha256:" and 64 hex digits. It covers the CPV, USE and CHOST of the
// Packages entry and ARCH and PROFILE of the index header when present,
// so a builder attesting its PKGDIR (distswarm attest) and a node judging
// a collection's Packages entry derive the same key from the same entry.
func BuildKey(header map[string]string, p Package) (string, error) {
	bc, err := BuildConfigFromPackage(header, p)
	if err != nil {
		return "", fmt.Errorf("build key of %s: %w", p[KeyPath], err)
	}
	return bc.Digest(), nil
}

// PackageFor returns the Packages entry of the package de describes, at
// de.Path under pkgdir: known (the PKGDIR's own entry, may be nil) when it
// matches the file (DigestEntry.CheckPackage), else the entry
// PackageFromFile builds from the file's metadata.
func PackageFor(ctx context.Context, pkgdir string, de DigestEntry, known Package) (Package, error) {
	if known != nil && de.CheckPackage(known) == nil {
		return known, nil
	}
	fh, err := os.Open(filepath.Join(pkgdir, filepath.FromSlash(de.Path.String())))
	if err != nil {
		return nil, fmt.Errorf("package entry: %w", err)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("package entry: %w", err)
	}
	md, _, err := ReadMetadata(ctx, fh, fi.Size())
	if err != nil {
		return nil, fmt.Errorf("package entry for %s: %w", de.Path, err)
	}
	return PackageFromFile(FileInfo{Path: de.Path, Size: de.Size,
		MD5: de.Digests["MD5"], SHA1: de.Digests["SHA1"], MTime: fi.ModTime().Unix(), Metadata: md})
}
