package swarm

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"strconv"
	"time"

	"github.com/anacrolix/torrent/metainfo"

	"github.com/distswarm/distswarm/manifest/binpkg"
	"github.com/distswarm/distswarm/swarm/collection"
)

// The gateway's binhost: /binpkgs/Packages is the merged index of the
// binpkg collections the store knows, /binpkgs/<PKGDIR path> their
// packages, from STORE/binpkgs or else fetched from the swarm, verified
// against the collection's Packages.digests before a byte is served. With
// a trust file (GatewaySource.Trust) only the packages it accepts are
// listed and served (binpkgtrust.go); without one the daemon trusts the
// collections its store was given, whose digest indexes are unsigned, and
// says UNVERIFIED.

// binpkgIndexTimeout bounds fetching a known collection's index files for
// the gateway.
const binpkgIndexTimeout = 30 * time.Second

// BinpkgIndex returns the Packages index the gateway serves and its
// modification time: the packages of every binpkg collection the store
// knows whose Packages entry agrees with Packages.digests, under the first
// collection's header without URI (clients would go around the gateway),
// with TIMESTAMP the newest of the collections' (Last-Modified).
func (g GatewaySource) BinpkgIndex(ctx context.Context) ([]byte, time.Time, error) {
	srcs, err := g.Node.knownBinpkgSources(ctx)
	if err != nil {
		return nil, time.Time{}, err
	}
	header := map[string]string{}
	var newest int64
	var idxs []*binpkg.Index
	judge := g.judgeFor(srcs)
	for i, s := range srcs {
		if i == 0 {
			header = maps.Clone(s.packages.Header)
		}
		if t, err := strconv.ParseInt(s.packages.Header[binpkg.KeyTimestamp], 10, 64); err == nil && t > newest {
			newest = t
		}
		idxs = append(idxs, &binpkg.Index{Packages: judge.listable(g.Node, s, consistentPackages(s))})
	}
	delete(header, "URI")
	header[binpkg.KeyTimestamp] = strconv.FormatInt(newest, 10)
	ix, err := binpkg.MergeIndexes(header, idxs...)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("binhost index: %w", err)
	}
	var buf bytes.Buffer
	if err := ix.Write(&buf); err != nil {
		return nil, time.Time{}, fmt.Errorf("binhost index: %w", err)
	}
	return buf.Bytes(), time.Unix(newest, 0), nil
}

// consistentPackages returns the entries of s that its digest index backs.
func consistentPackages(s binpkgSource) []binpkg.Package {
	var out []binpkg.Package
	for _, p := range s.packages.Packages {
		if checkAgainstDigests(p, s) == nil {
			out = append(out, p)
		}
	}
	return out
}

// Binpkg returns the path in the store of the verified package at PKGDIR
// path rel, fetching it from the swarm first when missing. It wraps
// fs.ErrNotExist when no known collection lists it.
func (g GatewaySource) Binpkg(ctx context.Context, rel string) (string, error) {
	bp, err := binpkg.ParsePath(rel)
	if err != nil {
		return "", fmt.Errorf("%s: %w", rel, fs.ErrNotExist)
	}
	srcs, err := g.Node.knownBinpkgSources(ctx)
	if err != nil {
		return "", err
	}
	auth := NewAuthority()
	var colls []*collection.Collection
	var pkg binpkg.Package
	var pkgSrc binpkgSource
	for _, s := range srcs {
		de, ok := s.digests.Lookup(bp)
		if !ok {
			continue
		}
		if err := auth.add(de.ManifestEntry()); err != nil {
			return "", fmt.Errorf("%s: collections disagree: %w", rel, err)
		}
		for _, p := range consistentPackages(s) {
			if p[binpkg.KeyPath] == bp.String() {
				pkg, pkgSrc = p, s
			}
		}
		if nt := g.Node.reg.get(s.ih); nt != nil {
			colls = append(colls, &collection.Collection{Torrents: []*metainfo.MetaInfo{nt.mi}})
		}
	}
	if pkg == nil || len(colls) == 0 {
		return "", fmt.Errorf("%s: no known binpkg collection lists it: %w", rel, fs.ErrNotExist)
	}
	if err := g.judgeFor(srcs).servable(g.Node, pkg, pkgSrc); err != nil {
		return "", err
	}
	res, _, err := g.Node.obtains.do(ctx, bp.String(), func() (ObtainResult, error) {
		return g.Node.obtainBinpkg(ctx, bp, auth, colls, g.SwarmTimeout)
	})
	if err != nil {
		return "", err
	}
	if err := g.Node.verified.verify(ctx, auth, bp.String(), res.Path); err != nil {
		return "", fmt.Errorf("%s: %w", rel, err)
	}
	if res.Source == SourceSwarm {
		if err := g.Node.store.RefreshBinpkgIndex([]binpkg.Package{pkg}, nil); err != nil {
			g.Node.log.Warn("refresh the store's Packages", "err", err)
		}
	}
	return res.Path, nil
}

// HasBinpkg reports whether STORE/binpkgs holds a regular file at rel.
func (g GatewaySource) HasBinpkg(rel string) bool {
	bp, err := binpkg.ParsePath(rel)
	if err != nil {
		return false
	}
	fi, err := os.Stat(g.Node.store.BinpkgPath(bp))
	return err == nil && fi.Mode().IsRegular()
}

// obtainBinpkg returns the store's verified copy of a package, else
// fetches it from the collections within timeout (a minute if 0).
func (n *Node) obtainBinpkg(ctx context.Context, bp binpkg.Path, auth *Authority, colls []*collection.Collection, timeout time.Duration) (ObtainResult, error) {
	if p, err := n.store.findName(bp.String()); err == nil {
		if n.verified.verify(ctx, auth, bp.String(), p) == nil {
			return ObtainResult{Path: p, Source: SourceStore}, nil
		}
	}
	if timeout <= 0 {
		timeout = time.Minute
	}
	sctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := n.Fetch(sctx, FetchRequest{Collections: colls, Authority: auth, Names: []string{bp.String()}})
	if err != nil {
		return ObtainResult{}, err
	}
	if res[0].Err != nil {
		return ObtainResult{}, res[0].Err
	}
	return ObtainResult{Path: res[0].Path, Source: SourceSwarm}, nil
}

// knownBinpkgSources returns the index files of every binpkg torrent the
// store knows, fetching those it lacks from the swarm.
func (n *Node) knownBinpkgSources(ctx context.Context) ([]binpkgSource, error) {
	known, err := n.store.Known()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, binpkgIndexTimeout)
	defer cancel()
	var out []binpkgSource
	for _, mi := range known {
		// As in binpkgSources: a collection seen before is in the cache,
		// with no decode of its info (each gateway request lists them all).
		if s, ok := n.binpkgIdx.get(mi.HashInfoBytes()); ok {
			out = append(out, s)
			continue
		}
		info, err := collection.ParseInfo(mi.InfoBytes)
		if err != nil || !collection.IsBinpkgInfo(info) {
			continue
		}
		s, err := n.binpkgSource(ctx, mi, info)
		if err != nil {
			n.log.Warn("binpkg collection index not available", "infohash", mi.HashInfoBytes().HexString(), "err", err)
			continue
		}
		out = append(out, s)
	}
	return out, nil
}
