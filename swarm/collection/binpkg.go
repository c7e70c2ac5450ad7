package collection

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/anacrolix/torrent/metainfo"

	"github.com/distswarm/distswarm/manifest"
	"github.com/distswarm/distswarm/manifest/binpkg"
)

// Binary package collections (see the package doc, "Binary packages").
const (
	// DefaultBinpkgName is the default torrent name of a binpkg collection.
	DefaultBinpkgName = "binpkgs"
	// PackagesName is the path of a binpkg torrent's Packages index.
	PackagesName = "Packages"
	// BinpkgKind marks the index of a sharded binpkg collection.
	BinpkgKind = "binpkgs"
)

// BinpkgFiles are the two index files of one binpkg torrent.
type BinpkgFiles struct {
	Packages []byte // the Packages index of the torrent's packages
	Digests  []byte // its strong-digest index (Packages.digests)
	// Attestations are the attestation files of the torrent's packages,
	// sorted by path (the torrent lists them after the packages).
	Attestations []AttestationFile
}

// IsBinpkgInfo reports whether a torrent is a binpkg collection torrent:
// its files, pads aside, begin with a collection Manifest, then
// Packages.digests, then Packages. A distfile collection, sorted by path,
// can never list Packages.digests before Packages.
//
// It looks at the first few entries only: the storage asks it for every
// file of a torrent.
func IsBinpkgInfo(info *metainfo.Info) bool {
	want := []string{"", binpkg.DigestIndexName, PackagesName}
	i := 0
	for _, f := range info.Files { // a single-file torrent has none
		if strings.Contains(f.Attr, "p") {
			continue
		}
		if len(f.Path) != 1 {
			return false
		}
		if i == 0 && !isManifestName(f.Path[0]) || i > 0 && f.Path[0] != want[i] {
			return false
		}
		if i++; i == len(want) {
			return true
		}
	}
	return false
}

// IsBinpkgIndexFile reports whether a path inside a binpkg torrent is one
// of its index files (Packages or Packages.digests).
func IsBinpkgIndexFile(p string) bool {
	return p == PackagesName || p == binpkg.DigestIndexName
}

// CreateBinpkg builds a binpkg collection from the PKGDIR o.From: its
// packages at their PKGDIR paths, with per torrent the collection
// Manifest, Packages.digests and Packages. Entries of the PKGDIR's own
// Packages are reused when they match their file (SIZE, MD5, SHA1); other
// packages get the entry PackageFromFile builds. Name defaults to
// DefaultBinpkgName. Sharding and piece lengths follow Create, with a
// package's base name in place of the distfile name.
func CreateBinpkg(ctx context.Context, o CreateOptions) (*Collection, error) {
	if o.Name == "" {
		o.Name = DefaultBinpkgName
	}
	if err := checkCreateOptions(&o); err != nil {
		return nil, err
	}
	webseeds, err := normalizeWebseeds(o.Webseeds)
	if err != nil {
		return nil, err
	}
	pkgs, err := scanPKGDIR(ctx, o.From)
	if err != nil {
		return nil, err
	}
	if len(pkgs) == 0 {
		return nil, fmt.Errorf("create binpkg collection: no binary packages in %s", o.From)
	}
	src, err := readSourceIndex(o.From)
	if err != nil {
		return nil, err
	}
	rule := chooseRule(srcFilesOf(pkgs), o.PieceLength, o.MaxFilesPerTorrent)
	groups, keys, err := group(srcFilesOf(pkgs), rule)
	if err != nil {
		return nil, err
	}
	pls := pieceLengths(groups, keys, o.PieceLength, rule)
	if err := hashAll(ctx, groups, keys, pls, o.Progress, manifest.MD5, manifest.SHA1); err != nil {
		return nil, err
	}
	entries, err := packageEntries(ctx, o.From, pkgs, src)
	if err != nil {
		return nil, err
	}
	attDir := o.Attestations
	if attDir == "" {
		attDir = o.From
	}
	atts, err := readAttestations(attDir)
	if err != nil {
		return nil, err
	}
	c := &Collection{}
	if rule != nil {
		c.Index = &Index{Format: IndexFormat, Version: IndexVersion, Kind: BinpkgKind,
			Name: o.Name, Layout: "flat", ShardRule: *rule}
	}
	header := indexHeader(src, entries)
	for _, k := range keys {
		mi, files, sh, err := buildBinpkgTorrent(o.Name, groups[k], entries, atts, header, pls[k], webseeds, o.Trackers)
		if err != nil {
			return nil, err
		}
		c.Torrents = append(c.Torrents, mi)
		c.Manifests = append(c.Manifests, files.Digests)
		c.Binpkgs = append(c.Binpkgs, files)
		if c.Index != nil {
			sh.Key = k
			c.Index.Shards = append(c.Index.Shards, sh)
		}
	}
	return c, nil
}

