package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/distswarm/distswarm/manifest"
	"github.com/distswarm/distswarm/manifest/attest"
	"github.com/distswarm/distswarm/manifest/trust"
)

func trustCommand() *cli.Command {
	return &cli.Command{
		Name:  "trust",
		Usage: "judge the binary packages of a PKGDIR by the attestations of the keys you trust",
		Description: `Reads every attestation under DIR/attestations/, hashes every binary package
of DIR and prints, for each, how many of the M keys of the trust file attest its
exact bytes for --build-key:

   app-misc/foo/foo-1-1.gpkg.tar: 2 of 3 agree, 0 disagree, 1 missing (threshold 2): accepted

A trusted key that attested nothing is missing, never agreement. Keys not in
the trust file count for nothing. A key attesting other bytes is named in a
warning. Exit status 1 when a package is not accepted or a key disagrees.

The build key of each package is derived from its Packages entry as
'distswarm attest' derives it (binpkg.BuildKey); --build-key forces one
string for every package instead.

The trust file is TOML (docs/attestations.md):
   threshold = 2
   [[key]]
   name = "alice"
   public-key = "ssh-ed25519 AAAA… alice@example.org"`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "trust-file", Usage: "trust file: trusted keys and threshold", Required: true},
			&cli.StringFlag{Name: "pkgdir", Usage: "PKGDIR holding the packages and attestations/", Required: true},
			&cli.IntFlag{Name: "threshold", Usage: "k: trusted keys that must agree (overrides the trust file's)"},
			&cli.StringFlag{Name: "build-key", Usage: "build-configuration key the packages must be attested for", DefaultText: "derived from each package's Packages entry"},
			&cli.BoolFlag{Name: "json", Usage: "one JSON array of verdicts"},
		},
		Action: runTrust,
	}
}

func runTrust(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageErr("trust: unexpected argument %q", c.Args().First())
	}
	policy, err := trust.Load(c.String("trust-file"))
	if err != nil {
		return usageErr("trust: %v", err)
	}
	if c.IsSet("threshold") {
		if err := policy.SetThreshold(c.Int("threshold")); err != nil {
			return usageErr("trust: --threshold: %v", err)
		}
	}
	pkgdir := c.String("pkgdir")
	pool, err := loadAttestations(pkgdir, c.App.ErrWriter)
	if err != nil {
		return usageErr("trust: %v", err)
	}
	paths, err := findBinpkgs(pkgdir)
	if err != nil {
		return usageErr("trust: %v", err)
	}
	px, err := readPkgdirIndex(pkgdir)
	if err != nil {
		return failedErr("trust: %v", err)
	}
	verdicts := make([]trust.Verdict, 0, len(paths))
	now := time.Now()
	for _, p := range paths {
		size, digests, err := px.digest(c.Context, p)
		if err != nil {
			return failedErr("trust: %v", err)
		}
		key := c.String("build-key")
		if !c.IsSet("build-key") {
			if key, err = px.buildKey(c.Context, p, size, digests); err != nil {
				return failedErr("trust: %v", err)
			}
		}
		subject := trust.Subject{Path: p, BuildKey: key, Size: size,
			BLAKE2B: digests[manifest.BLAKE2B], SHA512: digests[manifest.SHA512]}
		verdicts = append(verdicts, pool.Evaluate(policy, subject, now))
	}
	if c.Bool("json") {
		if err := writeJSON(c.App.Writer, verdicts); err != nil {
			return err
		}
	} else {
		printVerdicts(c.App.Writer, verdicts)
	}
	printWarnings(c.App.ErrWriter, verdicts)
	for _, v := range verdicts {
		if !v.Accepted || len(v.Disagree) > 0 {
			return silentFailure(exitFailed)
		}
	}
	return nil
}

// loadAttestations reads DIR/attestations/**.attestation into a pool;
// files that fail are reported on errw and kept out.
func loadAttestations(pkgdir string, errw io.Writer) (*trust.Pool, error) {
	pool := trust.NewPool()
	root := filepath.Join(pkgdir, attest.Dir)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() || !strings.HasSuffix(p, attest.Suffix) {
			return nil
		}
		data, err := readSmall(p, attest.MaxFileSize)
		if err == nil {
			err = pool.Add(p, data)
		}
		// Bad signatures are reported with the package they claim.
		if err != nil && !errors.Is(err, attest.ErrBadSignature) {
			fmt.Fprintf(errw, "distswarm: trust: ignored %v\n", err)
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("read attestations: %w", err)
	}
	return pool, nil
}

func readSmall(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, limit)
	}
	return data, nil
}

func printVerdicts(w io.Writer, verdicts []trust.Verdict) {
	for _, v := range verdicts {
		state := "accepted"
		if !v.Accepted {
			state = "NOT accepted"
		}
		fmt.Fprintf(w, "%s: %s (threshold %d): %s\n", v.Subject.Path, v, v.Threshold, state)
	}
}

// printWarnings names every disagreeing key and every bad attestation,
// whatever the output format.
func printWarnings(errw io.Writer, verdicts []trust.Verdict) {
	for _, v := range verdicts {
		for _, d := range v.Disagree {
			fmt.Fprintf(errw, "distswarm: WARNING: %s: key %q (%s) attests other bytes (size %d, BLAKE2B %.16s…)\n",
				v.Subject.Path, d.Key, d.ID, d.Size, d.BLAKE2B)
		}
		for _, b := range v.BadSignatures {
			fmt.Fprintf(errw, "distswarm: %s: ignored bad attestation %s: %s\n", v.Subject.Path, b.Origin, b.Error)
		}
	}
}
