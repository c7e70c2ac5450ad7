package storage

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// helperEnv names the store directory the helper process opens.
const helperEnv = "DISTSWARM_TEST_OPEN_STORE"

// TestHelperOpenStore is not a test: run by openInSubprocess, it opens the store named by
// helperEnv, writes a record, reads it back and closes the store. A process killed by SIGBUS
// (bbolt reading past the end of a cut-short file) fails the calling test instead of the suite.
func TestHelperOpenStore(t *testing.T) {
	dir := os.Getenv(helperEnv)
	if dir == "" {
		t.Skip("helper process for openInSubprocess")
	}
	st, err := Open(Options{Dir: dir, Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ih := [20]byte{7}
	if err := st.db.setFile(ih, 0, &fileRecord{Phase: PhaseUnverified, Err: "x"}, 0, 0); err != nil {
		t.Fatal(err)
	}
	if r, ok, err := st.db.getFile(ih, 0); err != nil || !ok || r.Phase != PhaseUnverified {
		t.Fatalf("read back: %+v %v %v", r, ok, err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}

// openInSubprocess opens the store at dir in a child process and returns its stderr.
func openInSubprocess(t *testing.T, dir string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperOpenStore$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("opening the store in a child process: %v\n%s", err, out.String())
	}
	return out.String()
}

// A state db cut short after its meta pages (what a full disk left while bbolt created it)
// crashed every later open with SIGBUS. It is now moved aside with a warning and the store
// starts from an empty state.
func TestCutShortStateDBMovedAside(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, Options{Dir: dir})
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, ".distswarm", "state.db")
	if err := checkBoltFile(path); err != nil {
		t.Fatalf("a store's own state db: %v", err)
	}
	if err := os.Truncate(path, 8192); err != nil { // the two meta pages only
		t.Fatal(err)
	}
	if err := checkBoltFile(path); err == nil || !strings.Contains(err.Error(), "cut short") {
		t.Fatalf("checkBoltFile of a cut-short db: %v", err)
	}
	out := openInSubprocess(t, dir)
	if !strings.Contains(out, "state db damaged: moved aside") {
		t.Errorf("no warning in the child's output:\n%s", out)
	}
	aside, _ := filepath.Glob(path + ".broken-*")
	if len(aside) != 1 {
		t.Fatalf("moved-aside copies: %v", aside)
	}
	if fi, err := os.Stat(aside[0]); err != nil || fi.Size() != 8192 {
		t.Fatalf("moved-aside copy: %v %v", fi, err)
	}
	if err := checkBoltFile(path); err != nil {
		t.Fatalf("rebuilt state db: %v", err)
	}
	// A file that is not a bbolt db at all is moved aside too.
	if err := os.WriteFile(path, bytes.Repeat([]byte("x"), 100), 0o644); err != nil {
		t.Fatal(err)
	}
	openInSubprocess(t, dir)
	if aside, _ := filepath.Glob(path + ".broken-*"); len(aside) != 2 {
		t.Fatalf("moved-aside copies: %v", aside)
	}
}

// A real full filesystem: creating the state db fails with ENOSPC and leaves no file behind;
// once space is freed, the store opens. Needs root (a tmpfs mount).
func TestStateDBOnFullDisk(t *testing.T) {
	mnt := mountTmpfs(t, "256k")
	dir := filepath.Join(mnt, "store")
	if err := os.MkdirAll(filepath.Join(dir, ".distswarm"), 0o755); err != nil {
		t.Fatal(err)
	}
	filler := filepath.Join(mnt, "filler")
	fillDisk(t, filler)
	// Leave two pages: bbolt's first write (four pages) is cut after the meta pages.
	fi, err := os.Stat(filler)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(filler, fi.Size()-8192); err != nil {
		t.Fatal(err)
	}
	_, err = Open(Options{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Open on a full disk: %v, want ENOSPC", err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".distswarm", "state.db*"))
	if len(left) != 1 || filepath.Base(left[0]) != "state.db.lock" { // the empty lock file stays
		t.Fatalf("left behind on the full disk: %v", left)
	}
	if fi, err := os.Stat(left[0]); err != nil || fi.Size() != 0 {
		t.Fatalf("left behind on the full disk: %v", left)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	openInSubprocess(t, dir)
	if err := checkBoltFile(filepath.Join(dir, ".distswarm", "state.db")); err != nil {
		t.Fatalf("state db after space was freed: %v", err)
	}
}

// fillDisk writes path until the filesystem is full.
func fillDisk(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for range 1 << 20 {
		if _, err := f.Write(buf); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return
			}
			t.Fatal(err)
		}
	}
	t.Fatal("the filesystem never filled up")
}

// While another process holds the store, a damaged-looking db is not touched: the lock comes
// before the damage check, so a second opener cannot move a live daemon's db aside.
func TestLockedStoreDBNotMovedAside(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, Options{Dir: dir})
	path := filepath.Join(dir, ".distswarm", "state.db")
	// A second opener in this process shares neither the flock (a new open file
	// description) nor the db: it must see ErrLocked.
	if _, err := Open(Options{Dir: dir}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second open of a held store: %v, want ErrLocked", err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	// Hold only the lock (as a live process would), then damage the db.
	lock, err := lockStateFile(path + ".lock")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 8192); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(Options{Dir: dir}); !errors.Is(err, ErrLocked) {
		t.Fatalf("open while locked: %v, want ErrLocked", err)
	}
	if aside, _ := filepath.Glob(path + ".broken-*"); len(aside) != 0 {
		t.Fatalf("a locked store's db was moved aside: %v", aside)
	}
	if err := lock.Close(); err != nil {
		t.Fatal(err)
	}
	st2, err := Open(Options{Dir: dir}) // now the damage is handled
	if err != nil {
		t.Fatal(err)
	}
	st2.Close()
	if aside, _ := filepath.Glob(path + ".broken-*"); len(aside) != 1 {
		t.Fatalf("after the lock was released: moved-aside copies %v", aside)
	}
}
