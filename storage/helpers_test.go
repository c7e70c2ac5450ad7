package storage

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anacrolix/dht/v2"
	g "github.com/anacrolix/generics"
	alog "github.com/anacrolix/log"
	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"
	"golang.org/x/crypto/blake2b"
)

func TestMain(m *testing.M) {
	alog.Default = alog.Default.WithFilterLevel(alog.Disabled)
	slog.SetDefault(slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}

type tfile struct {
	name string
	data []byte
}

// testFiles returns deterministic files, including a zero-length file, a file of exactly two
// pieces and files smaller and larger than a piece.
func testFiles(pieceLen int) []tfile {
	r := rand.New(rand.NewSource(1))
	sizes := []struct {
		name string
		n    int
	}{
		{"a.tar.gz", 20000}, {"b.tar.xz", 50000}, {"c-empty.txt", 0}, {"d.zip", 70000},
		{"e.patch", 1000}, {"f.bin", 2 * pieceLen}, {"g.tar.bz2", 100000}, {"h.tar.gz", 300000},
	}
	var out []tfile
	for _, s := range sizes {
		b := make([]byte, s.n)
		r.Read(b)
		out = append(out, tfile{s.name, b})
	}
	return out
}

// buildInfo lays out files as a v1 torrent with a BEP 47 pad after each file (except the last) so
// that every file starts on a piece boundary; pieces hash zeros for the pads.
func buildInfo(t testing.TB, name string, files []tfile, pieceLen int64) (*metainfo.Info, *metainfo.MetaInfo) {
	t.Helper()
	info := &metainfo.Info{Name: name, PieceLength: pieceLen}
	var stream bytes.Buffer
	for i, f := range files {
		info.Files = append(info.Files, metainfo.FileInfo{Length: int64(len(f.data)), Path: strings.Split(f.name, "/")})
		stream.Write(f.data)
		if rem := int64(len(f.data)) % pieceLen; i != len(files)-1 && rem != 0 {
			n := pieceLen - rem
			info.Files = append(info.Files, metainfo.FileInfo{
				Length:            n,
				Path:              []string{".pad", strconv.FormatInt(n, 10)},
				ExtendedFileAttrs: metainfo.ExtendedFileAttrs{Attr: "p"},
			})
			stream.Write(make([]byte, n))
		}
	}
	b := stream.Bytes()
	var pieces []byte
	for off := 0; off < len(b); off += int(pieceLen) {
		h := sha1.Sum(b[off:min(off+int(pieceLen), len(b))])
		pieces = append(pieces, h[:]...)
	}
	info.Pieces = pieces
	ib, err := bencode.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	return info, &metainfo.MetaInfo{InfoBytes: ib}
}

// glepPlacement is a GLEP 75 "filename-hash BLAKE2B 8" layout under Root.
type glepPlacement struct{ Root string }

func glepPath(root, name string) string {
	h := blake2b.Sum512([]byte(name))
	return filepath.Join(root, hex.EncodeToString(h[:1]), name)
}

func (p glepPlacement) FinalPath(_ *metainfo.Info, f FileRef) (string, bool) {
	if strings.Contains(f.Path, "/") {
		return "", false
	}
	return glepPath(p.Root, f.Path), true
}

// digestVerifier compares SHA-256 against want; names in reject get a wrong digest, names missing
// from want have no authority.
type digestVerifier struct {
	mu     sync.Mutex
	want   map[string][32]byte
	calls  map[string]int
	reject map[string]bool
}

func newDigestVerifier(files []tfile) *digestVerifier {
	v := &digestVerifier{want: map[string][32]byte{}, calls: map[string]int{}, reject: map[string]bool{}}
	for _, f := range files {
		v.want[f.name] = sha256.Sum256(f.data)
	}
	return v
}

func (v *digestVerifier) Verify(ctx context.Context, f FileRef, staged string) error {
	v.mu.Lock()
	v.calls[f.Path]++
	want, ok := v.want[f.Path]
	rej := v.reject[f.Path]
	v.mu.Unlock()
	if !ok {
		return fmt.Errorf("%s: %w", f.Path, ErrNoAuthority)
	}
	b, err := os.ReadFile(staged)
	if err != nil {
		return err
	}
	if sha256.Sum256(b) != want || rej {
		return fmt.Errorf("%s: SHA256 mismatch", f.Path)
	}
	return nil
}

func (v *digestVerifier) totalCalls() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	n := 0
	for _, c := range v.calls {
		n += c
	}
	return n
}

// eventLog collects events.
type eventLog struct {
	mu  sync.Mutex
	evs []Event
}

func (l *eventLog) add(e Event) {
	l.mu.Lock()
	l.evs = append(l.evs, e)
	l.mu.Unlock()
}

func (l *eventLog) of(kind EventKind) map[string]Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := map[string]Event{}
	for _, e := range l.evs {
		if e.Kind == kind {
			m[e.File.Path] = e
		}
	}
	return m
}

