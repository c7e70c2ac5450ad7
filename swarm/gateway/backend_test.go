package gateway

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/distswarm/distswarm/storage/layout"
	"github.com/distswarm/distswarm/swarm"
)

// fakeBackend is a store on disk (STORE/distfiles with a filename-hash
// layout.conf, the private directories beside it) plus an "upstream" of
// files it places on a miss, like a node would after fetching and verifying.
type fakeBackend struct {
	store, dir string
	layout     layout.Layout

	mu       sync.Mutex
	upstream map[string][]byte // obtainable on a miss
	failures map[string]error  // Distfile returns this error
	gate     chan struct{}     // when non-nil, a miss waits for it
	status   swarm.NodeStatus

	served atomic.Int64
	misses atomic.Int32
}

func newFakeBackend(t *testing.T) *fakeBackend {
	t.Helper()
	store := t.TempDir()
	b := &fakeBackend{store: store, dir: filepath.Join(store, "distfiles"), layout: layout.Default(),
		upstream: map[string][]byte{}, failures: map[string]error{}}
	for _, d := range []string{b.dir, ".partial", ".quarantine", ".distswarm", "collections"} {
		if err := os.MkdirAll(filepath.Join(store, filepath.Base(d)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := layout.WriteConfig(b.dir, b.layout); err != nil {
		t.Fatal(err)
	}
	return b
}

// put places a verified distfile in the store.
func (b *fakeBackend) put(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(b.dir, filepath.FromSlash(b.DistfileRelPath(name)))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeStoreFile writes a file anywhere under the store (private files).
func (b *fakeBackend) writeStoreFile(t *testing.T, rel, content string) {
	t.Helper()
	path := filepath.Join(b.store, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (b *fakeBackend) DistfilesDir() string { return b.dir }

func (b *fakeBackend) DistfileRelPath(name string) string {
	p, _ := b.layout.Path(name, nil)
	return p
}

func (b *fakeBackend) Distfile(ctx context.Context, name string) (string, error) {
	b.mu.Lock()
	failure, data, known, gate := b.failures[name], b.upstream[name], b.upstream[name] != nil, b.gate
	b.mu.Unlock()
	if failure != nil {
		return "", failure
	}
	path := filepath.Join(b.dir, filepath.FromSlash(b.DistfileRelPath(name)))
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	b.misses.Add(1)
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	if !known {
		return "", fmt.Errorf("no collection or mirror has %q: %w", name, fs.ErrNotExist)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	return path, os.WriteFile(path, data, 0o644)
}

func (b *fakeBackend) Status() swarm.NodeStatus {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.status
	s.Totals.Served = b.served.Load()
	return s
}

func (b *fakeBackend) CountServed(n int64) { b.served.Add(n) }

func (b *fakeBackend) setUpstream(name string, data []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.upstream[name] = data
}

func (b *fakeBackend) setFailure(name string, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures[name] = err
}

func (b *fakeBackend) setStatus(s swarm.NodeStatus) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.status = s
}

// serve starts the gateway over b on a loopback httptest server.
func serve(t *testing.T, b *fakeBackend, o Options) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(New(b, o))
	t.Cleanup(srv.Close)
	return srv
}

var errDisk = errors.New("read /var/cache/distswarm/.partial/x: input/output error")
