package layout

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// put writes content at dir/rel, creating parent directories.
func put(t testing.TB, dir, rel, content string) string {
	t.Helper()
	full := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return full
}

func putConf(t testing.TB, dir, conf string) {
	t.Helper()
	put(t, dir, ConfigName, conf)
}

func TestFindOwnLayoutConf(t *testing.T) {
	dir := t.TempDir()
	// A layout only layout.conf knows about.
	putConf(t, dir, "[structure]\n0=filename-hash SHA1 8:16\n1=flat\n")
	want := put(t, dir, "19/c3b6/foo-1.tar.gz", "x")
	if got, err := Find(dir, "foo-1.tar.gz", nil); err != nil || got != want {
		t.Fatalf("Find = %q, %v; want %q", got, err, want)
	}
}

func TestFindNestedWithoutConf(t *testing.T) {
	dir := t.TempDir()
	for _, rel := range []string{"1b/foo-1.tar.gz", "80/0b/which-2.23.tar.gz"} {
		want := put(t, dir, rel, "x")
		got, err := Find(dir, filepath.Base(rel), nil)
		if err != nil || got != want {
			t.Errorf("Find = %q, %v; want %q", got, err, want)
		}
	}
}

func TestFindPrefersNestedThenFlat(t *testing.T) {
	dir := t.TempDir()
	flat := put(t, dir, "foo-1.tar.gz", "flat")
	if got, err := Find(dir, "foo-1.tar.gz", nil); err != nil || got != flat {
		t.Fatalf("flat fallback: %q, %v", got, err)
	}
	nested := put(t, dir, "1b/foo-1.tar.gz", "nested")
	if got, err := Find(dir, "foo-1.tar.gz", nil); err != nil || got != nested {
		t.Fatalf("nested first: %q, %v", got, err)
	}
	// With a layout.conf that prefers flat, flat wins.
	putConf(t, dir, "[structure]\n0=flat\n1=filename-hash BLAKE2B 8\n")
	if got, err := Find(dir, "foo-1.tar.gz", nil); err != nil || got != flat {
		t.Fatalf("flat-first conf: %q, %v", got, err)
	}
}

func TestFindContentHash(t *testing.T) {
	dir := t.TempDir()
	d := emptyDigests()
	want := put(t, dir, "cf/83/e1/"+d["SHA512"], "")
	if got, err := Find(dir, "empty.txt", d); err != nil || got != want {
		t.Fatalf("Find = %q, %v; want %q", got, err, want)
	}
	if _, err := Find(dir, "empty.txt", nil); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("without digests: %v", err)
	}
}

func TestFindIgnoresDirectoriesAndMissing(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "1b", "foo-1.tar.gz"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "foo-1.tar.gz"), 0o755); err != nil {
		t.Fatal(err)
	}
	if p, err := Find(dir, "foo-1.tar.gz", nil); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("directories matched: %q, %v", p, err)
	}
	// A file where a bucket directory would be (ENOTDIR) is not an error.
	put(t, dir, "80", "not a dir")
	if _, err := Find(dir, "which-2.23.tar.gz", nil); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ENOTDIR: %v", err)
	}
	// Symlinks to regular files count.
	target := put(t, t.TempDir(), "real", "x")
	if err := os.Symlink(target, filepath.Join(dir, "link.tar.gz")); err != nil {
		t.Fatal(err)
	}
	if _, err := Find(dir, "link.tar.gz", nil); err != nil {
		t.Fatalf("symlink: %v", err)
	}
}

func TestFindBrokenConfIgnored(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile("testdata/tex-overlay-metadata.layout.conf")
	if err != nil {
		t.Fatal(err)
	}
	putConf(t, dir, string(data))
	want := put(t, dir, "1b/foo-1.tar.gz", "x")
	if got, err := Find(dir, "foo-1.tar.gz", nil); err != nil || got != want {
		t.Fatalf("Find = %q, %v", got, err)
	}
}

func TestFindInvalidNames(t *testing.T) {
	dir := t.TempDir()
	put(t, dir, "sub/x", "x")
	for _, name := range []string{"", ".", "..", "sub/x", "../etc/passwd", "a\x00b"} {
		if p, err := Find(dir, name, nil); !errors.Is(err, ErrInvalidName) {
			t.Errorf("Find(%q) = %q, %v; want ErrInvalidName", name, p, err)
		}
	}
	if _, err := Find(filepath.Join(dir, "nope"), "x", nil); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing dir: %v", err)
	}
}

