package manifest

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
)

// Pipeline tuning: a small pool of large slabs, allocated lazily. A slab
// is handed to the lanes once less than pipeMinTail of it is left, so
// many small inputs share one slab (one channel send per lane per slab,
// not per input).
const (
	pipeSlabSize  = 1 << 20
	pipeSlabCount = 8
	pipeMinTail   = 64 << 10

	// fanoutBufSize is the chunk size tests size their inputs around.
	fanoutBufSize = pipeSlabSize
)

// Input is one stream given to Pipeline.Add.
type Input struct {
	// R is read once, to EOF.
	R io.Reader
	// Inline, if not nil, is written in the goroutine calling Add, after
	// the data has been handed to the lanes (so it overlaps with them).
	// Give it the cheapest work: the reader is busy with reads as well.
	Inline io.Writer
	// Lanes[i], if not nil, is written by the pipeline's lane goroutine i.
	// At most Pipeline.Lanes entries.
	Lanes []io.Writer
	// Done, if not nil, is called exactly once, after every sink has seen
	// all of the input (or the input failed), with the number of bytes
	// read and the first read, sink or context error. It may run in the
	// goroutine calling Add or in a lane goroutine, so it must be safe to
	// call concurrently with other inputs' Done.
	Done func(n int64, err error)
}

// pipeInput is the pipeline's state of one Input.
type pipeInput struct {
	in     Input
	n      int64        // bytes read; final before the last segment is dispatched
	refs   atomic.Int32 // finishers left: lanes + inline
	failed atomic.Bool
	errMu  sync.Mutex
	err    error
}

func (pi *pipeInput) fail(err error) {
	pi.errMu.Lock()
	if pi.err == nil {
		pi.err = err
	}
	pi.errMu.Unlock()
	pi.failed.Store(true)
}

// finish is called by each finisher when it has seen the last segment.
func (pi *pipeInput) finish() {
	if pi.refs.Add(-1) != 0 {
		return
	}
	if pi.in.Done != nil {
		pi.errMu.Lock()
		err := pi.err
		pi.errMu.Unlock()
		pi.in.Done(pi.n, err)
	}
	pi.in = Input{} // drop references to the sinks
}

// segment is the part [off, end) of a slab that belongs to one input.
type segment struct {
	in       *pipeInput
	off, end int
	last     bool
}

type slab struct {
	b    []byte
	used int
	segs []segment
	refs atomic.Int32
}

// A Pipeline reads inputs one after another in the calling goroutine and
// feeds every byte to each input's sinks: Inline ones in the reader,
// Lanes ones in long-lived lane goroutines (one per lane, started by
// NewPipeline). Data moves in 1 MiB slabs from a pool of 8, reused once
// every lane has consumed them, so the reader runs ahead of the lanes by
// up to 8 MiB and reading the next input overlaps with hashing the
// previous one. Small inputs are packed into one slab. A Pipeline is used
// by one goroutine (Add and Close are not concurrent); Close must be
// called to stop the lanes.
type Pipeline struct {
	lanes     []chan *slab
	free      chan *slab
	allocated int
	cur       *slab
	wg        sync.WaitGroup
}

// NewPipeline starts a pipeline with the given number of lane goroutines
// (0 runs every sink in the reader).
func NewPipeline(lanes int) *Pipeline {
	p := &Pipeline{
		lanes: make([]chan *slab, lanes),
		free:  make(chan *slab, pipeSlabCount),
	}
	for i := range p.lanes {
		ch := make(chan *slab, pipeSlabCount)
		p.lanes[i] = ch
		p.wg.Go(func() {
			for s := range ch {
				p.process(s, i)
				p.release(s)
			}
		})
	}
	return p
}

// Lanes returns the number of lane goroutines.
func (p *Pipeline) Lanes() int { return len(p.lanes) }

