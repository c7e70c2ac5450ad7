package swarm

import (
	"errors"
	"fmt"
	"strings"

	"github.com/distswarm/distswarm/manifest/binpkg"
)

// errNoMatchingBuild is wrapped by a NoMatchError.
var errNoMatchingBuild = errors.New("no build matches the requested configuration")

// BinpkgCandidate is one package a want could have selected, and how its
// build differs from the request's BuildWant.
type BinpkgCandidate struct {
	Path        string             `json:"path"`
	BuildID     int                `json:"build_id"`
	Collection  string             `json:"collection"` // infohash, hex
	Differences []binpkg.BuildDiff `json:"differences,omitempty"`
}

// NoMatchError says that a want's packages exist but none was built the
// way the request asks: it lists each candidate and how it differs.
type NoMatchError struct {
	Want       string
	Match      string // the BuildWant, summarised
	Candidates []BinpkgCandidate
}

func (e *NoMatchError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %v (%s); %d candidate(s):", e.Want, errNoMatchingBuild, e.Match, len(e.Candidates))
	for _, c := range e.Candidates {
		fmt.Fprintf(&b, "\n  %s (BUILD_ID %d, collection %s): %s", c.Path, c.BuildID, c.Collection, describeDiffs(c.Differences))
	}
	return b.String()
}

// Unwrap makes errors.Is(err, errNoMatchingBuild) hold.
func (e *NoMatchError) Unwrap() error { return errNoMatchingBuild }

func describeDiffs(ds []binpkg.BuildDiff) string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = d.String()
	}
	return strings.Join(s, "; ")
}

// binpkgCandidate is a package listed for a want, with its source.
type binpkgCandidate struct {
	pkg  binpkg.Package
	path binpkg.Path
	src  binpkgSource
}

// pickPackage finds the package a want names (see BinpkgRequest.Wants):
// among the candidates built as match asks, the highest BUILD_ID (ties:
// the first listed).
func pickPackage(want string, match binpkg.BuildWant, srcs []binpkgSource) (binpkg.Package, binpkgSource, error) {
	cands, err := binpkgCandidates(want, srcs)
	if err != nil {
		return nil, binpkgSource{}, err
	}
	var best *binpkgCandidate
	var rejected []BinpkgCandidate
	for i, c := range cands {
		diffs, _, err := match.Check(c.src.packages.Header, c.pkg)
		if err != nil {
			return nil, binpkgSource{}, fmt.Errorf("%s: %s: %w", want, c.path, err)
		}
		if len(diffs) > 0 {
			rejected = append(rejected, BinpkgCandidate{Path: c.path.String(), BuildID: c.path.BuildID(),
				Collection: c.src.ih.HexString(), Differences: diffs})
			continue
		}
		if best == nil || c.path.BuildID() > best.path.BuildID() {
			best = &cands[i]
		}
	}
	if best == nil {
		return nil, binpkgSource{}, &NoMatchError{Want: want, Match: match.String(), Candidates: rejected}
	}
	return best.pkg, best.src, nil
}

// binpkgCandidates lists the packages of every source that a want names:
// the one at a PKGDIR path, or every build of a CPV.
func binpkgCandidates(want string, srcs []binpkgSource) ([]binpkgCandidate, error) {
	bp, pathErr := binpkg.ParsePath(want)
	var cpv binpkg.CPV
	if pathErr != nil {
		var err error
		if cpv, err = binpkg.ParseCPV(want); err != nil {
			return nil, fmt.Errorf("%s: neither a PKGDIR path (%v) nor a CPV (%v)", want, pathErr, err)
		}
	}
	var out []binpkgCandidate
	for _, s := range srcs {
		for _, p := range s.packages.Packages {
			pp, err := p.Path()
			if err != nil {
				continue
			}
			if pathErr == nil && pp == bp || pathErr != nil && pp.CPV() == cpv {
				out = append(out, binpkgCandidate{pkg: p, path: pp, src: s})
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: %w", want, errNotInCollections)
	}
	return out, nil
}
