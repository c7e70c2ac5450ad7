package storage

import (
	"bufio"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/anacrolix/torrent/metainfo"
	bolt "go.etcd.io/bbolt"
)

// residentKB returns the resident kB of this process's mappings of path (from /proc/self/smaps).
func residentKB(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	kb, in := 0, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":"):
			in = len(fields) >= 6 && fields[5] == path
		case in && len(fields) >= 2 && fields[0] == "Rss:":
			n, _ := strconv.Atoi(fields[1])
			kb += n
		}
	}
	return kb
}

// TestStateDBDropsResidentPages: loading a torrent's state leaves the db's mapped pages out of
// the resident set, and the data still reads back right afterwards.
func TestStateDBDropsResidentPages(t *testing.T) {
	path := t.TempDir() + "/state.db"
	db, err := openStateDB(path, OSFileSystem{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ih := metainfo.HashBytes([]byte("resident"))
	const n = 20000
	for i := 0; i < n; i += 2 {
		if err := db.setPiece(ih, i, true); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.setFile(ih, 7, &fileRecord{Phase: PhaseFinal, FinalPath: "/x/y", Size: 3, ModTime: 4}, 0, 0); err != nil {
		t.Fatal(err)
	}
	// Touch every page through the mapping, as read transactions do.
	if err := db.db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(_ []byte, b *bolt.Bucket) error {
			return b.ForEachBucket(func(k []byte) error {
				return b.Bucket(k).ForEachBucket(func(k2 []byte) error {
					return b.Bucket(k).Bucket(k2).ForEach(func(_, _ []byte) error { return nil })
				})
			})
		})
	}); err != nil {
		t.Fatal(err)
	}
	before := residentKB(t, path)
	if before < 64 {
		t.Fatalf("state db resident after reading it all: %d kB; the measurement does not work", before)
	}
	bits, recs, err := db.load(ih, n)
	if err != nil {
		t.Fatal(err)
	}
	if got := residentKB(t, path); got > 8 {
		t.Errorf("state db resident after load: %d kB (%d kB before), want ≈ 0", got, before)
	}
	for i, b := range bits {
		if b != (i%2 == 0) {
			t.Fatalf("piece %d: %v after load", i, b)
		}
	}
	if r := recs[7]; r.Phase != PhaseFinal || r.FinalPath != "/x/y" || r.Size != 3 || r.ModTime != 4 {
		t.Errorf("file record after load: %+v", r)
	}
	// And the next read faults the pages back in.
	if _, recs, err := db.load(ih, n); err != nil || len(recs) != 1 {
		t.Fatalf("second load: %v, %d records", err, len(recs))
	}
}
