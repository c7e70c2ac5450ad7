package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/distswarm/distswarm/storage/layout"
)

func layoutCommand() *cli.Command {
	return &cli.Command{
		Name:  "layout",
		Usage: "GLEP 75 distfile layouts: compute paths, find files, migrate a flat distdir",
		Subcommands: []*cli.Command{
			layoutPathCommand(),
			layoutFindCommand(),
			layoutMigrateCommand(),
		},
	}
}

func layoutPathCommand() *cli.Command {
	return &cli.Command{
		Name:      "path",
		Usage:     "print the relative path of each distfile under a layout",
		ArgsUsage: "[NAME...]",
		Description: `Prints one relative path per input, in input order. Inputs are NAME arguments,
or lines of standard input when no NAME is given (split on newline only, never
trimmed or normalised: the exact bytes are hashed, as Portage does).

For content-hash layouts an input is the file's hex digest in the layout's
algorithm. With --layout-conf, the first supported entry of the file applies.

Examples:
   distswarm layout path --spec 'filename-hash BLAKE2B 8' foo-1.tar.gz     # 1b/foo-1.tar.gz
   distswarm layout path --layout-conf /var/cache/distfiles/layout.conf < names.txt
   distswarm layout path --spec 'content-hash SHA512 8:8:8' "$(sha512sum f | cut -d' ' -f1)"`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "spec", Usage: "layout spec, e.g. 'filename-hash BLAKE2B 8', 'content-hash SHA512 8:8:8' or 'flat'"},
			&cli.StringFlag{Name: "layout-conf", Usage: "a GLEP 75 layout.conf file to take the layout from"},
		},
		Action: runLayoutPath,
	}
}

// contentHashAlgo returns the algorithm of a content-hash layout, or "".
func contentHashAlgo(l layout.Layout) string {
	f := strings.Fields(l.String())
	if len(f) == 3 && f[0] == "content-hash" {
		return f[1]
	}
	return ""
}

func runLayoutPath(c *cli.Context) error {
	spec, confPath := c.String("spec"), c.String("layout-conf")
	if (spec == "") == (confPath == "") {
		return usageErr("layout path: give exactly one of --spec or --layout-conf")
	}
	var pathOf func(input string) (string, error)
	if spec != "" {
		l, err := layout.ParseSpec(spec)
		if err != nil {
			return usageErr("layout path: %v", err)
		}
		pathOf = layoutPathFunc(l.Path, contentHashAlgo(l))
	} else {
		conf, err := layout.LoadConfig(confPath)
		if err != nil {
			return usageErr("layout path: %v", err)
		}
		pathOf = layoutPathFunc(func(name string, d map[string]string) (string, bool) {
			return conf.Path(name, d), true
		}, contentHashAlgo(conf.Primary()))
	}

	w := bufio.NewWriter(c.App.Writer)
	defer w.Flush()
	emit := func(input string) error {
		p, err := pathOf(input)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(w, p)
		return err
	}
	if c.NArg() > 0 {
		for _, name := range c.Args().Slice() {
			if err := emit(name); err != nil {
				return err
			}
		}
		return nil
	}
	return eachLine(c.App.Reader, emit)
}

// layoutPathFunc adapts a layout to an input: a file name, or the hex digest
// when algo names a content-hash layout.
func layoutPathFunc(path func(string, map[string]string) (string, bool), algo string) func(string) (string, error) {
	return func(input string) (string, error) {
		var digests map[string]string
		if algo != "" {
			digests = map[string]string{algo: strings.ToLower(input)}
		}
		p, ok := path(input, digests)
		if !ok {
			return "", usageErr("layout path: %q cannot be placed by this layout", input)
		}
		return p, nil
	}
}

// eachLine calls fn with every newline-separated record of r, byte-exact: no
// trimming of spaces or carriage returns. A final record without a newline
// counts; an empty input has no records.
func eachLine(r io.Reader, fn func(string) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			if err := fn(string(bytes.TrimSuffix(line, []byte{'\n'}))); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read standard input: %w", err)
		}
	}
}

func layoutFindCommand() *cli.Command {
	return &cli.Command{
		Name:      "find",
		Usage:     "find distfiles in a directory (its layout.conf, GLEP 75 layouts, then flat)",
		ArgsUsage: "NAME...",
		Description: `Prints the path of each NAME found in the distdir. A name that is not there is
reported on standard error and makes the exit status 1.

Example:
   distswarm layout find --distdir /var/cache/distfiles zstd-1.5.5.tar.gz`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "distdir", Usage: "directory to search", Value: defaultDistdir, EnvVars: []string{"DISTDIR"}},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return usageErr("layout find: no NAME given")
			}
			missing := 0
			for _, name := range c.Args().Slice() {
				if err := layout.ValidName(name); err != nil {
					return usageErr("layout find: %v", err)
				}
				p, err := layout.Find(c.String("distdir"), name, nil)
				if errors.Is(err, fs.ErrNotExist) {
					fmt.Fprintf(c.App.ErrWriter, "%s: not found in %s\n", name, c.String("distdir"))
					missing++
					continue
				}
				if err != nil {
					return failedErr("layout find %s: %v", name, err)
				}
				fmt.Fprintln(c.App.Writer, p)
			}
			if missing > 0 {
				return silentFailure(exitFailed)
			}
			return nil
		},
	}
}

