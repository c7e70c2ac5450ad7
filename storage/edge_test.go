package storage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"
)

func TestNoAuthorityStaysStaged(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	files := testFiles(testPieceLen)
	info, mi := buildInfo(t, "distfiles", files, testPieceLen)
	seedCl, _, seedTor := seed(ctx, t, files, testPieceLen)
	ih := seedTor.InfoHash()

	dir := t.TempDir()
	v := newDigestVerifier(files)
	delete(v.want, "b.tar.xz")
	var evs eventLog
	st := openStore(t, Options{Dir: dir, Placement: glepPlacement{dir}, Verifier: v, OnEvent: evs.add})
	defer st.Close()
	cl := newClient(t, st, t.TempDir(), nil)
	defer cl.Close()
	tor := addAndWaitInfo(ctx, t, cl, st, mi)
	tor.AddPeers([]torrent.PeerInfo{peerOf(seedCl)})
	tor.DownloadAll()
	waitComplete(ctx, t, tor)
	waitFor(ctx, t, "events", func() bool { return len(evs.of(EventFinal))+len(evs.of(EventUnverified)) == len(files) })
	ev, ok := evs.of(EventUnverified)["b.tar.xz"]
	if !ok || !errors.Is(ev.Err, ErrNoAuthority) {
		t.Fatalf("no Unverified event with ErrNoAuthority: %+v", ev)
	}
	idx := fileIndex(t, info, "b.tar.xz")
	want := filepath.Join(dir, ".partial", ih.HexString(), strconv.Itoa(idx))
	if ev.Path != want {
		t.Errorf("staged at %s (index %d), want %s", ev.Path, idx, want)
	}
	if b, err := os.ReadFile(want); err != nil || string(b) != string(files[fileIndexOf(files, "b.tar.xz")].data) {
		t.Errorf("staged file: %v", err)
	}
	if _, err := os.Stat(glepPath(dir, "b.tar.xz")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("unverified file at final path")
	}
	if s := st.State(ih, idx); s.Phase != PhaseUnverified || !errors.Is(s.Err, ErrNoAuthority) {
		t.Errorf("state %+v", s)
	}
	checkFinalTree(t, dir, files)

	// Reopen with the authority known, after the staged copy was deleted: the file is fetched
	// again, verified and placed.
	cl.Close()
	st.Close()
	if err := os.Remove(want); err != nil {
		t.Fatal(err)
	}
	var evs2 eventLog
	st2 := openStore(t, Options{Dir: dir, Placement: glepPlacement{dir}, Verifier: newDigestVerifier(files), OnEvent: evs2.add})
	defer st2.Close()
	cl2 := newClient(t, st2, t.TempDir(), nil)
	defer cl2.Close()
	tor2 := addAndWaitInfo(ctx, t, cl2, st2, mi)
	tor2.AddPeers([]torrent.PeerInfo{peerOf(seedCl)})
	tor2.DownloadAll()
	waitFor(ctx, t, "lost staged file re-fetched", func() bool {
		tor2.AddPeers([]torrent.PeerInfo{peerOf(seedCl)})
		_, ok := evs2.of(EventFinal)["b.tar.xz"]
		return ok
	})
	if n := checkFinalTree(t, dir, files); n != len(files) {
		t.Errorf("final files %d, want %d", n, len(files))
	}
}

func TestHostilePathsRefused(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, Options{Dir: dir, Placement: glepPlacement{dir}})
	defer st.Close()
	for _, path := range [][]string{
		{"..", "evil"}, {"a", "..", "..", "evil"}, {"/etc/passwd"}, {"a\x00b"}, {"a\\..\\b"}, {""}, {"."},
	} {
		files := []tfile{{"ok.tar.gz", []byte("hello")}, {"x", []byte("evil bytes")}}
		info, _ := buildInfo(t, "distfiles", files, testPieceLen)
		info.Files[len(info.Files)-1].Path = path
		var ih metainfo.Hash
		ih[0] = 1
		if _, err := st.OpenTorrent(context.Background(), info, ih); err == nil {
			t.Errorf("path %q accepted", path)
		}
	}
	if got := listFiles(t, dir); len(got) != 0 {
		t.Errorf("files written: %v", got)
	}
}

// outsidePlacement places files outside the store.
type outsidePlacement struct{ root string }

func (p outsidePlacement) FinalPath(_ *metainfo.Info, f FileRef) (string, bool) {
	return filepath.Join(p.root, "..", "escape", f.Path), true
}

