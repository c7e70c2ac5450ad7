package integration

import (
	"bytes"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/crypto/blake2b"
)

// DigestsArg is Portage's ${DIGESTS} for f, computed independently.
func DigestsArg(f File) string {
	b := blake2b.Sum512(f.Data)
	s := sha512.Sum512(f.Data)
	return fmt.Sprintf("blake2b:%s sha512:%s", hex.EncodeToString(b[:]), hex.EncodeToString(s[:]))
}

// WriteGLEP75Tree writes files into root as a GLEP 75 mirror does:
// root/distfiles/<2 hex of BLAKE2B(name)>/<name>, no pad files.
func WriteGLEP75Tree(t testing.TB, root string, files []File) {
	t.Helper()
	for _, f := range files {
		p := GLEP75Path(root, f.Name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// Request is one request an HTTPLog server received.
type Request struct {
	Method, Path, Range string
}

// HTTPLog is a loopback HTTP file server that records every request.
type HTTPLog struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []Request
}

// ServeDir starts an http.FileServer for dir on 127.0.0.1 that records
// its requests. It is closed when the test ends.
func ServeDir(t testing.TB, dir string) *HTTPLog {
	t.Helper()
	h := &HTTPLog{}
	fsrv := http.FileServer(http.Dir(dir))
	h.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.reqs = append(h.reqs, Request{r.Method, r.URL.Path, r.Header.Get("Range")})
		h.mu.Unlock()
		fsrv.ServeHTTP(w, r)
	}))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.Server.Listener = l
	h.Start()
	t.Cleanup(h.Close)
	return h
}

// Requests returns the requests received so far.
func (h *HTTPLog) Requests() []Request {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Request(nil), h.reqs...)
}

// RequestsFor returns the requests whose path contains s.
func (h *HTTPLog) RequestsFor(s string) []Request {
	var out []Request
	for _, r := range h.Requests() {
		if strings.Contains(r.Path, s) {
			out = append(out, r)
		}
	}
	return out
}

// fileID identifies a file on disk across renames.
type fileID struct {
	Ino   uint64
	MTime int64
	Size  int64
}

func statID(p string) (fileID, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		return fileID{}, err
	}
	return fileID{Ino: st.Ino, MTime: st.Mtim.Nano(), Size: st.Size}, nil
}

// StoreChecker checks that every file under STORE/distfiles is a known
// distfile at its own GLEP 75 path with exactly its true content. It
// remembers files it already read (by inode, mtime and size) so sampling
// a running fetch stays cheap.
type StoreChecker struct {
	store  string
	byName map[string]File
	seen   map[string]fileID
}

func NewStoreChecker(store string, files []File) *StoreChecker {
	c := &StoreChecker{store: store, byName: map[string]File{}, seen: map[string]fileID{}}
	for _, f := range files {
		c.byName[f.Name] = f
	}
	return c
}

// Check walks the tree once; it returns the problems found and the placed
// files with their identity.
func (c *StoreChecker) Check() (placed map[string]fileID, problems []string) {
	placed = map[string]fileID{}
	root := filepath.Join(c.store, "distfiles")
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			problems = append(problems, fmt.Sprintf("walk %s: %v", p, err))
			return nil
		}
		if d.IsDir() {
			return nil
		}
		name := d.Name()
		if filepath.Dir(p) == root && (name == "layout.conf" ||
			strings.HasPrefix(name, ".distswarm-layout-") && strings.HasSuffix(name, ".tmp")) {
			return nil // GLEP 75 layout description, or its atomic-write temp file
		}
		f, ok := c.byName[name]
		if !ok {
			problems = append(problems, fmt.Sprintf("unexpected file %s", p))
			return nil
		}
		if p != GLEP75Path(c.store, name) {
			problems = append(problems, fmt.Sprintf("%s at the wrong path %s", name, p))
			return nil
		}
		id, err := statID(p)
		if err != nil {
			problems = append(problems, fmt.Sprintf("stat %s: %v", p, err))
			return nil
		}
		if prev, ok := c.seen[p]; ok && prev == id {
			placed[name] = id
			return nil
		}
		got, err := os.ReadFile(p)
		if err != nil {
			problems = append(problems, fmt.Sprintf("read %s: %v", p, err))
			return nil
		}
		if !bytes.Equal(got, f.Data) {
			problems = append(problems, fmt.Sprintf("%s has wrong content at its layout path (%d bytes, want %d)", name, len(got), len(f.Data)))
			return nil
		}
		if id2, err := statID(p); err == nil && id2 == id {
			c.seen[p] = id
		}
		placed[name] = id
		return nil
	})
	return placed, problems
}
