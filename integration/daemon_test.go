package integration

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// daemonSetup is an origin seeder process with a collection, and a daemon
// on an empty store that knows the collection and the seeder.
type daemonSetup struct {
	files   []File
	torrent string
	origin  *Proc
	daemon  *Daemon
	http    *HTTPLog // a GLEP 75 HTTP mirror of the same files
}

func newDaemonSetup(t *testing.T, sizes []int, daemonArgs ...string) *daemonSetup {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	s := &daemonSetup{files: Corpus(t, src, 8, sizes), torrent: filepath.Join(dir, "c.torrent")}
	if r := Run(t, time.Minute, "collection", "create", "--from", src, "--out", s.torrent); r.Code != 0 {
		t.Fatalf("collection create: %s", r.Stderr)
	}
	mirror := filepath.Join(dir, "mirror")
	WriteGLEP75Tree(t, mirror, s.files)
	s.http = ServeDir(t, mirror)
	s.origin = StartSeeder(t, append(Loopback, "--store", filepath.Join(dir, "origin"), "--from", src, s.torrent)...)
	store := filepath.Join(dir, "store")
	s.daemon = StartDaemon(t, store, append([]string{"--peer", s.origin.Addr()}, daemonArgs...)...)
	if r := Run(t, time.Minute, "collection", "add", "--store", store, s.torrent); r.Code != 0 {
		t.Fatalf("collection add: %s", r.Stderr)
	}
	return s
}

// TestDaemonSharesTheStore: with a daemon on the store, fetch and Portage
// mode (several at once, for the same file) go through it instead of
// failing on the locked store; the file comes from the peer, once, never
// over HTTP.
func TestDaemonSharesTheStore(t *testing.T) {
	s := newDaemonSetup(t, []int{70000, 900000, 2 << 20})
	store := s.daemon.Store
	manifest := WriteManifest(t, t.TempDir(), s.files)
	r := Run(t, 2*time.Minute, append(FetchArgs(store, "--torrent", s.torrent, "--manifest", manifest), s.files[0].Name)...)
	if r.Code != 0 || !strings.Contains(r.Stderr, "through the distswarm daemon") {
		t.Fatalf("fetch via daemon: code %d\n%s", r.Code, r.Stderr)
	}
	CheckPlaced(t, store, s.files[:1])

	// Four Portage fetches of one file at once (emerge --jobs).
	f := s.files[2]
	var wg sync.WaitGroup
	results := make([]Result, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := filepath.Join(t.TempDir(), f.Name+".__download__")
			results[i] = Run(t, 2*time.Minute, append(FetchArgs(store), "--uri", s.http.URL+"/distfiles/"+f.Name,
				"--out", out, "--digests", DigestsArg(f))...)
			if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, f.Data) {
				t.Errorf("portage fetch %d: --out has wrong content (%v)", i, err)
			}
		}()
	}
	wg.Wait()
	// A process that starts after the first download finished finds the
	// file in the store; at least one got it from the swarm.
	fromSwarm := 0
	for i, r := range results {
		switch {
		case r.Code != 0:
			t.Errorf("portage fetch %d: code %d:\n%s", i, r.Code, r.Stderr)
		case strings.Contains(r.Stderr, "from swarm"):
			fromSwarm++
		case !strings.Contains(r.Stderr, "from store"):
			t.Errorf("portage fetch %d: want the file from the swarm or the store:\n%s", i, r.Stderr)
		}
	}
	if fromSwarm == 0 {
		t.Errorf("no Portage fetch got the file from the swarm")
	}
	if reqs := s.http.RequestsFor(f.Name); len(reqs) != 0 {
		t.Errorf("HTTP origin asked for %s %d times; the swarm had it", f.Name, len(reqs))
	}
	CheckPlaced(t, store, s.files[2:])
}

