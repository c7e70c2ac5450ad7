package main

import (
	"fmt"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/distswarm/distswarm/manifest"
)

func hashCommand() *cli.Command {
	return &cli.Command{
		Name:      "hash",
		Usage:     "print a Manifest DIST line (BLAKE2B and SHA512) for each file",
		ArgsUsage: "FILE...",
		Description: `Reads each file once and computes BLAKE2B and SHA512 concurrently, printing
one line per file in the format of a Gentoo Manifest DIST entry:

   DIST <name> <size> BLAKE2B <hex> SHA512 <hex>

Example:
   distswarm hash /var/cache/distfiles/zstd-1.5.5.tar.gz >> Manifest`,
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return usageErr("hash: no FILE given (see distswarm hash --help)")
			}
			failed := false
			for _, path := range c.Args().Slice() {
				digests, size, err := manifest.SumFile(c.Context, path, manifest.StrongHashes)
				if err != nil {
					fmt.Fprintf(c.App.ErrWriter, "distswarm: hash %s: %v\n", path, err)
					failed = true
					continue
				}
				e := manifest.Entry{Tag: "DIST", Path: filepath.Base(path), Size: size, Digests: digests}
				fmt.Fprintln(c.App.Writer, e.String())
			}
			if failed {
				return silentFailure(exitFailed)
			}
			return nil
		},
	}
}