func openStore(t testing.TB, o Options) *Store {
	t.Helper()
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newClient returns a loopback-only, quiet client using st.
func newClient(t testing.TB, st *Store, dataDir string, mut func(*torrent.ClientConfig)) *torrent.Client {
	t.Helper()
	cfg := torrent.NewDefaultClientConfig()
	cfg.SetListenAddr("127.0.0.1:0")
	cfg.DisableIPv6 = true
	cfg.NoDHT = true
	cfg.DhtStartingNodes = func(string) dht.StartingNodesGetter {
		return func() ([]dht.Addr, error) { return nil, nil }
	}
	cfg.NoDefaultPortForwarding = true
	cfg.DisableTrackers = true
	cfg.DisableWebtorrent = true
	cfg.DisableWebseeds = true
	cfg.DataDir = dataDir
	cfg.Seed = true
	if st != nil {
		cfg.DefaultStorage = st
	}
	cfg.Slogger = slog.New(slog.DiscardHandler)
	cfg.Logger = alog.NewLogger().WithFilterLevel(alog.Disabled)
	if mut != nil {
		mut(cfg)
	}
	cl, err := torrent.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func peerOf(cl *torrent.Client) torrent.PeerInfo {
	return torrent.PeerInfo{Addr: cl.ListenAddrs()[0], Trusted: true, Source: "manual"}
}

// addAndWaitInfo adds mi, waits for the info and attaches the store.
func addAndWaitInfo(ctx context.Context, t testing.TB, cl *torrent.Client, st *Store, mi *metainfo.MetaInfo) *torrent.Torrent {
	t.Helper()
	tor, err := cl.AddTorrent(mi)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-tor.GotInfo():
	case <-ctx.Done():
		t.Fatal("timeout waiting for info")
	}
	st.Attach(tor)
	return tor
}

func waitComplete(ctx context.Context, t testing.TB, tor *torrent.Torrent) {
	t.Helper()
	select {
	case <-tor.Complete().On():
	case <-ctx.Done():
		var b strings.Builder
		if os.Getenv("STORAGE_TEST_STACKS") != "" {
			buf := make([]byte, 8<<20)
			os.WriteFile(os.Getenv("STORAGE_TEST_STACKS"), buf[:runtime.Stack(buf, true)], 0o644)
		}
		st := tor.Stats()
		for _, pc := range tor.PeerConns() {
			fmt.Fprintf(&b, "peer %v\n", pc.RemoteAddr)
		}
		for i := range min(tor.NumPieces(), 12) {
			fmt.Fprintf(&b, "piece %d: %+v\n", i, tor.PieceState(i))
		}
		t.Fatalf("timeout: %d/%d bytes complete, %d pieces complete, %d peers active %+v\n%s",
			tor.BytesCompleted(), tor.Length(), st.PiecesComplete, st.ActivePeers, st.TorrentGauges, b.String())
	}
}

// waitFor polls cond until it holds or ctx ends.
func waitFor(ctx context.Context, t testing.TB, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timeout waiting for %s", what)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// placeFiles writes files at their GLEP 75 paths under root.
func placeFiles(t testing.TB, root string, files []tfile) {
	t.Helper()
	for _, f := range files {
		p := glepPath(root, f.name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// listFiles returns regular files under root (relative, slash separated), skipping the state db.
func listFiles(t testing.TB, root string) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		if !strings.HasPrefix(rel, ".distswarm") {
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	return out
}

// checkFinalTree asserts every file in the final tree (outside .partial/.quarantine/.distswarm)
// is byte-identical to its expected content, and none is named .pad.
func checkFinalTree(t testing.TB, root string, files []tfile) (n int) {
	t.Helper()
	want := map[string][]byte{}
	for _, f := range files {
		want[glepPath(root, f.name)] = f.data
	}
	for _, rel := range listFiles(t, root) {
		if strings.Contains(rel, ".pad") {
			t.Errorf("pad file on disk: %s", rel)
		}
		if strings.HasPrefix(rel, ".partial/") || strings.HasPrefix(rel, ".quarantine/") {
			continue
		}
		p := filepath.Join(root, filepath.FromSlash(rel))
		w, ok := want[p]
		if !ok {
			t.Errorf("unexpected file in final tree: %s", rel)
			continue
		}
		got, err := os.ReadFile(p)
		if err != nil {
			t.Errorf("read %s: %v", rel, err)
			continue
		}
		if !bytes.Equal(got, w) {
			t.Errorf("final file %s has wrong content (%d bytes, want %d)", rel, len(got), len(w))
		}
		n++
	}
	return n
}

type metainfoFileInfo = metainfo.FileInfo

func netResolve(addr string) (net.Addr, error) { return net.ResolveTCPAddr("tcp", addr) }

func nilHash() g.Option[[]byte] { return g.None[[]byte]() }

var io_EOF = io.EOF
