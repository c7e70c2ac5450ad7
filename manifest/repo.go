package manifest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
)

// Conflict lists the DIST entries of one distfile name that disagree across
// package Manifests (different size, or a hash both list with different
// values). Entries holds every entry for the name, in Manifest path order;
// Entry.Pos tells which Manifest each came from.
type Conflict struct {
	Name    string
	Entries []Entry
}

// RepoIndex is the DIST view of an ebuild repository.
type RepoIndex struct {
	// Dist maps a distfile name to its entry. When several packages list
	// the same name compatibly, hashes are merged and Pos is the first
	// Manifest (in path order). When they conflict, the first one is kept
	// here and the name is listed in Conflicts.
	Dist      map[string]Entry
	Conflicts []Conflict // sorted by Name
	Manifests int        // package Manifests parsed successfully
	Errors    []error    // per-Manifest failures, in path order; they do not abort loading
}

// isNonCategory reports top-level repository directories that never hold
// packages.
func isNonCategory(name string) bool {
	switch name {
	case "eclass", "licenses", "metadata", "profiles", "scripts",
		"distfiles", "packages", "local", "lost+found":
		return true
	}
	return strings.HasPrefix(name, ".")
}

// LoadRepo reads the DIST entries of every package Manifest
// (<root>/<category>/<package>/Manifest, or a compressed variant) of the
// ebuild repository at root, in parallel with a bounded number of workers.
// The result is deterministic. Compressed package Manifests are not
// verified against their parent here (the tree itself is not verified).
// Only an unreadable root or a cancelled context is an error; problems
// with single Manifests are collected in RepoIndex.Errors.
func LoadRepo(ctx context.Context, root string) (*RepoIndex, error) {
	top, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("load repo: %w", err)
	}
	var cats []string
	for _, d := range top {
		n := d.Name()
		if d.IsDir() && !isNonCategory(n) {
			cats = append(cats, filepath.Join(root, n))
		}
	}
	workers := min(max(4*runtime.GOMAXPROCS(0), 8), 64) // I/O-bound on a cold cache

	// Phase 1: list package directories of every category.
	pkgLists := make([][]string, len(cats))
	catErrs := make([]error, len(cats))
	if err := parallel(ctx, workers, len(cats), func(i int) {
		ents, err := os.ReadDir(cats[i])
		if err != nil {
			catErrs[i] = fmt.Errorf("load repo: %w", err)
			return
		}
		for _, d := range ents {
			if d.IsDir() && !strings.HasPrefix(d.Name(), ".") {
				pkgLists[i] = append(pkgLists[i], filepath.Join(cats[i], d.Name()))
			}
		}
	}); err != nil {
		return nil, err
	}
	var pkgs []string
	for _, l := range pkgLists {
		pkgs = append(pkgs, l...)
	}
	slices.Sort(pkgs)

	// Phase 2: parse Manifests.
	type result struct {
		dist []Entry
		ok   bool
		err  error
	}
	results := make([]result, len(pkgs))
	if err := parallel(ctx, workers, len(pkgs), func(i int) {
		m, err := openPackageManifest(pkgs[i])
		if err != nil {
			results[i].err = err
			return
		}
		if m == nil {
			return // no Manifest (e.g. a package without distfiles in a thin tree)
		}
		results[i].ok = true
		for _, e := range m.Entries {
			if e.Tag == TagDIST {
				results[i].dist = append(results[i].dist, e)
			}
		}
	}); err != nil {
		return nil, err
	}

	// Merge sequentially in path order.
	idx := &RepoIndex{Dist: make(map[string]Entry)}
	for _, err := range catErrs {
		if err != nil {
			idx.Errors = append(idx.Errors, err)
		}
	}
	all := make(map[string][]Entry) // only filled for names seen more than once
	conflicted := make(map[string]bool)
	for _, r := range results {
		if r.err != nil {
			idx.Errors = append(idx.Errors, r.err)
			continue
		}
		if r.ok {
			idx.Manifests++
		}
		for _, e := range r.dist {
			cur, seen := idx.Dist[e.Path]
			if !seen {
				idx.Dist[e.Path] = e
				continue
			}
			if all[e.Path] == nil {
				all[e.Path] = []Entry{cur}
			}
			all[e.Path] = append(all[e.Path], e)
			if incompatibility(&cur, &e) != "" {
				conflicted[e.Path] = true
				continue
			}
			merged := cur
			merged.Digests = make(Digests, len(cur.Digests)+len(e.Digests))
			for n, v := range e.Digests {
				merged.Digests[n] = v
			}
			for n, v := range cur.Digests {
				merged.Digests[n] = v
			}
			idx.Dist[e.Path] = merged
		}
	}
	for name := range conflicted {
		idx.Conflicts = append(idx.Conflicts, Conflict{Name: name, Entries: all[name]})
	}
	slices.SortFunc(idx.Conflicts, func(a, b Conflict) int { return cmp.Compare(a.Name, b.Name) })
	return idx, nil
}

// openPackageManifest parses the first existing Manifest variant in dir;
// it returns nil, nil if there is none.
func openPackageManifest(dir string) (*Manifest, error) {
	for _, n := range [...]string{"Manifest", "Manifest.gz", "Manifest.xz", "Manifest.zst", "Manifest.bz2"} {
		m, err := ParseFile(filepath.Join(dir, n))
		if err == nil {
			return m, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return nil, nil
}

// parallel runs fn(0..n-1) on at most workers goroutines, stopping early
// (and returning the context's error) when ctx is cancelled.
func parallel(ctx context.Context, workers, n int, fn func(i int)) error {
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for i := range jobs {
				fn(i)
			}
		})
	}
	var err error
feed:
	for i := range n {
		select {
		case jobs <- i:
		case <-ctx.Done():
			err = fmt.Errorf("load repo: %w", ctx.Err())
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	return err
}