func layoutMigrateCommand() *cli.Command {
	return &cli.Command{
		Name:  "migrate",
		Usage: "move a flat distdir into a GLEP 75 nested layout (idempotent, crash-safe)",
		Description: `Moves every flat file of the distdir to its path under the target layout (the
directory's layout.conf, else --spec, else 'filename-hash BLAKE2B 8') with
rename(2), so a crash at any point leaves every file findable, and writes the
directory's layout.conf. Running it again does nothing. With --hardlink the
flat names are kept as hard links during a transition.

Portage reads its own DISTDIR flat (DISTDIR/NAME): it would not find moved
files and would download them again. Migrating Portage's DISTDIR (the one its
make.conf sets under PORTAGE_CONFIGROOT, else /var/cache/distfiles) is
therefore refused unless --hardlink keeps the flat names (no extra space) or
--nest-portage-distdir says to nest it anyway; --dry-run only warns.

Examples:
   distswarm layout migrate --distdir /var/cache/distfiles --dry-run
   distswarm layout migrate --distdir /var/cache/distfiles --hardlink`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "distdir", Usage: "directory to migrate", Value: defaultDistdir, EnvVars: []string{"DISTDIR"}},
			&cli.StringFlag{Name: "spec", Usage: "target layout spec (default: the directory's layout.conf, else " + layout.DefaultSpec + ")"},
			&cli.BoolFlag{Name: "hardlink", Usage: "link instead of move, keeping the flat names working"},
			&cli.BoolFlag{Name: "dry-run", Usage: "print what would be done and change nothing"},
			&cli.BoolFlag{Name: "nest-portage-distdir", Usage: "migrate Portage's own DISTDIR without --hardlink even so (Portage reads it flat)"},
		},
		Action: runLayoutMigrate,
	}
}

func runLayoutMigrate(c *cli.Context) error {
	opts := layout.MigrateOptions{Hardlink: c.Bool("hardlink"), DryRun: c.Bool("dry-run")}
	if spec := c.String("spec"); spec != "" {
		l, err := layout.ParseSpec(spec)
		if err != nil {
			return usageErr("layout migrate: %v", err)
		}
		opts.Target = l
	}
	if err := checkPortageDistdir(c, opts); err != nil {
		return err
	}
	var prog *progress
	opts.Progress = func(done, total int) {
		if prog == nil {
			prog = newProgress(c.App.ErrWriter, int64(total), "migrating")
		}
		prog.add(1)
	}
	rep, err := layout.Migrate(c.Context, c.String("distdir"), opts)
	if prog != nil {
		prog.finish()
	}
	if rep != nil && c.Bool("dry-run") {
		for _, a := range rep.Actions {
			fmt.Fprintln(c.App.Writer, a)
		}
	}
	if err != nil {
		return failedErr("layout migrate: %v", err)
	}
	verb := "moved"
	if c.Bool("dry-run") {
		verb = "would move"
	}
	fmt.Fprintf(c.App.ErrWriter, "%s %d, linked %d, already placed %d, skipped %d\n",
		verb, rep.Moved, rep.Linked, rep.AlreadyPlaced, rep.Skipped)
	if rep.Skipped > 0 {
		return silentFailure(exitFailed)
	}
	return nil
}

// checkPortageDistdir refuses to nest Portage's own DISTDIR, which Portage
// reads flat, unless the flat names stay (--hardlink), the target is flat
// or --nest-portage-distdir says so; a dry run only warns.
func checkPortageDistdir(c *cli.Context, opts layout.MigrateOptions) error {
	dir := c.String("distdir")
	if opts.Hardlink || c.Bool("nest-portage-distdir") || (opts.Target != nil && opts.Target.String() == layout.KindFlat) {
		return nil
	}
	portage, where := portageDistdir()
	if !sameDir(dir, portage) {
		return nil
	}
	msg := fmt.Sprintf("%s is Portage's DISTDIR (%s), which Portage reads flat: it would not find the moved files "+
		"and would download each one again. Add --hardlink to keep the flat names too (hard links, no extra space), "+
		"or --nest-portage-distdir if Portage no longer uses it", dir, where)
	if opts.DryRun {
		fmt.Fprintln(c.App.ErrWriter, "warning: "+msg)
		return nil
	}
	return usageErr("layout migrate: %s", msg)
}

// portageDistdir returns Portage's DISTDIR as its make.conf sets it
// (PORTAGE_CONFIGROOT/etc/portage/make.conf, a file or a directory of
// files; the last plain assignment wins), else Portage's default, and
// where it comes from.
func portageDistdir() (dir, where string) {
	root := os.Getenv("PORTAGE_CONFIGROOT")
	if root == "" {
		root = "/"
	}
	conf := filepath.Join(root, "etc", "portage", "make.conf")
	files := []string{conf}
	if entries, err := os.ReadDir(conf); err == nil {
		files = files[:0]
		for _, e := range entries {
			files = append(files, filepath.Join(conf, e.Name()))
		}
	}
	dir, where = defaultDistdir, "Portage's default"
	for _, f := range files {
		if v := makeConfValue(f, "DISTDIR"); v != "" {
			dir, where = v, "set in "+f
		}
	}
	return dir, where
}

// makeConfValue returns the value of the last plain KEY=value assignment in
// the make.conf file f (quotes removed), or "" if there is none. Values
// that refer to other variables are not expanded.
func makeConfValue(f, key string) string {
	data, err := os.ReadFile(f)
	if err != nil {
		return ""
	}
	val := ""
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "export "))
		if v, ok := strings.CutPrefix(line, key+"="); ok {
			val = strings.Trim(strings.TrimSpace(v), `"'`)
		}
	}
	return val
}

// sameDir reports whether a and b name the same existing directory.
func sameDir(a, b string) bool {
	sa, err := os.Stat(a)
	if err != nil {
		return false
	}
	sb, err := os.Stat(b)
	return err == nil && os.SameFile(sa, sb)
}
