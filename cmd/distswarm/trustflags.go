package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/distswarm/distswarm/manifest/trust"
)

// trustFlags are the trust-file flags of `binpkg fetch` and `daemon`.
func trustFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "trust-file", Usage: "trust file (TOML: trusted keys and threshold, docs/attestations.md): use a binary package only when enough trusted keys attest it"},
		&cli.IntFlag{Name: "threshold", Usage: "k: trusted keys that must attest a package's bytes (overrides the trust file's)"},
	}
}

// trustPolicy loads --trust-file and applies --threshold; it returns the
// file's text too (the daemon parses it again). No --trust-file: nil.
func trustPolicy(c *cli.Context, cmd string) (*trust.Policy, string, error) {
	path := c.String("trust-file")
	if path == "" {
		if c.IsSet("threshold") {
			return nil, "", usageErr("%s: --threshold needs --trust-file", cmd)
		}
		return nil, "", nil
	}
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, "", usageErr("%s: --trust-file: %v", cmd, err)
	}
	if len(text) > trust.MaxPolicySize {
		return nil, "", usageErr("%s: --trust-file %s: larger than %d bytes", cmd, path, trust.MaxPolicySize)
	}
	p, err := trust.Load(path)
	if err != nil {
		return nil, "", usageErr("%s: %v", cmd, err)
	}
	if c.IsSet("threshold") {
		if err := p.SetThreshold(c.Int("threshold")); err != nil {
			return nil, "", usageErr("%s: --threshold: %v", cmd, err)
		}
	}
	return p, string(text), nil
}

// describePolicy is the one-line description of a trust file in use.
func describePolicy(p *trust.Policy) string {
	return fmt.Sprintf("trust file: %d keys, threshold %d", len(p.Keys), p.Threshold)
}