// TestPadsVirtualAndPlacementEscape drives the storage directly: pads read as zeros and never
// reach the disk, and a FinalPath outside Dir is refused (the file stays staged, Unverified).
func TestPadsVirtualAndPlacementEscape(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	var evs eventLog
	st := openStore(t, Options{Dir: dir, Placement: outsidePlacement{dir}, Verifier: newDigestVerifier(nil), OnEvent: evs.add})
	defer st.Close()
	files := []tfile{{"a", []byte("aaaa")}, {"b", []byte("bbbbbb")}}
	info, _ := buildInfo(t, "distfiles", files, 8)
	if n := len(info.Files); n != 3 {
		t.Fatalf("want a pad: %d files", n)
	}
	var ih metainfo.Hash
	ih[0] = 2
	ti, err := st.OpenTorrent(ctx, info, ih)
	if err != nil {
		t.Fatal(err)
	}
	p0 := ti.PieceWithHash(info.Piece(0), nilHash())
	// A file that is nowhere yet (no final file, nothing staged) has known-incomplete pieces:
	// the client requests them without hashing them first.
	if c := p0.Completion(); !c.Ok || c.Complete {
		t.Errorf("fresh piece completion %+v, want Ok=true Complete=false", c)
	}
	if n, err := p0.WriteAt([]byte("aaaaXXXX"), 0); n != 8 || err != nil {
		t.Fatalf("write: %d %v", n, err)
	}
	buf := make([]byte, 8)
	if _, err := p0.ReadAt(buf, 0); err != nil || string(buf) != "aaaa\x00\x00\x00\x00" {
		t.Fatalf("read %q %v", buf, err)
	}
	if err := p0.MarkComplete(); err != nil {
		t.Fatal(err)
	}
	p1 := ti.PieceWithHash(info.Piece(1), nilHash())
	if _, err := p1.WriteAt([]byte("bbbbbb"), 0); err != nil {
		t.Fatal(err)
	}
	if err := p1.MarkComplete(); err != nil {
		t.Fatal(err)
	}
	if err := st.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"a", "b"} {
		if e, ok := evs.of(EventUnverified)[f]; !ok || !errors.Is(e.Err, ErrNotPlaceable) {
			t.Errorf("%s: %+v", f, e)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "..", "escape")); err == nil {
		t.Errorf("file written outside the store")
	}
	for _, rel := range listFiles(t, dir) {
		if !strings.HasPrefix(rel, ".partial/") || strings.Contains(rel, "pad") {
			t.Errorf("unexpected file %s", rel)
		}
	}
	if err := ti.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestFinalDamageOnRead: a Final file that loses data while seeding is demoted by
// MarkNotComplete (the client's reaction to a short read).
func TestFinalDamageOnRead(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	files := []tfile{{"a", []byte("aaaa")}, {"b", []byte("bbbbbb")}}
	info, _ := buildInfo(t, "distfiles", files, 8)
	var evs eventLog
	st := openStore(t, Options{Dir: dir, Placement: glepPlacement{dir}, Verifier: newDigestVerifier(files), OnEvent: evs.add})
	defer st.Close()
	var ih metainfo.Hash
	ih[0] = 3
	ti, err := st.OpenTorrent(ctx, info, ih)
	if err != nil {
		t.Fatal(err)
	}
	defer ti.Close()
	p0 := ti.PieceWithHash(info.Piece(0), nilHash())
	p0.WriteAt([]byte("aaaa\x00\x00\x00\x00"), 0)
	p0.MarkComplete()
	if err := st.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if s := st.State(ih, 0); s.Phase != PhaseFinal {
		t.Fatalf("a: %v %v", s.Phase, s.Err)
	}
	if err := os.Truncate(glepPath(dir, "a"), 2); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	if _, err := p0.ReadAt(buf, 0); err != io_EOF {
		t.Fatalf("short read error %v, want io.EOF", err)
	}
	if err := p0.MarkNotComplete(); err != nil {
		t.Fatal(err)
	}
	if s := st.State(ih, 0); s.Phase != PhaseDamaged {
		t.Errorf("after damage: %v", s.Phase)
	}
	if c := p0.Completion(); !c.Ok || c.Complete {
		t.Errorf("completion after damage %+v", c)
	}
	if _, ok := evs.of(EventDamaged)["a"]; !ok {
		t.Errorf("no Damaged event")
	}
	if _, err := os.Stat(glepPath(dir, "a")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("damaged file still at final path")
	}
	// Re-fetched: placed again.
	p0.WriteAt([]byte("aaaa\x00\x00\x00\x00"), 0)
	p0.MarkComplete()
	if err := st.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if s := st.State(ih, 0); s.Phase != PhaseFinal {
		t.Errorf("after re-fetch: %v %v", s.Phase, s.Err)
	}
}

func TestFileCacheBound(t *testing.T) {
	dir := t.TempDir()
	c := newFileCache(2)
	var held []*cacheEntry
	for i := range 5 {
		p := filepath.Join(dir, string(rune('a'+i)))
		e, err := c.acquire(p, true, true)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, e)
	}
	if n := len(c.entries); n != 5 {
		t.Errorf("busy entries evicted: %d", n)
	}
	for _, e := range held {
		c.release(e)
	}
	if n := len(c.entries); n != 2 {
		t.Errorf("after release: %d entries, want 2", n)
	}
	if _, err := c.acquire(filepath.Join(dir, "missing"), false, false); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if err := c.closeAll(); err != nil {
		t.Error(err)
	}
}

func fileIndexOf(files []tfile, name string) int {
	for i, f := range files {
		if f.name == name {
			return i
		}
	}
	return -1
}

// A file with data somewhere but no record (staged before a crash that lost its piece bits, or
// found at its final path) keeps unknown pieces, which the client hashes; a file that is nowhere
// has known-incomplete pieces, which it does not.
func TestFreshPiecesHashedOnlyWhenDataExists(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	files := []tfile{{"staged.tar.gz", []byte("ssss")}, {"final.tar.gz", []byte("ffff")}, {"nowhere.tar.gz", []byte("nnnn")}}
	info, _ := buildInfo(t, "distfiles", files, 4)
	var ih metainfo.Hash
	ih[0] = 7
	staged := filepath.Join(dir, ".partial", ih.HexString(), "0")
	if err := os.MkdirAll(filepath.Dir(staged), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(staged, files[0].data, 0o644); err != nil {
		t.Fatal(err)
	}
	placeFiles(t, dir, files[1:2])
	st := openStore(t, Options{Dir: dir, Placement: glepPlacement{dir}})
	defer st.Close()
	ti, err := st.OpenTorrent(ctx, info, ih)
	if err != nil {
		t.Fatal(err)
	}
	defer ti.Close()
	for i, want := range []bool{false, false, true} {
		if c := ti.PieceWithHash(info.Piece(i), nilHash()).Completion(); c.Ok != want || c.Complete {
			t.Errorf("%s: completion %+v, want Ok=%v Complete=false", files[i].name, c, want)
		}
	}
}
