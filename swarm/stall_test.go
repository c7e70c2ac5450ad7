package swarm

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	g "github.com/anacrolix/generics"
	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"
	astorage "github.com/anacrolix/torrent/storage"

	"github.com/distswarm/distswarm/swarm/collection"
)

// idleFor: a count that has not moved for the whole wait, with peers
// connected, is reported once per wait; a moving count, no peers, or the
// first sighting restart the wait.
func TestProgressMarkIdleFor(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var m progressMark
	steps := []struct {
		at     time.Duration
		bytes  int64
		active bool
		want   bool
	}{
		{0, 5, true, false},                 // first sighting
		{time.Second, 5, true, false},       // 1 s idle
		{2 * time.Second, 5, true, true},    // 2 s idle: report, wait again
		{3 * time.Second, 5, true, false},   // 1 s into the new wait
		{4 * time.Second, 5, true, true},    // reported again
		{5 * time.Second, 9, true, false},   // moved
		{7 * time.Second, 9, false, false},  // no peers: restart
		{8 * time.Second, 9, true, false},   // 1 s since the restart
		{10 * time.Second, 9, true, true},   // 3 s: report
		{11 * time.Second, 10, true, false}, // moved again
	}
	for i, s := range steps {
		if got := m.idleFor(t0.Add(s.at), s.bytes, s.active, 2*time.Second); got != s.want {
			t.Fatalf("step %d (at %s, %d bytes, active %v): idleFor = %v, want %v", i, s.at, s.bytes, s.active, got, s.want)
		}
	}
}

func TestStallWatchReportsAtDoublingIntervals(t *testing.T) {
	t0 := time.Unix(1000, 0)
	s := newStallWatch(10 * time.Second)
	at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }
	var reports []int
	for sec := 0; sec <= 100; sec++ {
		moved := int64(0)
		if sec >= 50 && sec < 52 { // data flows for two seconds: the watch starts over
			moved = int64(sec)
		} else if sec >= 52 {
			moved = 51
		}
		if d, ok := s.check(moved, 0, 0, at(sec)); ok {
			reports = append(reports, sec)
			if sec < 50 && d != time.Duration(sec)*time.Second {
				t.Errorf("at %d s: stalled for %v", sec, d)
			}
		}
	}
	want := []int{10, 30, 61, 81}
	if fmt.Sprint(reports) != fmt.Sprint(want) {
		t.Errorf("reports at %v s, want %v", reports, want)
	}
}

// Data that only ever fails its piece hashes is no progress; one verified
// piece is.
func TestStallWatchBadDataIsNoProgress(t *testing.T) {
	t0 := time.Unix(1000, 0)
	s := newStallWatch(10 * time.Second)
	s.check(0, 0, 0, t0)
	for sec := 1; sec <= 10; sec++ { // a peer streams data, every piece fails
		if _, ok := s.check(int64(sec)<<20, 0, int64(sec), t0.Add(time.Duration(sec)*time.Second)); ok != (sec == 10) {
			t.Fatalf("at %d s: report %v", sec, ok)
		}
	}
	s.check(11<<20, 1, 10, t0.Add(11*time.Second)) // a good piece
	if _, ok := s.check(11<<20, 1, 10, t0.Add(20*time.Second)); ok {
		t.Error("reported 9 s after a verified piece")
	}
}

