package manifest

import (
	"context"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"runtime"
	"slices"
)

// smallInput is the size below which hashing runs sequentially in the
// calling goroutine (goroutines and 1 MiB buffers do not pay off).
const smallInput = 256 << 10

// readCost is the relative CPU cost per byte of reading from the page
// cache, on the scale of hashInfo.cost.
const readCost = 2

// PlanLanes spreads the writers ws (one per hash name in names, same
// order) over the reading goroutine and lane goroutines for procs cores.
// It returns the reader's writer (nil if none) and the lane writers,
// every one non-nil; several writers in one place are combined with
// io.MultiWriter.
//
//   - procs ≤ 1: everything runs in the reader.
//   - up to procs+1 hashes: the cheapest runs in the reader, every other
//     one in its own lane. With one goroutine more than cores (three
//     hashes on two cores) the Go scheduler shares the cores out as the
//     work needs, which balances at least as well as any fixed grouping:
//     for the collection hashes (SHA-1 0.5, BLAKE2B 1.54, SHA512 1.08 and
//     reading 0.15 CPU s/GiB) the best split in two is 1.69 + 1.58 s,
//     an even share 1.64 + 1.64 s.
//   - more hashes: greedy grouping into procs places, costliest hash
//     first to the least loaded place (the reader starts with the cost of
//     reading), by each hash's relative cost.
func PlanLanes(names []string, ws []io.Writer, procs int) (inline io.Writer, lanes []io.Writer) {
	join := func(ws []io.Writer) io.Writer {
		switch len(ws) {
		case 0:
			return nil
		case 1:
			return ws[0]
		}
		return io.MultiWriter(ws...)
	}
	if procs <= 1 || len(ws) <= 1 {
		return join(ws), nil
	}
	order := make([]int, len(ws))
	for i := range order {
		order[i] = i
	}
	// Costliest first; ties keep the caller's order.
	slices.SortStableFunc(order, func(a, b int) int { return hashCost(names[b]) - hashCost(names[a]) })
	if len(ws) <= procs+1 {
		for _, i := range order[:len(order)-1] {
			lanes = append(lanes, ws[i])
		}
		return ws[order[len(order)-1]], lanes
	}
	type group struct {
		load int
		ws   []io.Writer
	}
	groups := make([]group, procs)
	groups[0].load = readCost
	for _, i := range order {
		best := 0
		for g := range groups {
			if groups[g].load < groups[best].load {
				best = g
			}
		}
		groups[best].load += hashCost(names[i])
		groups[best].ws = append(groups[best].ws, ws[i])
	}
	for _, g := range groups[1:] {
		if w := join(g.ws); w != nil {
			lanes = append(lanes, w)
		}
	}
	return join(groups[0].ws), lanes
}

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
// r with a single sequential read, the hashes spread over the reading
// goroutine and up to GOMAXPROCS-1 lanes by PlanLanes. It
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
		inline, lanes := PlanLanes(names, ws, runtime.GOMAXPROCS(0))
		n, err = runOne(ctx, r, inline, lanes)
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
