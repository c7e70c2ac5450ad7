package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/anacrolix/torrent/metainfo"
	astorage "github.com/anacrolix/torrent/storage"
)

// gateVerifier holds every Verify call until n of them have arrived (or a second has passed), so
// that the files reach the committer together.
type gateVerifier struct {
	*digestVerifier
	n int

	mu      sync.Mutex
	arrived int
	gate    chan struct{}
}

func (v *gateVerifier) Verify(ctx context.Context, f FileRef, staged string) error {
	v.mu.Lock()
	v.arrived++
	if v.arrived == v.n {
		close(v.gate)
	}
	v.mu.Unlock()
	select {
	case <-v.gate:
	case <-time.After(time.Second):
	case <-ctx.Done():
		return ctx.Err()
	}
	return v.digestVerifier.Verify(ctx, f, staged)
}

// smallFiles returns n deterministic files of 1–3 KiB.
func smallFiles(n int) []tfile {
	r := rand.New(rand.NewSource(7))
	out := make([]tfile, n)
	for i := range out {
		b := make([]byte, 1024+r.Intn(2048))
		r.Read(b)
		out[i] = tfile{fmt.Sprintf("small-%03d.tar.gz", i), b}
	}
	return out
}

// stageAll writes every piece of files (laid out by buildInfo) through the store and marks it
// complete, as the torrent client would after hashing it.
func stageAll(t *testing.T, ti astorage.TorrentImpl, info *metainfo.Info, files []tfile) {
	t.Helper()
	stagePaced(t, ti, info, files, 0)
}

// stageAndWait opens a torrent of files (4 KiB pieces, infohash from label) in st, stages all of
// it and waits until the store is idle.
func stageAndWait(ctx context.Context, t *testing.T, st *Store, files []tfile, label string) (*metainfo.Info, metainfo.Hash, astorage.TorrentImpl) {
	t.Helper()
	info, _ := buildInfo(t, "distfiles", files, 4096)
	ih := metainfo.HashBytes([]byte(label))
	ti, err := st.OpenTorrent(ctx, info, ih)
	if err != nil {
		t.Fatal(err)
	}
	stageAll(t, ti, info, files)
	if err := st.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	return info, ih, ti
}

// stagePaced is stageAll with a pause of pace after each piece.
func stagePaced(t *testing.T, ti astorage.TorrentImpl, info *metainfo.Info, files []tfile, pace time.Duration) {
	t.Helper()
	var stream bytes.Buffer
	for i, f := range files {
		stream.Write(f.data)
		if rem := int64(len(f.data)) % info.PieceLength; i != len(files)-1 && rem != 0 {
			stream.Write(make([]byte, info.PieceLength-rem))
		}
	}
	for i := range info.NumPieces() {
		mp := info.Piece(i)
		p := ti.PieceWithHash(mp, nilHash())
		if _, err := p.WriteAt(stream.Bytes()[mp.Offset():mp.Offset()+mp.Length()], 0); err != nil {
			t.Fatalf("write piece %d: %v", i, err)
		}
		if err := p.MarkComplete(); err != nil {
			t.Fatalf("mark piece %d: %v", i, err)
		}
		time.Sleep(pace)
	}
}

// TestCommitPaced: files that become ready one by one, a few milliseconds apart, are committed
// at most once per commitEvery (plus the first batch and the last), not one batch each.
func TestCommitPaced(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const n = 40
	files := smallFiles(n)
	dir := t.TempDir()
	st := openStore(t, Options{Dir: dir, Placement: glepPlacement{dir}, Verifier: newDigestVerifier(files)})
	info, _ := buildInfo(t, "distfiles", files, 4096)
	ti, err := st.OpenTorrent(ctx, info, metainfo.HashBytes([]byte("paced commit")))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	stagePaced(t, ti, info, files, 5*time.Millisecond)
	if err := st.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	most := int64(took/commitEvery) + 2 // about 7 here; one batch per file would be 40
	if b := st.commit.batches.Load(); b < 1 || b > most {
		t.Errorf("%d files ready 5 ms apart over %s committed in %d batches, want at most %d", n, took.Round(time.Millisecond), b, most)
	}
	if got := checkFinalTree(t, dir, files); got != n {
		t.Errorf("%d files in the final tree, want %d", got, n)
	}
}

