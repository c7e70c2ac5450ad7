package layout

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// MigrateOptions configures Migrate.
type MigrateOptions struct {
	// Target is the layout files are moved to. nil means the primary
	// layout of dir's layout.conf if it lists any (if that is flat, nothing
	// moves), else Default().
	// content-hash targets are refused: Migrate has no Manifest digests and
	// the flat name would be lost.
	Target Layout
	// Hardlink links each file at its target path and keeps the flat name,
	// for a transition period; layout.conf then keeps a flat entry.
	Hardlink bool
	// DryRun computes and reports the actions without touching anything.
	DryRun bool
	// Progress, if set, is called after each candidate file.
	Progress func(done, total int)
	// Log receives per-file debug records and warnings; nil discards.
	Log *slog.Logger

	// hook, if set, is called between the steps of the migration with a
	// step name. Tests use it to SIGKILL the process at every step.
	hook func(step string)
}

// MigrateReport summarises a Migrate run.
type MigrateReport struct {
	Moved         int // flat files moved to their target path
	Linked        int // flat files hard-linked at their target path (Hardlink)
	AlreadyPlaced int // target already held the same file; flat duplicate removed unless Hardlink
	Skipped       int // left alone: target exists with different content, symlink, or an I/O error
	// Actions are human-readable, e.g. "mv foo-1.tar.gz -> 1b/foo-1.tar.gz".
	Actions []string
}

// Migrate moves every flat distfile of dir to its path under the target
// layout, then records the layout in dir/layout.conf.
//
// Candidates are the regular files directly in dir, except dotfiles,
// layout.conf, in-progress downloads (*.__download__) and Portage's
// *._checksum_failure_* leftovers. Directories are never touched. Symlinks
// are reported as skipped (a relative link would break when moved). An
// existing target is never overwritten: identical content (same inode, or
// same size and bytes) counts as already placed and the flat duplicate is
// removed (kept with Hardlink); different content is skipped and reported.
//
// Crash safety. The invariant is that at every instant each distfile is
// reachable by Find with its original content:
//
//  1. Before the first file moves, layout.conf is atomically rewritten to
//     list the target first, then the layouts it listed before (their files
//     stay where they are), then flat. Find reads layout.conf, so even a
//     target missing from KnownLayouts is probed; Find always probes flat.
//     (Portage uses only the first applicable entry per file, so with
//     filename-hash it never falls back to flat; a directory served to
//     Portage mid-migration should use Hardlink.)
//  2. Each file is placed with link(2) at the target and only then is the
//     flat name unlinked. At every instant the inode has the flat name, the
//     target name or both, and link(2) fails instead of replacing a target
//     that appeared meanwhile. A kill between the two steps leaves two names
//     for one inode; the next run sees the same inode and drops the flat
//     name. Where hard links are unsupported, rename(2) (same directory
//     tree, so same filesystem) is used after re-checking the target.
//  3. For power loss: new bucket directories are fsynced into their parents
//     and the bucket is fsynced after the link, before the unlink.
//  4. Finally layout.conf is rewritten without flat (unless Hardlink or a
//     flat file was left behind). An interrupted atomic write leaves only a
//     dotfile temp, which the next run removes.
//
// Migrate is idempotent: a second run finds nothing to move and leaves
// layout.conf byte-identical. Per-file errors are reported in Skipped and
// returned joined after all files were tried; ctx cancellation stops between
// files.
func Migrate(ctx context.Context, dir string, opts MigrateOptions) (*MigrateReport, error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rep := &MigrateReport{}
	fi, err := os.Stat(dir)
	if err != nil {
		return rep, fmt.Errorf("migrate: %w", err)
	}
	if !fi.IsDir() {
		return rep, fmt.Errorf("migrate %s: not a directory", dir)
	}
	cfg, err := LoadConfig(filepath.Join(dir, ConfigName))
	if err != nil {
		return rep, fmt.Errorf("migrate %s: refusing to replace unparsable layout.conf: %w", dir, err)
	}
	target := opts.Target
	if target == nil {
		target = Default()
		if len(cfg.Layouts) > 0 {
			target = cfg.Primary()
		}
	}
	if strings.HasPrefix(target.String(), KindContentHash+" ") {
		return rep, fmt.Errorf("migrate %s: target %q: %w: needs Manifest digests", dir, target, ErrUnsupported)
	}

	names, err := flatCandidates(dir)
	if err != nil {
		return rep, fmt.Errorf("migrate %s: %w", dir, err)
	}
	during := dedupLayouts(append(append([]Layout{target}, cfg.Layouts...), flatLayout{}))

	m := &migrator{dir: dir, opts: opts, log: log, rep: rep, target: target}
	if !opts.DryRun {
		removeStaleTemps(dir)
		if len(names) > 0 {
			// Step 1: announce the target before anything moves.
			if err := writeConfig(dir, during, opts.hook); err != nil {
				return rep, fmt.Errorf("migrate %s: %w", dir, err)
			}
			m.step("conf-during")
		}
	}

	var errs []error
	for i, name := range names {
		if err := ctx.Err(); err != nil {
			return rep, fmt.Errorf("migrate %s: %w", dir, err)
		}
		if err := m.one(name); err != nil {
			rep.Skipped++
			rep.Actions = append(rep.Actions, fmt.Sprintf("skip %s: %v", name, err))
			log.Warn("migrate: skipping file", "name", name, "err", err)
			errs = append(errs, err)
		}
		if opts.Progress != nil {
			opts.Progress(i+1, len(names))
		}
	}
	if opts.DryRun {
		return rep, errors.Join(errs...)
	}
	if err := SyncDir(dir); err != nil {
		errs = append(errs, err)
	}
	// Step 4: final layout.conf.
	var final []Layout
	final = append(final, target)
	for _, l := range cfg.Layouts {
		if l != (flatLayout{}) {
			final = append(final, l)
		}
	}
	if opts.Hardlink || rep.Skipped > 0 {
		final = append(final, flatLayout{})
	}
	if err := writeConfig(dir, dedupLayouts(final), opts.hook); err != nil {
		errs = append(errs, fmt.Errorf("migrate %s: %w", dir, err))
	}
	m.step("done")
	return rep, errors.Join(errs...)
}

