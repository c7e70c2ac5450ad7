package storage

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/anacrolix/torrent/metainfo"
	astorage "github.com/anacrolix/torrent/storage"
)

// pieceImpl implements storage.PieceImpl for one piece of a torrentStore.
type pieceImpl struct {
	t  *torrentStore
	mp metainfo.Piece
}

var _ astorage.PieceImpl = (*pieceImpl)(nil)

// ReadAt reads piece data: zeros for pad files, otherwise pread on the file's current path under
// its read lock, so a concurrent move is never observed. Missing data yields io.EOF (the client
// then marks the piece not complete); other failures are returned as non-EOF errors.
func (p *pieceImpl) ReadAt(b []byte, off int64) (n int, err error) {
	t := p.t
	pos := p.mp.Offset() + off // torrent offset of b[n]
	for i := t.locate(pos); i < len(t.exts) && n < len(b); i++ {
		e := t.exts[i]
		if e.start >= e.end {
			continue // zero-length file
		}
		// Files are contiguous in v1 and hybrid torrents; v2 layouts leave gaps after files,
		// which end the piece's data.
		if e.start > pos {
			break
		}
		k := int(min(e.end-pos, int64(len(b)-n)))
		m, err := t.readFile(t.files[i], b[n:n+k], pos-e.start) // nil for pads
		n += m
		pos += int64(m)
		if err != nil {
			return n, err
		}
		if m < k {
			break
		}
	}
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

func (t *torrentStore) readFile(f *fileEntry, b []byte, off int64) (int, error) {
	if f == nil { // pad
		clear(b)
		return len(b), nil
	}
	f.io.RLock()
	if f.cur == locUnresolved {
		f.io.RUnlock()
		t.resolve(f)
		f.io.RLock()
	}
	defer f.io.RUnlock()
	rw := f.cur == locStaging
	cur := t.curPath(f)
	h, err := t.s.files.acquire(cur, rw, false)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, io.EOF // data is not there
	}
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", cur, err)
	}
	defer t.s.files.release(h)
	n, err := h.f.ReadAt(b, off)
	if err != nil && !errors.Is(err, io.EOF) {
		err = fmt.Errorf("read %s: %w", cur, err)
	}
	return n, err
}

// hashReadSize is the most pieceImpl.WriteTo reads at once.
const hashReadSize = 256 << 10

// WriteTo streams the piece to w: the library hashes a piece through it.
// Without it the library copied through a section reader, allocating a
// 32 KiB buffer for every piece and reading at most that much per call; a
// 5,000-file fetch with 8 KiB pieces allocated 12,000 of them. Here the
// reads are up to hashReadSize into a buffer the store reuses. Missing data
// ends the stream with io.EOF, as the library's copy did.
func (p *pieceImpl) WriteTo(w io.Writer) (int64, error) {
	size := p.mp.Length()
	bp, _ := p.t.s.hashBufs.Get().(*[]byte)
	if bp == nil {
		b := make([]byte, hashReadSize)
		bp = &b
	}
	defer p.t.s.hashBufs.Put(bp)
	var done int64
	for done < size {
		b := (*bp)[:min(size-done, int64(len(*bp)))]
		n, rerr := p.ReadAt(b, done)
		m, werr := w.Write(b[:n])
		done += int64(m)
		if werr != nil {
			return done, werr
		}
		if m < n {
			return done, io.ErrShortWrite
		}
		if rerr != nil {
			return done, rerr
		}
	}
	return done, nil
}

// WriteAt writes piece data into staging. Pad bytes are discarded, and so are bytes of files that
// are sealed (Verifying, Final, Unverified, or read at their final path): their data is already
// verified, which happens for pieces shared with a neighbour in torrents without pads.
func (p *pieceImpl) WriteAt(b []byte, off int64) (n int, err error) {
	t := p.t
	began := time.Now()
	pos := p.mp.Offset() + off // torrent offset of b[n]
	for i := t.locate(pos); i < len(t.exts) && n < len(b); i++ {
		e := t.exts[i]
		if e.start >= e.end {
			continue // zero-length file
		}
		if e.start > pos {
			break // a gap after a v2 file: no file holds these bytes
		}
		k := int(min(e.end-pos, int64(len(b)-n)))
		if f := t.files[i]; f != nil { // not a pad
			if err := t.writeFile(f, b[n:n+k], pos-e.start); err != nil {
				return n, &WriteError{Began: began, Err: err}
			}
		}
		n += k
		pos += int64(k)
	}
	return n, nil
}