// TestGroupCommit: files verified together are placed and recorded in few batches, and a file
// that cannot be placed fails alone (Unverified, still staged) without costing the others.
func TestGroupCommit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const n = 48
	files := smallFiles(n)
	bad := files[5].name
	dir := t.TempDir()
	// The bad file's final path is taken by a directory: its rename fails.
	if err := os.MkdirAll(filepath.Join(glepPath(dir, bad), "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	var evs eventLog
	v := &gateVerifier{digestVerifier: newDigestVerifier(files), n: n, gate: make(chan struct{})}
	pl := glepPlacement{dir}
	st := openStore(t, Options{Dir: dir, Placement: pl, Verifier: v, OnEvent: evs.add, Workers: n})
	info, ih, ti := stageAndWait(ctx, t, st, files, "group commit")
	if b := st.commit.batches.Load(); b < 1 || b > n/4 {
		t.Errorf("%d files committed in %d batches, want a few", n, b)
	}
	final := evs.of(EventFinal)
	if len(final) != n-1 {
		t.Errorf("%d Final events, want %d", len(final), n-1)
	}
	if e, ok := evs.of(EventUnverified)[bad]; !ok || e.Err == nil {
		t.Errorf("blocked file: no Unverified event with an error (%+v)", e)
	}
	good := make([]tfile, 0, n-1)
	for _, f := range files {
		if f.name != bad {
			good = append(good, f)
		}
	}
	if got := checkFinalTree(t, dir, good); got != n-1 {
		t.Errorf("%d files in the final tree, want %d", got, n-1)
	}
	badIdx := fileIndex(t, info, bad)
	if _, err := os.Stat(filepath.Join(dir, ".partial", ih.HexString(), fmt.Sprint(badIdx))); err != nil {
		t.Errorf("blocked file is not staged any more: %v", err)
	}
	if err := ti.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	// The records are in the db.
	st = openStore(t, Options{Dir: dir, Placement: pl})
	defer st.Close()
	for _, f := range files {
		s := st.State(ih, fileIndex(t, info, f.name))
		want := PhaseFinal
		if f.name == bad {
			want = PhaseUnverified
		}
		if s.Phase != want {
			t.Errorf("%s: recorded %v, want %v", f.name, s.Phase, want)
		}
		if want == PhaseFinal && (s.FinalPath != glepPath(dir, f.name) || s.Size != int64(len(f.data))) {
			t.Errorf("%s: record %+v", f.name, s)
		}
	}
}

// TestRestartUnchangedWritesNothing: reopening a store whose files are all Final and unchanged
// commits no db transaction and leaves the db file as it was.
func TestRestartUnchangedWritesNothing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	files := smallFiles(40)
	dir := t.TempDir()
	v := newDigestVerifier(files)
	o := Options{Dir: dir, Placement: glepPlacement{dir}, Verifier: v}
	st := openStore(t, o)
	info, ih, ti := stageAndWait(ctx, t, st, files, "restart")
	if got := checkFinalTree(t, dir, files); got != len(files) {
		t.Fatalf("%d files placed, want %d", got, len(files))
	}
	if err := ti.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(dir, ".distswarm", "state.db")
	snap := func() ([32]byte, time.Time) {
		b, err := os.ReadFile(dbPath)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(dbPath)
		if err != nil {
			t.Fatal(err)
		}
		return sha256.Sum256(b), fi.ModTime()
	}
	sum, mtime := snap()
	calls := v.totalCalls()

	st = openStore(t, o)
	ti, err := st.OpenTorrent(ctx, info, ih)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	st.mu.Lock()
	ts := st.torrents[ih]
	st.mu.Unlock()
	ts.jobs.Wait()                  // the reconcile scan
	time.Sleep(3 * pieceFlushDelay) // a queued piece bit would be committed by now
	for _, f := range files {
		if s := st.State(ih, fileIndex(t, info, f.name)); s.Phase != PhaseFinal {
			t.Errorf("%s: %v after restart", f.name, s.Phase)
		}
	}
	if w := st.db.writes.Load(); w != 0 {
		t.Errorf("restart committed %d write transactions, want 0", w)
	}
	if err := ti.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if c := v.totalCalls(); c != calls {
		t.Errorf("restart verified %d files again", c-calls)
	}
	if s2, m2 := snap(); s2 != sum || !m2.Equal(mtime) {
		t.Errorf("restart changed the state db (content changed: %v, mtime %v → %v)", s2 != sum, mtime, m2)
	}
}

// TestFinalDirRemovedWhileOpen: the committer remembers which final directories exist; when one
// is removed behind its back, the next file placed there recreates it instead of failing. The
// record of a placed file holds the size and mtime of the file at its final path.
func TestFinalDirRemovedWhileOpen(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	first := smallFiles(1)
	d := filepath.Dir(glepPath("", first[0].name))
	var second []tfile // a file whose final directory is the first one's
	for i := 0; len(second) == 0; i++ {
		name := fmt.Sprintf("later-%d.tar.gz", i)
		if filepath.Dir(glepPath("", name)) == d {
			second = []tfile{{name, bytes.Repeat([]byte{byte(i)}, 3000)}}
		}
	}
	dir := t.TempDir()
	var evs eventLog
	v := newDigestVerifier(append(append([]tfile{}, first...), second...))
	st := openStore(t, Options{Dir: dir, Placement: glepPlacement{dir}, Verifier: v, OnEvent: evs.add})
	defer st.Close()
	for i, files := range [][]tfile{first, second} {
		info, ih, _ := stageAndWait(ctx, t, st, files, fmt.Sprintf("removed dir %d", i))
		final := glepPath(dir, files[0].name)
		fi, err := os.Stat(final)
		if err != nil {
			t.Fatalf("torrent %d: %s not placed: %v (events %+v)", i, files[0].name, err, evs.of(EventUnverified))
		}
		if s := st.State(ih, fileIndex(t, info, files[0].name)); s.Size != fi.Size() || !s.ModTime.Equal(fi.ModTime()) {
			t.Errorf("torrent %d: record size %d mtime %v, file %d %v", i, s.Size, s.ModTime, fi.Size(), fi.ModTime())
		}
		if i == 0 {
			if err := os.RemoveAll(filepath.Dir(final)); err != nil {
				t.Fatal(err)
			}
		}
	}
}
