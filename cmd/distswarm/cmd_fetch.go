package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/anacrolix/torrent/metainfo"
	"github.com/dustin/go-humanize"
	"github.com/urfave/cli/v2"

	"github.com/distswarm/distswarm/manifest"
	"github.com/distswarm/distswarm/swarm"
	"github.com/distswarm/distswarm/swarm/collection"
	"github.com/distswarm/distswarm/swarm/control"
)

// networkFlags are shared by fetch and seed.
func networkFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "store", Usage: "the distswarm store (GLEP 75 tree in STORE/distfiles)", Value: swarm.DefaultStoreDir(), EnvVars: []string{"DISTSWARM_STORE"}},
		&cli.StringFlag{Name: "listen", Usage: "address for BitTorrent connections", Value: ":0"},
		&cli.StringSliceFlag{Name: "peer", Usage: "connect to this peer, HOST:PORT (repeatable)"},
		&cli.BoolFlag{Name: "no-dht", Usage: "do not use the mainline DHT"},
		&cli.BoolFlag{Name: "offline", Usage: "no DHT and no trackers but the daemon's own (--tracker): only --peer, LAN discovery (daemon), webseeds"},
		&cli.BoolFlag{Name: "utp", Usage: "also use uTP (off by default: slower than TCP in this client)"},
		&cli.StringSliceFlag{Name: "dht-node", Usage: "DHT bootstrap node HOST:PORT instead of the public ones (repeatable)"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "log what the BitTorrent client does"},
	}
}

func clientOptions(c *cli.Context) swarm.ClientOptions {
	return swarm.ClientOptions{
		ListenAddr: c.String("listen"),
		DHT:        !c.Bool("no-dht") && !c.Bool("offline"),
		DHTNodes:   c.StringSlice("dht-node"),
		NoTrackers: c.Bool("offline"),
		UTP:        c.Bool("utp"),
		Logger:     logger(c),
	}
}

// signalContext is cancelled by SIGINT or SIGTERM.
func signalContext(parent context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
}

// openStoreFlag opens --store. The default store's error says how to
// create it.
func openStoreFlag(c *cli.Context) (*swarm.Store, error) {
	open := swarm.OpenDefaultStore
	shareWithStoreGroup(swarm.DefaultStoreDir())
	if c.IsSet("store") {
		open = swarm.OpenStore
		shareWithStoreGroup(c.String("store"))
	}
	store, err := open(c.String("store"))
	if err != nil {
		return nil, usageErr("%v", err)
	}
	return store, nil
}

// openExistingStoreFlag opens --store (or the default store) for a command
// that only reads it: a directory that is not a store yet is not created.
func openExistingStoreFlag(c *cli.Context) (*swarm.Store, error) {
	root := swarm.DefaultStoreDir()
	if c.IsSet("store") {
		root = c.String("store")
	}
	return swarm.OpenExistingStore(root)
}

// parseRate reads a byte rate such as 0, 500000, 2MiB or 10MB.
func parseRate(s string) (int64, error) {
	if s == "" || s == "0" {
		return 0, nil
	}
	n, err := humanize.ParseBytes(s)
	if err != nil {
		return 0, err
	}
	return int64(n), nil
}

func loadCollections(paths []string) ([]*collection.Collection, error) {
	var out []*collection.Collection
	for _, p := range paths {
		c, err := collection.Load(p)
		if err != nil {
			return nil, usageErr("%v", err)
		}
		out = append(out, c)
	}
	return out, nil
}

