package gateway

import (
	"image/png"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/distswarm/distswarm/internal/chromium"
)

// TestStatusPageInChromium loads the status page in headless Chromium and
// reads what the browser built: the data- attributes and their text.
func TestStatusPageInChromium(t *testing.T) {
	chromium.Require(t)
	b := newFakeBackend(t)
	b.setStatus(sampleStatus())
	b.CountServed(3 << 20)
	srv := serve(t, b, Options{})

	dom := chromium.DumpDOM(t, srv.URL+"/")
	peers, err := chromium.One(dom, "data-peers")
	if err != nil || peers.Attrs["data-peers"] != "7" || peers.Text != "7" {
		t.Errorf("peers: %+v %v", peers, err)
	}
	fromPeers, err := chromium.One(dom, "data-from-peers")
	if err != nil || fromPeers.Attrs["data-from-peers"] != strconv.Itoa(700<<20) || fromPeers.Text != "700 MiB" {
		t.Errorf("bytes from peers: %+v %v", fromPeers, err)
	}
	served, err := chromium.One(dom, "data-served")
	if err != nil || served.Text != "3.0 MiB" {
		t.Errorf("served: %+v %v", served, err)
	}
	rows, err := chromium.FindAttr(dom, "data-collection")
	if err != nil || len(rows) != 2 {
		t.Fatalf("collection rows: %d, %v", len(rows), err)
	}
	if rows[0].Attrs["data-collection"] != "gentoo-2026-11" || !strings.Contains(rows[0].Text, "gentoo-2026-11") ||
		!strings.Contains(rows[0].Text, "45 / 120") {
		t.Errorf("first collection row: %+v", rows[0])
	}
	if rows[1].Attrs["data-collection"] != "<script>alert(1)</script>" {
		t.Errorf("hostile collection name not shown as text: %+v", rows[1])
	}
	fetches, err := chromium.FindAttr(dom, "data-fetch")
	if err != nil || len(fetches) != 3 || fetches[1].Attrs["data-outcome"] != "rejected" {
		t.Errorf("recent fetches: %+v %v", fetches, err)
	}

	shot := chromium.Screenshot(t, srv.URL+"/", "status-page-gateway.png")
	checkPNG(t, shot, 1280, 900)
}

func checkPNG(t *testing.T, file string, width, height int) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil {
		t.Fatalf("screenshot %s: %v", file, err)
	}
	if cfg.Width != width || cfg.Height != height {
		t.Errorf("screenshot %s is %dx%d, want %dx%d", file, cfg.Width, cfg.Height, width, height)
	}
}