// flatCandidates lists the names Migrate considers, sorted.
func flatCandidates(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		n := e.Name()
		if !isDistfileName(n) {
			continue
		}
		if t := e.Type(); t.IsRegular() || t&fs.ModeSymlink != 0 {
			names = append(names, n)
		}
	}
	return names, nil
}

// isDistfileName reports whether a flat directory entry may be a distfile
// rather than a side file of Portage or of this package.
func isDistfileName(n string) bool {
	return ValidName(n) == nil &&
		!strings.HasPrefix(n, ".") &&
		n != ConfigName &&
		!strings.HasSuffix(n, ".__download__") &&
		!strings.Contains(n, "._checksum_failure_")
}

func dedupLayouts(ls []Layout) []Layout {
	seen := map[string]bool{}
	out := ls[:0:0]
	for _, l := range ls {
		if s := l.String(); !seen[s] {
			seen[s] = true
			out = append(out, l)
		}
	}
	return out
}

type migrator struct {
	dir    string
	opts   MigrateOptions
	log    *slog.Logger
	rep    *MigrateReport
	target Layout
}

func (m *migrator) step(s string) { callHook(m.opts.hook, s) }

func (m *migrator) act(format string, args ...any) {
	a := fmt.Sprintf(format, args...)
	m.rep.Actions = append(m.rep.Actions, a)
	m.log.Debug("migrate", "action", a, "dry_run", m.opts.DryRun)
}