// logBuffer collects a logger's output for assertions.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// stallFetch fetches every file of coll from peers on a node whose stall
// reports come after one second, until the log shows want (or 45 s pass),
// and returns the results and the log.
func stallFetch(t *testing.T, coll *collection.Collection, want string, peers ...string) ([]FileResult, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	store, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var logs logBuffer
	n, err := OpenNode(ctx, NodeOptions{Store: store, Client: loopback(), Peers: peers,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), StallReport: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	fctx, fcancel := context.WithTimeout(ctx, 45*time.Second)
	defer fcancel()
	go func() { // the fetch ends once the report it waits for is logged
		for fctx.Err() == nil && !strings.Contains(logs.String(), want) {
			time.Sleep(100 * time.Millisecond)
		}
		fcancel()
	}()
	res, err := n.Fetch(fctx, FetchRequest{Collections: []*collection.Collection{coll}, TrustCollection: true, All: true})
	if err != nil {
		t.Fatal(err)
	}
	return res, logs.String()
}

// A peer that does not answer: the fetch says so while it waits, instead
// of nothing until its deadline.
func TestFetchStallReportsDeadPeer(t *testing.T) {
	_, _, coll := corpusCollection(t, context.Background(), []int{300000})
	dead := closedAddr(t)
	want := "no peer connected: none of the 1 given answers"
	res, logs := stallFetch(t, coll, want, dead)
	if len(res) == 0 || res[0].Outcome.OK() {
		t.Fatalf("results %+v, want none placed", res)
	}
	if !strings.Contains(logs, "no progress for") || !strings.Contains(logs, want) {
		t.Fatalf("no stall report naming the dead peer in the log:\n%s", logs)
	}
}

// A peer that sends data failing the piece hashes (as with a .torrent
// whose pieces were damaged): the stall report says every piece failed.
func TestFetchStallReportsBadPieces(t *testing.T) {
	_, _, coll := corpusCollection(t, context.Background(), []int{300000, 200000})
	peer := startCorruptSeeder(t, coll.Torrents[0])
	want := "every piece received failed its hash check"
	res, logs := stallFetch(t, coll, want, peer)
	for _, r := range res {
		if r.Outcome.OK() {
			t.Fatalf("%s placed from a corrupt seeder", r.Name)
		}
	}
	if !strings.Contains(logs, want) {
		t.Fatalf("no stall report of failed pieces in the log:\n%s", logs)
	}
}

// An honest seeder on the same IP address as a corrupt one (two processes
// on one host, or peers behind one NAT address): the library bans the
// address of the peer that sent bad data, which drops the honest one too
// (see bans.go). The fetch cannot undo that, but says it at once and in
// its stall report, naming the given peers the ban took. The honest
// seeder's upload is slowed so that the ban surely comes before it could
// have sent everything.
func TestFetchReportsBannedAddress(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	src, _, coll := corpusCollection(t, ctx, []int{300000, 200000})
	corrupt := startCorruptSeeder(t, coll.Torrents[0])
	slow := loopback()
	slow.UploadRate = 16 << 10
	honest := fmt.Sprintf("127.0.0.1:%d", startSeederWith(t, ctx, coll, src, slow))
	want := "are at a banned IP address"
	res, logs := stallFetch(t, coll, want, corrupt, honest)
	for _, r := range res {
		if r.Outcome.OK() && r.Outcome != OutcomePlaced {
			t.Errorf("%s: %v", r.Name, r.Outcome)
		}
	}
	if !strings.Contains(logs, "banned IP address 127.0.0.1: a peer there sent data that failed its hash check") {
		t.Errorf("no warning when the address was banned:\n%s", logs)
	}
	if !strings.Contains(logs, want) || !strings.Contains(logs, corrupt) || !strings.Contains(logs, honest) {
		t.Fatalf("no stall report naming both given peers at the banned address:\n%s", logs)
	}
}

// startCorruptSeeder seeds mi with anacrolix's own file storage over data
// of the right sizes and wrong content, told every piece is complete, so it
// serves that data without checking it.
func startCorruptSeeder(t *testing.T, mi *metainfo.MetaInfo) string {
	t.Helper()
	info, err := mi.UnmarshalInfo()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, f := range info.UpvertedFiles() {
		p := filepath.Join(append([]string{dir, info.Name}, f.BestPath()...)...)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, bytes.Repeat([]byte{0x5a}, int(f.Length)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := torrent.NewDefaultClientConfig()
	cfg.ListenHost = func(string) string { return "127.0.0.1" }
	cfg.ListenPort = 0
	cfg.NoDHT, cfg.DisableTrackers, cfg.DisableIPv6, cfg.Seed = true, true, true, true
	cfg.DefaultStorage = astorage.NewFileOpts(astorage.NewFileClientOpts{
		ClientBaseDir: dir, PieceCompletion: allComplete{}, UsePartFiles: g.Some(false),
	})
	cl, err := torrent.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	if _, err := cl.AddTorrent(mi); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", cl.LocalPort())
}

// allComplete says every piece is complete and correct.
type allComplete struct{}

func (allComplete) Get(metainfo.PieceKey) (astorage.Completion, error) {
	return astorage.Completion{Ok: true, Complete: true}, nil
}
func (allComplete) Set(metainfo.PieceKey, bool) error { return nil }
func (allComplete) Close() error                      { return nil }

// A webseed that accepts requests and never answers, and no peer: the
// stall report names the webseed.
func TestFetchStallReportsSilentWebseed(t *testing.T) {
	_, _, coll := corpusCollection(t, context.Background(), []int{300000})
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(hang)
	coll.Torrents[0].UrlList = []string{srv.URL + "/"}
	want := "no peer connected and the webseeds send nothing"
	res, logs := stallFetch(t, coll, want)
	if len(res) == 0 || res[0].Outcome.OK() {
		t.Fatalf("results %+v, want none placed", res)
	}
	if !strings.Contains(logs, want) {
		t.Fatalf("no stall report naming the webseed in the log:\n%s", logs)
	}
}

// A given peer that is not listening yet when the fetch starts (a seeder
// still starting, or still checking its files): the fetch dials it again
// and gets the files once it listens, instead of stalling until its
// deadline.
func TestFetchRedialsLateGivenPeer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	src, files, coll := corpusCollection(t, ctx, []int{300000, 5000})
	addr := closedAddr(t)

	store, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	n, err := OpenNode(ctx, NodeOptions{Store: store, Client: loopback(), Peers: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	type outcome struct {
		res []FileResult
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := n.Fetch(ctx, FetchRequest{Collections: []*collection.Collection{coll}, TrustCollection: true, All: true})
		done <- outcome{res, err}
	}()
	time.Sleep(2 * time.Second) // the first dial has failed by now
	seedLateOn(t, ctx, coll, src, addr)
	o := <-done
	if o.err != nil {
		t.Fatal(o.err)
	}
	for _, r := range o.res {
		if !r.Outcome.OK() {
			t.Errorf("%s: %v %v", r.Name, r.Outcome, r.Err)
			continue
		}
		if got, err := os.ReadFile(r.Path); err != nil || string(got) != string(files[r.Name]) {
			t.Errorf("%s: wrong content (%v)", r.Name, err)
		}
	}
}

// A magnet's given peer that is not listening yet when the metadata is
// asked for: ResolveMagnet dials it again and gets the info once it
// listens, instead of waiting out its deadline with 0 peers connected.
func TestResolveMagnetRedialsLateGivenPeer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	src, _, coll := corpusCollection(t, ctx, []int{300000, 5000})
	addr := closedAddr(t)
	ih := coll.Torrents[0].HashInfoBytes()
	type outcome struct {
		mi  *metainfo.MetaInfo
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		mi, err := ResolveMagnet(ctx, "magnet:?xt=urn:btih:"+ih.HexString(), []string{addr}, loopback())
		done <- outcome{mi, err}
	}()
	time.Sleep(2 * time.Second) // the first dial has failed by now
	seedLateOn(t, ctx, coll, src, addr)
	o := <-done
	if o.err != nil {
		t.Fatal(o.err)
	}
	if got := o.mi.HashInfoBytes(); got != ih {
		t.Fatalf("resolved %s, want %s", got.HexString(), ih.HexString())
	}
}

// seedLateOn seeds coll from src on addr (a port nobody listened on when
// it was given out) until the test ends.
func seedLateOn(t *testing.T, ctx context.Context, coll *collection.Collection, src, addr string) {
	t.Helper()
	runSeeder(t, ctx, coll, src, ClientOptions{ListenAddr: addr, NoTrackers: true}, nil)
}
