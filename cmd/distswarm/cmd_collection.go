package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/urfave/cli/v2"

	"github.com/distswarm/distswarm/swarm/collection"
)

func collectionCommand() *cli.Command {
	return &cli.Command{
		Name:  "collection",
		Usage: "build collections: torrents whose file tree is a GLEP 75 distfiles mirror",
		Subcommands: []*cli.Command{
			collectionCreateCommand(),
			collectionAddCommand(),
			collectionListCommand(),
			collectionInfoCommand(),
		},
	}
}

func collectionCreateCommand() *cli.Command {
	return &cli.Command{
		Name:  "create",
		Usage: "create a collection from a distdir (flat or GLEP 75)",
		Description: `Reads every distfile of DIR once, computing the torrent's SHA-1 pieces and the
BLAKE2B and SHA512 digests together, and writes a v1 torrent with BEP 47 pad
files so every file starts on a piece boundary. Its file tree is the GLEP 75
mirror tree (distfiles/1b/foo-1.tar.gz) plus a Manifest listing every file, so
a GLEP 75 HTTP mirror given as --webseed serves it. The same files give the
same infohash on any machine.

A collection of more than a few thousand files is sharded by filename-hash
bucket: --out is then a small JSON index and the shard torrents are written
beside it (OUT.shards/). fetch and seed accept either.

Examples:
   distswarm collection create --from /var/cache/distfiles --out distfiles.torrent
   distswarm collection create --from ./mirror --out lan.torrent \
       --tracker http://10.0.0.1:6969/announce --webseed https://distfiles.gentoo.org/`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "from", Usage: "distdir to publish (flat or nested)", Required: true},
			&cli.StringFlag{Name: "out", Usage: "output .torrent (or index, when sharded)", Required: true},
			&cli.StringFlag{Name: "name", Usage: "torrent name (the mirror directory)", Value: collection.DefaultName},
			&cli.StringSliceFlag{Name: "webseed", Usage: "BEP 19 webseed: a GLEP 75 mirror base URL (repeatable)"},
			&cli.StringSliceFlag{Name: "tracker", Usage: "announce URL (repeatable)"},
			&cli.Int64Flag{Name: "piece-length", Usage: "force the piece length in bytes (power of two ≥ 16384); default: chosen per torrent"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageErr("collection create: unexpected argument %q", c.Args().First())
			}
			var prog *progress
			started := time.Now()
			coll, err := collection.Create(c.Context, collection.CreateOptions{
				From:        c.String("from"),
				Name:        c.String("name"),
				Webseeds:    c.StringSlice("webseed"),
				Trackers:    c.StringSlice("tracker"),
				PieceLength: c.Int64("piece-length"),
				Progress: func(done, total int64) {
					if prog == nil {
						prog = newProgress(c.App.ErrWriter, total, "hashing")
					}
					prog.set(done)
				},
			})
			if prog != nil {
				prog.finish()
			}
			if err != nil {
				return failedErr("collection create: %v", err)
			}
			if err := coll.Write(c.String("out")); err != nil {
				return failedErr("collection create: %v", err)
			}
			var files int
			var bytes int64
			for _, mi := range coll.Torrents {
				info, err := mi.UnmarshalInfo()
				if err != nil {
					return failedErr("collection create: %v", err)
				}
				for _, f := range info.UpvertedFiles() {
					if !strings.Contains(f.Attr, "p") {
						files++
						bytes += f.Length
					}
				}
			}
			fmt.Fprintf(c.App.ErrWriter, "%d files (%s) in %d torrent(s), %s\n",
				files, humanize.IBytes(uint64(bytes)), len(coll.Torrents), time.Since(started).Round(time.Millisecond))
			magnets := coll.Magnets() // once: it decodes every torrent's info
			for i, mi := range coll.Torrents {
				fmt.Fprintf(c.App.Writer, "infohash %s\n", mi.HashInfoBytes().HexString())
				fmt.Fprintf(c.App.Writer, "magnet %s\n", magnets[i])
			}
			fmt.Fprintf(c.App.Writer, "wrote %s\n", c.String("out"))
			return nil
		},
	}
}