// Add reads in.R to EOF and queues its data for the sinks. It returns
// when everything is read, usually before the lanes are done with it;
// in.Done reports the outcome. A read error, sink error or cancellation
// of ctx (checked between reads) stops reading this input. Add panics if
// in has more Lanes than the pipeline.
func (p *Pipeline) Add(ctx context.Context, in Input) {
	if len(in.Lanes) > len(p.lanes) {
		panic(fmt.Sprintf("manifest: Pipeline.Add: %d lane sinks for %d lanes", len(in.Lanes), len(p.lanes)))
	}
	pi := &pipeInput{in: in}
	pi.refs.Store(int32(len(p.lanes) + 1))
	for {
		s := p.slab()
		var (
			n    int
			last bool
		)
		if err := ctx.Err(); err != nil {
			pi.fail(err)
			last = true
		} else if pi.failed.Load() {
			last = true
		} else {
			var err error
			n, err = io.ReadFull(in.R, s.b[s.used:])
			switch {
			case err == io.EOF || err == io.ErrUnexpectedEOF:
				last = true
			case err != nil:
				pi.fail(fmt.Errorf("read: %w", err))
				last = true
			}
		}
		pi.n += int64(n)
		s.segs = append(s.segs, segment{in: pi, off: s.used, end: s.used + n, last: last})
		s.used += n
		if len(s.b)-s.used < pipeMinTail {
			p.dispatch()
		}
		if last {
			return
		}
	}
}

// Close hands the last partial slab to the lanes, stops them and waits
// until every input's Done has been called. The pipeline cannot be used
// afterwards.
func (p *Pipeline) Close() {
	if p.cur != nil {
		p.dispatch()
	}
	for _, ch := range p.lanes {
		close(ch)
	}
	p.wg.Wait()
}

// slab returns the slab being filled, taking a free one (or allocating
// one, up to pipeSlabCount) if needed. Waiting for a free slab needs no
// cancellation: lanes never block on anything but their channel.
func (p *Pipeline) slab() *slab {
	if p.cur != nil {
		return p.cur
	}
	select {
	case p.cur = <-p.free:
	default:
		if p.allocated < pipeSlabCount {
			p.allocated++
			p.cur = &slab{b: make([]byte, pipeSlabSize)}
		} else {
			p.cur = <-p.free
		}
	}
	return p.cur
}

// dispatch hands the current slab to every lane, then runs the inline
// sinks on it.
func (p *Pipeline) dispatch() {
	s := p.cur
	p.cur = nil
	s.refs.Store(int32(len(p.lanes) + 1))
	for _, ch := range p.lanes {
		ch <- s
	}
	p.process(s, -1)
	p.release(s)
}

// process writes each segment of s to its input's sink for lane (-1:
// Inline) and finishes inputs whose last segment this is.
func (p *Pipeline) process(s *slab, lane int) {
	for _, sg := range s.segs {
		pi := sg.in
		var w io.Writer
		if lane < 0 {
			w = pi.in.Inline
		} else if lane < len(pi.in.Lanes) {
			w = pi.in.Lanes[lane]
		}
		if w != nil && sg.end > sg.off && !pi.failed.Load() {
			if _, err := w.Write(s.b[sg.off:sg.end]); err != nil {
				if lane < 0 {
					pi.fail(fmt.Errorf("inline sink: %w", err))
				} else {
					pi.fail(fmt.Errorf("sink %d: %w", lane, err))
				}
			}
		}
		if sg.last {
			pi.finish()
		}
	}
}

// release returns s to the pool once its last user is done with it.
func (p *Pipeline) release(s *slab) {
	if s.refs.Add(-1) != 0 {
		return
	}
	clear(s.segs) // drop *pipeInput references
	s.segs = s.segs[:0]
	s.used = 0
	p.free <- s
}

// Fanout reads r sequentially once and writes every chunk to each sink,
// each sink in its own goroutine (a Pipeline with one lane per sink).
// Sinks receive the data in order. It returns the number of bytes read.
// The first sink error, read error or context cancellation stops the copy;
// cancellation is observed between reads (a blocked Read is not
// interrupted).
func Fanout(ctx context.Context, r io.Reader, sinks ...io.Writer) (int64, error) {
	if len(sinks) == 0 {
		sinks = []io.Writer{io.Discard}
	}
	return runOne(ctx, r, nil, sinks)
}

// runOne runs a single input through a fresh pipeline.
func runOne(ctx context.Context, r io.Reader, inline io.Writer, lanes []io.Writer) (int64, error) {
	p := NewPipeline(len(lanes))
	var (
		n   int64
		err error
	)
	p.Add(ctx, Input{R: r, Inline: inline, Lanes: lanes, Done: func(dn int64, derr error) {
		n, err = dn, derr
	}})
	p.Close()
	if err != nil {
		return n, fmt.Errorf("fanout: %w", err)
	}
	return n, nil
}
