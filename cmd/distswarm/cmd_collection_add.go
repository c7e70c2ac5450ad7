package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/distswarm/distswarm/swarm"
	"github.com/distswarm/distswarm/swarm/control"
)

func collectionAddCommand() *cli.Command {
	return &cli.Command{
		Name:      "add",
		Usage:     "add collections to the store: its daemon seeds them and uses them for Portage and the gateway",
		ArgsUsage: "COLLECTION...",
		Description: `Remembers each collection (.torrent or collection index, with its collection
Manifest when it sits beside it) in STORE/collections. A daemon on the store
seeds it at once (and trusts its Manifest for gateway requests); without one,
the next daemon or Portage-mode fetch picks it up.

Examples:
   distswarm collection add lan-distfiles.torrent
   distswarm collection add --store /var/cache/distswarm binpkgs.json`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "store", Usage: "the distswarm store", Value: swarm.DefaultStoreDir(), EnvVars: []string{"DISTSWARM_STORE"}},
		},
		Action: runCollectionAdd,
	}
}

func runCollectionAdd(c *cli.Context) error {
	if c.NArg() == 0 {
		return usageErr("collection add: name at least one COLLECTION")
	}
	ctx, stop := signalContext(c.Context)
	defer stop()
	store, err := openStoreFlag(c)
	if err != nil {
		return err
	}
	colls, err := loadCollections(c.Args().Slice())
	if err != nil {
		return err
	}
	for _, coll := range colls {
		for i, mi := range coll.Torrents {
			var mf []byte
			if i < len(coll.Manifests) {
				mf = coll.Manifests[i]
			}
			if err := store.Remember(mi, mf); err != nil {
				return failedErr("collection add: %v", err)
			}
			fmt.Fprintf(c.App.Writer, "%s\n", mi.HashInfoBytes().HexString())
		}
	}
	cl, err := control.Dial(ctx, store.ControlSocket())
	if errors.Is(err, control.ErrNoDaemon) {
		fmt.Fprintf(c.App.ErrWriter, "added to %s; no daemon runs on it now\n", store.Root)
		return nil
	}
	if err != nil {
		return failedErr("collection add: %v", err)
	}
	ts, err := control.TorrentsOf(colls)
	if err != nil {
		return failedErr("collection add: %v", err)
	}
	resp, err := cl.Seed(ctx, control.SeedRequest{Torrents: ts})
	if err != nil {
		return failedErr("collection add: %v", err)
	}
	fmt.Fprintf(c.App.ErrWriter, "added to %s; its daemon seeds %d torrent(s) on port %d\n", store.Root, resp.Torrents, resp.Port)
	return nil
}
