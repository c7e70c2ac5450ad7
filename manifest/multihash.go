package manifest

import (
	"context"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"slices"
	"sync"
	"sync/atomic"
)

// Fanout tuning: a small pool of large buffers. Buffers are allocated
// lazily, so short inputs cost one buffer.
const (
	fanoutBufSize  = 1 << 20
	fanoutBufCount = 8
)

type fanBuf struct {
	b    []byte
	refs atomic.Int32
}

type fanChunk struct {
	buf *fanBuf
	n   int
}

// Fanout reads r sequentially once and writes every chunk to each sink.
// Each sink runs in its own goroutine; chunks come from a small pool of
// 1 MiB buffers that are refcounted and reused only after every sink has
// consumed them, so the reader waits only when all buffers are in flight.
// Sinks receive the data in order. It returns the number of bytes read.
// The first sink error, read error or context cancellation stops the copy;
// cancellation is observed between reads (a blocked Read is not
// interrupted). Data is read in full 1 MiB chunks (io.ReadFull).
func Fanout(ctx context.Context, r io.Reader, sinks ...io.Writer) (int64, error) {
	if len(sinks) == 0 {
		sinks = []io.Writer{io.Discard}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		errMu    sync.Mutex
		firstErr error
		failed   atomic.Bool
	)
	fail := func(err error) {
		errMu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		errMu.Unlock()
		failed.Store(true)
		cancel()
	}

	free := make(chan *fanBuf, fanoutBufCount)
	allocated := 0
	chans := make([]chan fanChunk, len(sinks))
	var wg sync.WaitGroup
	for i, s := range sinks {
		ch := make(chan fanChunk, fanoutBufCount)
		chans[i] = ch
		wg.Go(func() {
			for c := range ch {
				if !failed.Load() {
					if _, err := s.Write(c.buf.b[:c.n]); err != nil {
						fail(fmt.Errorf("fanout: sink %d: %w", i, err))
					}
				}
				if c.buf.refs.Add(-1) == 0 {
					free <- c.buf
				}
			}
		})
	}

	var total int64
	var readErr error
loop:
	for {
		var b *fanBuf
		select {
		case b = <-free:
		default:
			if allocated < fanoutBufCount {
				allocated++
				b = &fanBuf{b: make([]byte, fanoutBufSize)}
				break
			}
			select {
			case b = <-free:
			case <-ctx.Done():
				break loop
			}
		}
		if ctx.Err() != nil {
			break
		}
		n, err := io.ReadFull(r, b.b)
		if n > 0 {
			total += int64(n)
			b.refs.Store(int32(len(chans)))
			for _, ch := range chans {
				ch <- fanChunk{b, n}
			}
		} else {
			free <- b
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			readErr = fmt.Errorf("fanout: read: %w", err)
			break
		}
	}
	for _, ch := range chans {
		close(ch)
	}
	wg.Wait()
	if firstErr != nil {
		return total, firstErr
	}
	if readErr != nil {
		return total, readErr
	}
	if err := ctx.Err(); err != nil {
		// Our own cancel only runs on sink failure (handled above), so
		// this is the caller's context.
		return total, fmt.Errorf("fanout: %w", err)
	}
	return total, nil
}

// smallInput is the size below which hashing runs sequentially in the
// calling goroutine (goroutines and 1 MiB buffers do not pay off).
const smallInput = 256 << 10

// newHashes validates names and returns one hash per distinct name.
func newHashes(names []string) ([]string, []hash.Hash, error) {
	if len(names) == 0 {
		return nil, nil, fmt.Errorf("sum: no hash names given")
	}
	uniq := slices.Clone(names)
	slices.Sort(uniq)
	uniq = slices.Compact(uniq)
	hs := make([]hash.Hash, len(uniq))
	for i, n := range uniq {
		h, ok := NewHash(n)
		if !ok {
			return nil, nil, fmt.Errorf("sum: unsupported hash %q", n)
		}
		hs[i] = h
	}
	return uniq, hs, nil
}

func digestsOf(names []string, hs []hash.Hash) Digests {
	d := make(Digests, len(names))
	for i, n := range names {
		d[n] = hex.EncodeToString(hs[i].Sum(nil))
	}
	return d
}

// Sum computes the named hashes (which must be supported) of everything in
// r with a single sequential read, each hash in its own goroutine. It
// returns the digests and the number of bytes read.
func Sum(ctx context.Context, r io.Reader, names []string) (Digests, int64, error) {
	return sum(ctx, r, names, -1)
}

// sum is Sum with a size hint (-1 if unknown).
func sum(ctx context.Context, r io.Reader, names []string, hint int64) (Digests, int64, error) {
	names, hs, err := newHashes(names)
	if err != nil {
		return nil, 0, err
	}
	ws := make([]io.Writer, len(hs))
	for i, h := range hs {
		ws[i] = h
	}
	var n int64
	if hint >= 0 && hint <= smallInput {
		buf := make([]byte, max(hint+1, 512))
		n, err = io.CopyBuffer(io.MultiWriter(ws...), ctxReader{ctx, r}, buf)
	} else {
		n, err = Fanout(ctx, r, ws...)
	}
	if err != nil {
		return nil, n, fmt.Errorf("sum: %w", err)
	}
	return digestsOf(names, hs), n, nil
}

// SumFile is Sum over the file at path.
func SumFile(ctx context.Context, path string, names []string) (Digests, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("sum: %w", err)
	}
	defer f.Close()
	hint := int64(-1)
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		hint = st.Size()
	}
	d, n, err := sum(ctx, f, names, hint)
	if err != nil {
		return nil, n, fmt.Errorf("%s: %w", path, err)
	}
	return d, n, nil
}

// ctxReader makes a reader observe context cancellation between reads.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(b []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(b)
}
