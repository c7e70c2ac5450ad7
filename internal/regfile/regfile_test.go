package regfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestOpenCreatesWritesAndReads(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	f, err := Open(p, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("hello"), 3); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 8)
	if n, err := f.ReadAt(b, 0); n != 8 || err != nil {
		t.Fatalf("ReadAt = %d, %v", n, err)
	}
	if string(b[3:]) != "hello" {
		t.Fatalf("read %q", b)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm()&^0o640 != 0 {
		t.Fatalf("mode %v, want at most 0640", st.Mode())
	}
	if f.Name() != p {
		t.Fatalf("Name() = %q, want %q", f.Name(), p)
	}
}

func TestOpenErrorsAreOSErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	_, err := Open(missing, os.O_RDONLY, 0)
	var pe *os.PathError
	if !errors.As(err, &pe) || pe.Path != missing || pe.Op != "open" {
		t.Fatalf("err = %#v, want *os.PathError for %s", err, missing)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want fs.ErrNotExist", err)
	}
	if _, err := Open(dir, os.O_RDWR, 0); err == nil {
		t.Fatal("opening a directory read-write succeeded")
	}
}

func TestOpenDoesNotLeakToChildren(t *testing.T) {
	f, err := Open(filepath.Join(t.TempDir(), "f"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	flags, err := fcntlGetFD(f)
	if err != nil {
		t.Skip(err)
	}
	if flags&fdCloexec == 0 {
		t.Fatal("descriptor lacks FD_CLOEXEC")
	}
}

func TestRenameReplacesFilesNotDirectories(t *testing.T) {
	dir := t.TempDir()
	a, b, d := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "d")
	for p, s := range map[string]string{a: "new", b: "old"} {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(d, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Rename(a, b); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(b); string(got) != "new" {
		t.Fatalf("b holds %q after the rename, want new", got)
	}
	err := Rename(b, d)
	var le *os.LinkError
	if err == nil || !errors.As(err, &le) {
		t.Fatalf("rename of a file over a directory: %v, want a *os.LinkError", err)
	}
	if _, err := os.Stat(b); err != nil {
		t.Fatalf("the file is gone after the refused rename: %v", err)
	}
	if err := Rename(a, b); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("rename of a missing file: %v, want ErrNotExist", err)
	}
}