// TestDaemonGateway: unmodified Portage's view of the gateway: layout.conf,
// GLEP 75 paths from the swarm with no HTTP origin, HEAD and Range, 404 for
// unknown files and for anything outside the tree, and a miss that falls
// back to the upstream mirror.
func TestDaemonGateway(t *testing.T) {
	dir := t.TempDir()
	extra := Corpus(t, filepath.Join(dir, "extra"), 9, []int{123457})
	WriteGLEP75Tree(t, filepath.Join(dir, "up"), extra)
	up := ServeDir(t, filepath.Join(dir, "up"))
	manifest := WriteManifest(t, dir, extra)
	s := newDaemonSetup(t, []int{5000, 600000}, "--upstream", up.URL, "--manifest", manifest, "--log-level", "debug")
	gw := s.daemon

	if code, body := Get(t, gw.Gateway+"/distfiles/layout.conf", 10*time.Second); code != 200 || !strings.Contains(string(body), "filename-hash BLAKE2B 8") {
		t.Fatalf("layout.conf: %d %q", code, body)
	}
	// The collection's Manifest is trusted once the daemon rescans (5 s).
	f := s.files[1]
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body := Get(t, gw.GatewayPath(f.Name), time.Minute)
		if code == 200 {
			if !bytes.Equal(body, f.Data) {
				t.Fatalf("gateway served wrong bytes for %s", f.Name)
			}
			break
		}
		if code != 404 || time.Now().After(deadline) {
			t.Fatalf("GET %s: %d %s\ndaemon log:\n%s", f.Name, code, body, gw.Stderr())
		}
		time.Sleep(500 * time.Millisecond)
	}
	if n := len(up.RequestsFor(f.Name)); n != 0 {
		t.Errorf("upstream asked for %s (%d requests); the swarm had it", f.Name, n)
	}
	checkRangeAndHead(t, gw.GatewayPath(f.Name), f.Data)

	// A miss the swarm cannot serve comes from the upstream mirror, verified.
	code, body := Get(t, gw.GatewayPath(extra[0].Name), time.Minute)
	if code != 200 || !bytes.Equal(body, extra[0].Data) {
		t.Fatalf("upstream fallback: %d, %d bytes", code, len(body))
	}
	if len(up.RequestsFor(extra[0].Name)) == 0 {
		t.Errorf("upstream never asked for %s", extra[0].Name)
	}
	CheckPlaced(t, gw.Store, extra)

	for _, p := range []string{
		"/distfiles/00/unknown-1.tar.gz", "/distfiles/../.distswarm/state.db", "/distfiles/%2e%2e/.distswarm/state.db",
		"/distfiles/..%2f.distswarm%2fstate.db", "/.distswarm/state.db", "/.partial/", "/.quarantine/",
		"/collections/", "/distfiles/%252e%252e/collections/", "//etc/passwd", "/distfiles/" + filepath.Base(s.torrent),
	} {
		if code, _ := Get(t, gw.Gateway+p, 10*time.Second); code != 404 {
			t.Errorf("GET %s: %d, want 404", p, code)
		}
	}
}

func checkRangeAndHead(t *testing.T, url string, data []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Range", "bytes=100-199")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 206 || !bytes.Equal(buf.Bytes(), data[100:200]) {
		t.Errorf("Range: %d, %d bytes", resp.StatusCode, buf.Len())
	}
	resp, err = http.Head(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength != int64(len(data)) {
		t.Errorf("HEAD: %d, length %d", resp.StatusCode, resp.ContentLength)
	}
}

// TestDaemonControlSocketRefusesOtherUsers: the socket is 0660 and a user
// outside its group is refused with a clear message, not served and not
// left waiting.
func TestDaemonControlSocketRefusesOtherUsers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a command as another user")
	}
	// Everything another user must reach: the binary, the store, --out.
	pub, err := os.MkdirTemp("", "distswarm-socket-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(pub) })
	os.Chmod(pub, 0o755)
	bin := filepath.Join(pub, "distswarm")
	if b, err := os.ReadFile(binary); err != nil || os.WriteFile(bin, b, 0o755) != nil {
		t.Fatalf("copy binary: %v", err)
	}
	store := filepath.Join(pub, "store")
	d := StartDaemon(t, store, "--socket-group", "0")
	st, err := os.Stat(d.Control)
	if err != nil {
		t.Fatal(err)
	}
	if st.Sys().(*syscall.Stat_t).Gid != 0 {
		t.Errorf("control socket group %d, want 0 (--socket-group)", st.Sys().(*syscall.Stat_t).Gid)
	}
	if err != nil {
		t.Fatal(err)
	}
	if perm := st.Mode().Perm(); perm != 0o660 {
		t.Errorf("control socket mode %o, want 660", perm)
	}
	out := filepath.Join(pub, "out", "x-1.tar.gz.__download__")
	os.MkdirAll(filepath.Dir(out), 0o777)
	os.Chmod(filepath.Dir(out), 0o777)
	cmd := exec.Command(bin, "fetch", "--offline", "--store", store, "--uri", "http://127.0.0.1:9/x-1.tar.gz", "--out", out,
		"--digests", "blake2b:"+strings.Repeat("00", 64), "--timeout", "20s")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	b, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("fetch as nobody succeeded:\n%s", b)
	}
	if !strings.Contains(string(b), "permission denied: add this user to the daemon's --socket-group") {
		t.Errorf("fetch as nobody: want a permission error naming the socket, got:\n%s", b)
	}
}
