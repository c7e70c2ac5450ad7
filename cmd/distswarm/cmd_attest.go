package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/crypto/ssh"

	"github.com/distswarm/distswarm/manifest"
	"github.com/distswarm/distswarm/manifest/attest"
)

// binpkgSuffixes are the file names attest signs: GPKG and XPAK binpkgs.
var binpkgSuffixes = []string{".gpkg.tar", ".xpak", ".tbz2"}

func attestCommand() *cli.Command {
	return &cli.Command{
		Name:  "attest",
		Usage: "sign an attestation for every binary package of a PKGDIR",
		Description: `Signs, with key K of the key store, one statement per binary package
(*.gpkg.tar, *.xpak, *.tbz2) under DIR: its path in DIR, --build-key, size,
BLAKE2B, SHA512, the signer and the time, and whether you built it (--built,
the default) or only checked it (--checked). The format is docs/attestations.md.

Attestations are written to DIR/attestations/<key>/<path>.attestation (or under
--out), so a collection made of the PKGDIR carries them. Signing again replaces
your earlier attestation of the same path.

The build key of each package is derived from its Packages entry (the
PKGDIR's Packages when it lists the file, else the entry Portage would write
from the package's metadata): the digest of its CPV, USE, CHOST and the
index's ARCH and PROFILE (binpkg.BuildKey), the key a node derives from a
collection made of the same PKGDIR. --build-key forces one string for every
package of the run instead.

Example:
   distswarm attest --key builder --pkgdir /var/cache/binpkgs --built`,
		Flags: []cli.Flag{
			keysDirFlag(),
			&cli.StringFlag{Name: "key", Usage: "name of the signing key in the key store", Required: true},
			&cli.StringFlag{Name: "pkgdir", Usage: "PKGDIR to attest", Required: true},
			&cli.BoolFlag{Name: "built", Usage: "you built these packages (default)"},
			&cli.BoolFlag{Name: "checked", Usage: "you only checked these packages (e.g. rebuilt them and compared)"},
			&cli.StringFlag{Name: "build-key", Usage: "build-configuration key to put in every statement", DefaultText: "derived from each package's Packages entry"},
			&cli.StringFlag{Name: "out", Usage: "directory to write attestations/ into", DefaultText: "the PKGDIR"},
		},
		Action: runAttest,
	}
}

func runAttest(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageErr("attest: unexpected argument %q", c.Args().First())
	}
	kind := attest.Built
	switch {
	case c.Bool("built") && c.Bool("checked"):
		return usageErr("attest: give --built or --checked, not both")
	case c.Bool("checked"):
		kind = attest.Checked
	}
	ks, err := keyStore(c)
	if err != nil {
		return err
	}
	signer, err := ks.Signer(c.String("key"))
	if err != nil {
		return usageErr("attest: %v", err)
	}
	pkgdir := c.String("pkgdir")
	out := c.String("out")
	if out == "" {
		out = pkgdir
	}
	paths, err := findBinpkgs(pkgdir)
	if err != nil {
		return usageErr("attest: %v", err)
	}
	if len(paths) == 0 {
		return failedErr("attest: no binary package (%s) under %s", strings.Join(binpkgSuffixes, ", "), pkgdir)
	}
	px, err := readPkgdirIndex(pkgdir)
	if err != nil {
		return failedErr("attest: %v", err)
	}
	a := attester{signer: signer, kind: kind, buildKey: c.String("build-key"), forceKey: c.IsSet("build-key"), pkgdir: px, out: out, now: time.Now().UTC().Truncate(time.Second)}
	for _, p := range paths {
		dest, err := a.attestOne(c.Context, p)
		if err != nil {
			return failedErr("attest: %v", err)
		}
		fmt.Fprintf(c.App.Writer, "%s %s\n", p, dest)
	}
	return nil
}

// findBinpkgs lists the binpkgs under dir as slash paths relative to it,
// skipping the attestations tree.
func findBinpkgs(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() && rel == attest.Dir {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() && hasBinpkgSuffix(rel) {
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read PKGDIR: %w", err)
	}
	return out, nil
}

func hasBinpkgSuffix(name string) bool {
	for _, s := range binpkgSuffixes {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

type attester struct {
	signer   ssh.Signer
	kind     attest.Kind
	buildKey string
	forceKey bool // buildKey for every package, else each one's own
	pkgdir   pkgdirIndex
	out      string
	now      time.Time
}

// attestOne hashes, signs and writes one attestation; it returns where.
func (a attester) attestOne(ctx context.Context, rel string) (string, error) {
	size, digests, err := a.pkgdir.digest(ctx, rel)
	if err != nil {
		return "", err
	}
	key := a.buildKey
	if !a.forceKey {
		if key, err = a.pkgdir.buildKey(ctx, rel, size, digests); err != nil {
			return "", err
		}
	}
	file, err := attest.Sign(attest.Statement{Kind: a.kind, Path: rel, BuildKey: key, Size: size,
		BLAKE2B: digests[manifest.BLAKE2B], SHA512: digests[manifest.SHA512], Time: a.now}, a.signer)
	if err != nil {
		return "", err
	}
	dest, err := attest.PathFor(a.signer.PublicKey(), rel)
	if err != nil {
		return "", err
	}
	full := filepath.Join(a.out, filepath.FromSlash(dest))
	if err := writeAtomic(full, file); err != nil {
		return "", err
	}
	return dest, nil
}

// writeAtomic writes data to path through a temporary file and a rename.
func writeAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write attestation: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".attestation-*")
	if err != nil {
		return fmt.Errorf("write attestation: %w", err)
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
