package lsd

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// requireTool skips (fails under CI=true) without the program.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true: %s is missing", name)
		}
		t.Skipf("needs %s", name)
	}
	return p
}

// TestOtherClientsHeard: real Transmission 3 and aria2 seeding with their
// LPD on, in one namespace; a Service in the other hears each one's
// infohash and port (Transmission 3 sends no cookie),
// and each one dials the port the Service announces (every 2 s here, as
// the clients start listening at their own pace). `ip netns exec` execs
// the client: startProc kills it by PID.
func TestOtherClientsHeard(t *testing.T) {
	requireNetns(t)
	requireLibtorrent(t) // makes the torrent
	clients := map[string]func(t *testing.T, l *lan, dir string) []string{
		"transmission": transmissionArgv,
		"aria2":        aria2Argv,
	}
	for name, argv := range clients {
		t.Run(name, func(t *testing.T) {
			l := newLAN(t, name[:2])
			dir := t.TempDir()
			out, err := exec.Command(systemPython, "testdata/lt_lsd.py", "make", dir).Output()
			if err != nil {
				t.Fatalf("make torrent: %v", err)
			}
			var made struct{ Infohash string }
			if err := json.Unmarshal(out, &made); err != nil {
				t.Fatal(err)
			}
			ours := startHelper(t, l.nsB, "ours", helperConfig{Port: 7002, Seconds: 60, NoIPv6: true,
				Infohashes: []string{made.Infohash}, Accept: true, IntervalS: 2})
			waitStarted(t, ours)
			t0 := time.Now()
			startProc(t, name, nil, append([]string{"ip", "netns", "exec", l.nsA}, argv(t, l, dir)...)...)
			ev := waitFor(t, ours, 45*time.Second, name+"'s announce", func(e helperEvent) bool {
				return e.Event == "peer" && e.Infohash == made.Infohash && e.Addr == l.ipA+":6881"
			})
			t.Logf("heard %s at %s after %s", name, ev.Addr, time.Since(t0).Round(time.Millisecond))
			dialed := waitFor(t, ours, 45*time.Second, name+"'s connection", func(e helperEvent) bool {
				return e.Event == "accepted" && hostOf(e.Addr) == l.ipA
			})
			t.Logf("%s dialled the announced port from %s after %s", name, dialed.Addr, time.Since(t0).Round(time.Millisecond))
		})
	}
}

func transmissionArgv(t *testing.T, l *lan, dir string) []string {
	bin := requireTool(t, "transmission-cli")
	cfg := filepath.Join(dir, "tr")
	settings := fmt.Sprintf(`{"bind-address-ipv4": %q, "dht-enabled": false, "lpd-enabled": true,
 "pex-enabled": false, "port-forwarding-enabled": false, "peer-port": 6881, "utp-enabled": false,
 "rpc-enabled": false, "blocklist-enabled": false}`, l.ipA)
	if err := os.MkdirAll(cfg, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg, "settings.json"), []byte(settings), 0o644); err != nil {
		t.Fatal(err)
	}
	return []string{bin, "-g", cfg, "-w", dir, "-p", "6881", filepath.Join(dir, "payload.torrent")}
}

func aria2Argv(t *testing.T, l *lan, dir string) []string {
	bin := requireTool(t, "aria2c")
	return []string{bin, "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=true",
		"--bt-lpd-interface=" + l.ifA, "--interface=" + l.ipA, "--listen-port=6881", "--disable-ipv6=true",
		"--dir=" + dir, "--check-integrity=true", "--seed-ratio=0.0", "--seed-time=1", "--stop=45",
		"--summary-interval=0", filepath.Join(dir, "payload.torrent")}
}