// one migrates a single flat name. A returned error means "skipped because
// of an error"; conflicts and symlinks are counted and reported here.
func (m *migrator) one(name string) error {
	rel, ok := m.target.Path(name, nil)
	if !ok {
		return fmt.Errorf("target layout %q cannot place it", m.target)
	}
	if rel == name {
		m.rep.AlreadyPlaced++
		return nil
	}
	src := filepath.Join(m.dir, name)
	dst := filepath.Join(m.dir, filepath.FromSlash(rel))
	sfi, err := os.Lstat(src)
	if err != nil {
		return err
	}
	if !sfi.Mode().IsRegular() {
		m.rep.Skipped++
		m.act("skip %s: not a regular file (%s)", name, sfi.Mode().Type())
		return nil
	}
	dfi, err := os.Lstat(dst)
	switch {
	case err == nil:
		return m.existing(name, rel, src, dst, sfi, dfi)
	case !errors.Is(err, fs.ErrNotExist):
		// ENOTDIR (a file where a bucket should be) lands here too.
		return err
	}

	verb := "mv"
	if m.opts.Hardlink {
		verb = "ln"
	}
	if m.opts.DryRun {
		m.count()
		m.act("%s %s -> %s", verb, name, rel)
		return nil
	}
	if err := mkdirAllSync(m.dir, path.Dir(rel)); err != nil {
		return err
	}
	m.step("bucket-created")
	dstDir := filepath.Dir(dst)
	if err := os.Link(src, dst); err != nil {
		if errors.Is(err, fs.ErrExist) {
			m.rep.Skipped++
			m.act("skip %s: %s appeared concurrently", name, rel)
			return nil
		}
		if m.opts.Hardlink {
			return fmt.Errorf("link: %w", err)
		}
		// No hard links here (EPERM/ENOTSUP on some filesystems): rename
		// after re-checking that nothing appeared at dst.
		if _, lerr := os.Lstat(dst); !errors.Is(lerr, fs.ErrNotExist) {
			return fmt.Errorf("link failed (%w) and %s is not free", err, rel)
		}
		if err := os.Rename(src, dst); err != nil {
			return err
		}
		m.step("renamed")
		m.count()
		m.act("mv %s -> %s", name, rel)
		return SyncDir(dstDir)
	}
	m.step("linked")
	if err := SyncDir(dstDir); err != nil {
		return err
	}
	m.step("bucket-synced")
	if !m.opts.Hardlink {
		if err := os.Remove(src); err != nil {
			return fmt.Errorf("remove flat name after linking: %w", err)
		}
		m.step("unlinked")
	}
	m.count()
	m.act("%s %s -> %s", verb, name, rel)
	return nil
}

func (m *migrator) count() {
	if m.opts.Hardlink {
		m.rep.Linked++
	} else {
		m.rep.Moved++
	}
}

// existing handles a flat file whose target path is already taken.
func (m *migrator) existing(name, rel, src, dst string, sfi, dfi fs.FileInfo) error {
	if dfi.Mode()&fs.ModeSymlink != 0 {
		// emirrordist --symlinks leaves relative symlinks in secondary
		// layouts. If it resolves to our file, replace it by the file:
		// rename(2) swaps atomically and both names work until then.
		rfi, err := os.Stat(dst)
		if err != nil || !os.SameFile(rfi, sfi) {
			m.rep.Skipped++
			m.act("skip %s: %s is a symlink to something else", name, rel)
			return nil
		}
		if m.opts.Hardlink {
			m.rep.AlreadyPlaced++
			return nil
		}
		m.count()
		m.act("mv %s -> %s (replacing symlink)", name, rel)
		if m.opts.DryRun {
			return nil
		}
		if err := os.Rename(src, dst); err != nil {
			return err
		}
		m.step("renamed")
		return SyncDir(filepath.Dir(dst))
	}
	if !dfi.Mode().IsRegular() {
		m.rep.Skipped++
		m.act("skip %s: %s exists and is not a regular file", name, rel)
		return nil
	}
	same := os.SameFile(sfi, dfi)
	if !same {
		eq, err := sameContent(src, dst, sfi.Size(), dfi.Size())
		if err != nil {
			return err
		}
		if !eq {
			m.rep.Skipped++
			m.act("skip %s: %s exists with different content", name, rel)
			return nil
		}
	}
	m.rep.AlreadyPlaced++
	if m.opts.Hardlink {
		return nil
	}
	m.act("rm %s (identical file already at %s)", name, rel)
	if m.opts.DryRun {
		return nil
	}
	if err := os.Remove(src); err != nil {
		return fmt.Errorf("remove flat duplicate: %w", err)
	}
	m.step("unlinked")
	return nil
}

// sameContent compares two files byte by byte.
func sameContent(a, b string, sizeA, sizeB int64) (bool, error) {
	if sizeA != sizeB {
		return false, nil
	}
	fa, err := os.Open(a)
	if err != nil {
		return false, err
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		return false, err
	}
	defer fb.Close()
	bufA := make([]byte, 64<<10)
	bufB := make([]byte, 64<<10)
	for {
		na, errA := io.ReadFull(fa, bufA)
		nb, errB := io.ReadFull(fb, bufB)
		if na != nb || !bytes.Equal(bufA[:na], bufB[:nb]) {
			return false, nil
		}
		endA := errors.Is(errA, io.EOF) || errors.Is(errA, io.ErrUnexpectedEOF)
		endB := errors.Is(errB, io.EOF) || errors.Is(errB, io.ErrUnexpectedEOF)
		if errA != nil && !endA {
			return false, fmt.Errorf("compare %s: %w", a, errA)
		}
		if errB != nil && !endB {
			return false, fmt.Errorf("compare %s: %w", b, errB)
		}
		if endA || endB {
			return endA && endB, nil
		}
	}
}
