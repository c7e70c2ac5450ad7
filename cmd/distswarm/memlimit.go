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
// seeder allocates (start-up, uploads). The runtime caps the GC's CPU share
// when the live heap crowds the limit.
//
// Below the limit it sets GOGC to gcPercent instead of 100: a small seeder
// (live heap of a few MiB) allocates a 16 KiB buffer for every block it
// uploads (anacrolix's readPeerRequestData), and with GOGC=100 it collected
// every few MiB uploaded. Its heap now grows up to minMemoryLimit between
// collections; a large one is bound by the limit as before. Setting
// GOMEMLIMIT or GOGC in the environment turns all this off.
//
// The returned function stops following (the last limit and GOGC stay).
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
	debug.SetGCPercent(gcPercent)
	debug.SetMemoryLimit(minMemoryLimit)
	runtime.SetFinalizer(&gcSentinel{}, onGC)
	return func() { stopped.Store(true) }
}

// gcPercent is the GOGC followLiveHeap sets. One P1 upload of 1 GiB
// (benchmarks.md, 2026-12-02) took the seeder 2.4-2.9 CPU s with it against
// 3.1-3.6 s with GOGC=100.
const gcPercent = 400

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
