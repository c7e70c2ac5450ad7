package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/urfave/cli/v2"

	"github.com/distswarm/distswarm/swarm"
	"github.com/distswarm/distswarm/swarm/collection"
	"github.com/distswarm/distswarm/swarm/control"
)

func seedCommand() *cli.Command {
	return &cli.Command{
		Name:      "seed",
		Usage:     "serve collections to peers until interrupted",
		ArgsUsage: "COLLECTION...",
		Description: `Seeds each collection (.torrent or collection index) from the store, or
from --from DIR in place: files are read where they are, never copied. Files
found for the first time are hashed once against the torrent; restarts are
fast because the store remembers what it verified.

With --from DIR and no COLLECTION, a collection is created from DIR first
(written to --out, default DIR/../<name>.torrent) and seeded in one step.

Prints the listening port, then a status line (pieces, peers, upload rate)
whenever it changed, and a last status line on exit (SIGINT/SIGTERM) with the
total uploaded payload in bytes. With --json, standard output holds one JSON
object per line instead, for each of these (the "event" field: ready,
checking, status, stopped; magnet and daemon as below); warnings stay on
standard error.

Memory: the seeder keeps a soft Go memory limit just above its live heap,
so RSS stays close to what it uses at the cost of more frequent garbage
collection; GOMEMLIMIT or GOGC in the environment replace that policy.

Examples:
   distswarm seed --listen :6881 distfiles.torrent
   distswarm seed --from /var/cache/distfiles --out /tmp/distfiles.torrent`,
		Flags: append(networkFlags(),
			&cli.StringFlag{Name: "from", Usage: "distdir to seed in place (flat or GLEP 75)"},
			&cli.StringFlag{Name: "out", Usage: "with --from and no COLLECTION: where to write the created collection"},
			&cli.StringSliceFlag{Name: "tracker", Usage: "with --from: announce URL for the created collection (repeatable)"},
			&cli.StringSliceFlag{Name: "webseed", Usage: "with --from: webseed for the created collection (repeatable)"},
			&cli.BoolFlag{Name: "json", Usage: "one JSON object per line on standard output for each status change, for scripts"},
		),
		Action: runSeed,
	}
}

func runSeed(c *cli.Context) error {
	ctx, stop := signalContext(c.Context)
	defer stop()
	defer followLiveHeap()() // memory limit just above the live heap, see memlimit.go
	store, err := openStoreFlag(c)
	if err != nil {
		return err
	}
	if from := c.String("from"); from != "" {
		// Seeding in place from a directory that is not there would seed
		// nothing and look fine.
		if fi, err := os.Stat(from); err != nil {
			return usageErr("seed --from: %v", err)
		} else if !fi.IsDir() {
			return usageErr("seed --from %s: not a directory", from)
		}
	}
	colls, err := loadCollections(c.Args().Slice())
	if err != nil {
		return err
	}
	if len(colls) == 0 {
		if c.String("from") == "" {
			return usageErr("seed: give a COLLECTION, or --from DIR to create one")
		}
		out := c.String("out")
		if out == "" {
			return usageErr("seed: --from without COLLECTION needs --out FILE for the created collection")
		}
		started := time.Now()
		coll, err := collection.Create(ctx, collection.CreateOptions{
			From: c.String("from"), Trackers: c.StringSlice("tracker"), Webseeds: c.StringSlice("webseed"),
		})
		if err != nil {
			return failedErr("seed: %v", err)
		}
		if err := coll.Write(out); err != nil {
			return failedErr("seed: %v", err)
		}
		fmt.Fprintf(c.App.ErrWriter, "created %s in %s\n", out, time.Since(started).Round(time.Millisecond))
		for _, m := range coll.Magnets() {
			if c.Bool("json") {
				writeSeedEvent(c.App.Writer, seedEvent{Event: "magnet", URI: m})
			} else {
				fmt.Fprintf(c.App.Writer, "magnet %s\n", m)
			}
		}
		colls = append(colls, coll)
	}
	if handed, err := seedViaDaemon(ctx, c, store, colls, c.String("from")); handed || err != nil {
		return err
	}
	return seedInProcess(ctx, c, store, colls, c.String("from"))
}

