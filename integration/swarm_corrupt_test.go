package integration

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	alog "github.com/anacrolix/log"
	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"
	tstorage "github.com/anacrolix/torrent/storage"
)

// corruptStorage is a hostile seeder's storage: it claims every piece is
// complete and serves the real bytes of the distfiles in src (pads as
// zeros), except that every chunk read from a piece with an even index has
// its first byte flipped. Odd pieces are served honestly.
type corruptStorage struct {
	src        string
	corrupted  atomic.Int64 // chunks served corrupted
	servedRead atomic.Int64 // bytes read for upload
}

type spanFile struct {
	off, len int64
	path     string // "" for pads and files the source lacks (zeros)
}

func (s *corruptStorage) OpenTorrent(_ context.Context, info *metainfo.Info, _ metainfo.Hash) (tstorage.TorrentImpl, error) {
	var spans []spanFile
	var off int64
	for _, f := range info.UpvertedFiles() {
		sp := spanFile{off: off, len: f.Length}
		if !strings.Contains(f.Attr, "p") && len(f.Path) > 0 {
			p := filepath.Join(s.src, f.Path[len(f.Path)-1])
			if _, err := os.Stat(p); err == nil {
				sp.path = p
			}
		}
		spans = append(spans, sp)
		off += f.Length
	}
	return tstorage.TorrentImpl{
		Piece: func(p metainfo.Piece) tstorage.PieceImpl {
			return &corruptPiece{s: s, spans: spans, off: p.Offset(), index: p.Index()}
		},
		Close: func() error { return nil },
	}, nil
}

type corruptPiece struct {
	s     *corruptStorage
	spans []spanFile
	off   int64
	index int
}

func (p *corruptPiece) ReadAt(b []byte, off int64) (int, error) {
	clear(b)
	start := p.off + off
	end := start + int64(len(b))
	for _, sp := range p.spans {
		lo, hi := max(start, sp.off), min(end, sp.off+sp.len)
		if lo >= hi || sp.path == "" {
			continue
		}
		f, err := os.Open(sp.path)
		if err != nil {
			return 0, err
		}
		_, err = f.ReadAt(b[lo-start:hi-start], lo-sp.off)
		f.Close()
		if err != nil && err != io.EOF {
			return 0, err
		}
	}
	p.s.servedRead.Add(int64(len(b)))
	if p.index%2 == 0 && len(b) > 0 {
		b[0] ^= 0xff
		p.s.corrupted.Add(1)
	}
	return len(b), nil
}

func (p *corruptPiece) WriteAt(b []byte, off int64) (int, error) { return len(b), nil }
func (p *corruptPiece) MarkComplete() error                      { return nil }
func (p *corruptPiece) MarkNotComplete() error                   { return nil }
func (p *corruptPiece) Completion() tstorage.Completion {
	return tstorage.Completion{Ok: true, Complete: true}
}

// startCorruptPeer runs an in-process anacrolix client seeding the
// collection torrent from a corruptStorage over src. Configured like
// swarm.NewClient: loopback only, no DHT, no trackers, no port forwarding.
func startCorruptPeer(t *testing.T, torrentPath, src, host string) (*torrent.Client, *corruptStorage) {
	t.Helper()
	mi, err := metainfo.LoadFromFile(torrentPath)
	if err != nil {
		t.Fatalf("load %s: %v", torrentPath, err)
	}
	st := &corruptStorage{src: src}
	cfg := torrent.NewDefaultClientConfig()
	cfg.SetListenAddr(host + ":0")
	cfg.ListenPort = 0
	cfg.DisableIPv6 = true
	cfg.NoDHT = true
	cfg.DisableTrackers = true
	cfg.NoDefaultPortForwarding = true
	cfg.DisableWebtorrent = true
	cfg.DisablePEX = true
	cfg.Seed = true
	cfg.DefaultStorage = st
	cfg.Logger = alog.NewLogger().WithFilterLevel(alog.Disabled)
	cl, err := torrent.NewClient(cfg)
	if err != nil {
		t.Fatalf("corrupt peer: %v", err)
	}
	t.Cleanup(func() { cl.Close() })
	tt, err := cl.AddTorrent(mi)
	if err != nil {
		t.Fatalf("corrupt peer: add torrent: %v", err)
	}
	select {
	case <-tt.GotInfo():
	case <-time.After(10 * time.Second):
		t.Fatal("corrupt peer: no info")
	}
	return cl, st
}

