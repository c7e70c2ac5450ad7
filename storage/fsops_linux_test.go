package storage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/anacrolix/torrent/metainfo"
	astorage "github.com/anacrolix/torrent/storage"
	"golang.org/x/sys/unix"
)

// faultFS is the real filesystem with failures switched on by its fields, counting the calls
// the tests check. Paths under a .partial directory are staging paths.
type faultFS struct {
	OSFileSystem
	exdev        bool // renames out of staging fail with EXDEV
	failTmpSync  bool // fsync of a cross-filesystem copy (*.distswarm-tmp) fails with EIO
	failSyncFS   bool // syncfs fails with EIO
	splitDevices bool // staging directories are on another device than final ones

	mu          sync.Mutex
	exdevs      int
	syncFiles   int
	syncDirs    int
	db          *os.File // the state db, as bbolt opened it
	dbReadOnlys int
}

func staged(p string) bool {
	return strings.Contains(p, string(filepath.Separator)+".partial"+string(filepath.Separator))
}

func (f *faultFS) Rename(oldpath, newpath string) error {
	if f.exdev && staged(oldpath) {
		f.mu.Lock()
		f.exdevs++
		f.mu.Unlock()
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: syscall.EXDEV}
	}
	return f.OSFileSystem.Rename(oldpath, newpath)
}

func (f *faultFS) SyncFS(path string) error {
	if f.failSyncFS {
		return &os.PathError{Op: "syncfs", Path: path, Err: syscall.EIO}
	}
	return f.OSFileSystem.SyncFS(path)
}

func (f *faultFS) Device(path string) (uint64, error) {
	d, err := f.OSFileSystem.Device(path)
	if f.splitDevices && staged(path+string(filepath.Separator)) {
		d++
	}
	return d, err
}

func (f *faultFS) SyncFile(path string) error {
	f.mu.Lock()
	f.syncFiles++
	f.mu.Unlock()
	if f.failTmpSync && strings.HasSuffix(path, ".distswarm-tmp") {
		return &os.PathError{Op: "fsync", Path: path, Err: syscall.EIO}
	}
	return f.OSFileSystem.SyncFile(path)
}

func (f *faultFS) SyncDir(dir string) error {
	f.mu.Lock()
	f.syncDirs++
	f.mu.Unlock()
	return f.OSFileSystem.SyncDir(dir)
}

func (f *faultFS) OpenDB(name string, flag int, perm os.FileMode) (*os.File, error) {
	fh, err := f.OSFileSystem.OpenDB(name, flag, perm)
	if err == nil && filepath.Base(name) == "state.db" {
		f.mu.Lock()
		f.db = fh
		f.mu.Unlock()
	}
	return fh, err
}

// breakDB makes the state db stop taking writes, as a failing disk would: a read-only
// descriptor of the same file replaces bbolt's (dup3), so its reads and mapping keep working
// and every write fails with EBADF.
func (f *faultFS) breakDB(t *testing.T) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	ro, err := os.Open(f.db.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if err := unix.Dup3(int(ro.Fd()), int(f.db.Fd()), unix.O_CLOEXEC); err != nil {
		t.Fatalf("dup3: %v", err)
	}
	f.dbReadOnlys++
}

func (f *faultFS) count(n *int) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return *n
}

// heldVerifier is a digestVerifier whose Verify calls wait until release is closed.
type heldVerifier struct {
	*digestVerifier
	release chan struct{}
}

