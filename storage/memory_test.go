package storage

import (
	"context"
	"fmt"
	"path"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"testing"

	"github.com/anacrolix/torrent/metainfo"
)

// TestOpenTorrentMemoryPerFile bounds what the store keeps per file of an open torrent. A seeder
// holds every shard of a collection open: 100,000 distfiles are ~200,000 file entries with their
// pads, so each byte per file is ~0.1 MB of a seeder's resident memory. Pads get no entry, and
// paths are derived on demand (final paths from a shared directory and the info's base name).
func TestOpenTorrentMemoryPerFile(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates a 20,000-file torrent")
	}
	const n = 20000
	const pieceLen = 4 << 10
	info := &metainfo.Info{Name: "distfiles", PieceLength: pieceLen}
	for i := range n {
		info.Files = append(info.Files, metainfo.FileInfo{Length: 1000, Path: []string{fmt.Sprintf("%02x", i%256), fmt.Sprintf("f%06d.tar.xz", i)}})
		if i != n-1 {
			info.Files = append(info.Files, metainfo.FileInfo{
				Length:            pieceLen - 1000,
				Path:              []string{".pad", strconv.Itoa(pieceLen - 1000)},
				ExtendedFileAttrs: metainfo.ExtendedFileAttrs{Attr: "p"},
			})
		}
	}
	info.Pieces = make([]byte, 20*n)
	dir := t.TempDir()
	st := openStore(t, Options{Dir: dir, Placement: basePlacement{dir}})
	defer st.Close()

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	impl, err := st.OpenTorrent(context.Background(), info, metainfo.HashBytes([]byte("memory")))
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(impl)
	perFile := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / n
	t.Logf("%d files (+%d pads): %.0f bytes of heap per file", n, n-1, perFile)
	// Measured: ~190 B (entry, index extents; no path bytes); the previous layout (an entry per
	// pad, stored torrent, staging and final paths) took ~790 B.
	if perFile > 256 {
		t.Errorf("open torrent keeps %.0f bytes per file, want ≤ 256", perFile)
	}
	if impl.Close != nil {
		impl.Close()
	}
}

// basePlacement places a file by its base name in a GLEP 75 tree under Root, whatever its
// directory in the torrent (as swarm's placement does).
type basePlacement struct{ Root string }

func (p basePlacement) FinalPath(_ *metainfo.Info, f FileRef) (string, bool) {
	return glepPath(p.Root, path.Base(f.Path)), true
}

// TestOpenTorrentTrimsFileList: the client's decoded file list (appended one entry at a time, so
// with spare capacity) is replaced by an exact-size copy with the same entries.
func TestOpenTorrentTrimsFileList(t *testing.T) {
	var files []tfile
	for i := range 1000 {
		files = append(files, tfile{fmt.Sprintf("f%04d.tar.xz", i), make([]byte, 100+i)})
	}
	_, mi := buildInfo(t, "distfiles", files, 4<<10)
	info, err := mi.UnmarshalInfo() // decodes like the client does
	if err != nil {
		t.Fatal(err)
	}
	if cap(info.Files) == len(info.Files) {
		t.Skip("the decoder left no spare capacity: nothing to show")
	}
	want := slices.Clone(info.Files)
	dir := t.TempDir()
	st := openStore(t, Options{Dir: dir})
	defer st.Close()
	impl, err := st.OpenTorrent(context.Background(), &info, mi.HashInfoBytes())
	if err != nil {
		t.Fatal(err)
	}
	defer impl.Close()
	if cap(info.Files) > len(info.Files)+len(info.Files)/16 {
		t.Errorf("file list: len %d cap %d after OpenTorrent", len(info.Files), cap(info.Files))
	}
	if !reflect.DeepEqual(info.Files, want) {
		t.Error("file list changed")
	}
}