// seedInProcess seeds the collections on a node of this process until ctx
// ends, files of from (if set) in place, serving the control API meanwhile.
func seedInProcess(ctx context.Context, c *cli.Context, store *swarm.Store, colls []*collection.Collection, from string) error {
	started := time.Now()
	releaseManifests(store, colls)
	var ctl *control.Server
	rep := &seedReporter{w: c.App.ErrWriter, from: from != "", lastAt: time.Now(), bar: isTerminal(c.App.ErrWriter) && !c.Bool("json")}
	if c.Bool("json") {
		rep.json = c.App.Writer
	}
	err := swarm.Seed(ctx, swarm.SeedOptions{
		Store:       store,
		Collections: colls,
		From:        from,
		Peers:       c.StringSlice("peer"),
		Client:      clientOptions(c),
		Logger:      logger(c),
		Ready:       func(port int) { rep.ready(c.App.Writer, port, time.Since(started)) },
		// While it runs, the seeder owns the store: fetches and Portage
		// mode on the same store talk to it instead of waiting.
		OnNode:   func(n *swarm.Node) { ctl = serveControl(c, n, store) },
		OnStatus: func(s swarm.SeedStatus) { rep.report(s, ctx.Err() != nil) },
		OnCheck:  rep.checking,
	})
	if ctl != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = ctl.Shutdown(sctx)
		cancel()
	}
	if err != nil {
		return failedErr("seed: %v", err)
	}
	return nil
}

// seedViaDaemon hands the collections to the store's daemon when one runs.
// It reports whether it did.
func seedViaDaemon(ctx context.Context, c *cli.Context, store *swarm.Store, colls []*collection.Collection, from string) (bool, error) {
	cl, err := control.Dial(ctx, store.ControlSocket())
	if errors.Is(err, control.ErrNoDaemon) {
		return false, nil
	}
	if err != nil {
		return true, failedErr("seed: %v", err)
	}
	ts, err := control.TorrentsOf(colls)
	if err != nil {
		return true, failedErr("seed: %v", err)
	}
	if from != "" {
		if from, err = filepath.Abs(from); err != nil {
			return true, usageErr("seed --from: %v", err)
		}
	}
	resp, err := cl.Seed(ctx, control.SeedRequest{Torrents: ts, From: from})
	if err != nil {
		return true, failedErr("seed: %v", err)
	}
	if c.Bool("json") {
		writeSeedEvent(c.App.Writer, seedEvent{Event: "daemon", Store: store.Root, Port: resp.Port, Torrents: &resp.Torrents})
		return true, nil
	}
	fmt.Fprintf(c.App.Writer, "seeding through the distswarm daemon on %s (port %d, %d torrent(s)); it keeps seeding after this command exits\n", store.Root, resp.Port, resp.Torrents)
	return true, nil
}

// serveControl serves the control API on the store's socket for the life
// of an in-process seeder; nil if the socket cannot be made.
func serveControl(c *cli.Context, n *swarm.Node, store *swarm.Store) *control.Server {
	ctl, err := control.Listen(n, store.ControlSocket(), control.Options{Group: -1, Logger: logger(c)})
	if err != nil {
		fmt.Fprintf(c.App.ErrWriter, "warning: %v: other commands on this store will wait for this seeder\n", err)
		return nil
	}
	go func() { _ = ctl.Serve() }()
	return ctl
}

// releaseManifests stores the collection Manifests and drops them from the
// collections: the seeder serves them from the store (Seed would store them
// too), and kept in memory for the seeder's life they are ~30 MB for a
// 100,000-file collection.
func releaseManifests(store *swarm.Store, colls []*collection.Collection) {
	for _, c := range colls {
		for i, mi := range c.Torrents {
			if i < len(c.Manifests) && c.Manifests[i] != nil && store.Remember(mi, c.Manifests[i]) == nil {
				c.Manifests[i] = nil
			}
		}
	}
}

// seedReporter prints the seeder's status lines: when something changed
// (pieces, peers, bytes uploaded) and once at exit, not every few seconds
// while idle. The first one warns when the store holds only part of the
// collections.
type seedReporter struct {
	w       io.Writer // status text and warnings
	json    io.Writer // with --json: the events, one JSON object a line
	from    bool      // --from given
	bar     bool      // draw a progress bar for the first check (a terminal)
	prog    *progress
	lastChk time.Time
	last    swarm.SeedStatus
	printed bool
	lastAt  time.Time
}

