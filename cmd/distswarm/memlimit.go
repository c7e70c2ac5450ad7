package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
)

// A seeder's heap is almost all long-lived torrent metadata (for a
// 100,000-file collection ~200 MB, ~90% of it anacrolix's per-file and
// per-piece structures), and it allocates little once the torrents are
// added. With Go's default GOGC=100 the heap grows to twice the live heap
// before each collection, so the seeder's RSS was ~2× what it uses.
//
// followLiveHeap sets a soft memory limit (debug.SetMemoryLimit) just above
// the live heap and moves it after every collection: limit = live heap +
// live/16 + 8 MiB, at least minMemoryLimit. The GC then runs when the
// process's Go memory reaches the limit, so RSS stays within a few percent
// of what is live, at the price of more frequent collections while the
// seeder allocates (start-up, uploads). GOGC still applies below the limit,
// and the runtime caps the GC's CPU share when the live heap crowds the
// limit. Setting GOMEMLIMIT or GOGC in the environment turns this off.
//
// The returned function stops following (the last limit stays).
func followLiveHeap() (stop func()) {
	if os.Getenv("GOMEMLIMIT") != "" || os.Getenv("GOGC") != "" {
		return func() {}
	}
	var stopped atomic.Bool
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	var onGC func(*gcSentinel)
	onGC = func(*gcSentinel) {
		if stopped.Load() {
			return
		}
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			debug.SetMemoryLimit(memoryLimitFor(sample[0].Value.Uint64()))
		}
		runtime.SetFinalizer(&gcSentinel{}, onGC) // again after the next collection
	}
	debug.SetMemoryLimit(minMemoryLimit)
	runtime.SetFinalizer(&gcSentinel{}, onGC)
	return func() { stopped.Store(true) }
}

// minMemoryLimit is the lowest limit followLiveHeap sets: small seeders
// collect as with GOGC alone.
const minMemoryLimit = 64 << 20

// memoryLimitFor returns the soft memory limit for a live heap of live
// bytes.
func memoryLimitFor(live uint64) int64 {
	limit := live + live/16 + 8<<20
	if limit < minMemoryLimit {
		return minMemoryLimit
	}
	return int64(min(limit, 1<<62))
}

// gcSentinel is garbage from birth; its finalizer runs after a collection.
// It is not tiny (over 16 bytes) so that the tiny allocator does not batch
// it with other objects and delay the finalizer.
type gcSentinel struct{ _ [32]byte }
