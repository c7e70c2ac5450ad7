package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/distswarm/distswarm/internal/chromium"
	"github.com/distswarm/distswarm/swarm"
)

// Status reads /api/v1/status.
func (d *Daemon) Status(t testing.TB) swarm.NodeStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, d.Gateway+"/api/v1/status", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET /api/v1/status: %v", err)
	}
	defer resp.Body.Close()
	var s swarm.NodeStatus
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatalf("decode /api/v1/status: %v", err)
	}
	return s
}

// TestStatusPageInChromiumDuringAFetch: a daemon fetches a distfile from a
// seeder (rate-limited, so the fetch takes a while) because a client asked
// its gateway for it. While the fetch runs, headless Chromium loads the
// status page; the page must show the collection, at least one peer and
// bytes from peers. A screenshot is kept as an artifact.
func TestStatusPageInChromiumDuringAFetch(t *testing.T) {
	chromium.Require(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	files := Corpus(t, src, 81, []int{48 << 20, 30000})
	big := files[0]
	torrent := filepath.Join(dir, "lan.torrent")
	if r := Run(t, 2*time.Minute, "collection", "create", "--name", "lan-distfiles", "--from", src, "--out", torrent); r.Code != 0 {
		t.Fatalf("collection create: %d %s", r.Code, r.Stderr)
	}
	seeder := StartSeeder(t, append(Loopback, "--store", filepath.Join(dir, "seedstore"), "--from", src, torrent)...)
	store := filepath.Join(dir, "store")
	if r := Run(t, time.Minute, "collection", "add", "--store", store, torrent); r.Code != 0 {
		t.Fatalf("collection add: %d %s", r.Code, r.Stderr)
	}
	mf := WriteManifest(t, dir, files)
	d := StartDaemon(t, store, "--peer", seeder.Addr(), "--manifest", mf, "--download-rate", "4MiB")

	fetched := make(chan error, 1)
	go func() { fetched <- getAndCompare(d.GatewayPath(big.Name), big.Data) }()
	s := waitForPeerBytes(t, d, fetched)
	t.Logf("fetch under way: %d peers, %d bytes from peers", s.Peers, s.Totals.FromPeers)

	dom := chromium.DumpDOM(t, d.Gateway+"/")
	shot := chromium.Screenshot(t, d.Gateway+"/", "status-page-daemon.png")
	checkStatusDOM(t, dom)
	checkScreenshot(t, shot)
	select {
	case err := <-fetched:
		if err != nil {
			t.Fatalf("gateway download: %v\ndaemon log:\n%s", err, d.Stderr())
		}
	case <-time.After(3 * time.Minute):
		t.Fatalf("gateway download did not finish in 3 min\ndaemon log:\n%s", d.Stderr())
	}
}

func getAndCompare(url string, want []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, want) {
		return fmt.Errorf("GET %s: %s, %d bytes (want 200 and %d bytes)", url, resp.Status, len(got), len(want))
	}
	return nil
}

// waitForPeerBytes polls /api/v1/status until the node has a peer and has
// received bytes from peers (the fetch is under way), within 2 minutes.
func waitForPeerBytes(t *testing.T, d *Daemon, fetched chan error) swarm.NodeStatus {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		s := d.Status(t)
		if s.Peers >= 1 && s.Totals.FromPeers > 0 {
			return s
		}
		select {
		case err := <-fetched:
			t.Fatalf("gateway download ended (%v) before the status showed peer bytes: %+v\n%s", err, s, d.Stderr())
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("no peer and no bytes from peers within 2 min: %+v\ndaemon log:\n%s", d.Status(t), d.Stderr())
	return swarm.NodeStatus{}
}

func checkStatusDOM(t *testing.T, dom string) {
	t.Helper()
	rows, err := chromium.FindAttr(dom, "data-collection")
	if err != nil || len(rows) != 1 || rows[0].Attrs["data-collection"] != "lan-distfiles" ||
		!strings.Contains(rows[0].Text, "lan-distfiles") {
		t.Errorf("collection rows in the page: %+v (%v)", rows, err)
	}
	peers, err := chromium.One(dom, "data-peers")
	if n, _ := strconv.Atoi(peers.Attrs["data-peers"]); err != nil || n < 1 || peers.Text != strconv.Itoa(n) {
		t.Errorf("page shows peers %+v (%v), want >= 1", peers, err)
	}
	fromPeers, err := chromium.One(dom, "data-from-peers")
	if n, _ := strconv.ParseInt(fromPeers.Attrs["data-from-peers"], 10, 64); err != nil || n <= 0 ||
		fromPeers.Text == "" || fromPeers.Text == "0 B" {
		t.Errorf("page shows bytes from peers %+v (%v), want > 0", fromPeers, err)
	}
}

func checkScreenshot(t *testing.T, file string) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil || cfg.Width != 1280 || cfg.Height != 900 {
		t.Errorf("screenshot %s: %dx%d, %v; want a 1280x900 PNG", file, cfg.Width, cfg.Height, err)
	}
}
