package integration

import (
	"bytes"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// stallingMirror serves the first half of every file, then holds the
// connection open without sending more, and tells when it got that far.
func stallingMirror(t *testing.T, files map[string][]byte) (url string, halfSent <-chan string) {
	t.Helper()
	sent := make(chan string, 16)
	release := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, ok := files[filepath.Base(r.URL.Path)]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Write(data[:len(data)/2])
		w.(http.Flusher).Flush()
		sent <- filepath.Base(r.URL.Path)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { close(release); srv.Close() })
	return "http://" + ln.Addr().String(), sent
}

// TestDaemonKill9DuringGatewayDownload: the daemon is killed with SIGKILL
// while a gateway miss downloads from upstream. After a restart nothing
// partial sits in distfiles/, and the file is served only once verified.
func TestDaemonKill9DuringGatewayDownload(t *testing.T) {
	dir := t.TempDir()
	files := Corpus(t, filepath.Join(dir, "src"), 11, []int{3 << 20})
	f := files[0]
	manifest := WriteManifest(t, dir, files)
	url, halfSent := stallingMirror(t, map[string][]byte{f.Name: f.Data})
	store := filepath.Join(dir, "store")
	d := StartDaemon(t, store, "--upstream", url, "--manifest", manifest, "--swarm-timeout", "1s")

	got := make(chan int, 1)
	go func() {
		resp, err := (&http.Client{Timeout: time.Minute}).Get(d.GatewayPath(f.Name))
		if err != nil {
			got <- -1
			return
		}
		resp.Body.Close()
		got <- resp.StatusCode
	}()
	select {
	case <-halfSent:
	case <-time.After(time.Minute):
		t.Fatalf("upstream never reached; daemon: %s", d.Stderr())
	}
	if err := d.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-d.done
	if code := <-got; code == 200 {
		t.Fatalf("the gateway answered 200 for a file it had half of")
	}
	if _, err := os.Stat(GLEP75Path(store, f.Name)); !os.IsNotExist(err) {
		t.Fatalf("after kill -9: %s at its final path (%v)", f.Name, err)
	}

	// Restarted with a mirror that serves wrong bytes: nothing is served or placed.
	bad := filepath.Join(dir, "bad")
	WriteGLEP75Tree(t, bad, []File{{Name: f.Name, Data: bytes.Repeat([]byte{0}, len(f.Data))}})
	d2 := StartDaemon(t, store, "--upstream", ServeDir(t, bad).URL, "--manifest", manifest, "--swarm-timeout", "1s")
	if code, _ := Get(t, d2.GatewayPath(f.Name), time.Minute); code == 200 {
		t.Fatalf("corrupt upstream copy served")
	}
	if _, err := os.Stat(GLEP75Path(store, f.Name)); !os.IsNotExist(err) {
		t.Fatalf("corrupt upstream copy placed (%v)", err)
	}
	d2.Stop()

	// Restarted with an honest mirror: served and placed, verified.
	good := filepath.Join(dir, "good")
	WriteGLEP75Tree(t, good, files)
	d3 := StartDaemon(t, store, "--upstream", ServeDir(t, good).URL, "--manifest", manifest, "--swarm-timeout", "1s")
	code, body := Get(t, d3.GatewayPath(f.Name), time.Minute)
	if code != 200 || !bytes.Equal(body, f.Data) {
		t.Fatalf("after restart: %d, %d bytes", code, len(body))
	}
	CheckPlaced(t, store, files)
}
