package storage

import (
	"bytes"
	"slices"
	"testing"

	"github.com/anacrolix/torrent/metainfo"
)

// TestPieceIOAcrossFiles writes and reads every piece of a torrent without pads, whose pieces
// span several files (zero-length ones included), in odd-sized chunks, and checks the piece→file
// lookup against a brute-force scan.
func TestPieceIOAcrossFiles(t *testing.T) {
	const pieceLen = 16 << 10
	files := []tfile{
		{"a", bytes.Repeat([]byte{1}, 5000)}, {"empty1", nil}, {"b", bytes.Repeat([]byte{2}, 3)},
		{"c", bytes.Repeat([]byte{3}, 40000)}, {"empty2", nil}, {"d", bytes.Repeat([]byte{4}, 20000)},
	}
	info := &metainfo.Info{Name: "x", PieceLength: pieceLen}
	var stream []byte
	for _, f := range files {
		info.Files = append(info.Files, metainfo.FileInfo{Length: int64(len(f.data)), Path: []string{f.name}})
		stream = append(stream, f.data...)
	}
	info.Pieces = make([]byte, 20*((len(stream)+pieceLen-1)/pieceLen))
	s := openStore(t, Options{Dir: t.TempDir()})
	defer s.Close()
	ts, err := s.openTorrent(info, metainfo.Hash{1})
	if err != nil {
		t.Fatal(err)
	}
	impl := ts.impl()
	for p := range info.NumPieces() {
		mp := info.Piece(p)
		want := stream[mp.Offset() : mp.Offset()+mp.Length()]
		pi := impl.PieceWithHash(mp, nilHash())
		for off := 0; off < len(want); off += 3001 {
			end := min(off+3001, len(want))
			if n, err := pi.WriteAt(want[off:end], int64(off)); err != nil || n != end-off {
				t.Fatalf("piece %d: WriteAt(%d) = %d, %v", p, off, n, err)
			}
		}
		got := make([]byte, len(want))
		if n, err := pi.ReadAt(got, 0); err != nil || n != len(got) || !bytes.Equal(got, want) {
			t.Fatalf("piece %d: ReadAt = %d, %v; data equal %v", p, n, err, bytes.Equal(got, want))
		}
		var viaLookup, viaScan []int
		ts.filesOfPiece(p, func(f *fileEntry) { viaLookup = append(viaLookup, f.index) })
		for i, e := range ts.exts {
			if e.end > e.start && e.start < mp.Offset()+mp.Length() && e.end > mp.Offset() {
				viaScan = append(viaScan, i)
			}
		}
		if !slices.Equal(viaLookup, viaScan) {
			t.Fatalf("piece %d: files %v, want %v", p, viaLookup, viaScan)
		}
	}
	if allocs := testing.AllocsPerRun(100, func() { ts.filesOfPiece(2, func(*fileEntry) {}) }); allocs != 0 {
		t.Errorf("filesOfPiece allocates %v times", allocs)
	}
}