// checkCreateOptions validates and completes the options Create and
// CreateBinpkg share.
func checkCreateOptions(o *CreateOptions) error {
	if err := checkComponent(o.Name); err != nil {
		return fmt.Errorf("collection name: %w", err)
	}
	if o.MaxFilesPerTorrent <= 0 {
		o.MaxFilesPerTorrent = DefaultMaxFilesPerTorrent
	}
	if o.MaxFilesPerTorrent > MaxFileEntries/2 {
		return fmt.Errorf("at most %d files per torrent, not %d", MaxFileEntries/2, o.MaxFilesPerTorrent)
	}
	if o.PieceLength != 0 && !validPieceLength(o.PieceLength) {
		return fmt.Errorf("piece length %d: want a power of two ≥ %d (the anacrolix chunk size)", o.PieceLength, MinPieceLength)
	}
	return nil
}

// srcPackage is one binpkg found in a PKGDIR.
type srcPackage struct {
	bp binpkg.Path
	f  *srcFile // name: the base name (shard key); tpath: the PKGDIR path
}

func srcFilesOf(pkgs []srcPackage) []*srcFile {
	out := make([]*srcFile, len(pkgs))
	for i, p := range pkgs {
		out[i] = p.f
	}
	return out
}

// scanPKGDIR returns the binpkgs of a PKGDIR sorted by path: regular files
// whose relative path is a binpkg path. Dot directories, Packages and
// anything else are skipped.
func scanPKGDIR(ctx context.Context, from string) ([]srcPackage, error) {
	var out []srcPackage
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("scan %s: %w", p, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			if p != from && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(from, p)
		if err != nil {
			return fmt.Errorf("scan %s: %w", p, err)
		}
		bp, err := binpkg.ParsePath(filepath.ToSlash(rel))
		if err != nil {
			return nil // not a binpkg (Packages, a stray file)
		}
		fi, err := d.Info()
		if err != nil {
			return fmt.Errorf("scan %s: %w", p, err)
		}
		out = append(out, srcPackage{bp: bp, f: &srcFile{name: path.Base(bp.String()), path: p, rel: bp.String(), tpath: bp.String(), size: fi.Size()}})
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b srcPackage) int { return strings.Compare(a.f.tpath, b.f.tpath) })
	return out, nil
}