// A Finder reads layout.conf once: it finds what Find finds, and keeps
// the layouts it read even when layout.conf changes afterwards.
func TestFinderReadsLayoutConfOnce(t *testing.T) {
	dir := t.TempDir()
	putConf(t, dir, "[structure]\n0=filename-hash SHA1 8:16\n1=flat\n")
	want := put(t, dir, "19/c3b6/foo-1.tar.gz", "x")
	flat := put(t, dir, "bar-2.tar.gz", "y")
	f := NewFinder(dir)
	for name, wantPath := range map[string]string{"foo-1.tar.gz": want, "bar-2.tar.gz": flat} {
		got, err := f.Find(name, nil)
		if err != nil || got != wantPath {
			t.Fatalf("Finder.Find(%s) = %q, %v; want %q", name, got, err, wantPath)
		}
		c1, _ := f.Candidates(name, nil)
		c2, _ := Candidates(dir, name, nil)
		if len(c1) == 0 || len(c1) != len(c2) || c1[0] != c2[0] {
			t.Fatalf("Finder.Candidates(%s) = %v, Candidates = %v", name, c1, c2)
		}
	}
	if _, err := f.Find("missing-1.tar.gz", nil); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v, want ErrNotExist", err)
	}
	if _, err := f.Find("../etc/passwd", nil); !errors.Is(err, ErrInvalidName) {
		t.Fatalf("invalid name: %v, want ErrInvalidName", err)
	}
	// layout.conf disappears: a fresh lookup no longer knows SHA1 8:16, the
	// Finder still does.
	if err := os.Remove(filepath.Join(dir, ConfigName)); err != nil {
		t.Fatal(err)
	}
	if _, err := Find(dir, "foo-1.tar.gz", nil); err == nil {
		t.Fatal("Find without layout.conf still found the SHA1 8:16 path")
	}
	if got, err := f.Find("foo-1.tar.gz", nil); err != nil || got != want {
		t.Fatalf("Finder after layout.conf removal = %q, %v; want %q", got, err, want)
	}
}

// TestFinderWithIndexAgrees: a Finder answering from directory listings finds exactly what one
// that stats every candidate finds, across layouts, directories and files in the way, and
// symlinks (to a file, to a directory, dangling).
func TestFinderWithIndexAgrees(t *testing.T) {
	dir := t.TempDir()
	put(t, dir, "1b/foo-1.tar.gz", "nested")
	put(t, dir, "80/0b/which-2.23.tar.gz", "two levels")
	put(t, dir, "flat-1.tar.gz", "flat")
	put(t, dir, "both-1.tar.gz", "flat copy")
	if err := os.MkdirAll(filepath.Join(dir, "dir-1.tar.gz"), 0o755); err != nil {
		t.Fatal(err)
	}
	target := put(t, t.TempDir(), "real", "x")
	for name, to := range map[string]string{"link-1.tar.gz": target, "dangling-1.tar.gz": filepath.Join(dir, "nope"), "dirlink-1.tar.gz": dir} {
		if err := os.Symlink(to, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	names := []string{"foo-1.tar.gz", "which-2.23.tar.gz", "flat-1.tar.gz", "both-1.tar.gz", "dir-1.tar.gz",
		"link-1.tar.gz", "dangling-1.tar.gz", "dirlink-1.tar.gz", "absent-1.tar.gz", "zstd-1.5.5.tar.gz"}
	plain, indexed := NewFinder(dir), NewFinder(dir).WithIndex()
	found := 0
	for _, n := range names {
		want, werr := plain.Find(n, nil)
		got, gerr := indexed.Find(n, nil)
		if got != want || errors.Is(gerr, fs.ErrNotExist) != errors.Is(werr, fs.ErrNotExist) {
			t.Errorf("%s: indexed %q, %v; plain %q, %v", n, got, gerr, want, werr)
		}
		if werr == nil {
			found++
		}
	}
	if found != 5 {
		t.Errorf("plain Finder found %d of the names, want 5 (the test tree is not what it means to be)", found)
	}
}
