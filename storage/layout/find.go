package layout

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/distswarm/distswarm/internal/dirindex"
)

// knownSpecs are the structures Find tries, after the directory's own
// layout.conf and before flat, in this order:
//
//   - "filename-hash BLAKE2B 8": distfiles.gentoo.org and its mirrors, and
//     DefaultSpec (what Migrate produces by default).
//   - "filename-hash BLAKE2B 8:8": the two-level variant discussed for large
//     local stores.
//   - "content-hash SHA512 8:8:8" and "content-hash BLAKE2B 8:8:8": the
//     content-hash layout used by Portage's tests and third-party CDNs; only
//     tried when digests carry that hash.
//
// The list is short on purpose: every entry costs a stat per lookup.
var knownSpecs = [...]string{
	"filename-hash BLAKE2B 8",
	"filename-hash BLAKE2B 8:8",
	"content-hash SHA512 8:8:8",
	"content-hash BLAKE2B 8:8:8",
}

// KnownLayouts returns a fresh copy of the layouts Find tries when the
// directory's layout.conf does not locate a file (see knownSpecs).
func KnownLayouts() []Layout {
	ls := make([]Layout, 0, len(knownSpecs))
	for _, s := range knownSpecs {
		l, err := ParseSpec(s)
		if err != nil {
			panic(err) // unreachable: constant, valid specs
		}
		ls = append(ls, l)
	}
	return ls
}

// Finder locates distfiles in one directory. It reads the directory's
// layout.conf once, so a caller looking up many names (a seeder adopting
// a distdir of 100,000 files) does not re-read and re-parse it per name.
// A Finder does not notice later changes to layout.conf.
type Finder struct {
	dir     string
	layouts []Layout
	present *dirindex.Index // see WithIndex
}

// WithIndex returns a Finder like f that answers from directory listings
// (one read per directory, see package dirindex) instead of a stat per
// candidate path: for looking up thousands of names at once, most of them
// absent. Like the index, it does not see files created after their
// directory was read; use it for one batch of lookups.
func (f *Finder) WithIndex() *Finder {
	c := *f
	c.present = dirindex.New(f.dir)
	return &c
}

// NewFinder returns a Finder for dir: the layouts of dir's layout.conf,
// then KnownLayouts, then flat. An unreadable or malformed layout.conf is
// ignored (Portage treats it as flat).
func NewFinder(dir string) *Finder {
	var layouts []Layout
	if c, err := LoadConfig(filepath.Join(dir, ConfigName)); err == nil {
		layouts = append(layouts, c.Layouts...)
	}
	layouts = append(layouts, KnownLayouts()...)
	layouts = append(layouts, flatLayout{})
	return &Finder{dir: dir, layouts: layouts}
}

// Candidates returns the distinct paths (relative, '/'-separated) Find
// probes for name, in order: every layout of dir's layout.conf, then
// KnownLayouts, then flat. An unreadable or malformed layout.conf is
// ignored (Portage treats it as flat). It fails only for invalid names.
func Candidates(dir, name string, digests map[string]string) ([]string, error) {
	return NewFinder(dir).Candidates(name, digests)
}

// Candidates is the package-level Candidates for the Finder's directory.
func (f *Finder) Candidates(name string, digests map[string]string) ([]string, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(f.layouts))
	var out []string
	for _, l := range f.layouts {
		p, ok := l.Path(name, digests)
		if !ok || seen[p] {
			continue
		}
		seen[p] = true
		out = append(out, p)
	}
	return out, nil
}

// Find returns the full path of distfile name inside dir, trying every
// path Candidates lists and returning the first that is a regular file
// (symlinks are followed; directories and other types are ignored). A file
// that is not present fails with an error wrapping fs.ErrNotExist; an
// invalid name fails with an error wrapping ErrInvalidName.
func Find(dir, name string, digests map[string]string) (string, error) {
	return NewFinder(dir).Find(name, digests)
}

// Find is the package-level Find for the Finder's directory.
func (f *Finder) Find(name string, digests map[string]string) (string, error) {
	dir := f.dir
	cands, err := f.Candidates(name, digests)
	if err != nil {
		return "", fmt.Errorf("find distfile: %w", err)
	}
	var other error
	for _, rel := range cands {
		full := filepath.Join(dir, filepath.FromSlash(rel))
		if f.present != nil {
			switch k, mode := f.present.Lookup(full); {
			case k == dirindex.Missing:
				continue
			case k == dirindex.Present && mode.IsRegular():
				return full, nil
			case k == dirindex.Present && mode&fs.ModeSymlink == 0:
				continue // a directory or a special file
			}
		}
		fi, err := os.Stat(full)
		if err == nil {
			if fi.Mode().IsRegular() {
				return full, nil
			}
			continue
		}
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) && other == nil {
			other = err
		}
	}
	if other != nil {
		return "", fmt.Errorf("find distfile %q in %s: %w (%w)", name, dir, fs.ErrNotExist, other)
	}
	return "", fmt.Errorf("find distfile %q in %s: %w", name, dir, fs.ErrNotExist)
}