// readSourceIndex reads the PKGDIR's own Packages, nil when it has none.
func readSourceIndex(from string) (*binpkg.Index, error) {
	f, err := os.Open(filepath.Join(from, PackagesName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("create binpkg collection: %w", err)
	}
	defer f.Close()
	ix, err := binpkg.ReadIndex(f)
	if err != nil {
		return nil, fmt.Errorf("create binpkg collection: %s: %w", f.Name(), err)
	}
	return ix, nil
}

// binpkgEntry is a package's Packages entry and digest index entry.
type binpkgEntry struct {
	pkg binpkg.Package
	dig binpkg.DigestEntry
}

// packageEntries makes each hashed package's digest index entry and finds
// its Packages entry: the source index's when it matches the file, else one
// built from the file's metadata.
func packageEntries(ctx context.Context, from string, pkgs []srcPackage, src *binpkg.Index) (map[binpkg.Path]binpkgEntry, error) {
	known := map[string]binpkg.Package{}
	if src != nil {
		for _, p := range src.Packages {
			known[p[binpkg.KeyPath]] = p
		}
	}
	out := make(map[binpkg.Path]binpkgEntry, len(pkgs))
	for _, sp := range pkgs {
		de := binpkg.DigestEntry{Path: sp.bp, Size: sp.f.size, Digests: sp.f.digests}
		p, err := binpkg.PackageFor(ctx, from, de, known[sp.bp.String()])
		if err != nil {
			return nil, err
		}
		out[sp.bp] = binpkgEntry{pkg: p, dig: de}
	}
	return out, nil
}

// indexHeader is the header of every torrent's Packages: the source
// index's without URI (it would send clients elsewhere), TIMESTAMP kept or
// else the newest BUILD_TIME, so the output depends on the PKGDIR only.
func indexHeader(src *binpkg.Index, entries map[binpkg.Path]binpkgEntry) map[string]string {
	h := map[string]string{}
	if src != nil {
		for k, v := range src.Header {
			h[k] = v
		}
	}
	delete(h, "URI")
	delete(h, binpkg.KeyPackages)
	if h[binpkg.KeyTimestamp] == "" {
		var newest int64
		for _, e := range entries {
			if t, err := strconv.ParseInt(e.pkg["BUILD_TIME"], 10, 64); err == nil && t > newest {
				newest = t
			}
		}
		h[binpkg.KeyTimestamp] = strconv.FormatInt(newest, 10)
	}
	return h
}

// binpkgIndexFiles writes the Packages and digest index of some packages.
func binpkgIndexFiles(files []*srcFile, entries map[binpkg.Path]binpkgEntry, header map[string]string) (BinpkgFiles, error) {
	ix := &binpkg.Index{Header: header}
	var digs []binpkg.DigestEntry
	for _, f := range files {
		bp, _ := binpkg.ParsePath(f.tpath) // scanPKGDIR parsed it
		e := entries[bp]
		ix.Packages = append(ix.Packages, e.pkg)
		digs = append(digs, e.dig)
	}
	var pb, db bytes.Buffer
	if err := ix.Write(&pb); err != nil {
		return BinpkgFiles{}, fmt.Errorf("create binpkg collection: %w", err)
	}
	dx, err := binpkg.NewDigestIndex(digs)
	if err != nil {
		return BinpkgFiles{}, fmt.Errorf("create binpkg collection: %w", err)
	}
	if err := dx.Write(&db); err != nil {
		return BinpkgFiles{}, fmt.Errorf("create binpkg collection: %w", err)
	}
	return BinpkgFiles{Packages: pb.Bytes(), Digests: db.Bytes()}, nil
}

// buildBinpkgTorrent assembles one binpkg torrent: Manifest (the digest
// index's bytes), Packages.digests, Packages, the packages by path, then
// their attestations by path.
func buildBinpkgTorrent(name string, files []*srcFile, entries map[binpkg.Path]binpkgEntry, atts map[string][]AttestationFile, header map[string]string, pl int64, webseeds, trackers []string) (*metainfo.MetaInfo, BinpkgFiles, Shard, error) {
	bf, err := binpkgIndexFiles(files, entries, header)
	if err != nil {
		return nil, BinpkgFiles{}, Shard{}, err
	}
	entriesOut := []torrentEntry{
		memEntry(ManifestName, bf.Digests, pl),
		memEntry(binpkg.DigestIndexName, bf.Digests, pl),
		memEntry(PackagesName, bf.Packages, pl),
	}
	var payload int64
	for _, f := range files {
		entriesOut = append(entriesOut, torrentEntry{strings.Split(f.tpath, "/"), f.size, f.ph})
		payload += f.size
	}
	attEntries, attFiles := attestationEntries(files, atts, pl)
	entriesOut = append(entriesOut, attEntries...)
	bf.Attestations = attFiles
	mi, err := assembleTorrent(name, entriesOut, pl, webseeds, trackers)
	if err != nil {
		return nil, BinpkgFiles{}, Shard{}, err
	}
	sh := Shard{InfoHash: mi.HashInfoBytes().HexString(), Manifest: ManifestName,
		Files: len(files), Bytes: payload, PieceLength: pl}
	return mi, bf, sh, nil
}

// memEntry hashes an in-memory file of the torrent.
func memEntry(p string, data []byte, pl int64) torrentEntry {
	h := newPieceHasher(pl)
	h.Write(data)
	return torrentEntry{path: []string{p}, size: int64(len(data)), ph: h.finish()}
}
