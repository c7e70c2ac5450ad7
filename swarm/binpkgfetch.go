package swarm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/anacrolix/torrent/metainfo"

	"github.com/distswarm/distswarm/manifest/binpkg"
	"github.com/distswarm/distswarm/manifest/trust"
	"github.com/distswarm/distswarm/storage"
	"github.com/distswarm/distswarm/swarm/collection"
)

// BinpkgRequest asks a node for binary packages of binpkg collections.
type BinpkgRequest struct {
	Collections []*collection.Collection
	// Wants are PKGDIR paths (category/PN/PF-BUILD_ID.gpkg.tar) or CPVs
	// (category/PF). A CPV selects, among the packages the collections
	// list for it, the one with the highest BUILD_ID (ties: the first
	// path), as Portage prefers the newest build.
	Wants []string
	// TrustCollection takes each torrent's own Packages.digests as the
	// authority. It is not signed: the only guarantee is that the bytes
	// are the publisher's, whoever made the torrent: every result is
	// marked UNVERIFIED. Required when Trust is nil.
	TrustCollection bool
	OnProgress      func(Progress)
	// Match selects, among a want's candidates, those built as it asks
	// (USE, CHOST, ...); the zero BuildWant accepts every build. When no
	// candidate matches, the want's result has a *NoMatchError.
	Match binpkg.BuildWant
	// Trust, when set, is the trust file: a package is used only when
	// enough of its keys attest its bytes for its build key (see
	// binpkgtrust.go). Without it TrustCollection is required and every
	// package is marked unverified.
	Trust *trust.Policy
}

// BinpkgResult is the outcome for one wanted package.
type BinpkgResult struct {
	Want    string
	Package binpkg.Package // its Packages entry, nil if none was found
	FileResult
	// Judgement is the trust judgement of the package, nil if none was
	// found or its entry disagrees with its digest index.
	Judgement *BinpkgJudgement
}

// binpkgSource is one binpkg torrent's index files.
type binpkgSource struct {
	ih       metainfo.Hash
	packages *binpkg.Index
	digests  *binpkg.DigestIndex
	// attestations are the torrent's gathered attestation files.
	attestations []collection.AttestationFile
}

// FetchBinpkgs fetches the wanted packages: each is checked against its
// torrent's strong-digest index (BLAKE2B, SHA512, MD5, SHA1, size), whose
// entry must agree with the Packages entry (Portage's SIZE, MD5, SHA1),
// and placed in STORE/binpkgs by the storage's verify-then-move. The
// store's binpkgs/Packages is then refreshed to list what it holds.
func (n *Node) FetchBinpkgs(ctx context.Context, req BinpkgRequest) ([]BinpkgResult, error) {
	if !req.TrustCollection && req.Trust == nil {
		return nil, errors.New("fetch binpkgs: give a trust file, or pass --trust-collection to take the collections' own unsigned digest indexes")
	}
	srcs, err := n.binpkgSources(ctx, req.Collections)
	if err != nil {
		return nil, err
	}
	auth := NewAuthority()
	for _, s := range srcs {
		label := fmt.Sprintf("Packages.digests of collection %s (UNVERIFIED: trusted on --trust-collection)", s.ih.HexString())
		if req.Trust != nil {
			label = fmt.Sprintf("Packages.digests of collection %s (bytes attested per the trust file)", s.ih.HexString())
		}
		if err := auth.AddBinpkgDigests(s.digests, label); err != nil {
			return nil, fmt.Errorf("fetch binpkgs: %w", err)
		}
	}
	var judge *binpkgJudge
	if req.Trust != nil {
		judge = newBinpkgJudge(req.Trust, srcs, n.log)
	}
	out, names := resolveWants(req.Wants, req.Match, judge.acceptor(), srcs)
	names = n.judgeBinpkgs(judge, srcs, out, names)
	fr := FetchRequest{Collections: req.Collections, Authority: auth, Names: names, OnProgress: req.OnProgress}
	wants, pending, err := prepareFetch(ctx, n.store, fr)
	if err != nil {
		return nil, err
	}
	res, err := n.fetchPrepared(ctx, fr, wants, pending)
	if err != nil {
		return nil, err
	}
	byName := map[string]FileResult{}
	for _, r := range res {
		byName[r.Name] = r
	}
	var placed []binpkg.Package
	for i := range out {
		if out[i].Err != nil {
			continue
		}
		out[i].FileResult = byName[out[i].Name]
		if out[i].Outcome.OK() {
			placed = append(placed, out[i].Package)
		}
	}
	if err := n.store.RefreshBinpkgIndex(placed, headerOf(srcs)); err != nil {
		return out, err
	}
	return out, nil
}

