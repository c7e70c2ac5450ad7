package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/anacrolix/torrent/metainfo"
	"github.com/dustin/go-humanize"
	"github.com/urfave/cli/v2"

	"github.com/distswarm/distswarm/manifest/binpkg"
	"github.com/distswarm/distswarm/swarm"
	"github.com/distswarm/distswarm/swarm/collection"
	"github.com/distswarm/distswarm/swarm/control"
)

func binpkgFetchCommand() *cli.Command {
	return &cli.Command{
		Name:      "fetch",
		Usage:     "download binary packages by CPV or PKGDIR path, verify them and place them in STORE/binpkgs",
		ArgsUsage: "CPV|PATH...",
		Description: `Fetches binary packages from the swarm of binpkg collections (--torrent, else
every binpkg collection the store knows) into STORE/binpkgs, a PKGDIR whose
Packages index is rewritten to list what it holds: point PKGDIR or a
binrepos.conf sync-uri (file://STORE/binpkgs) at it.

A PATH (acct-user/portage/portage-0-r3-1.gpkg.tar) names one package. A CPV
(acct-user/portage-0-r3) names the build with the highest BUILD_ID among
the collections' packages of that CPV.

Build configuration: --match-use "ssl -gtk", --match KEY=VALUE (CHOST,
CFLAGS, CXXFLAGS, LDFLAGS, ARCH, PROFILE, USE) and --match-make-conf (USE,
USE_EXPAND variables such as PYTHON_TARGETS, and CHOST of --make-conf,
default /etc/portage/make.conf) keep only the builds whose Packages entry
agrees; a CPV then names the highest BUILD_ID among those. USE is compared
like emerge --binpkg-respect-use: only flags the package has count.
Packages entries do not record CFLAGS, CXXFLAGS or LDFLAGS: those are
reported as not checked. When no build matches, the package fails and every
candidate is listed with its BUILD_ID and how it differs, e.g.
"USE: +ssl wanted, -ssl built" (--json: "candidates").

Each package must be listed in its torrent's Packages.digests, whose entry
must agree with Packages (Portage's SIZE, MD5, SHA1); the downloaded file is
verified against all four hashes and its size before it is moved into
place, else quarantined. The digest index comes from the collection itself
and is NOT signed: --trust-collection is required and the output says so.

Exit status: 0 when every package is placed, 1 otherwise, 2 on usage errors.

Example:
   distswarm binpkg fetch --torrent binpkgs.torrent --peer 10.0.0.5:6881 --trust-collection acct-group/portage-0-r3
   distswarm binpkg fetch --trust-collection --match-make-conf --match-use -systemd net-misc/curl-8.11.1`,
		Flags: append(append(networkFlags(),
			&cli.StringSliceFlag{Name: "torrent", Usage: "binpkg collection .torrent or collection index (repeatable); default: those the store knows"},
			&cli.BoolFlag{Name: "trust-collection", Usage: "accept the collection's own, unsigned Packages.digests as the authority (required for now)"},
			&cli.DurationFlag{Name: "timeout", Usage: "give up after this long", Value: 30 * time.Minute},
		), binpkgMatchFlags()...),
		Action: runBinpkgFetch,
	}
}

func runBinpkgFetch(c *cli.Context) error {
	ctx, stop := signalContext(c.Context)
	defer stop()
	if c.NArg() == 0 {
		return usageErr("binpkg fetch: name the packages (CPV or PKGDIR path)")
	}
	if !c.Bool("trust-collection") {
		return usageErr("binpkg fetch: only the collection's own Packages.digests can vouch for packages yet: pass --trust-collection")
	}
	store, err := openStoreFlag(c)
	if err != nil {
		return err
	}
	colls, err := loadCollections(c.StringSlice("torrent"))
	if err != nil {
		return err
	}
	if len(colls) == 0 {
		if colls, err = knownBinpkgCollections(store); err != nil {
			return failedErr("binpkg fetch: %v", err)
		}
	}
	match, err := buildWantFromFlags(c)
	if err != nil {
		return err
	}
	tctx, cancel := context.WithTimeout(ctx, c.Duration("timeout"))
	defer cancel()
	req := swarm.BinpkgRequest{Collections: colls, Wants: c.Args().Slice(), TrustCollection: true, Match: match}
	res, err := fetchBinpkgs(tctx, c, store, req)
	if err != nil {
		return failedErr("binpkg fetch: %v", err)
	}
	return reportBinpkgResults(c, res)
}

