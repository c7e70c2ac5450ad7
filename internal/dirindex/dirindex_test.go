package dirindex

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func mustWrite(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestLookupAgreesWithLstat compares every answer with os.Lstat on a tree
// with files, a subdirectory, a symlink, a file where a directory is
// expected, and missing directories at several depths.
func TestLookupAgreesWithLstat(t *testing.T) {
	root := t.TempDir()
	mustWrite(t, filepath.Join(root, "a1", "f"))
	mustWrite(t, filepath.Join(root, "a1", "b2", "g"))
	mustWrite(t, filepath.Join(root, "top"))
	if err := os.Symlink("a1/f", filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a1", filepath.Join(root, "dirlink")); err != nil {
		t.Fatal(err)
	}
	x := New(root)
	paths := []string{
		"a1/f", "a1/b2/g", "a1/b2", "a1", "top", "link", "dirlink", "dirlink/f", "dirlink/nope",
		"nope", "a1/nope", "zz/f", "zz/yy/f", "a1/zz/yy/f", "top/f", "top/x/f", "a1/f/x",
	}
	for _, p := range paths {
		full := filepath.Join(root, p)
		k, mode := x.Lookup(full)
		st, err := os.Lstat(full)
		switch {
		case err == nil && k != Present:
			t.Errorf("%s: Lookup says %v, lstat finds it", p, k)
		case err == nil && mode.Type() != st.Mode().Type():
			t.Errorf("%s: type %v, lstat %v", p, mode.Type(), st.Mode().Type())
		case err != nil && k != Missing:
			t.Errorf("%s: Lookup says %v, lstat: %v", p, k, err)
		}
		ex, ok := x.Exists(full)
		if !ok || ex != (err == nil) {
			t.Errorf("%s: Exists = %v, %v; lstat err %v", p, ex, ok, err)
		}
	}
}

// TestSnapshotAndReads: a directory is read once, so a file created after
// is not seen, and a missing parent answers for its children without a
// read of its own.
func TestSnapshotAndReads(t *testing.T) {
	root := t.TempDir()
	mustWrite(t, filepath.Join(root, "d", "f"))
	x := New(root)
	if k, _ := x.Lookup(filepath.Join(root, "d", "g")); k != Missing {
		t.Fatalf("d/g: %v", k)
	}
	mustWrite(t, filepath.Join(root, "d", "g"))
	if k, _ := x.Lookup(filepath.Join(root, "d", "g")); k != Missing {
		t.Fatalf("d/g created after the read: %v, want the snapshot's Missing", k)
	}
	if k, _ := x.Lookup(filepath.Join(root, "m", "n", "o", "f")); k != Missing {
		t.Fatalf("m/n/o/f: %v", k)
	}
	x.mu.Lock()
	_, read := x.dirs[filepath.Join(root, "m", "n")]
	l := x.dirs[filepath.Join(root, "m", "n", "o")]
	x.mu.Unlock()
	if !read || l == nil || l.err != fs.ErrNotExist {
		t.Fatalf("m/n/o: %+v (m/n known: %v), want missing from the root's listing", l, read)
	}
}

// TestOutsideRootAndUnreadable: paths outside the root and directories
// that cannot be read are Unknown, so the caller stats them.
func TestOutsideRootAndUnreadable(t *testing.T) {
	root := t.TempDir()
	x := New(filepath.Join(root, "store"))
	for _, p := range []string{filepath.Join(root, "other", "f"), filepath.Join(root, "f"), "/etc/passwd", filepath.Join(root, "store")} {
		if k, _ := x.Lookup(p); k != Unknown {
			t.Errorf("%s: %v, want Unknown", p, k)
		}
	}
	if os.Geteuid() == 0 {
		t.Log("running as root: permissions do not stop reads; unreadable case skipped")
		return
	}
	locked := filepath.Join(root, "store", "locked")
	mustWrite(t, filepath.Join(locked, "f"))
	if err := os.Chmod(locked, 0o111); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(locked, 0o755) })
	if k, _ := x.Lookup(filepath.Join(locked, "f")); k != Unknown {
		t.Errorf("unreadable dir: %v, want Unknown", k)
	}
}