// WriteError is a failed write of downloaded data. Began is when the write
// started: a caller that allowed writing again after a failure (space was
// freed) tells a late report of a write that began before from a new one.
type WriteError struct {
	Began time.Time
	Err   error
}

func (e *WriteError) Error() string { return e.Err.Error() }
func (e *WriteError) Unwrap() error { return e.Err }

func (t *torrentStore) writeFile(f *fileEntry, b []byte, off int64) error {
	t.mu.Lock()
	sealed := f.phase == PhaseFinal || f.phase == PhaseVerifying || f.phase == PhaseUnverified
	t.mu.Unlock()
	if sealed {
		return nil
	}
	f.io.RLock()
	if f.cur == locUnresolved {
		f.io.RUnlock()
		t.resolve(f)
		f.io.RLock()
	}
	defer f.io.RUnlock()
	if f.cur != locStaging {
		return nil // preplaced file at its final path: never written
	}
	staging := t.staging(f)
	h, err := t.s.files.acquire(staging, true, true)
	if errors.Is(err, fs.ErrNotExist) {
		if err = os.MkdirAll(filepath.Dir(staging), 0o777); err != nil {
			return fmt.Errorf("staging dir: %w", err)
		}
		h, err = t.s.files.acquire(staging, true, true)
	}
	if err != nil {
		return fmt.Errorf("open staging %s: %w", staging, err)
	}
	defer t.s.files.release(h)
	if _, err := h.f.WriteAt(b, off); err != nil {
		return fmt.Errorf("write staging %s: %w", staging, err)
	}
	return nil
}

// MarkComplete persists the piece bit and, when this was the last missing piece of a file, queues
// the file for finalization. O(files in the piece). Runs on the client's hasher goroutine.
func (p *pieceImpl) MarkComplete() error {
	t, idx := p.t, p.mp.Index()
	t.mu.Lock()
	already := t.pieces[idx] == pieceComplete
	t.mu.Unlock()
	if already {
		return nil
	}
	perr := t.s.db.setPiece(t.ih, idx, true)
	if perr != nil {
		t.s.log.Error("persist piece completion", "infohash", t.ih.HexString(), "piece", idx, "err", perr)
	}
	var verifying []*fileEntry
	t.mu.Lock()
	for _, f := range t.setPieceLocked(idx, pieceComplete) {
		switch {
		case f.queued || f.phase == PhaseFinal || f.phase == PhaseRejected:
		case f.preplaced:
			t.enqueueLocked(f) // adopt: already at its final path
		default:
			f.phase = PhaseVerifying
			verifying = append(verifying, f)
		}
	}
	t.mu.Unlock()
	for _, f := range verifying {
		// Queued with the piece bits, not synced (see stateDB).
		if err := t.s.db.queueFile(t.ih, f.index, &fileRecord{Phase: PhaseVerifying}); err != nil {
			t.s.log.Error("persist verifying", "file", t.path(f.index), "err", err)
		}
		t.mu.Lock()
		t.enqueueLocked(f)
		t.mu.Unlock()
	}
	return perr
}

// MarkNotComplete records a failed hash or lost data. A Final file that lost data is demoted
// (quarantined, Damaged, fetched again); a file adopted from its final path that fails a piece is
// left untouched there and downloaded into staging instead.
func (p *pieceImpl) MarkNotComplete() error {
	t, idx := p.t, p.mp.Index()
	t.mu.Lock()
	was := t.pieces[idx]
	t.setPieceLocked(idx, pieceIncomplete)
	var demoteFinal, demotePre []*fileEntry
	t.filesOfPiece(idx, func(f *fileEntry) {
		switch {
		case f.phase == PhaseFinal:
			demoteFinal = append(demoteFinal, f)
		case f.preplaced:
			demotePre = append(demotePre, f)
		}
	})
	t.mu.Unlock()
	var err error
	if was == pieceComplete {
		err = t.s.db.setPiece(t.ih, idx, false)
	}
	for _, f := range demoteFinal {
		t.demote(f, fmt.Errorf("piece %d of final file failed", idx), true)
	}
	for _, f := range demotePre {
		t.demote(f, fmt.Errorf("piece %d of file at final path failed", idx), false)
	}
	return err
}

// Completion is an in-memory lookup (called under the client lock).
func (p *pieceImpl) Completion() astorage.Completion {
	p.t.mu.Lock()
	v := p.t.pieces[p.mp.Index()]
	p.t.mu.Unlock()
	return astorage.Completion{Ok: v != pieceUnknown, Complete: v == pieceComplete}
}