// corruptLoopback is the corrupt peer's address: another loopback IP than
// the honest seeder's. anacrolix bans a peer that sent bad data by IP
// (Client.banPeerIP, no unban), which drops every peer on that IP; on
// 127.0.0.1 the honest seeder would be banned with the corrupt one (see
// TestCorruptPeerSameIPAsHonestOne).
const corruptLoopback = "127.0.0.2"

// TestCorruptPeerNextToHonestOne: a peer that claims every piece and serves
// corrupt data for half of them, next to an honest seeder. The leecher,
// given both (the corrupt one first), ends with every file correct at its
// GLEP 75 path; no corrupt copy is placed, staged or quarantined.
func TestCorruptPeerNextToHonestOne(t *testing.T) {
	testCorruptPeer(t, corruptLoopback)
}

// TestCorruptPeerSameIPAsHonestOne is TestCorruptPeerNextToHonestOne with
// both peers on 127.0.0.1 (several distswarm processes on one host, or
// peers behind one NAT). Known failure, of the library: the ban of the
// corrupt peer's IP drops the honest seeder too and the fetch stalls with
// 0 peers until its timeout. distswarm reports the ban at once and in its
// stall reports (swarm.TestFetchReportsBannedAddress); the mitigation, peers
// on separate addresses, is TestCorruptPeerNextToHonestOne. Run it with
// DISTSWARM_IT_KNOWN_BUGS=1.
func TestCorruptPeerSameIPAsHonestOne(t *testing.T) {
	if os.Getenv("DISTSWARM_IT_KNOWN_BUGS") == "" {
		t.Skip("known failure: anacrolix bans by IP, so a corrupt peer gets an honest one on the same IP banned; set DISTSWARM_IT_KNOWN_BUGS=1 to run")
	}
	testCorruptPeer(t, "127.0.0.1")
}

func testCorruptPeer(t *testing.T, corruptHost string) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	files := Corpus(t, src, 9, []int{0, 3000, 20000, 70000, 200000, 600000, 1 << 20, 2<<20 + 5, 8<<20 - 1})
	tor := filepath.Join(dir, "c.torrent")
	createCollection(t, src, tor)

	cl, bad := startCorruptPeer(t, tor, src, corruptHost)
	badAddr := fmt.Sprintf("%s:%d", corruptHost, cl.LocalPort())
	// The honest seeder starts only once the corrupt peer has served a
	// corrupted chunk, so the leecher surely meets bad data (an honest seeder
	// up from the start served nearly everything, and the test proved
	// nothing); the fetch dials the given peer again until it listens. Its
	// address is held by a proxy from the start (a port freed for it could
	// be taken before it binds), which refuses connections until the
	// honest seeder is up and then forwards them to it.
	honest := NewGatedProxy(t)
	honestAddr := honest.Addr()

	mf := WriteManifest(t, dir, files)
	store := filepath.Join(dir, "leech")
	args := FetchArgs(store, "--torrent", tor, "--manifest", mf, "--peer", badAddr, "--peer", honestAddr, "--timeout", "90s")
	type result struct {
		r   Result
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := RunBg(2*time.Minute, append(args, Names(files)...)...)
		done <- result{r, err}
	}()
	for end := time.Now().Add(60 * time.Second); bad.corrupted.Load() == 0 && time.Now().Before(end); {
		time.Sleep(20 * time.Millisecond)
	}
	seeder := StartSeeder(t, "--listen", "127.0.0.1:0", "--offline", "--store", filepath.Join(dir, "seedstore"), "--from", src, tor)
	honest.Open(seeder.Addr())
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	r := res.r
	t.Logf("corrupt peer served %d bytes, %d corrupted chunks", bad.servedRead.Load(), bad.corrupted.Load())
	if r.Code != 0 {
		t.Fatalf("fetch next to a corrupt peer: exit %d\n%s", r.Code, r.Stderr)
	}
	if bad.corrupted.Load() == 0 {
		t.Errorf("the leecher never took a corrupted chunk from the corrupt peer: the test proved nothing")
	}
	checkPrinted(t, "leecher", store, r.Stdout, files)
	checkStoreExactly(t, "leecher", store, files)
}
