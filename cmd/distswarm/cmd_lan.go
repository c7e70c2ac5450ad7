package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/urfave/cli/v2"

	"github.com/distswarm/distswarm/swarm"
	"github.com/distswarm/distswarm/swarm/control"
)

func lanCommand() *cli.Command {
	return &cli.Command{
		Name:      "lan",
		Usage:     "list the peers and collections the daemon heard on the LAN",
		UsageText: "distswarm lan [--store S] [--json]",
		Description: `Asks the store's daemon what LAN discovery (BEP 14) heard: the machines
announcing collections, the infohashes they announce, and the collections
the daemon learned from them (their info and Manifest, no data), in which
'distswarm fetch NAME', Portage mode and the gateway look for distfiles.

   distswarm lan
   distswarm lan --json | jq '.learned[].name'`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "store", Usage: "store directory", Value: swarm.DefaultStoreDir(), EnvVars: []string{"DISTSWARM_STORE"}},
			&cli.BoolFlag{Name: "json", Usage: "the daemon's LAN status as one JSON object"},
		},
		Action: runLAN,
	}
}

func runLAN(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageErr("lan takes no arguments")
	}
	store, err := openStoreFlag(c)
	if err != nil {
		return err
	}
	cl, err := control.Dial(c.Context, store.ControlSocket())
	if errors.Is(err, control.ErrNoDaemon) {
		return failedErr("lan: no daemon runs on %s: LAN discovery runs in 'distswarm daemon'", store.Root)
	}
	if err != nil {
		return failedErr("lan: %v", err)
	}
	st, err := cl.Status(c.Context)
	if err != nil {
		return failedErr("lan: %v", err)
	}
	if st.LAN == nil {
		return failedErr("lan: the daemon on %s runs without LAN discovery (--lsd=false, or no usable interface: see its log)", store.Root)
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, st.LAN)
	}
	printLAN(c.App.Writer, st.LAN, time.Now())
	return nil
}

func printLAN(w io.Writer, l *swarm.LANStatus, now time.Time) {
	fmt.Fprintf(w, "interfaces: %v  datagrams sent %d, received %d, dropped %d\n", l.Interfaces, l.Sent, l.Received, l.Dropped)
	fmt.Fprintf(w, "\npeers (%d):\n", len(l.Peers))
	for _, p := range l.Peers {
		fmt.Fprintf(w, "  %-40s %3d collections  heard %s ago\n", p.Addr, len(p.Infohashes), now.Sub(p.LastHeard).Round(time.Second))
	}
	fmt.Fprintf(w, "\ncollections announced (%d):\n", len(l.Infohashes))
	for _, ih := range l.Infohashes {
		kind := "unknown"
		switch {
		case ih.Own:
			kind = "own"
		case ih.Learned:
			kind = "learned"
		}
		fmt.Fprintf(w, "  %s  %-8s %3d peers  %s\n", ih.InfoHash, kind, ih.Peers, ih.Name)
	}
	fmt.Fprintf(w, "\nlearned from the LAN (%d, %d failed):\n", len(l.Learned), l.LearnFailures)
	for _, lc := range l.Learned {
		mf := "Manifest"
		if !lc.Manifest {
			mf = "no Manifest yet"
		}
		fmt.Fprintf(w, "  %s  %-20s %6d files  %9s  %s  from %s\n", lc.InfoHash, lc.Name, lc.Files,
			humanize.IBytes(uint64(lc.Bytes)), mf, learnedFrom(lc.From))
	}
}

func learnedFrom(s string) string {
	if s == "" {
		return "an earlier run"
	}
	return s
}