func (v *heldVerifier) Verify(ctx context.Context, f FileRef, staged string) error {
	select {
	case <-v.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return v.digestVerifier.Verify(ctx, f, staged)
}

// commitRun is a store over fsys with a few staged files for the committer.
type commitRun struct {
	dir   string
	st    *Store
	evs   *eventLog
	files []tfile
	info  *metainfo.Info
	ih    metainfo.Hash
}

// stageFiles opens a store over fsys in dir and stages n small files of a torrent named by
// seed; verification waits until release is closed (nil: verify at once).
func stageFiles(ctx context.Context, t *testing.T, dir string, fsys FileSystem, seed string, release chan struct{}) *commitRun {
	t.Helper()
	r := &commitRun{dir: dir, evs: &eventLog{}, ih: metainfo.HashBytes([]byte(seed))}
	r.files = smallFiles(6)
	for i := range r.files {
		r.files[i].name = seed + "-" + r.files[i].name
	}
	if release == nil {
		release = make(chan struct{})
		close(release)
	}
	v := &heldVerifier{digestVerifier: newDigestVerifier(r.files), release: release}
	r.st = openStore(t, Options{Dir: dir, Placement: glepPlacement{dir}, Verifier: v, OnEvent: r.evs.add, FS: fsys})
	r.info, _ = buildInfo(t, "distfiles", r.files, 4096)
	ti, err := r.st.OpenTorrent(ctx, r.info, r.ih)
	if err != nil {
		t.Fatal(err)
	}
	stageAll(t, ti, r.info, r.files)
	return r
}

// stagingPath is where file name of r is staged.
func (r *commitRun) stagingPath(t *testing.T, name string) string {
	return filepath.Join(r.dir, ".partial", r.ih.HexString(), strconv.Itoa(fileIndex(t, r.info, name)))
}

// TestCommitEXDEVCopiesAcross: when the rename into place fails with EXDEV (staging and final
// directories on different filesystems), every file is copied across, synced and renamed into
// place: Final, byte-identical, its staged copy removed and no temporary copy left.
func TestCommitEXDEVCopiesAcross(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fsys := &faultFS{exdev: true}
	r := stageFiles(ctx, t, t.TempDir(), fsys, "exdev", nil)
	defer r.st.Close()
	if err := r.st.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if got := len(r.evs.of(EventFinal)); got != len(r.files) {
		t.Fatalf("%d Final events, want %d; unverified: %v", got, len(r.files), r.evs.of(EventUnverified))
	}
	if n := fsys.count(&fsys.exdevs); n < len(r.files) {
		t.Errorf("%d renames failed with EXDEV, want one per file (%d)", n, len(r.files))
	}
	checkFinalTree(t, r.dir, r.files)
	for _, f := range r.files {
		if _, err := os.Stat(r.stagingPath(t, f.name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: staged copy still there after the copy across: %v", f.name, err)
		}
	}
	assertNoTmpCopies(t, r.dir)
}

// TestCommitEXDEVCopyFails: when the copy across filesystems fails too (its fsync), the files
// are Unverified with an error that says so, their staged data intact, no partial copy at the
// final path; reopened on a working filesystem, the store places them.
func TestCommitEXDEVCopyFails(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	r := stageFiles(ctx, t, dir, &faultFS{exdev: true, failTmpSync: true}, "copyfail", nil)
	if err := r.st.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	unv := r.evs.of(EventUnverified)
	for _, f := range r.files {
		e, ok := unv[f.name]
		if !ok || !errors.Is(e.Err, syscall.EIO) || !strings.Contains(e.Err.Error(), "copy across filesystems") {
			t.Errorf("%s: Unverified event %+v, want the failed copy's EIO", f.name, e)
		}
		if b, err := os.ReadFile(r.stagingPath(t, f.name)); err != nil || string(b) != string(f.data) {
			t.Errorf("%s: staged data lost (%v)", f.name, err)
		}
		if _, err := os.Stat(glepPath(dir, f.name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: something at the final path: %v", f.name, err)
		}
	}
	assertNoTmpCopies(t, dir)
	if err := r.st.Close(); err != nil {
		t.Fatal(err)
	}

	again := stageFiles(ctx, t, dir, nil, "copyfail", nil)
	defer again.st.Close()
	if err := again.st.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	checkFinalTree(t, dir, r.files)
}

// TestCommitSyncFallbacks: a failing syncfs makes the committer fsync every staged file and
// final directory instead; staging and final directories on different devices are placed file
// by file with an fsync each. Either way every file ends Final.
func TestCommitSyncFallbacks(t *testing.T) {
	for _, c := range []struct {
		name string
		fsys *faultFS
	}{
		{"syncfs fails", &faultFS{failSyncFS: true}},
		{"different devices", &faultFS{splitDevices: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			r := stageFiles(ctx, t, t.TempDir(), c.fsys, "sync", nil)
			defer r.st.Close()
			if err := r.st.WaitIdle(ctx); err != nil {
				t.Fatal(err)
			}
			if got := len(r.evs.of(EventFinal)); got != len(r.files) {
				t.Fatalf("%d Final events, want %d", got, len(r.files))
			}
			if n := c.fsys.count(&c.fsys.syncFiles); n < len(r.files) {
				t.Errorf("%d files fsynced, want every staged file (%d)", n, len(r.files))
			}
			if n := c.fsys.count(&c.fsys.syncDirs); n < 1 {
				t.Errorf("no directory fsynced")
			}
			checkFinalTree(t, r.dir, r.files)
		})
	}
}

// TestCommitStateDBWriteFails: the state db stops taking writes after one torrent was
// committed. The next torrent's files are placed at their final paths but reported Unverified
// with ErrNotRecorded, not Final. The db is not damaged: reopened on a working disk, the first
// torrent is still Final without verifying again, and the second one's files are found at
// their final paths, verified and recorded Final.
func TestCommitStateDBWriteFails(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	fsys := &faultFS{}
	release := make(chan struct{})
	first := stageFiles(ctx, t, dir, fsys, "before", nil)
	if err := first.st.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	first.st.Close()

	r := stageFiles(ctx, t, dir, fsys, "after", release)
	fsys.breakDB(t)
	close(release)
	if err := r.st.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if fin := r.evs.of(EventFinal); len(fin) != 0 {
		t.Errorf("%d files reported Final although the db recorded nothing", len(fin))
	}
	unv := r.evs.of(EventUnverified)
	for _, f := range r.files {
		e := unv[f.name]
		if !errors.Is(e.Err, ErrNotRecorded) || !errors.Is(e.Err, syscall.EBADF) || e.Path != glepPath(dir, f.name) {
			t.Errorf("%s: Unverified event %+v, want ErrNotRecorded (EBADF) at its final path", f.name, e)
		}
		if s := r.st.State(r.ih, fileIndex(t, r.info, f.name)); s.Phase != PhaseUnverified {
			t.Errorf("%s: phase %v, want Unverified", f.name, s.Phase)
		}
	}
	checkFinalTree(t, dir, append(append([]tfile(nil), first.files...), r.files...))
	if err := r.st.Close(); err == nil {
		t.Log("close of the broken store: no error (nothing was left to write)")
	}

	// Reopen on a working disk: not moved aside, earlier records intact, the rest adopted.
	v := newDigestVerifier(append(append([]tfile(nil), first.files...), r.files...))
	var evs eventLog
	st := openStore(t, Options{Dir: dir, Placement: glepPlacement{dir}, Verifier: v, OnEvent: evs.add})
	defer st.Close()
	if broken, _ := filepath.Glob(filepath.Join(dir, ".distswarm", "state.db.broken-*")); len(broken) > 0 {
		t.Errorf("state db moved aside as damaged: %v", broken)
	}
	if _, err := st.OpenTorrent(ctx, first.info, first.ih); err != nil {
		t.Fatal(err)
	}
	ti, err := st.OpenTorrent(ctx, r.info, r.ih)
	if err != nil {
		t.Fatal(err)
	}
	hashInPlace(t, ti, r.info)
	if err := st.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	for _, f := range first.files {
		if s := st.State(first.ih, fileIndex(t, first.info, f.name)); s.Phase != PhaseFinal {
			t.Errorf("%s (recorded before the failure): phase %v, want Final", f.name, s.Phase)
		}
		if c := v.calls[f.name]; c != 0 {
			t.Errorf("%s (recorded before the failure): verified again %d times", f.name, c)
		}
	}
	for _, f := range r.files {
		if s := st.State(r.ih, fileIndex(t, r.info, f.name)); s.Phase != PhaseFinal {
			t.Errorf("%s (not recorded): phase %v after reopening, want Final (adopted)", f.name, s.Phase)
		}
	}
}

// hashInPlace does what the torrent client does with a torrent whose files it finds complete
// where they are: read every piece through the store (which finds each file at its final path)
// and mark it complete.
func hashInPlace(t *testing.T, ti astorage.TorrentImpl, info *metainfo.Info) {
	t.Helper()
	for i := range info.NumPieces() {
		mp := info.Piece(i)
		p := ti.PieceWithHash(mp, nilHash())
		if _, err := p.ReadAt(make([]byte, mp.Length()), 0); err != nil {
			t.Fatalf("read piece %d: %v", i, err)
		}
		if err := p.MarkComplete(); err != nil {
			t.Fatalf("mark piece %d: %v", i, err)
		}
	}
}

// assertNoTmpCopies fails the test if a temporary cross-filesystem copy is left under dir.
func assertNoTmpCopies(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".distswarm-tmp") {
			t.Errorf("temporary copy left: %s", p)
		}
		return nil
	})
}
