package storage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anacrolix/torrent"
)

const testPieceLen = 16 << 10

// seed starts a seeder whose store already holds files at their GLEP 75 paths.
func seed(ctx context.Context, t *testing.T, files []tfile, pieceLen int64) (*torrent.Client, *Store, *torrent.Torrent) {
	t.Helper()
	dir := t.TempDir()
	placeFiles(t, dir, files)
	st := openStore(t, Options{Dir: dir, Placement: glepPlacement{dir}})
	cl := newClient(t, st, t.TempDir(), nil)
	t.Cleanup(func() { cl.Close(); st.Close() })
	_, mi := buildInfo(t, "distfiles", files, pieceLen)
	tor := addAndWaitInfo(ctx, t, cl, st, mi)
	waitComplete(ctx, t, tor)
	if err := st.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	return cl, st, tor
}

func TestTransferPlaceAndReseed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	files := testFiles(testPieceLen)
	info, mi := buildInfo(t, "distfiles", files, testPieceLen)
	seedCl, seedSt, seedTor := seed(ctx, t, files, testPieceLen)
	ih := seedTor.InfoHash()
	for i, f := range info.UpvertedFiles() {
		if strings.Contains(f.Attr, "p") {
			continue
		}
		if got := seedSt.State(ih, i).Phase; got != PhaseFinal {
			t.Errorf("seeder file %d (%v): phase %v, want Final (adopted)", i, f.Path, got)
		}
	}

	dir := t.TempDir()
	v := newDigestVerifier(files)
	var evs eventLog
	st := openStore(t, Options{Dir: dir, Placement: glepPlacement{dir}, Verifier: v, OnEvent: evs.add, MaxOpenFiles: 3})
	defer st.Close()
	cl := newClient(t, st, t.TempDir(), nil)
	defer cl.Close()
	start := time.Now()
	tor := addAndWaitInfo(ctx, t, cl, st, mi)
	tor.AddPeers([]torrent.PeerInfo{peerOf(seedCl)})
	tor.DownloadAll()
	waitComplete(ctx, t, tor)
	waitFor(ctx, t, "all files final", func() bool { return len(evs.of(EventFinal)) == len(files) })
	t.Logf("leech of %d bytes (%d pieces) + finalize took %v", info.TotalLength(), info.NumPieces(), time.Since(start))

	if n := checkFinalTree(t, dir, files); n != len(files) {
		t.Errorf("final tree has %d files, want %d", n, len(files))
	}
	for _, rel := range listFiles(t, dir) {
		if strings.HasPrefix(rel, ".partial/") {
			t.Errorf("staging not empty: %s", rel)
		}
	}
	for i, f := range info.UpvertedFiles() {
		if strings.Contains(f.Attr, "p") {
			continue
		}
		s := st.State(ih, i)
		if s.Phase != PhaseFinal || s.FinalPath != glepPath(dir, f.Path[0]) {
			t.Errorf("file %v: state %+v", f.Path, s)
		}
	}
	if c := v.totalCalls(); c != len(files) {
		t.Errorf("verifier called %d times, want %d", c, len(files))
	}

	// A third client can only get data from the leecher, which serves from the final paths.
	seedCl.Close()
	dir3 := t.TempDir()
	st3 := openStore(t, Options{Dir: dir3, Placement: glepPlacement{dir3}, Verifier: newDigestVerifier(files)})
	defer st3.Close()
	cl3 := newClient(t, st3, t.TempDir(), nil)
	defer cl3.Close()
	tor3 := addAndWaitInfo(ctx, t, cl3, st3, mi)
	tor3.AddPeers([]torrent.PeerInfo{peerOf(cl)})
	tor3.DownloadAll()
	waitComplete(ctx, t, tor3)
	if err := st3.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if n := checkFinalTree(t, dir3, files); n != len(files) {
		t.Errorf("third client final tree has %d files, want %d", n, len(files))
	}
}

func TestRejectQuarantinePersists(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	files := testFiles(testPieceLen)
	info, mi := buildInfo(t, "distfiles", files, testPieceLen)
	seedCl, _, seedTor := seed(ctx, t, files, testPieceLen)
	ih := seedTor.InfoHash()

	dir := t.TempDir()
	v := newDigestVerifier(files)
	v.reject["e.patch"] = true
	var evs eventLog
	st := openStore(t, Options{Dir: dir, Placement: glepPlacement{dir}, Verifier: v, OnEvent: evs.add})
	cl := newClient(t, st, t.TempDir(), nil)
	tor := addAndWaitInfo(ctx, t, cl, st, mi)
	tor.AddPeers([]torrent.PeerInfo{peerOf(seedCl)})
	tor.DownloadAll()
	waitFor(ctx, t, "final+rejected events", func() bool {
		return len(evs.of(EventFinal)) == len(files)-1 && len(evs.of(EventRejected)) == 1
	})
	if err := st.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	rej := evs.of(EventRejected)["e.patch"]
	if rej.Err == nil || !strings.HasPrefix(rej.Path, filepath.Join(dir, ".quarantine")+"/") {
		t.Fatalf("rejected event: %+v", rej)
	}
	if _, err := os.Stat(rej.Path); err != nil {
		t.Errorf("quarantined file: %v", err)
	}
	if _, err := os.Stat(glepPath(dir, "e.patch")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("rejected file at final path: %v", err)
	}
	idx := fileIndex(t, info, "e.patch")
	if s := st.State(ih, idx); s.Phase != PhaseRejected || s.Err == nil {
		t.Errorf("state %+v, want Rejected", s)
	}
	checkFinalTree(t, dir, files)
	// Not fetched again: the client was told not to want it (a re-fetch would be verified again).
	if p := tor.Files()[idx].Priority(); p != torrent.PiecePriorityNone {
		t.Errorf("rejected file still wanted by the client: priority %v", p)
	}
	v.mu.Lock()
	calls := v.calls["e.patch"]
	v.mu.Unlock()
	if calls != 1 {
		t.Errorf("rejected file verified %d times", calls)
	}
	cl.Close()
	st.Close()

	// Persisted: reported from the db while closed, and after reopening the torrent.
	st = openStore(t, Options{Dir: dir, Placement: glepPlacement{dir}, Verifier: v})
	defer st.Close()
	if s := st.State(ih, idx); s.Phase != PhaseRejected {
		t.Errorf("after reopen (closed torrent): %v", s.Phase)
	}
	cl = newClient(t, st, t.TempDir(), nil)
	defer cl.Close()
	tor = addAndWaitInfo(ctx, t, cl, st, mi)
	if s := st.State(ih, idx); s.Phase != PhaseRejected {
		t.Errorf("after reopen (open torrent): %v", s.Phase)
	}
	if err := st.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if c := v.totalCalls(); c != len(files) {
		t.Errorf("verifier calls after reopen: %d, want %d", c, len(files))
	}
}

func fileIndex(t testing.TB, info interface {
	UpvertedFiles() []metainfoFileInfo
}, name string) int {
	t.Helper()
	for i, f := range info.UpvertedFiles() {
		if len(f.Path) == 1 && f.Path[0] == name {
			return i
		}
	}
	t.Fatalf("no file %s", name)
	return -1
}