func fetchCommand() *cli.Command {
	flags := append(networkFlags(),
		&cli.StringSliceFlag{Name: "torrent", Usage: "collection .torrent or collection index (repeatable)"},
		&cli.StringFlag{Name: "magnet", Usage: "magnet URI of a collection (its metadata is fetched from peers)"},
		&cli.StringFlag{Name: "repo", Usage: "ebuild repository whose Manifests are the authority (e.g. /var/db/repos/gentoo)"},
		&cli.StringSliceFlag{Name: "manifest", Usage: "Manifest file whose DIST entries are the authority (repeatable)"},
		&cli.StringFlag{Name: "digests", Usage: "Portage ${DIGESTS} for the single file fetched: 'blake2b:<hex> sha512:<hex>'"},
		&cli.BoolFlag{Name: "trust-collection", Usage: "accept the collection's own Manifest as the authority for files yours does not list"},
		&cli.BoolFlag{Name: "all", Usage: "fetch every distfile of the collections"},
		&cli.BoolFlag{Name: "json", Usage: "print the results as one JSON array (name, outcome, path, error) instead of paths"},
		&cli.DurationFlag{Name: "timeout", Usage: "give up after this long", Value: 30 * time.Minute},
		&cli.StringFlag{Name: "uri", Usage: "Portage mode: the distfile's URI (${URI}); HTTP fallback"},
		&cli.StringFlag{Name: "out", Usage: "Portage mode: where to put the file (${DISTDIR}/${FILE})"},
		&cli.DurationFlag{Name: "swarm-timeout", Usage: "Portage mode: how long the swarm may try before HTTP", Value: time.Minute},
	)
	return &cli.Command{
		Name:      "fetch",
		Usage:     "download distfiles from peers, verify them and place them in the store",
		ArgsUsage: "NAME... | --all",
		Description: `Downloads the named distfiles from the collection's swarm (peers from
--peer, trackers, PEX, DHT; webseeds when peers lack a file), verifies each
against the authority and places it at its GLEP 75 path in the store, from
where 'distswarm seed' serves it. A file that fails verification is
quarantined and never placed.

The authority is --repo, --manifest or --digests; with --trust-collection the
collection's own Manifest is used for files your authority does not know.

Without --torrent or --magnet, NAME is looked for in every collection the
store knows: those it was given and, through a running daemon, those it
learned from the LAN ('distswarm lan' lists them).

Exit status: 0 when every file is placed, 1 otherwise (one line per file with
the reason), 2 on usage errors.

Portage mode (FETCHCOMMAND): --uri URI --out PATH [--digests '...'] looks in the
store, then in the collections the store knows, then downloads URI over HTTP
(resuming), verifies, stores and links the file to PATH. In make.conf:

   FETCHCOMMAND="distswarm fetch --uri \"\${URI}\" --out \"\${DISTDIR}/\${FILE}\" --digests \"\${DIGESTS}\""
   RESUMECOMMAND="${FETCHCOMMAND}"

Examples:
   distswarm fetch --torrent distfiles.torrent --repo /var/db/repos/gentoo zstd-1.5.5.tar.gz
   distswarm fetch --torrent lan.torrent --peer 10.0.0.5:6881 --trust-collection --all
   distswarm fetch --manifest Manifest zstd-1.5.5.tar.gz       # from any known collection`,
		Flags:  flags,
		Action: runFetch,
	}
}

func runFetch(c *cli.Context) error {
	ctx, stop := signalContext(c.Context)
	defer stop()
	store, err := openStoreFlag(c)
	if err != nil {
		return err
	}
	if c.String("out") != "" || c.String("uri") != "" {
		warnPrivateStore(c, store)
		return runPortageFetch(ctx, c, store)
	}
	if len(c.StringSlice("torrent")) == 0 && c.String("magnet") == "" && c.Bool("all") {
		return usageErr("fetch --all: give the collections with --torrent or --magnet")
	}
	if c.NArg() == 0 && !c.Bool("all") {
		return usageErr("fetch: name the distfiles to fetch, or pass --all")
	}
	colls, err := loadCollections(c.StringSlice("torrent"))
	if err != nil {
		return err
	}
	if uri := c.String("magnet"); uri != "" {
		mctx, cancel := context.WithTimeout(ctx, c.Duration("timeout"))
		mi, err := swarm.ResolveMagnet(mctx, uri, c.StringSlice("peer"), clientOptions(c))
		cancel()
		if err != nil {
			return failedErr("fetch: %v", err)
		}
		colls = append(colls, &collection.Collection{Torrents: []*metainfo.MetaInfo{mi}})
	}
	auth, err := buildAuthority(ctx, c)
	if err != nil {
		return err
	}
	if d := c.String("digests"); d != "" {
		if c.NArg() != 1 {
			return usageErr("fetch: --digests describes one file: name exactly one")
		}
		if err := auth.AddDigests(c.Args().First(), d); err != nil {
			return usageErr("%v", err)
		}
	}
	tctx, cancel := context.WithTimeout(ctx, c.Duration("timeout"))
	defer cancel()
	res, err := fetchNamed(tctx, c, store, swarm.FetchRequest{
		Collections: colls, Authority: auth, TrustCollection: c.Bool("trust-collection"),
		Names: c.Args().Slice(), All: c.Bool("all"),
	})
	if err != nil && ctx.Err() != nil { // stopped by a signal before there were results
		fmt.Fprintf(c.App.ErrWriter, "interrupted: %v\n", err)
		return silentFailure(exitInterrupted)
	}
	if err != nil {
		return failedErr("fetch: %v", err)
	}
	return reportResults(c, res)
}

