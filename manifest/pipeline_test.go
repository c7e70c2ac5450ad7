package manifest

import (
	"bytes"
	"context"
	"crypto/sha512"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
)

// TestPipelineManyInputs runs inputs of many sizes (packed into shared
// slabs or spanning several) through one pipeline and checks that every
// sink, inline or in a lane, saw exactly its input's bytes.
func TestPipelineManyInputs(t *testing.T) {
	ctx := context.Background()
	sizes := []int{0, 1, 100, pipeMinTail - 1, pipeMinTail, pipeSlabSize - pipeMinTail, pipeSlabSize - 1, pipeSlabSize, pipeSlabSize + 1, 3*pipeSlabSize + 17, 5, 0, 9 * pipeSlabSize}
	for i := range 300 {
		sizes = append(sizes, 1000+i*37)
	}
	for lanes := range 3 {
		p := NewPipeline(lanes)
		type result struct {
			n      int64
			err    error
			inline *bytes.Buffer
			lanes  []*bytes.Buffer
		}
		var mu sync.Mutex
		done := make(map[int]bool)
		res := make([]*result, len(sizes))
		data := make([][]byte, len(sizes))
		for i, size := range sizes {
			data[i] = randBytes(t, size)
			r := &result{inline: new(bytes.Buffer)}
			res[i] = r
			in := Input{R: bytes.NewReader(data[i]), Inline: r.inline}
			for range lanes {
				b := new(bytes.Buffer)
				r.lanes = append(r.lanes, b)
				in.Lanes = append(in.Lanes, b)
			}
			in.Done = func(n int64, err error) {
				mu.Lock()
				defer mu.Unlock()
				if done[i] {
					t.Errorf("input %d: Done called twice", i)
				}
				done[i] = true
				r.n, r.err = n, err
			}
			p.Add(ctx, in)
		}
		p.Close()
		for i, r := range res {
			if !done[i] || r.err != nil || r.n != int64(sizes[i]) {
				t.Fatalf("lanes %d input %d (%d bytes): done %v n %d err %v", lanes, i, sizes[i], done[i], r.n, r.err)
			}
			if !bytes.Equal(r.inline.Bytes(), data[i]) {
				t.Fatalf("lanes %d input %d: inline sink got %d bytes, want %d", lanes, i, r.inline.Len(), sizes[i])
			}
			for l, b := range r.lanes {
				if !bytes.Equal(b.Bytes(), data[i]) {
					t.Fatalf("lanes %d input %d: lane %d got %d bytes, want %d", lanes, i, l, b.Len(), sizes[i])
				}
			}
		}
	}
}

// TestPipelineErrors: a failing input reports its error and does not
// disturb the inputs after it.
func TestPipelineErrors(t *testing.T) {
	ctx := context.Background()
	data := randBytes(t, 3*pipeSlabSize+5)
	p := NewPipeline(1)
	var errs [3]error
	var sums [3][]byte
	for i := range 3 {
		h := sha512.New()
		in := Input{R: bytes.NewReader(data), Lanes: []io.Writer{h}, Done: func(_ int64, err error) {
			errs[i] = err
			sums[i] = h.Sum(nil)
		}}
		switch i {
		case 0:
			in.R = io.MultiReader(bytes.NewReader(data[:pipeSlabSize+3]), iotest.ErrReader(errors.New("boom")))
		case 1:
			in.Inline = &failWriter{after: 1}
		}
		p.Add(ctx, in)
	}
	p.Close()
	if errs[0] == nil || !strings.Contains(errs[0].Error(), "boom") {
		t.Errorf("read error: %v", errs[0])
	}
	if errs[1] == nil || !strings.Contains(errs[1].Error(), "disk full") {
		t.Errorf("sink error: %v", errs[1])
	}
	want := sha512.Sum512(data)
	if errs[2] != nil || !bytes.Equal(sums[2], want[:]) {
		t.Errorf("input after failures: %v", errs[2])
	}
}

// TestPlanLanes checks the placement of the strong hashes and the
// collection hashes on 1, 2 and 8 cores, and grouping beyond procs+1.
func TestPlanLanes(t *testing.T) {
	names := []string{BLAKE2B, SHA512, SHA1, MD5}
	var b2, s5, s1, m5 bytes.Buffer
	ws := []io.Writer{&b2, &s5, &s1, &m5}
	if in, lanes := PlanLanes(names[:3], ws[:3], 1); in == nil || len(lanes) != 0 {
		t.Errorf("1 core: inline %v, lanes %d", in, len(lanes))
	}
	if in, lanes := PlanLanes(names[:1], ws[:1], 2); in != &b2 || len(lanes) != 0 {
		t.Errorf("1 hash: inline %v, lanes %d", in, len(lanes))
	}
	for _, procs := range []int{2, 8} {
		if in, lanes := PlanLanes(names[:3], ws[:3], procs); in != nil || len(lanes) != 3 || lanes[0] != &b2 || lanes[1] != &s5 || lanes[2] != &s1 {
			t.Errorf("%d cores: inline %v lanes %v", procs, in, lanes)
		}
	}
	// Four hashes on two cores are grouped: BLAKE2B (15) → lane 0, MD5 (14)
	// → lane 1, SHA512 (10) → lane 1, SHA1 (5) → lane 0.
	in, lanes := PlanLanes(names, ws, 2)
	if in != nil || len(lanes) != 2 {
		t.Fatalf("4 hashes, 2 cores: inline %v lanes %v", in, lanes)
	}
	lanes[0].Write([]byte("a"))
	lanes[1].Write([]byte("b"))
	if b2.String() != "a" || s1.String() != "a" || m5.String() != "b" || s5.String() != "b" {
		t.Errorf("4 hashes, 2 cores: grouping %q %q %q %q", b2.String(), s5.String(), s1.String(), m5.String())
	}
}
