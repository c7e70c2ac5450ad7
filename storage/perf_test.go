package storage

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/anacrolix/torrent"
	astorage "github.com/anacrolix/torrent/storage"
)

// TestTransferTimeVsStock leeches the same 16 MiB, 24-file padded torrent from the same seeder
// into this Store (staging, SHA-256 verify, fsync, rename, bbolt) and into the library's stock
// file storage, and logs both times and their ratio.
func TestTransferTimeVsStock(t *testing.T) {
	if testing.Short() || os.Getenv("DISTSWARM_PERF") == "" {
		t.Skip("timing test: set DISTSWARM_PERF=1")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	pieceLen := int64(64 << 10) // DISTSWARM_PERF_PIECE_LEN overrides
	if v := os.Getenv("DISTSWARM_PERF_PIECE_LEN"); v != "" {
		n, _ := strconv.Atoi(v)
		pieceLen = int64(n)
	}
	r := rand.New(rand.NewSource(2))
	var files []tfile
	for i := range 24 {
		b := make([]byte, 600_000+r.Intn(200_000))
		r.Read(b)
		files = append(files, tfile{fmt.Sprintf("pkg-%02d.tar.xz", i), b})
	}
	info, mi := buildInfo(t, "distfiles", files, pieceLen)
	seedCl, _, _ := seed(ctx, t, files, pieceLen)

	leech := func(name string, st *Store, mut func(*torrent.ClientConfig)) time.Duration {
		t.Logf("leech into %s", name)
		cl := newClient(t, st, t.TempDir(), mut)
		defer cl.Close()
		start := time.Now()
		tor, err := cl.AddTorrent(mi)
		if err != nil {
			t.Fatal(err)
		}
		<-tor.GotInfo()
		if st != nil {
			st.Attach(tor)
		}
		tor.AddPeers([]torrent.PeerInfo{peerOf(seedCl)})
		tor.DownloadAll()
		waitComplete(ctx, t, tor)
		if st != nil {
			if err := st.WaitIdle(ctx); err != nil {
				t.Fatal(err)
			}
		}
		return time.Since(start)
	}
	dir := t.TempDir()
	st := openStore(t, Options{Dir: dir, Placement: glepPlacement{dir}, Verifier: newDigestVerifier(files)})
	defer st.Close()
	ours := leech("this Store", st, nil)
	stockDir := t.TempDir()
	stock := leech("stock file storage", nil, func(c *torrent.ClientConfig) {
		c.DefaultStorage = astorage.NewFileOpts(astorage.NewFileClientOpts{ClientBaseDir: stockDir})
	})
	if n := checkFinalTree(t, dir, files); n != len(files) {
		t.Errorf("final files %d, want %d", n, len(files))
	}
	t.Logf("%d bytes, %d pieces, %d files: stock file storage %v, this Store (verify+fsync+rename) %v, ratio %.2f",
		info.TotalLength(), info.NumPieces(), len(files), stock.Round(time.Millisecond), ours.Round(time.Millisecond),
		float64(ours)/float64(stock))
}
