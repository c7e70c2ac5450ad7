package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/distswarm/distswarm/manifest/binpkg"
	"github.com/distswarm/distswarm/swarm"
	"github.com/distswarm/distswarm/swarm/control"
)

// defaultMakeConf is where Portage reads make.conf (a file or directory).
const defaultMakeConf = "/etc/portage/make.conf"

// matchPairs rejoins --match values that the string-slice flag split at
// commas: LDFLAGS=-Wl,-O1,--as-needed arrives as three pieces, and a piece
// that does not start with a field name and "=" continues the one before.
func matchPairs(pieces []string) []string {
	var out []string
	for _, p := range pieces {
		k, _, ok := strings.Cut(p, "=")
		if len(out) > 0 && (!ok || !slices.Contains(binpkg.MatchFields(), k)) {
			out[len(out)-1] += "," + p
			continue
		}
		out = append(out, p)
	}
	return out
}

// binpkgMatchFlags select builds by configuration.
func binpkgMatchFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "match-use", Usage: `USE flags the build must have on ("ssl", "+ssl") or off ("-gtk"); flags the package does not have are ignored (repeatable)`},
		&cli.StringSliceFlag{Name: "match", Usage: "KEY=VALUE the build must have, KEY one of " + strings.Join(binpkg.MatchFields(), ", ") + " (repeatable)"},
		&cli.BoolFlag{Name: "match-make-conf", Usage: "require builds that agree with --make-conf: its USE and USE_EXPAND variables, CHOST (CFLAGS, CXXFLAGS, LDFLAGS are not in Packages: reported as unchecked)"},
		&cli.StringFlag{Name: "make-conf", Usage: "the make.conf file or directory --match-make-conf reads", Value: defaultMakeConf},
		&cli.BoolFlag{Name: "json", Usage: "print the results as one JSON array (want, name, outcome, path, error, candidates) instead of paths"},
	}
}

// buildWantFromFlags is the BuildWant the flags ask for: make.conf first,
// then --match-use, then --match (each later one overriding).
func buildWantFromFlags(c *cli.Context) (binpkg.BuildWant, error) {
	var w binpkg.BuildWant
	if c.Bool("match-make-conf") {
		m, err := binpkg.ReadMakeConf(c.String("make-conf"))
		if err != nil {
			return w, usageErr("binpkg fetch --match-make-conf: %v", err)
		}
		if err := w.AddMakeConf(m); err != nil {
			return w, usageErr("binpkg fetch --match-make-conf %s: %v", c.String("make-conf"), err)
		}
	}
	for _, s := range c.StringSlice("match-use") {
		if err := w.AddUSE(s); err != nil {
			return w, usageErr("binpkg fetch --match-use: %v", err)
		}
	}
	for _, kv := range matchPairs(c.StringSlice("match")) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return w, usageErr("binpkg fetch --match %q: want KEY=VALUE", kv)
		}
		if err := w.Set(k, v); err != nil {
			return w, usageErr("binpkg fetch --match: %v", err)
		}
	}
	if un := w.Unrecorded(); len(un) > 0 {
		fmt.Fprintf(c.App.ErrWriter, "note: Packages entries do not record %s: not checked\n", strings.Join(un, ", "))
	}
	return w, nil
}

// binpkgControlResult is a result in the control API's form, which --json prints.
func binpkgControlResult(r swarm.BinpkgResult) control.BinpkgResult {
	out := control.BinpkgResult{Want: r.Want, Name: r.Name, Package: r.Package, Outcome: r.Outcome, Path: r.Path}
	if r.Err != nil {
		out.Error = r.Err.Error()
	}
	if nm, ok := errors.AsType[*swarm.NoMatchError](r.Err); ok {
		out.Candidates = nm.Candidates
	}
	return out
}

// binpkgResultFromDaemon turns the daemon's answer back into a result,
// with a NoMatchError again when it lists candidates.
func binpkgResultFromDaemon(r control.BinpkgResult, match binpkg.BuildWant) swarm.BinpkgResult {
	out := swarm.BinpkgResult{Want: r.Want, Package: r.Package,
		FileResult: swarm.FileResult{Name: r.Name, Outcome: r.Outcome, Path: r.Path}}
	switch {
	case len(r.Candidates) > 0:
		out.Err = &swarm.NoMatchError{Want: r.Want, Match: match.String(), Candidates: r.Candidates}
	case r.Error != "":
		out.Err = errors.New(r.Error)
	}
	return out
}
