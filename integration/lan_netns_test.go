package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// requireNetns skips (or fails, under CI=true) when network namespaces
// cannot be made here: they need root and iproute2.
func requireNetns(t *testing.T) {
	t.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "needs root for network namespaces"
	} else if _, err := exec.LookPath("ip"); err != nil {
		why = "needs iproute2 (ip) for network namespaces"
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true: %s", why)
	}
	t.Skip(why)
}

func runIP(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// vethLAN creates two namespaces joined by a veth pair (IPv4 a.b.c.1 and
// .2/24, a multicast route), deleted at cleanup; it returns the namespace
// names and addresses.
func vethLAN(t *testing.T, tag string) (ns, ips [2]string) {
	t.Helper()
	requireNetns(t)
	id := fmt.Sprintf("%s%d", tag, os.Getpid()%100000)
	sub := os.Getpid()%200 + 20
	for i, side := range []string{"A", "B"} {
		ns[i] = "dsit" + side + id
		ips[i] = fmt.Sprintf("10.232.%d.%d", sub, i+1)
		if out, err := exec.Command("ip", "netns", "add", ns[i]).CombinedOutput(); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("ip netns add: %v\n%s", err, out)
			}
			t.Skipf("network namespaces unavailable: %v\n%s", err, out)
		}
		name := ns[i]
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
		runIP(t, "-n", ns[i], "link", "set", "lo", "up")
	}
	ifs := [2]string{"va" + id, "vb" + id}
	runIP(t, "link", "add", ifs[0], "netns", ns[0], "type", "veth", "peer", "name", ifs[1], "netns", ns[1])
	for i := range ns {
		runIP(t, "-n", ns[i], "addr", "add", ips[i]+"/24", "dev", ifs[i])
		runIP(t, "-n", ns[i], "link", "set", ifs[i], "up")
		runIP(t, "-n", ns[i], "route", "add", "224.0.0.0/4", "dev", ifs[i])
	}
	return ns, ips
}

// inNetns is distswarm args run in namespace ns.
func inNetns(ns string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns, binary}, args...)...)
}

// runInNetns runs distswarm in ns to completion within timeout.
func runInNetns(t *testing.T, ns string, timeout time.Duration, args ...string) (int, string) {
	t.Helper()
	cmd := inNetns(ns, args...)
	timer := time.AfterFunc(timeout, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("distswarm %v in %s: %v", args, ns, err)
	}
	return code, string(out)
}

// TestLANZeroConfig: two daemons in two namespaces on one link, with no
// --peer, no DHT, no tracker and no webseed. One seeds a collection; the
// other fetches files of it and gets them from the first, found by LAN
// discovery alone.
func TestLANZeroConfig(t *testing.T) {
	ns, ips := vethLAN(t, "lan")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	files := Corpus(t, src, 31, []int{300000, 1 << 20, 70000})
	torrent := filepath.Join(dir, "c.torrent")
	if r := Run(t, time.Minute, "collection", "create", "--from", src, "--out", torrent); r.Code != 0 {
		t.Fatalf("collection create: %s", r.Stderr)
	}
	manifest := WriteManifest(t, dir, files)
	stores := [2]string{filepath.Join(dir, "storeA"), filepath.Join(dir, "storeB")}
	var daemons [2]*Proc
	for i := range ns {
		if err := os.MkdirAll(stores[i], 0o755); err != nil {
			t.Fatal(err)
		}
		args := []string{"daemon", "--store", stores[i], "--gateway", "off", "--listen", ips[i] + ":6881", "--offline"}
		daemons[i], _ = startCmd(t, time.Minute, daemonReady, inNetns(ns[i], args...), args)
	}
	if code, out := runInNetns(t, ns[0], time.Minute, "seed", "--store", stores[0], "--from", src, torrent); code != 0 {
		t.Fatalf("seed through daemon A: %d\n%s", code, out)
	}
	t0 := time.Now()
	fetch := append([]string{"fetch", "--store", stores[1], "--torrent", torrent, "--manifest", manifest}, Names(files)...)
	code, out := runInNetns(t, ns[1], 2*time.Minute, fetch...)
	if code != 0 {
		t.Fatalf("fetch through daemon B (no --peer): %d\n%s\ndaemon A:\n%s\ndaemon B:\n%s", code, out, daemons[0].Stderr(), daemons[1].Stderr())
	}
	t.Logf("zero-config fetch of %d files from the LAN took %s (LAN discovery included)", len(files), time.Since(t0).Round(time.Millisecond))
	CheckPlaced(t, stores[1], files)
}