// resolveWants picks the package of each want and checks that its Packages
// entry agrees with the digest index. It returns a result per want (with
// Err set for those that fail here) and the paths to fetch.
//
// prefer, when not nil, is the trust file's verdict: among the builds that
// match, those it accepts come first (see pickPackage).
func resolveWants(wants []string, match binpkg.BuildWant, prefer func(binpkg.Package, binpkgSource) bool, srcs []binpkgSource) ([]BinpkgResult, []string) {
	var out []BinpkgResult
	var names []string
	for _, w := range wants {
		r := BinpkgResult{Want: w, FileResult: FileResult{Name: w}}
		pkg, src, err := pickPackage(w, match, prefer, srcs)
		if err != nil {
			r.Outcome, r.Err = OutcomeNotInCollections, err
			out = append(out, r)
			continue
		}
		r.Package, r.Name = pkg, pkg[binpkg.KeyPath]
		if err := checkAgainstDigests(pkg, src); err != nil {
			r.Outcome, r.Err = OutcomeRejected, err
		} else {
			names = append(names, r.Name)
		}
		out = append(out, r)
	}
	return out, names
}

// checkAgainstDigests checks that the Packages entry and the strong-digest
// index describe the same file: the fetched file is verified against the
// latter, so Portage's own SIZE/MD5/SHA1 check then passes too.
func checkAgainstDigests(pkg binpkg.Package, s binpkgSource) error {
	bp, err := pkg.Path()
	if err != nil {
		return err
	}
	de, ok := s.digests.Lookup(bp)
	if !ok {
		return fmt.Errorf("%s: listed in Packages but not in Packages.digests of collection %s", bp, s.ih.HexString())
	}
	if err := de.CheckPackage(pkg); err != nil {
		return fmt.Errorf("collection %s: Packages and Packages.digests disagree: %w", s.ih.HexString(), err)
	}
	return nil
}

// headerOf is the header for the store's Packages: the first collection's.
func headerOf(srcs []binpkgSource) map[string]string {
	if len(srcs) == 0 {
		return nil
	}
	return srcs[0].packages.Header
}

// binpkgIndexWait bounds how long the index files of a binpkg torrent are
// waited for when the caller's context has no deadline.
const binpkgIndexWait = 10 * time.Minute

