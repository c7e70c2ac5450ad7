package lsd

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

const systemPython = "/usr/bin/python3"

// requireLibtorrent skips (fails under CI=true) without python3-libtorrent.
func requireLibtorrent(t *testing.T) {
	t.Helper()
	if err := exec.Command(systemPython, "-c", "import libtorrent").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true: python3-libtorrent is missing: %v", err)
		}
		t.Skipf("needs python3-libtorrent (%s -c 'import libtorrent': %v)", systemPython, err)
	}
}

// ltEvent is a line of testdata/lt_lsd.py.
type ltEvent struct {
	Event     string `json:"event"`
	Infohash  string `json:"infohash"`
	IP        string `json:"ip"`
	Port      int    `json:"port"`
	Message   string `json:"message"`
	ElapsedMS int64  `json:"elapsed_ms"`
}

// TestLibtorrentInterop: real libtorrent (LSD on, default settings) in one
// namespace, a Service in the other. The Service hears libtorrent's
// infohash and port; libtorrent learns the Service's peer from our
// announce (its lsd_peer alert) and dials it.
func TestLibtorrentInterop(t *testing.T) {
	requireNetns(t)
	requireLibtorrent(t)
	l := newLAN(t, "lt")
	dir := t.TempDir()
	out, err := exec.Command(systemPython, "testdata/lt_lsd.py", "make", dir).Output()
	if err != nil {
		t.Fatalf("make torrent: %v", err)
	}
	var made struct{ Infohash string }
	if err := json.Unmarshal(out, &made); err != nil || len(made.Infohash) != 40 {
		t.Fatalf("make torrent: %q: %v", out, err)
	}
	const ltPort, ourPort = 6881, 7002
	// ours listens first (libtorrent announces at once, then after 2 and 6 s)
	ours := startHelper(t, l.nsB, "ours", helperConfig{Port: ourPort, Infohashes: []string{made.Infohash}, Seconds: 45, Accept: true})
	waitStarted(t, ours)
	t0 := time.Now()
	lt := startProc(t, "libtorrent", nil, "ip", "netns", "exec", l.nsA, systemPython, "testdata/lt_lsd.py", "run", dir, l.ipA, fmt.Sprint(ltPort), "45")
	waitFor(t, lt, 20*time.Second, "ready", func(e ltEvent) bool { return e.Event == "ready" })

	heard := waitFor(t, ours, 25*time.Second, "libtorrent's announce", func(e helperEvent) bool {
		return e.Event == "peer" && e.Infohash == made.Infohash && e.Addr == fmt.Sprintf("%s:%d", l.ipA, ltPort)
	})
	t.Logf("Service heard libtorrent %s after %s (libtorrent start to here)", heard.Addr, time.Since(t0).Round(time.Millisecond))

	learnt := waitFor(t, lt, 25*time.Second, "lsd_peer alert for our Service", func(e ltEvent) bool {
		return e.Event == "lsd_peer" && strings.Contains(e.Message, fmt.Sprintf("%s:%d", l.ipB, ourPort))
	})
	t.Logf("libtorrent learnt our peer after %d ms of its run: %s", learnt.ElapsedMS, learnt.Message)
	dialed := waitFor(t, ours, 25*time.Second, "libtorrent's connection", func(e helperEvent) bool {
		return e.Event == "accepted" && e.Addr != "" && hostOf(e.Addr) == l.ipA
	})
	t.Logf("libtorrent dialled the announced port from %s", dialed.Addr)
}
