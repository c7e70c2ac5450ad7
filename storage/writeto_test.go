package storage

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/anacrolix/torrent/metainfo"
)

// TestPieceWriteTo: the library hashes pieces through pieceImpl.WriteTo. It
// yields exactly what ReadAt yields (pad bytes as zeros, pieces longer than
// one read buffer), ends with io.EOF where data is missing, and stops at the
// first error of the writer.
func TestPieceWriteTo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const pieceLen = 2*hashReadSize + 4096
	a := make([]byte, pieceLen+1000)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range a {
		a[i] = byte(rng.Uint32())
	}
	files := []tfile{{"a", a}, {"b", []byte("bbbbb")}}
	info, _ := buildInfo(t, "distfiles", files, pieceLen)
	dir := t.TempDir()
	st := openStore(t, Options{Dir: dir, Placement: glepPlacement{dir}, Verifier: newDigestVerifier(files)})
	defer st.Close()
	var ih metainfo.Hash
	ih[0] = 9
	ti, err := st.OpenTorrent(ctx, info, ih)
	if err != nil {
		t.Fatal(err)
	}
	defer ti.Close()
	p0 := ti.PieceWithHash(info.Piece(0), nilHash())
	p1 := ti.PieceWithHash(info.Piece(1), nilHash())

	var got bytes.Buffer
	if n, err := writeTo(t, p1, &got); n != 0 || err != io.EOF {
		t.Fatalf("WriteTo of a piece with no data: %d, %v; want 0, io.EOF", n, err)
	}
	if _, err := p0.WriteAt(a[:pieceLen], 0); err != nil {
		t.Fatal(err)
	}
	got.Reset()
	if n, err := writeTo(t, p0, &got); n != pieceLen || err != nil || !bytes.Equal(got.Bytes(), a[:pieceLen]) {
		t.Fatalf("WriteTo of a whole piece: %d, %v, equal %v", n, err, bytes.Equal(got.Bytes(), a[:pieceLen]))
	}
	// Piece 1 holds the rest of a and its pad; only half of a's part is written.
	if _, err := p1.WriteAt(a[pieceLen:pieceLen+500], 0); err != nil {
		t.Fatal(err)
	}
	got.Reset()
	if n, err := writeTo(t, p1, &got); n != 500 || err != io.EOF || !bytes.Equal(got.Bytes(), a[pieceLen:pieceLen+500]) {
		t.Fatalf("WriteTo of a half-written piece: %d, %v", n, err)
	}
	if _, err := p1.WriteAt(a[pieceLen+500:], 500); err != nil {
		t.Fatal(err)
	}
	got.Reset()
	want := append(bytes.Clone(a[pieceLen:]), make([]byte, pieceLen-1000)...) // pad: zeros
	if n, err := writeTo(t, p1, &got); n != pieceLen || err != nil || !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("WriteTo of a piece with a pad: %d, %v, equal %v", n, err, bytes.Equal(got.Bytes(), want))
	}
	broken := errors.New("hash writer broke")
	fw := &failingWriter{after: 1, err: broken}
	if n, err := writeTo(t, p0, fw); !errors.Is(err, broken) || n != hashReadSize {
		t.Fatalf("WriteTo into a failing writer: %d, %v; want %d, %v", n, err, hashReadSize, broken)
	}
}

// writeTo is what the library does to hash a piece: the PieceImpl's WriteTo.
func writeTo(t *testing.T, p any, w io.Writer) (int64, error) {
	t.Helper()
	wt, ok := p.(io.WriterTo)
	if !ok {
		t.Fatalf("%T is not an io.WriterTo", p)
	}
	return wt.WriteTo(w)
}

// failingWriter accepts after writes, then fails.
type failingWriter struct {
	after int
	err   error
}

func (w *failingWriter) Write(b []byte) (int, error) {
	if w.after == 0 {
		return 0, w.err
	}
	w.after--
	return len(b), nil
}
