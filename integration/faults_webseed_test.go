package integration

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWebseedOnly: no peers at all. A plain GLEP 75 HTTP mirror (no pad
// files, as on a real mirror) given as the collection's --webseed is enough
// for `fetch --offline` to place every file; BEP 47 pad files are answered
// locally and never requested from the mirror.
func TestWebseedOnly(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	// Sizes that are not piece multiples so pads sit between files.
	files := Corpus(t, src, 5, []int{0, 1, 16383, 70000, 300001, 1<<20 + 17, 3<<20 + 5})
	mirror := filepath.Join(dir, "mirror")
	WriteGLEP75Tree(t, mirror, files)
	srv := ServeDir(t, mirror)

	torrent := filepath.Join(dir, "c.torrent")
	if r := Run(t, time.Minute, "collection", "create", "--from", src, "--out", torrent, "--webseed", srv.URL+"/", "--piece-length", "65536"); r.Code != 0 {
		t.Fatalf("create: %d %s", r.Code, r.Stderr)
	}
	mf := WriteManifest(t, dir, files)
	store := filepath.Join(dir, "leech")
	args := append([]string{"fetch"}, Loopback...)
	args = append(args, "--store", store, "--torrent", torrent, "--manifest", mf, "--timeout", "60s")
	r := Run(t, 90*time.Second, append(args, Names(files)...)...)
	if r.Code != 0 {
		t.Fatalf("fetch: exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if got := strings.Count(r.Stdout, "\n"); got != len(files) {
		t.Errorf("fetch printed %d paths, want %d:\n%s", got, len(files), r.Stdout)
	}
	CheckPlaced(t, store, files)
	// The summary says where the data came from: all of it from the mirror.
	if m := receivedLine.FindStringSubmatch(r.Stderr); m == nil || m[2] != "0 B" || !strings.Contains(m[3], "from webseeds") {
		t.Errorf("want a \"received …: 0 B from peers, … from webseeds\" line, got:\n%s", r.Stderr)
	}
	if _, probs := NewStoreChecker(store, files).Check(); len(probs) > 0 {
		t.Errorf("store: %s", strings.Join(probs, "\n"))
	}

	reqs := srv.Requests()
	if len(reqs) == 0 {
		t.Fatal("the mirror received no request: the files came from somewhere else")
	}
	for _, q := range reqs {
		if strings.Contains(q.Path, "/.pad/") {
			t.Errorf("pad file requested from the mirror: %s %s %s", q.Method, q.Path, q.Range)
		}
		if !strings.HasPrefix(q.Path, "/distfiles/") {
			t.Errorf("request outside the GLEP 75 tree: %s %s", q.Method, q.Path)
		}
	}
	t.Logf("mirror received %d requests", len(reqs))
}