func (r *seedReporter) report(s swarm.SeedStatus, final bool) {
	if !r.printed && s.PiecesComplete < s.Pieces {
		hint := "seed a distdir in place with --from DIR, or fetch the files into the store first"
		if r.from {
			hint = "check that --from is the distdir these collections were made from"
		}
		fmt.Fprintf(r.w, "warning: only %d of %d pieces of these collections are here (peers get only those): %s\n",
			s.PiecesComplete, s.Pieces, hint)
	}
	if r.printed && s == r.last && !final {
		return // idle: nothing new to say
	}
	now := time.Now()
	rate := float64(s.BytesUploaded-r.last.BytesUploaded) / now.Sub(r.lastAt).Seconds()
	r.last, r.lastAt, r.printed = s, now, true
	if r.json != nil {
		perSec := int64(rate)
		ev := seedEvent{Event: "status", Torrents: &s.Torrents, PiecesComplete: &s.PiecesComplete, Pieces: &s.Pieces,
			Peers: &s.Peers, BytesUploaded: &s.BytesUploaded, UploadRate: &perSec}
		if final {
			ev.Event = "stopped"
		}
		writeSeedEvent(r.json, ev)
		return
	}
	prefix := ""
	if final {
		prefix = "stopped: "
	}
	fmt.Fprintf(r.w, "%s%d torrent(s), %d/%d pieces, %d peers, uploaded %s (%s/s), %d bytes\n",
		prefix, s.Torrents, s.PiecesComplete, s.Pieces, s.Peers,
		humanize.IBytes(uint64(s.BytesUploaded)), humanize.IBytes(uint64(rate)), s.BytesUploaded)
}

// ready reports that the seeder listens on port, started took ago: the
// line the README and scripts look for, or a "ready" event.
func (r *seedReporter) ready(w io.Writer, port int, took time.Duration) {
	r.checked()
	if r.json != nil {
		writeSeedEvent(r.json, seedEvent{Event: "ready", Port: port, ReadyMS: took.Milliseconds()})
		return
	}
	fmt.Fprintf(w, "seeding on port %d (ready in %s)\n", port, took.Round(time.Millisecond))
}

// seedEvent is one line of seed --json. Counts that may be zero are
// pointers, so that a status event always has them.
type seedEvent struct {
	Event          string `json:"event"` // ready, checking, status, stopped, magnet, daemon
	Port           int    `json:"port,omitempty"`
	ReadyMS        int64  `json:"ready_ms,omitempty"`
	URI            string `json:"uri,omitempty"`
	Store          string `json:"store,omitempty"`
	Torrents       *int   `json:"torrents,omitempty"`
	Checked        *int   `json:"checked,omitempty"`
	PiecesComplete *int   `json:"pieces_complete,omitempty"`
	Pieces         *int   `json:"pieces,omitempty"`
	Peers          *int   `json:"peers,omitempty"`
	BytesUploaded  *int64 `json:"bytes_uploaded,omitempty"`
	UploadRate     *int64 `json:"upload_rate,omitempty"`
}

// writeSeedEvent writes ev as one line of JSON.
func writeSeedEvent(w io.Writer, ev seedEvent) {
	_ = json.NewEncoder(w).Encode(ev)
}

// checking reports the first check of the files: a progress bar on a
// terminal, else a line every 10 s.
func (r *seedReporter) checking(checked, pieces int) {
	if r.bar {
		if r.prog == nil {
			r.prog = newProgress(r.w, int64(pieces), "checking pieces")
		}
		r.prog.set(int64(checked))
		return
	}
	if now := time.Now(); now.Sub(r.lastChk) >= 10*time.Second {
		r.lastChk = now
		if r.json != nil {
			writeSeedEvent(r.json, seedEvent{Event: "checking", Checked: &checked, Pieces: &pieces})
			return
		}
		fmt.Fprintf(r.w, "checking the files found: %d/%d pieces\n", checked, pieces)
	}
}

// checked ends the first check's progress bar.
func (r *seedReporter) checked() {
	if r.prog != nil {
		r.prog.finish()
		r.prog = nil
	}
}
