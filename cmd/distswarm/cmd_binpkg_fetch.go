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
the collections' packages of that CPV; with --trust-file, the highest one
the trust file accepts, if any does.

Each package must be listed in its torrent's Packages.digests, whose entry
must agree with Packages (Portage's SIZE, MD5, SHA1); the downloaded file is
verified against all four hashes and its size before it is moved into
place, else quarantined.

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

Who vouches for those digests:
 - --trust-file F (or trust-file in the config): at least k of the keys of F
   (threshold k, or --threshold) must attest the package's exact bytes for
   the build key of its Packages entry. Attestations come from the
   attestations/ tree of every binpkg collection given or known. Each package
   reports "k of M agree, j disagree, r missing"; a trusted key that attests
   other bytes is a loud warning naming it. A package short of k is not
   fetched (outcome untrusted).
 - --trust-collection: the collection's own digest index, which is NOT
   signed: every package is reported UNVERIFIED.

Exit status: 0 when every package is placed, 1 otherwise, 2 on usage errors.

Examples:
   distswarm binpkg fetch --trust-file /etc/distswarm/trust.toml acct-group/portage-0-r3
   distswarm binpkg fetch --torrent binpkgs.torrent --peer 10.0.0.5:6881 --trust-collection acct-group/portage-0-r3
   distswarm binpkg fetch --trust-file /etc/distswarm/trust.toml --match-make-conf --match-use -systemd net-misc/curl-8.11.1`,
		Flags: append(append(networkFlags(),
			&cli.StringSliceFlag{Name: "torrent", Usage: "binpkg collection .torrent or collection index (repeatable); default: those the store knows"},
			&cli.BoolFlag{Name: "trust-collection", Usage: "accept the collection's own, UNVERIFIED (unsigned) Packages.digests as the authority instead of a trust file"},
			&cli.DurationFlag{Name: "timeout", Usage: "give up after this long", Value: 30 * time.Minute},
			&cli.BoolFlag{Name: "json", Usage: "print the results, with their trust judgements and, when no build matches, the candidates, as one JSON array"},
		),
			append(trustFlags(), binpkgMatchFlags()...)...),
		Action: runBinpkgFetch,
	}
}

func runBinpkgFetch(c *cli.Context) error {
	ctx, stop := signalContext(c.Context)
	defer stop()
	if c.NArg() == 0 {
		return usageErr("binpkg fetch: name the packages (CPV or PKGDIR path)")
	}
	policy, policyText, err := trustPolicy(c, "binpkg fetch")
	if err != nil {
		return err
	}
	switch {
	case policy == nil && !c.Bool("trust-collection"):
		return usageErr("binpkg fetch: give --trust-file (keys whose attestations vouch for packages), or --trust-collection to take the collection's own UNVERIFIED digest index")
	case policy != nil && c.Bool("trust-collection"):
		return usageErr("binpkg fetch: give --trust-file or --trust-collection, not both")
	case policy != nil:
		fmt.Fprintf(c.App.ErrWriter, "%s\n", describePolicy(policy))
	default:
		fmt.Fprintf(c.App.ErrWriter, "WARNING: --trust-collection: packages are checked only against the collection's own UNVERIFIED (unsigned) digest index\n")
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
	req := swarm.BinpkgRequest{Collections: colls, Wants: c.Args().Slice(), TrustCollection: policy == nil, Trust: policy, Match: match}
	res, err := fetchBinpkgs(tctx, c, store, req, policyText)
	if err != nil {
		return failedErr("binpkg fetch: %v", err)
	}
	return reportBinpkgResults(c, res)
}

// fetchBinpkgs hands the request to the store's daemon when one runs, else
// runs it on a node of its own.
func fetchBinpkgs(ctx context.Context, c *cli.Context, store *swarm.Store, req swarm.BinpkgRequest, policyText string) ([]swarm.BinpkgResult, error) {
	cl, err := control.Dial(ctx, store.ControlSocket())
	if err == nil {
		fmt.Fprintf(c.App.ErrWriter, "fetching through the distswarm daemon on %s\n", store.Root)
		return fetchBinpkgsViaDaemon(ctx, cl, req, policyText)
	}
	if !errors.Is(err, control.ErrNoDaemon) {
		return nil, err
	}
	return swarm.FetchBinpkgs(ctx, swarm.BinpkgFetchOptions{
		Store: store, Peers: c.StringSlice("peer"), Client: clientOptions(c), Logger: logger(c),
		OnLockWait: lockWaitNote(c, store), BinpkgRequest: req,
	})
}

// fetchBinpkgsViaDaemon sends the request with the trust file's text (and
// the threshold in force) for the daemon to judge with.
func fetchBinpkgsViaDaemon(ctx context.Context, cl *control.Client, req swarm.BinpkgRequest, policyText string) ([]swarm.BinpkgResult, error) {
	ts, err := control.TorrentsOf(req.Collections)
	if err != nil {
		return nil, err
	}
	creq := control.BinpkgFetchRequest{Torrents: ts, Wants: req.Wants, TrustCollection: req.TrustCollection, TrustFile: policyText, Match: req.Match}
	if req.Trust != nil {
		creq.Threshold = req.Trust.Threshold
	}
	resp, err := cl.FetchBinpkgs(ctx, creq)
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
	failed := 0
	for _, r := range res {
		warnDisagreement(c, r.Judgement)
		if !r.Outcome.OK() {
			failed++
		}
	}
	for _, r := range res {
		printBinpkgResult(c, r, !c.Bool("json"))
	}
	if c.Bool("json") {
		if err := writeJSON(c.App.Writer, binpkgJSON(res)); err != nil {
			return err
		}
	}
	fmt.Fprintf(c.App.ErrWriter, "%d placed, %d failed\n", len(res)-failed, failed)
	if failed > 0 {
		return silentFailure(exitFailed)
	}
	return nil
}

// printBinpkgResult prints, on stderr, why a package failed or what
// vouched for it (the trust counts, or UNVERIFIED), and a placed package's
// path on stdout when withPath (not with --json).
func printBinpkgResult(c *cli.Context, r swarm.BinpkgResult, withPath bool) {
	trustNote := ""
	if r.Judgement != nil {
		trustNote = "; trust: " + r.Judgement.Summary
	}
	if !r.Outcome.OK() {
		fmt.Fprintf(c.App.ErrWriter, "FAILED %s [%s] %v\n", r.Want, r.Outcome, r.Err)
		return
	}
	if withPath {
		fmt.Fprintf(c.App.Writer, "%s\n", r.Path)
	}
	fmt.Fprintf(c.App.ErrWriter, "%s: %s %s, %s, matches Portage's SIZE/MD5/SHA1 and Packages.digests%s\n",
		r.Want, r.Outcome, r.Name, humanize.IBytes(uint64(sizeOf(r.Package))), trustNote)
}

// warnDisagreement is the loud warning for trusted keys that attest other
// bytes than the package's (the node logs it too, with slog).
func warnDisagreement(c *cli.Context, j *swarm.BinpkgJudgement) {
	if j == nil || j.Verdict == nil || len(j.Verdict.Disagree) == 0 {
		return
	}
	fmt.Fprintf(c.App.ErrWriter, "WARNING: %s: trusted keys DISAGREE about its bytes: %s (%s)\n",
		j.Path, swarm.DisagreeingKeys(j.Verdict), j.Summary)
}

// binpkgResultJSON is one result of `binpkg fetch --json`.
type binpkgResultJSON struct {
	Want      string                 `json:"want"`
	Name      string                 `json:"name"`
	Outcome   swarm.Outcome          `json:"outcome"`
	Path      string                 `json:"path,omitempty"`
	Error     string                 `json:"error,omitempty"`
	Judgement *swarm.BinpkgJudgement `json:"judgement,omitempty"`
	// Candidates are the builds there were when none matched.
	Candidates []swarm.BinpkgCandidate `json:"candidates,omitempty"`
}

func binpkgJSON(res []swarm.BinpkgResult) []binpkgResultJSON {
	out := make([]binpkgResultJSON, len(res))
	for i, r := range res {
		out[i] = binpkgResultJSON{Want: r.Want, Name: r.Name, Outcome: r.Outcome, Path: r.Path, Judgement: r.Judgement}
		if r.Err != nil {
			out[i].Error = r.Err.Error()
		}
		if nm, ok := errors.AsType[*swarm.NoMatchError](r.Err); ok {
			out[i].Candidates = nm.Candidates
		}
	}
	return out
}

func sizeOf(p binpkg.Package) int64 {
	n, _ := p.Size()
	return n
}
