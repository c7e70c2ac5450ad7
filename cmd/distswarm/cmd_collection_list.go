package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/dustin/go-humanize"
	"github.com/urfave/cli/v2"

	"github.com/distswarm/distswarm/swarm"
	"github.com/distswarm/distswarm/swarm/collection"
)

func collectionListCommand() *cli.Command {
	return &cli.Command{
		Name:      "list",
		Usage:     "list the collections the store knows, with how many of their files it holds",
		UsageText: "distswarm collection list [--store S] [--json]",
		Description: `Lists the collection torrents remembered in STORE/collections (those the
daemon seeds and uses for Portage mode and the gateway): infohash, name,
files held / files listed, size, piece length.

   distswarm collection list
   distswarm collection list --json | jq '.[] | select(.present < .files)'`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "store", Usage: "store directory", EnvVars: []string{"DISTSWARM_STORE"}},
			&cli.BoolFlag{Name: "json", Usage: "one JSON array for scripts"},
		},
		Action: runCollectionList,
	}
}

func runCollectionList(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageErr("collection list takes no names (see collection info)")
	}
	store, err := openExistingStoreFlag(c)
	if errors.Is(err, swarm.ErrNoStore) {
		if c.Bool("json") {
			return writeJSON(c.App.Writer, []swarm.KnownCollection{})
		}
		fmt.Fprintf(c.App.ErrWriter, "%v: it knows no collections\n", err)
		return nil
	}
	if err != nil {
		return failedErr("collection list: %v", err)
	}
	known, err := store.KnownCollections(true)
	if err != nil {
		return failedErr("collection list: %v", err)
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, known)
	}
	if len(known) == 0 {
		fmt.Fprintf(c.App.ErrWriter, "%s knows no collections (add one with: distswarm collection add FILE)\n", store.Root)
		return nil
	}
	for _, k := range known {
		fmt.Fprintf(c.App.Writer, "%s  %-12s %6d/%-6d files  %9s  %s pieces\n", k.InfoHash, k.Name, k.Present, k.Files,
			humanize.IBytes(uint64(k.Bytes)), humanize.IBytes(uint64(k.PieceLength)))
	}
	return nil
}

func collectionInfoCommand() *cli.Command {
	return &cli.Command{
		Name:      "info",
		Usage:     "describe a collection: one the store knows (by infohash or a prefix of it), or a .torrent or collection index file",
		UsageText: "distswarm collection info [--store S] [--json] INFOHASH|FILE",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "store", Usage: "store directory", EnvVars: []string{"DISTSWARM_STORE"}},
			&cli.BoolFlag{Name: "json", Usage: "JSON for scripts: an object for an INFOHASH, an array (an object per torrent) for a FILE, whose present is null when there is no store"},
		},
		Action: runCollectionInfo,
	}
}

func runCollectionInfo(c *cli.Context) error {
	if c.NArg() != 1 {
		return usageErr("collection info: name one collection by its infohash (distswarm collection list shows them)")
	}
	store, err := openExistingStoreFlag(c)
	arg := c.Args().First()
	if st, serr := os.Stat(arg); serr == nil && st.Mode().IsRegular() {
		switch {
		case errors.Is(err, swarm.ErrNoStore):
			store = nil // a file is described without a store, with no counts of files held
		case err != nil:
			return failedErr("collection info: %v", err)
		}
		return describeCollectionFile(c, store, arg)
	}
	if err != nil {
		return failedErr("collection info: %v", err)
	}
	known, err := store.KnownCollections(true)
	if err != nil {
		return failedErr("collection info: %v", err)
	}
	k, err := pickCollection(known, arg)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, k)
	}
	printCollectionInfo(c.App.Writer, k, true)
	return nil
}

// describeCollectionFile is collection info of a .torrent or collection
// index file: each of its torrents (a sharded index has several), with the
// files of each that the store holds. --json writes an array.
func describeCollectionFile(c *cli.Context, store *swarm.Store, path string) error {
	coll, err := collection.Load(path)
	if err != nil {
		return failedErr("collection info: %v", err)
	}
	out := make([]swarm.KnownCollection, 0, len(coll.Torrents))
	for _, mi := range coll.Torrents {
		k, err := store.Describe(mi)
		if err != nil {
			return failedErr("collection info: %s: %v", path, err)
		}
		out = append(out, k)
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, describedJSON(out, store != nil))
	}
	for i, k := range out {
		if i > 0 {
			fmt.Fprintln(c.App.Writer)
		}
		printCollectionInfo(c.App.Writer, k, store != nil)
	}
	return nil
}

// describedCollection is a described torrent in JSON: present is null, not
// 0, when there was no store to count the files in.
type describedCollection struct {
	swarm.KnownCollection
	Present *int `json:"present"`
}

func describedJSON(ks []swarm.KnownCollection, held bool) []describedCollection {
	out := make([]describedCollection, len(ks))
	for i := range ks {
		out[i].KnownCollection = ks[i]
		if held {
			out[i].Present = &ks[i].Present
		}
	}
	return out
}

// printCollectionInfo writes k as text; held says whether k.Present was
// counted (there is a store).
func printCollectionInfo(w io.Writer, k swarm.KnownCollection, held bool) {
	files := fmt.Sprintf("%d (%d in the store)", k.Files, k.Present)
	if !held {
		files = fmt.Sprintf("%d (no store to count them in)", k.Files)
	}
	fmt.Fprintf(w, "infohash      %s\nname          %s\nfiles         %s\nsize          %s\n",
		k.InfoHash, k.Name, files, humanize.IBytes(uint64(k.Bytes)))
	fmt.Fprintf(w, "pieces        %d of %s\ntrackers      %d\nwebseeds      %d\nmagnet        %s\n",
		k.Pieces, humanize.IBytes(uint64(k.PieceLength)), k.Trackers, k.Webseeds, k.Magnet)
}

// pickCollection finds the one known collection whose infohash starts
// with prefix.
func pickCollection(known []swarm.KnownCollection, prefix string) (swarm.KnownCollection, error) {
	prefix = strings.ToLower(prefix)
	if len(prefix) < 4 || len(prefix) > 40 || strings.Trim(prefix, "0123456789abcdef") != "" {
		return swarm.KnownCollection{}, usageErr("collection info: %q is not an infohash: give 4 to 40 hex digits of a collection the store knows (distswarm collection list), or the path of a .torrent or index file", prefix)
	}
	var hits []swarm.KnownCollection
	for _, k := range known {
		if len(prefix) >= 4 && len(prefix) <= len(k.InfoHash) && k.InfoHash[:len(prefix)] == prefix {
			hits = append(hits, k)
		}
	}
	switch len(hits) {
	case 1:
		return hits[0], nil
	case 0:
		return swarm.KnownCollection{}, failedErr("collection info: no known collection has infohash %q (at least 4 hex digits; distswarm collection list)", prefix)
	}
	return swarm.KnownCollection{}, usageErr("collection info: %q matches %d collections: give more digits", prefix, len(hits))
}
