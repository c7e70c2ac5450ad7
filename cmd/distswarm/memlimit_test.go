package main

import (
	"math"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestMemoryLimitFor(t *testing.T) {
	for _, c := range []struct {
		live uint64
		want int64
	}{
		{0, minMemoryLimit},
		{10 << 20, minMemoryLimit},
		{200 << 20, 200<<20 + 200<<20/16 + 8<<20},
		{math.MaxUint64 / 2, 1 << 62},
	} {
		if got := memoryLimitFor(c.live); got != c.want {
			t.Errorf("memoryLimitFor(%d) = %d, want %d", c.live, got, c.want)
		}
	}
}

// TestFollowLiveHeap: after a collection the soft memory limit is just above the live heap, and
// it follows the live heap as it grows.
func TestFollowLiveHeap(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	t.Setenv("GOGC", "")
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	stop := followLiveHeap()
	defer stop()
	if p := debug.SetGCPercent(gcPercent); p != gcPercent {
		t.Errorf("GOGC while following: %d, want %d", p, gcPercent)
	}
	// limitAfterGC collects until the limit moves away from prev (finalizers run after the
	// collection, on their own goroutine).
	limitAfterGC := func(prev int64) int64 {
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			runtime.GC()
			time.Sleep(5 * time.Millisecond)
			if l := debug.SetMemoryLimit(-1); l != prev {
				return l
			}
		}
		return prev
	}
	ballast := make([][]byte, 0, 128)
	for range 128 {
		ballast = append(ballast, make([]byte, 1<<20)) // 128 MiB live
	}
	l1 := limitAfterGC(minMemoryLimit)
	if l1 < 128<<20 || l1 > 128<<20+128<<20/16+8<<20+32<<20 {
		t.Errorf("limit with 128 MiB live: %d MiB", l1>>20)
	}
	for range 64 {
		ballast = append(ballast, make([]byte, 1<<20))
	}
	if l2 := limitAfterGC(l1); l2 < l1+60<<20 {
		t.Errorf("limit with 192 MiB live: %d MiB (was %d MiB)", l2>>20, l1>>20)
	}
	runtime.KeepAlive(ballast)
}

// TestFollowLiveHeapEnv: GOGC or GOMEMLIMIT in the environment leave the
// runtime's settings alone.
func TestFollowLiveHeapEnv(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	for _, env := range []string{"GOGC", "GOMEMLIMIT"} {
		t.Setenv("GOGC", "")
		t.Setenv("GOMEMLIMIT", "")
		t.Setenv(env, "150")
		debug.SetGCPercent(123)
		debug.SetMemoryLimit(math.MaxInt64)
		followLiveHeap()()
		if p := debug.SetGCPercent(123); p != 123 {
			t.Errorf("%s set: GOGC changed to %d", env, p)
		}
		if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
			t.Errorf("%s set: memory limit changed to %d", env, l)
		}
	}
}