// binpkgSources gets the Packages and Packages.digests of every binpkg
// torrent of the collections, from the store or from the swarm (their
// integrity is the torrent's piece hashes, as for the collection Manifest).
func (n *Node) binpkgSources(ctx context.Context, colls []*collection.Collection) ([]binpkgSource, error) {
	ctx, cancel := context.WithTimeout(ctx, binpkgIndexWait)
	defer cancel()
	var out []binpkgSource
	for _, c := range colls {
		for _, mi := range c.Torrents {
			// A collection seen before needs neither a decode of its info
			// nor a wait: its parsed index files are cached.
			if s, ok := n.binpkgIdx.get(mi.HashInfoBytes()); ok {
				out = append(out, s)
				continue
			}
			info, err := collection.ParseInfo(mi.InfoBytes)
			if err != nil {
				return nil, err
			}
			if !collection.IsBinpkgInfo(info) {
				continue
			}
			s, err := n.binpkgSource(ctx, mi, info)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("fetch binpkgs: no binpkg collection given or known")
	}
	return out, nil
}

func (n *Node) binpkgSource(ctx context.Context, mi *metainfo.MetaInfo, info *metainfo.Info) (binpkgSource, error) {
	nt, err := n.reg.add(ctx, mi, mi.HashInfoBytes(), nil)
	if err != nil {
		return binpkgSource{}, err
	}
	nt.announce()
	if s, ok := n.binpkgIdx.get(nt.ih); ok {
		return s, nil
	}
	var idx []int
	for i, f := range info.UpvertedFiles() {
		if len(f.Path) == 1 && collection.IsBinpkgIndexFile(f.Path[0]) {
			idx = append(idx, i)
			nt.t.Files()[i].Download()
		}
	}
	atts := n.gatherAttestations(nt, info)
	idx = append(idx, atts...)
	ih := nt.ih
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	notFinal := func(i int) bool { return n.st.State(ih, i).Phase != storage.PhaseFinal }
	lastRedial := time.Now()
	for slices.ContainsFunc(idx, notFinal) {
		select {
		case <-ctx.Done():
			return binpkgSource{}, fmt.Errorf("collection %s: Packages and Packages.digests not fetched: %w", ih.HexString(), ctx.Err())
		case now := <-tick.C:
			n.tendWebseeds(nt, now, true)
			nt.nudgeIfIdle(now)
			if now.Sub(lastRedial) >= redialEvery { // see fetchRun.redialKnown
				n.tendKnown(nt, now, n.log)
				lastRedial = now
			}
		}
	}
	s, err := n.store.readBinpkgSource(ih)
	if err == nil {
		s.attestations, err = n.store.readAttestations(ih, info, atts)
	}
	if err == nil {
		n.binpkgIdx.put(s)
	}
	return s, err
}

// binpkgSourceCache holds parsed binpkg index files by infohash.
type binpkgSourceCache struct {
	mu sync.Mutex
	m  map[metainfo.Hash]binpkgSource
}

func (c *binpkgSourceCache) get(ih metainfo.Hash) (binpkgSource, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.m[ih]
	return s, ok
}

func (c *binpkgSourceCache) put(s binpkgSource) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[metainfo.Hash]binpkgSource{}
	}
	c.m[s.ih] = s
}

// readBinpkgSource reads a binpkg torrent's index files from the store.
func (s *Store) readBinpkgSource(ih metainfo.Hash) (binpkgSource, error) {
	hex := ih.HexString()
	pf, err := os.Open(s.BinpkgIndexPath(hex, false))
	if err != nil {
		return binpkgSource{}, fmt.Errorf("collection %s: %w", hex, err)
	}
	defer pf.Close()
	pkgs, err := binpkg.ReadIndex(pf)
	if err != nil {
		return binpkgSource{}, fmt.Errorf("collection %s: %w", hex, err)
	}
	df, err := os.Open(s.BinpkgIndexPath(hex, true))
	if err != nil {
		return binpkgSource{}, fmt.Errorf("collection %s: %w", hex, err)
	}
	defer df.Close()
	digs, err := binpkg.ReadDigestIndex(df)
	if err != nil {
		return binpkgSource{}, fmt.Errorf("collection %s: %w", hex, err)
	}
	return binpkgSource{ih: ih, packages: pkgs, digests: digs}, nil
}

// BinpkgFetchOptions configures FetchBinpkgs, a one-shot fetch on its own
// node.
type BinpkgFetchOptions struct {
	Store *Store
	BinpkgRequest
	Peers      []string
	Client     ClientOptions
	OnLockWait func()
	Logger     *slog.Logger
}

// FetchBinpkgs runs one BinpkgRequest on a node of its own (see
// Node.FetchBinpkgs).
func FetchBinpkgs(ctx context.Context, o BinpkgFetchOptions) ([]BinpkgResult, error) {
	n, err := OpenNode(ctx, NodeOptions{Store: o.Store, Client: o.Client, Peers: o.Peers, OnLockWait: o.OnLockWait, Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	defer n.Close()
	return n.FetchBinpkgs(ctx, o.BinpkgRequest)
}