// buildAuthority reads --repo and --manifest.
func buildAuthority(ctx context.Context, c *cli.Context) (*swarm.Authority, error) {
	auth := swarm.NewAuthority()
	if r := c.String("repo"); r != "" {
		conflicts, err := auth.AddRepo(ctx, r)
		if err != nil {
			return nil, usageErr("%v", err)
		}
		for _, cf := range conflicts {
			fmt.Fprintf(c.App.ErrWriter, "warning: %s: Manifests disagree (%d entries); it cannot be verified\n", cf.Name, len(cf.Entries))
		}
	}
	for _, m := range c.StringSlice("manifest") {
		if err := auth.AddManifest(m); err != nil {
			return nil, usageErr("%v", err)
		}
	}
	return auth, nil
}

// fetchNamed hands the request to the store's daemon when one runs, else
// runs it on a node of its own.
func fetchNamed(ctx context.Context, c *cli.Context, store *swarm.Store, req swarm.FetchRequest) ([]swarm.FileResult, error) {
	cl, err := control.Dial(ctx, store.ControlSocket())
	if err == nil {
		fmt.Fprintf(c.App.ErrWriter, "fetching through the distswarm daemon on %s\n", store.Root)
		return fetchViaDaemon(ctx, cl, req)
	}
	if !errors.Is(err, control.ErrNoDaemon) {
		return nil, err
	}
	var prog *progress
	if isTerminal(c.App.ErrWriter) {
		// Progress costs a pass over every file's pieces twice a second:
		// only worth it when there is a bar to draw.
		req.OnProgress = func(p swarm.Progress) {
			if prog == nil && p.Bytes > 0 {
				prog = newProgress(c.App.ErrWriter, p.Bytes, "fetching")
			}
			if prog != nil {
				prog.set(p.BytesDone)
			}
		}
	}
	res, err := swarm.Fetch(ctx, swarm.FetchOptions{
		Store: store, Collections: req.Collections, Authority: req.Authority, TrustCollection: req.TrustCollection,
		Names: req.Names, All: req.All, Peers: c.StringSlice("peer"), Client: clientOptions(c),
		Logger: logger(c), OnProgress: req.OnProgress, OnLockWait: lockWaitNote(c, store),
		OnReceived: func(b swarm.ByteCounters) { reportSources(c.App.ErrWriter, b) },
	})
	if prog != nil {
		prog.finish()
	}
	return res, err
}

func fetchViaDaemon(ctx context.Context, cl *control.Client, req swarm.FetchRequest) ([]swarm.FileResult, error) {
	ts, err := control.TorrentsOf(req.Collections)
	if err != nil {
		return nil, err
	}
	resp, err := cl.Fetch(ctx, control.FetchRequest{
		Torrents: ts, Entries: control.EntriesOf(req.Authority, req.Names, req.All),
		TrustCollection: req.TrustCollection, Names: req.Names, All: req.All,
	})
	if err != nil {
		return nil, err
	}
	out := make([]swarm.FileResult, len(resp.Results))
	for i, r := range resp.Results {
		out[i] = swarm.FileResult{Name: r.Name, Outcome: r.Outcome, Path: r.Path}
		if r.Error != "" {
			out[i].Err = errors.New(r.Error)
		}
	}
	return out, nil
}

// reportSources says where a fetch's data came from, when it received any:
// "received 64 MiB: 60 MiB from peers, 4.0 MiB from webseeds".
func reportSources(w io.Writer, b swarm.ByteCounters) {
	total := b.FromPeers + b.FromWebseeds + b.FromHTTP
	if total == 0 {
		return
	}
	parts := []string{humanize.IBytes(uint64(b.FromPeers)) + " from peers"}
	if b.FromWebseeds > 0 {
		parts = append(parts, humanize.IBytes(uint64(b.FromWebseeds))+" from webseeds")
	}
	if b.FromHTTP > 0 {
		parts = append(parts, humanize.IBytes(uint64(b.FromHTTP))+" over HTTP")
	}
	fmt.Fprintf(w, "received %s: %s\n", humanize.IBytes(uint64(total)), strings.Join(parts, ", "))
}

// lockWaitNote says why a command waits for the store.
func lockWaitNote(c *cli.Context, store *swarm.Store) func() {
	return func() {
		fmt.Fprintf(c.App.ErrWriter, "store %s is in use by another distswarm process (no daemon answers on it); waiting for it (run 'distswarm daemon' to share the store)\n", store.Root)
	}
}

