package integration

import (
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// freeLoopbackPort is a TCP port free on 127.0.0.1 just now.
func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestDaemonEmbeddedTracker: a daemon with --tracker (offline, no LAN
// discovery) seeds a collection whose announce URL is its own tracker on
// 127.0.0.1; a one-shot fetch with no --peer, no DHT and no LAN discovery
// finds the daemon through that tracker alone and gets the files. The
// daemon's status names the announce URL.
func TestDaemonEmbeddedTracker(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	files := Corpus(t, src, 161, []int{250000, 1 << 20, 5000})
	trackerAddr := fmt.Sprintf("127.0.0.1:%d", freeLoopbackPort(t))
	url := "http://" + trackerAddr + "/announce"
	torrent := filepath.Join(dir, "c.torrent")
	if r := Run(t, time.Minute, "collection", "create", "--from", src, "--tracker", url, "--out", torrent); r.Code != 0 {
		t.Fatalf("collection create: %s", r.Stderr)
	}
	storeA := filepath.Join(dir, "storeA")
	a := StartDaemon(t, storeA, "--tracker", trackerAddr)
	if r := Run(t, time.Minute, "seed", "--store", storeA, "--from", src, torrent); r.Code != 0 {
		t.Fatalf("seed through the daemon: %d\n%s", r.Code, r.Stderr)
	}
	mf := WriteManifest(t, dir, files)
	storeB := filepath.Join(dir, "storeB")
	args := append([]string{"fetch", "--store", storeB, "--listen", "127.0.0.1:0", "--no-dht", "--timeout", "90s",
		"--torrent", torrent, "--manifest", mf}, Names(files)...)
	if r := Run(t, 2*time.Minute, args...); r.Code != 0 {
		t.Fatalf("fetch through the embedded tracker: exit %d\n%s\ndaemon:\n%s", r.Code, r.Stderr, lastLines(a.Stderr(), 20))
	}
	CheckPlaced(t, storeB, files)
	if !strings.Contains(a.Stderr(), "announce URL "+url) {
		t.Errorf("daemon did not print its announce URL %s:\n%s", url, lastLines(a.Stderr(), 10))
	}
	code, body := Get(t, a.Gateway+"/api/v1/status", 10*time.Second)
	var st struct {
		TrackerURL string `json:"tracker_url"`
	}
	if code != 200 || json.Unmarshal(body, &st) != nil || st.TrackerURL != url {
		t.Errorf("status tracker_url %q (HTTP %d), want %q", st.TrackerURL, code, url)
	}
}
