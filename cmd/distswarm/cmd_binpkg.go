package main

import (
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/distswarm/distswarm/swarm/collection"
)

func binpkgCommand() *cli.Command {
	return &cli.Command{
		Name:  "binpkg",
		Usage: "publish a PKGDIR of binary packages to peers, fetch binary packages from them",
		Description: `A binpkg collection is a torrent whose tree is a PKGDIR (category/PN/*.gpkg.tar,
*.xpak, *.tbz2) plus its Packages index and Packages.digests, a strong-digest
index (BLAKE2B, SHA512, MD5, SHA1 per package). A package is known by its
PKGDIR path, never by its base name.`,
		Subcommands: []*cli.Command{binpkgPublishCommand(), binpkgFetchCommand()},
	}
}

func binpkgPublishCommand() *cli.Command {
	return &cli.Command{
		Name:  "publish",
		Usage: "create a binpkg collection of a PKGDIR and seed it in place until interrupted",
		Description: `Hashes every binary package of --pkgdir (the PKGDIR of a binhost or a build
machine, e.g. /var/cache/binpkgs), and creates a collection: per torrent the
collection Manifest, Packages.digests, Packages, then the packages at their
PKGDIR paths, each on a piece boundary. Entries of the PKGDIR's own Packages
are reused when they match their file (SIZE, MD5, SHA1); packages missing
from it get the entry Portage would write. The same PKGDIR gives the same
infohash on any machine. Large PKGDIRs are sharded like distfile
collections (then --out is a collection index).

Attestations ('distswarm attest') found in PKGDIR/attestations/ (or in
--attestations DIR/attestations/) travel in the collection, each in the
torrent of its package, after the packages: clients with a trust file count
them. Each must verify and sit where 'distswarm attest' put it.

The collection is written to --out when given, remembered in the store, its
magnet links printed, and it is seeded in place: packages are read from
--pkgdir, never copied. With a daemon on the store, the daemon seeds it.
Clients fetch with 'distswarm binpkg fetch' or through a daemon's gateway
(binrepos.conf: sync-uri = http://127.0.0.1:PORT/binpkgs).

Examples:
   distswarm binpkg publish --pkgdir /var/cache/binpkgs --out /srv/binpkgs.torrent
   distswarm binpkg publish --pkgdir /var/cache/binpkgs --listen :6881 --tracker http://tracker/announce`,
		Flags: append(networkFlags(),
			&cli.StringFlag{Name: "pkgdir", Usage: "the PKGDIR to publish (required)"},
			&cli.StringFlag{Name: "out", Usage: "where to write the collection (.torrent, or an index when sharded)"},
			&cli.StringFlag{Name: "name", Usage: "torrent name of the collection", Value: collection.DefaultBinpkgName},
			&cli.StringSliceFlag{Name: "tracker", Usage: "announce URL for the collection (repeatable)"},
			&cli.StringSliceFlag{Name: "webseed", Usage: "webseed for the collection: a binhost URL (repeatable)"},
			&cli.BoolFlag{Name: "no-seed", Usage: "create and remember the collection, do not seed it"},
			&cli.StringFlag{Name: "attestations", Usage: "directory holding the attestations/ tree to carry (what 'distswarm attest --out' wrote)", DefaultText: "the PKGDIR"},
		),
		Action: runBinpkgPublish,
	}
}

func runBinpkgPublish(c *cli.Context) error {
	ctx, stop := signalContext(c.Context)
	defer stop()
	defer followLiveHeap()()
	pkgdir := c.String("pkgdir")
	if pkgdir == "" {
		return usageErr("binpkg publish: --pkgdir DIR is required")
	}
	if fi, err := os.Stat(pkgdir); err != nil || !fi.IsDir() {
		return usageErr("binpkg publish --pkgdir %s: not a directory (%v)", pkgdir, err)
	}
	store, err := openStoreFlag(c)
	if err != nil {
		return err
	}
	started := time.Now()
	coll, err := collection.CreateBinpkg(ctx, collection.CreateOptions{
		From: pkgdir, Name: c.String("name"), Trackers: c.StringSlice("tracker"), Webseeds: c.StringSlice("webseed"),
		Attestations: c.String("attestations"),
	})
	if err != nil {
		return failedErr("binpkg publish: %v", err)
	}
	if out := c.String("out"); out != "" {
		if err := coll.Write(out); err != nil {
			return failedErr("binpkg publish: %v", err)
		}
	}
	packages := 0
	for i, mi := range coll.Torrents {
		if err := store.RememberBinpkgFiles(mi.HashInfoBytes().HexString(), coll.Binpkgs[i]); err != nil {
			return failedErr("binpkg publish: %v", err)
		}
		if err := store.Remember(mi, coll.Manifests[i]); err != nil {
			return failedErr("binpkg publish: %v", err)
		}
		packages += bytesCountLines(coll.Binpkgs[i].Digests)
	}
	fmt.Fprintf(c.App.ErrWriter, "created a binpkg collection of %d packages in %d torrent(s) in %s\n",
		packages, len(coll.Torrents), time.Since(started).Round(time.Millisecond))
	for _, m := range coll.Magnets() {
		fmt.Fprintf(c.App.Writer, "magnet %s\n", m)
	}
	if c.Bool("no-seed") {
		return nil
	}
	colls := []*collection.Collection{coll}
	if handed, err := seedViaDaemon(ctx, c, store, colls, pkgdir); handed || err != nil {
		return err
	}
	return seedInProcess(ctx, c, store, colls, pkgdir)
}

// bytesCountLines counts the lines of a digest index (one per package).
func bytesCountLines(b []byte) int {
	n := 0
	for _, c := range b {
		if c == '\n' {
			n++
		}
	}
	return n
}
