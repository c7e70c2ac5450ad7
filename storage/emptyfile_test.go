package storage

import (
	"context"
	"crypto/sha256"
	"os"
	"sync"
	"testing"
	"time"
)

// learningVerifier is a digestVerifier whose authority starts empty and
// learns entries later, telling the store (AuthorityWatcher), as swarm's
// verifier does when it trusts a collection Manifest mid-fetch.
type learningVerifier struct {
	*digestVerifier
	mu      sync.Mutex
	learnt  []func()
	stopped int
}

func (v *learningVerifier) WatchAuthority(learnt func()) func() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.learnt = append(v.learnt, learnt)
	return func() {
		v.mu.Lock()
		v.stopped++
		v.mu.Unlock()
	}
}

// learn adds the digests of files and notifies the store.
func (v *learningVerifier) learn(files []tfile) {
	v.digestVerifier.mu.Lock()
	for _, f := range files {
		v.want[f.name] = sha256.Sum256(f.data)
	}
	v.digestVerifier.mu.Unlock()
	v.mu.Lock()
	fns := append([]func(){}, v.learnt...)
	v.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

// A 0-byte file has no piece, so the client's "last piece verified" never
// comes for it: the store verifies it as soon as the torrent opens. When
// the authority does not know it yet (--trust-collection learns it from the
// collection Manifest, fetched by the same client), it used to stay
// Unverified until the next open and the fetch waited for it until its
// timeout. Now the store asks again when the authority learns entries.
func TestEmptyFileFinalizedWhenAuthorityLearns(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	files := []tfile{{"a.tar.gz", []byte("some data")}, {"empty-1.tar.gz", nil}}
	_, mi := buildInfo(t, "distfiles", files, testPieceLen)
	dir := t.TempDir()
	v := &learningVerifier{digestVerifier: &digestVerifier{want: map[string][32]byte{}, calls: map[string]int{}, reject: map[string]bool{}}}
	var evs eventLog
	st := openStore(t, Options{Dir: dir, Placement: glepPlacement{dir}, Verifier: v, OnEvent: evs.add})
	cl := newClient(t, st, t.TempDir(), nil)
	t.Cleanup(func() { cl.Close(); st.Close() })
	tor := addAndWaitInfo(ctx, t, cl, st, mi)
	ih := tor.InfoHash()

	// Opened with no authority: verified at once, reported Unverified.
	waitFor(ctx, t, "the empty file reported Unverified", func() bool {
		_, ok := evs.of(EventUnverified)["empty-1.tar.gz"]
		return ok
	})
	if got := st.State(ih, 2).Phase; got != PhaseUnverified { // files: a, pad, empty
		t.Fatalf("empty file before the authority knows it: %v, want Unverified", got)
	}

	v.learn(files)
	// The phase turns Final just before EventFinal is emitted: wait for
	// the event, then check both.
	waitFor(ctx, t, "EventFinal of the empty file", func() bool {
		_, ok := evs.of(EventFinal)["empty-1.tar.gz"]
		return ok
	})
	if got := st.State(ih, 2).Phase; got != PhaseFinal {
		t.Fatalf("empty file after EventFinal: %v, want Final", got)
	}
	ev := evs.of(EventFinal)["empty-1.tar.gz"]
	if ev.Path != glepPath(dir, "empty-1.tar.gz") {
		t.Fatalf("EventFinal of the empty file: %+v", ev)
	}
	fi, err := os.Stat(ev.Path)
	if err != nil || fi.Size() != 0 || !fi.Mode().IsRegular() {
		t.Fatalf("placed empty file: %v %v", fi, err)
	}
	// a.tar.gz has pieces nobody serves: it stays Missing, it is not
	// verified from nothing.
	if got := st.State(ih, 0).Phase; got == PhaseFinal {
		t.Fatalf("a.tar.gz Final without its data")
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if v.stopped != 1 {
		t.Fatalf("store closed: %d unsubscriptions, want 1", v.stopped)
	}
}