// fetchBinpkgs hands the request to the store's daemon when one runs, else
// runs it on a node of its own.
func fetchBinpkgs(ctx context.Context, c *cli.Context, store *swarm.Store, req swarm.BinpkgRequest) ([]swarm.BinpkgResult, error) {
	cl, err := control.Dial(ctx, store.ControlSocket())
	if err == nil {
		fmt.Fprintf(c.App.ErrWriter, "fetching through the distswarm daemon on %s\n", store.Root)
		return fetchBinpkgsViaDaemon(ctx, cl, req)
	}
	if !errors.Is(err, control.ErrNoDaemon) {
		return nil, err
	}
	return swarm.FetchBinpkgs(ctx, swarm.BinpkgFetchOptions{
		Store: store, Peers: c.StringSlice("peer"), Client: clientOptions(c), Logger: logger(c),
		OnLockWait: lockWaitNote(c, store), BinpkgRequest: req,
	})
}

func fetchBinpkgsViaDaemon(ctx context.Context, cl *control.Client, req swarm.BinpkgRequest) ([]swarm.BinpkgResult, error) {
	ts, err := control.TorrentsOf(req.Collections)
	if err != nil {
		return nil, err
	}
	resp, err := cl.FetchBinpkgs(ctx, control.BinpkgFetchRequest{Torrents: ts, Wants: req.Wants, TrustCollection: req.TrustCollection, Match: req.Match})
	if err != nil {
		return nil, err
	}
	out := make([]swarm.BinpkgResult, len(resp.Results))
	for i, r := range resp.Results {
		out[i] = binpkgResultFromDaemon(r, req.Match)
	}
	return out, nil
}

// knownBinpkgCollections returns the binpkg torrents the store remembers.
func knownBinpkgCollections(store *swarm.Store) ([]*collection.Collection, error) {
	known, err := store.Known()
	if err != nil {
		return nil, err
	}
	var out []*collection.Collection
	for _, mi := range known {
		if info, err := collection.ParseInfo(mi.InfoBytes); err == nil && collection.IsBinpkgInfo(info) {
			out = append(out, &collection.Collection{Torrents: []*metainfo.MetaInfo{mi}})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the store %s knows no binpkg collection: pass --torrent", store.Root)
	}
	return out, nil
}

func reportBinpkgResults(c *cli.Context, res []swarm.BinpkgResult) error {
	if c.Bool("json") {
		out := make([]control.BinpkgResult, len(res))
		for i, r := range res {
			out[i] = binpkgControlResult(r)
		}
		if err := writeJSON(c.App.Writer, out); err != nil {
			return err
		}
	}
	failed := 0
	for _, r := range res {
		if !r.Outcome.OK() {
			failed++
			fmt.Fprintf(c.App.ErrWriter, "FAILED %s [%s] %v\n", r.Want, r.Outcome, r.Err)
			continue
		}
		if !c.Bool("json") {
			fmt.Fprintf(c.App.Writer, "%s\n", r.Path)
		}
		fmt.Fprintf(c.App.ErrWriter, "%s: %s %s, %s, matches Portage's SIZE/MD5/SHA1 and the collection's UNVERIFIED (unsigned) Packages.digests\n",
			r.Want, r.Outcome, r.Name, humanize.IBytes(uint64(sizeOf(r.Package))))
	}
	fmt.Fprintf(c.App.ErrWriter, "%d placed, %d failed\n", len(res)-failed, failed)
	if failed > 0 {
		return silentFailure(exitFailed)
	}
	return nil
}

func sizeOf(p binpkg.Package) int64 {
	n, _ := p.Size()
	return n
}
