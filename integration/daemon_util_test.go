package integration

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// Daemon is a running `distswarm daemon`.
type Daemon struct {
	*Proc
	Store   string
	Gateway string // http://127.0.0.1:PORT
	Control string // socket path
}

var daemonReady = regexp.MustCompile(`^ready gateway=(\S+) bt-port=(\d+) control=(\S+)$`)

// StartDaemon starts `distswarm daemon` on store with loopback ports, no
// DHT, no trackers and no LAN discovery (tests choose their peers; args
// may turn it on), plus args, and waits for its ready line.
func StartDaemon(t testing.TB, store string, args ...string) *Daemon {
	t.Helper()
	all := append([]string{"daemon", "--store", store, "--gateway", "127.0.0.1:0", "--lsd=false"}, Loopback...)
	p, m := startProc(t, 60*time.Second, daemonReady, append(all, args...))
	d := &Daemon{Proc: p, Store: store, Gateway: m[1], Control: m[3]}
	fmt.Sscan(m[2], &d.Port)
	return d
}

// GatewayPath is the gateway URL of a distfile (default GLEP 75 layout).
func (d *Daemon) GatewayPath(name string) string {
	rel, _ := filepath.Rel("/s", GLEP75Path("/s", name))
	return d.Gateway + "/" + filepath.ToSlash(rel)
}

// Get fetches url with a deadline and returns the status and body.
func Get(t testing.TB, url string, timeout time.Duration) (int, []byte) {
	t.Helper()
	c := &http.Client{Timeout: timeout}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: body: %v", url, err)
	}
	return resp.StatusCode, b
}
