package layout

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// distfiles used by the Migrate tests: name -> content.
var migrateFiles = map[string]string{
	"foo-1.tar.gz":               "foo",
	"which-2.23.tar.gz":          "which",
	"caf\u00e9-1.0.tar.gz":       "nfc",
	"cafe\u0301-1.0.tar.gz":      "nfd",
	"with space+plus@x.tar.xz":   "odd",
	"lxqt-about-0.15.0.tar.xz":   strings.Repeat("lxqt", 50000), // > one compare buffer
	"golang.org%2Fx%2F@v1.0.zip": "",
}

// sideFiles must never be touched by Migrate.
var sideFiles = []string{
	".mirror-cache.json", ".layout.conf.example.org", "bar-2.tar.gz.__download__",
	"baz-3.tar.gz._checksum_failure_.abc123",
}

func populate(t testing.TB, dir string) {
	t.Helper()
	for n, c := range migrateFiles {
		put(t, dir, n, c)
	}
	for _, n := range sideFiles {
		put(t, dir, n, "side")
	}
	if err := os.MkdirAll(filepath.Join(dir, ".locks", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
}

// checkAllFound asserts every distfile is found with its content.
func checkAllFound(t testing.TB, dir string) {
	t.Helper()
	for n, c := range migrateFiles {
		p, err := Find(dir, n, nil)
		if err != nil {
			t.Fatalf("Find(%q): %v", n, err)
		}
		got, err := os.ReadFile(p)
		if err != nil || string(got) != c {
			t.Fatalf("%s: content %.20q, %v; want %.20q", p, got, err, c)
		}
	}
	for _, n := range sideFiles {
		if got, err := os.ReadFile(filepath.Join(dir, n)); err != nil || string(got) != "side" {
			t.Fatalf("side file %s: %q, %v", n, got, err)
		}
	}
}

// snapshot lists every path under dir with its inode and size.
func snapshot(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		out = append(out, fmt.Sprintf("%s %v %d %d %d", p, fi.Mode(), st.Ino, fi.Size(), fi.ModTime().UnixNano()))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func readConf(t testing.TB, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, ConfigName))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestMigrate(t *testing.T) {
	dir := t.TempDir()
	populate(t, dir)
	var progress []int
	rep, err := Migrate(context.Background(), dir, MigrateOptions{Progress: func(done, total int) {
		if total != len(migrateFiles) {
			t.Errorf("total = %d", total)
		}
		progress = append(progress, done)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Moved != len(migrateFiles) || rep.Linked+rep.AlreadyPlaced+rep.Skipped != 0 {
		t.Fatalf("report %+v", rep)
	}
	if len(progress) != len(migrateFiles) || progress[len(progress)-1] != len(migrateFiles) {
		t.Errorf("progress %v", progress)
	}
	if !slices.Contains(rep.Actions, "mv foo-1.tar.gz -> 1b/foo-1.tar.gz") {
		t.Errorf("actions %q", rep.Actions)
	}
	def := Default()
	for n := range migrateFiles {
		rel, _ := def.Path(n, nil)
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(rel))); err != nil {
			t.Errorf("%s not at %s: %v", n, rel, err)
		}
		if _, err := os.Lstat(filepath.Join(dir, n)); err == nil {
			t.Errorf("flat %s still present", n)
		}
	}
	checkAllFound(t, dir)
	if got := readConf(t, dir); got != "[structure]\n0=filename-hash BLAKE2B 8\n" {
		t.Errorf("layout.conf = %q", got)
	}

	// Idempotent: nothing happens the second time.
	before := snapshot(t, dir)
	rep, err = Migrate(context.Background(), dir, MigrateOptions{})
	if err != nil || rep.Moved+rep.Linked+rep.AlreadyPlaced+rep.Skipped != 0 || len(rep.Actions) != 0 {
		t.Fatalf("second run: %+v, %v", rep, err)
	}
	if after := snapshot(t, dir); !slices.Equal(before, after) {
		t.Errorf("second run changed the tree:\n%q\n%q", before, after)
	}
}

func TestMigrateDryRun(t *testing.T) {
	dir := t.TempDir()
	populate(t, dir)
	before := snapshot(t, dir)
	rep, err := Migrate(context.Background(), dir, MigrateOptions{DryRun: true})
	if err != nil || rep.Moved != len(migrateFiles) || len(rep.Actions) != len(migrateFiles) {
		t.Fatalf("%+v, %v", rep, err)
	}
	if after := snapshot(t, dir); !slices.Equal(before, after) {
		t.Errorf("dry run touched the tree:\n%q\n%q", before, after)
	}
}

func TestMigrateHardlink(t *testing.T) {
	dir := t.TempDir()
	populate(t, dir)
	rep, err := Migrate(context.Background(), dir, MigrateOptions{Hardlink: true})
	if err != nil || rep.Linked != len(migrateFiles) || rep.Moved != 0 {
		t.Fatalf("%+v, %v", rep, err)
	}
	def := Default()
	for n := range migrateFiles {
		rel, _ := def.Path(n, nil)
		a, err1 := os.Stat(filepath.Join(dir, n))
		b, err2 := os.Stat(filepath.Join(dir, filepath.FromSlash(rel)))
		if err1 != nil || err2 != nil || !os.SameFile(a, b) {
			t.Errorf("%s: flat and nested not the same inode (%v, %v)", n, err1, err2)
		}
	}
	if got := readConf(t, dir); got != "[structure]\n0=filename-hash BLAKE2B 8\n1=flat\n" {
		t.Errorf("layout.conf = %q", got)
	}
	before := snapshot(t, dir)
	rep, err = Migrate(context.Background(), dir, MigrateOptions{Hardlink: true})
	if err != nil || rep.AlreadyPlaced != len(migrateFiles) || rep.Linked != 0 || len(rep.Actions) != 0 {
		t.Fatalf("second run %+v, %v", rep, err)
	}
	if after := snapshot(t, dir); !slices.Equal(before, after) {
		t.Errorf("second hardlink run changed the tree")
	}
	// Finishing the transition: a move run drops the flat names and the flat entry.
	rep, err = Migrate(context.Background(), dir, MigrateOptions{})
	if err != nil || rep.AlreadyPlaced != len(migrateFiles) {
		t.Fatalf("finishing run %+v, %v", rep, err)
	}
	for n := range migrateFiles {
		if _, err := os.Lstat(filepath.Join(dir, n)); err == nil {
			t.Errorf("flat %s survived", n)
		}
	}
	checkAllFound(t, dir)
	if got := readConf(t, dir); got != "[structure]\n0=filename-hash BLAKE2B 8\n" {
		t.Errorf("layout.conf = %q", got)
	}
}

func TestMigrateConflicts(t *testing.T) {
	dir := t.TempDir()
	put(t, dir, "foo-1.tar.gz", "flat version")
	put(t, dir, "1b/foo-1.tar.gz", "nested, different")
	put(t, dir, "which-2.23.tar.gz", "same")
	put(t, dir, "80/which-2.23.tar.gz", "same")
	put(t, dir, "lxqt-about-0.15.0.tar.xz", "target is a dir")
	if err := os.MkdirAll(filepath.Join(dir, "ef", "lxqt-about-0.15.0.tar.xz"), 0o755); err != nil {
		t.Fatal(err)
	}
	rep, err := Migrate(context.Background(), dir, MigrateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Skipped != 2 || rep.AlreadyPlaced != 1 || rep.Moved != 0 {
		t.Fatalf("report %+v", rep)
	}
	for rel, want := range map[string]string{"foo-1.tar.gz": "flat version", "1b/foo-1.tar.gz": "nested, different", "80/which-2.23.tar.gz": "same"} {
		if got, err := os.ReadFile(filepath.Join(dir, rel)); err != nil || string(got) != want {
			t.Errorf("%s = %q, %v", rel, got, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, "which-2.23.tar.gz")); err == nil {
		t.Error("identical flat duplicate not removed")
	}
	// Flat files remain, so layout.conf keeps the flat fallback.
	if got := readConf(t, dir); got != "[structure]\n0=filename-hash BLAKE2B 8\n1=flat\n" {
		t.Errorf("layout.conf = %q", got)
	}
}

func TestMigrateTargets(t *testing.T) {
	// Default target comes from an existing layout.conf; its other layouts are kept.
	dir := t.TempDir()
	putConf(t, dir, "[structure]\n0=filename-hash SHA1 8:16\n1=filename-hash BLAKE2B 8:8\n2=flat\n")
	put(t, dir, "foo-1.tar.gz", "x")
	if _, err := Migrate(context.Background(), dir, MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "19", "c3b6", "foo-1.tar.gz")); err != nil {
		t.Fatal(err)
	}
	if got := readConf(t, dir); got != "[structure]\n0=filename-hash SHA1 8:16\n1=filename-hash BLAKE2B 8:8\n" {
		t.Errorf("layout.conf = %q", got)
	}

	// content-hash targets are refused; unparsable layout.conf is not replaced.
	if _, err := Migrate(context.Background(), t.TempDir(), MigrateOptions{Target: mustSpec(t, "content-hash SHA512 8")}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("content-hash target: %v", err)
	}
	bad := t.TempDir()
	putConf(t, bad, "masters = gentoo\n")
	put(t, bad, "foo-1.tar.gz", "x")
	if _, err := Migrate(context.Background(), bad, MigrateOptions{}); !errors.Is(err, ErrSyntax) {
		t.Errorf("broken conf: %v", err)
	}
	if readConf(t, bad) != "masters = gentoo\n" {
		t.Error("broken layout.conf replaced")
	}

	// Cancellation stops before any file.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := t.TempDir()
	put(t, c, "foo-1.tar.gz", "x")
	if _, err := Migrate(ctx, c, MigrateOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}
	checkFlat := filepath.Join(c, "foo-1.tar.gz")
	if _, err := os.Stat(checkFlat); err != nil {
		t.Errorf("canceled run moved the file: %v", err)
	}
}

func TestMigrateSymlinks(t *testing.T) {
	dir := t.TempDir()
	// emirrordist --symlinks style: nested symlink to the flat file.
	put(t, dir, "foo-1.tar.gz", "foo")
	if err := os.Mkdir(filepath.Join(dir, "1b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../foo-1.tar.gz", filepath.Join(dir, "1b", "foo-1.tar.gz")); err != nil {
		t.Fatal(err)
	}
	// A flat symlink is left alone.
	if err := os.Symlink("/nonexistent", filepath.Join(dir, "dangling.tar.gz")); err != nil {
		t.Fatal(err)
	}
	rep, err := Migrate(context.Background(), dir, MigrateOptions{})
	if err != nil || rep.Moved != 1 || rep.Skipped != 1 {
		t.Fatalf("%+v, %v", rep, err)
	}
	fi, err := os.Lstat(filepath.Join(dir, "1b", "foo-1.tar.gz"))
	if err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("symlink not replaced by the file: %v %v", fi, err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "dangling.tar.gz")); err != nil {
		t.Fatal("flat symlink removed")
	}
}

// Crash safety: the child runs Migrate and SIGKILLs itself at step N.
const (
	crashDirEnv  = "LAYOUT_TEST_CRASH_DIR"
	crashStepEnv = "LAYOUT_TEST_CRASH_STEP"
	crashModeEnv = "LAYOUT_TEST_CRASH_MODE"
)

func crashOptions(t testing.TB, mode string) MigrateOptions {
	switch mode {
	case "move":
		return MigrateOptions{}
	case "hardlink":
		return MigrateOptions{Hardlink: true}
	case "custom": // a target Find only knows through layout.conf
		return MigrateOptions{Target: mustSpec(t, "filename-hash SHA1 8:16")}
	}
	t.Fatalf("mode %q", mode)
	return MigrateOptions{}
}

func TestMigrateCrashSafety(t *testing.T) {
	if dir := os.Getenv(crashDirEnv); dir != "" {
		// Child.
		killAt, _ := strconv.Atoi(os.Getenv(crashStepEnv))
		opts := crashOptions(t, os.Getenv(crashModeEnv))
		n := 0
		opts.hook = func(string) {
			n++
			if n == killAt {
				p, _ := os.FindProcess(os.Getpid())
				p.Kill() // SIGKILL: no deferred code, no buffered flush
				select {}
			}
		}
		if _, err := Migrate(context.Background(), dir, opts); err != nil {
			t.Fatal(err)
		}
		return
	}
	if testing.Short() {
		t.Skip("spawns many subprocesses")
	}
	for _, mode := range []string{"move", "hardlink", "custom"} {
		t.Run(mode, func(t *testing.T) {
			kills := 0
			for step := 1; ; step++ {
				dir := t.TempDir()
				populate(t, dir)
				// A pre-existing identical copy exercises the duplicate-removal path.
				rel, _ := crashOptions(t, mode).targetOrDefault().Path("foo-1.tar.gz", nil)
				put(t, dir, rel, migrateFiles["foo-1.tar.gz"])

				cmd := exec.Command(os.Args[0], "-test.run=^TestMigrateCrashSafety$", "-test.count=1")
				cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashStepEnv+"="+strconv.Itoa(step), crashModeEnv+"="+mode)
				out, err := cmd.CombinedOutput()
				killed := false
				if ee, ok := errors.AsType[*exec.ExitError](err); ok {
					ws, _ := ee.Sys().(syscall.WaitStatus)
					killed = ws.Signaled() && ws.Signal() == syscall.SIGKILL
				}
				if err != nil && !killed {
					t.Fatalf("step %d: child failed: %v\n%s", step, err, out)
				}
				checkAllFound(t, dir)
				// Resuming completes and is then idempotent.
				opts := crashOptions(t, mode)
				rep, err := Migrate(context.Background(), dir, opts)
				if err != nil || rep.Skipped != 0 {
					t.Fatalf("step %d: resume: %+v, %v", step, rep, err)
				}
				checkAllFound(t, dir)
				conf := readConf(t, dir)
				rep, err = Migrate(context.Background(), dir, opts)
				if err != nil || rep.Moved+rep.Linked+rep.Skipped != 0 || len(rep.Actions) != 0 {
					t.Fatalf("step %d: third run not a no-op: %+v, %v", step, rep, err)
				}
				if readConf(t, dir) != conf {
					t.Fatalf("step %d: third run rewrote layout.conf", step)
				}
				if ents, _ := filepath.Glob(filepath.Join(dir, tmpPrefix+"*")); len(ents) != 0 {
					t.Fatalf("step %d: temp files left: %v", step, ents)
				}
				if !killed {
					break // the child ran to completion: every step was covered
				}
				kills++
			}
			if kills < 2*len(migrateFiles) {
				t.Fatalf("only %d kill points", kills)
			}
			t.Logf("%s: killed at %d distinct steps", mode, kills)
		})
	}
}

// targetOrDefault mirrors Migrate's choice for a directory without layout.conf.
func (o MigrateOptions) targetOrDefault() Layout {
	if o.Target != nil {
		return o.Target
	}
	return Default()
}