func reportResults(c *cli.Context, res []swarm.FileResult) error {
	if c.Bool("json") {
		if err := writeJSON(c.App.Writer, jsonResults(res)); err != nil {
			return err
		}
	}
	failed, interrupted := 0, 0
	var placed int64
	for _, r := range res {
		switch {
		case r.Outcome == swarm.OutcomeInterrupted:
			interrupted++ // one summary line below, not a line per file
			continue
		case !r.Outcome.OK():
			failed++
			fmt.Fprintf(c.App.ErrWriter, "FAILED [%s] %v\n", r.Outcome, r.Err)
			continue
		}
		placed += r.PlacedSize()
		if !c.Bool("json") {
			fmt.Fprintf(c.App.Writer, "%s\n", r.Path)
		}
	}
	done := len(res) - failed - interrupted
	if interrupted > 0 {
		fmt.Fprintf(c.App.ErrWriter, "interrupted: %d placed (%s), %d failed, %d not fetched\n",
			done, humanize.IBytes(uint64(placed)), failed, interrupted)
		return silentFailure(exitInterrupted)
	}
	fmt.Fprintf(c.App.ErrWriter, "%d placed (%s), %d failed\n", done, humanize.IBytes(uint64(placed)), failed)
	if failed > 0 {
		return silentFailure(exitFailed)
	}
	return nil
}

// warnPrivateStore says so when Portage mode falls back to a per-user store
// because the system store is missing or not writable: under
// FEATURES=userfetch that store sits in a per-package HOME that Portage
// removes, so nothing fetched would be kept or seeded.
func warnPrivateStore(c *cli.Context, store *swarm.Store) {
	if c.IsSet("store") || store.Root == swarm.SystemStoreDir {
		return
	}
	fmt.Fprintf(c.App.ErrWriter, "distswarm: %s is missing or not writable (uid %d), using %s; "+
		"create it writable by the portage group (install -d -o portage -g portage -m 2775 %s) or pass --store\n",
		swarm.SystemStoreDir, os.Getuid(), store.Root, swarm.SystemStoreDir)
}

func runPortageFetch(ctx context.Context, c *cli.Context, store *swarm.Store) error {
	if c.String("out") == "" || c.String("uri") == "" {
		return usageErr("fetch: Portage mode needs both --uri and --out")
	}
	tctx, cancel := context.WithTimeout(ctx, c.Duration("timeout"))
	defer cancel()
	src, err := portageFetch(tctx, c, store)
	if err != nil {
		return failedErr("fetch: %v", err)
	}
	fmt.Fprintf(c.App.ErrWriter, "%s: from %s\n", swarm.DistfileName(c.String("out")), src)
	return nil
}

// portageFetch hands a verifiable Portage fetch to the store's daemon when
// one runs (it places the file in the store; it is linked or copied to
// --out here), else runs it on a node of its own.
func portageFetch(ctx context.Context, c *cli.Context, store *swarm.Store) (swarm.Source, error) {
	out, digests := c.String("out"), c.String("digests")
	if digests != "" {
		cl, err := control.Dial(ctx, store.ControlSocket())
		if err == nil {
			return portageViaDaemon(ctx, c, cl)
		}
		if !errors.Is(err, control.ErrNoDaemon) {
			return "", err
		}
	}
	var prog *progress
	src, err := swarm.PortageFetch(ctx, swarm.PortageFetchOptions{
		Store:        store,
		URI:          c.String("uri"),
		Out:          out,
		Digests:      digests,
		Peers:        c.StringSlice("peer"),
		Client:       clientOptions(c),
		SwarmTimeout: c.Duration("swarm-timeout"),
		Logger:       logger(c),
		OnLockWait:   lockWaitNote(c, store),
		OnHTTPProgress: func(done, total int64) {
			if prog == nil && total > 0 {
				prog = newProgress(c.App.ErrWriter, total, "http")
			}
			if prog != nil {
				prog.set(done)
			}
		},
	})
	if prog != nil {
		prog.finish()
	}
	return src, err
}

func portageViaDaemon(ctx context.Context, c *cli.Context, cl *control.Client) (swarm.Source, error) {
	out := c.String("out")
	d, err := manifest.ParseDigestsArg(c.String("digests"))
	if err != nil {
		return "", usageErr("--digests: %v", err)
	}
	name := swarm.DistfileName(out)
	resp, err := cl.Obtain(ctx, control.ObtainRequest{
		Name: name, Entry: control.Entry{Name: name, Size: swarm.UnknownSize, Digests: d},
		URIs: []string{c.String("uri")}, SwarmTimeout: c.Duration("swarm-timeout").String(), ResumeFrom: out,
	})
	if err != nil {
		return "", err
	}
	return resp.Source, swarm.LinkOut(resp.Path, out)
}

// fileResultJSON is one fetch result for --json.
type fileResultJSON struct {
	Name    string        `json:"name"`
	Outcome swarm.Outcome `json:"outcome"`
	Path    string        `json:"path,omitempty"`
	Error   string        `json:"error,omitempty"`
}

func jsonResults(res []swarm.FileResult) []fileResultJSON {
	out := make([]fileResultJSON, len(res))
	for i, r := range res {
		out[i] = fileResultJSON{Name: r.Name, Outcome: r.Outcome, Path: r.Path}
		if r.Err != nil {
			out[i].Error = r.Err.Error()
		}
	}
	return out
}
