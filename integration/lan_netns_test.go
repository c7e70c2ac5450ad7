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
		addTestNetns(t, ns[i])
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

// addTestNetns adds network namespace name with its loopback up, deleted
// at cleanup; it skips the test when namespaces cannot be made here
// (fails under CI=true).
func addTestNetns(t *testing.T, name string) {
	t.Helper()
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("ip netns add: %v\n%s", err, out)
		}
		t.Skipf("network namespaces unavailable: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	runIP(t, "-n", name, "link", "set", "lo", "up")
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

// startLTOnLAN runs `ltpeer.py MODE --lsd` in namespace ns on ip:6881 (LSD
// on, no --peer) and waits until it listens. `ip netns exec` execs the
// script: the PID StartExt kills is its.
func startLTOnLAN(t *testing.T, ns, ip string, timeout time.Duration, mode string, args ...string) *LTPeer {
	t.Helper()
	RequireLibtorrent(t)
	argv := append([]string{"netns", "exec", ns, Python, ltScript(t), mode, "--lsd", "--listen-ip", ip, "--port", "6881",
		"--timeout", fmt.Sprint(int(timeout.Seconds()))}, args...)
	p := &LTPeer{ExtProc: StartExt(t, timeout+20*time.Second, "", "ip", argv...)}
	p.waitListening(t, mode)
	return p
}

// startDaemonOnLAN starts a daemon on store in namespace ns, listening on
// ip:6881, offline, with LAN discovery (the default), and any extra flags.
func startDaemonOnLAN(t *testing.T, ns, ip, store string, extra ...string) *Proc {
	t.Helper()
	if err := os.MkdirAll(store, 0o755); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"daemon", "--store", store, "--gateway", "off", "--listen", ip + ":6881", "--offline"}, extra...)
	p, _ := startCmd(t, time.Minute, daemonReady, inNetns(ns, args...), args)
	return p
}

// TestLANLibtorrentSeeds: libtorrent seeds a collection with LSD on; a
// distswarm daemon on the same link with no --peer finds it by LSD and
// fetches every file from it, verified.
func TestLANLibtorrentSeeds(t *testing.T) {
	RequireLibtorrent(t)
	ns, ips := vethLAN(t, "lts")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	files := Corpus(t, src, 141, ltSizes)
	torrent := filepath.Join(dir, "c.torrent")
	ltCreateCollection(t, src, torrent)
	mirror := filepath.Join(dir, "mirror")
	collectionTree(t, mirror, torrent, files)
	lt := startLTOnLAN(t, ns[0], ips[0], 90*time.Second, "seed", "--torrent", torrent, "--dir", mirror)
	store := filepath.Join(dir, "store")
	daemon := startDaemonOnLAN(t, ns[1], ips[1], store)
	t0 := time.Now()
	mf := WriteManifest(t, dir, files)
	code, out := runInNetns(t, ns[1], 2*time.Minute, append([]string{"fetch", "--store", store, "--torrent", torrent, "--manifest", mf}, Names(files)...)...)
	if code != 0 {
		t.Fatalf("fetch from libtorrent found by LSD: exit %d\n%s\ndaemon:\n%s\nlibtorrent:\n%s", code, out, lastLines(daemon.Stderr(), 20), lastLines(lt.Output(), 20))
	}
	t.Logf("fetch of %d files from libtorrent found by LSD: %s", len(files), time.Since(t0).Round(time.Millisecond))
	CheckPlaced(t, store, files)
	code, done := lt.finish(t, true, 20*time.Second)
	if code != 0 || done["error"] != nil {
		t.Fatalf("libtorrent seed: exit %d, %v", code, done)
	}
	if up := ltNum(done, "payload_up"); up < ltTotalSize(files) {
		t.Errorf("libtorrent uploaded %d payload bytes, less than the %d placed", up, ltTotalSize(files))
	}
}

// TestLANLibtorrentFetches: a distswarm daemon seeds a collection; a
// libtorrent on the same link with LSD on and no --peer finds it and
// downloads the whole collection from it.
func TestLANLibtorrentFetches(t *testing.T) {
	RequireLibtorrent(t)
	ns, ips := vethLAN(t, "ltf")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	files := Corpus(t, src, 142, ltSizes)
	torrent := filepath.Join(dir, "c.torrent")
	ltCreateCollection(t, src, torrent)
	store := filepath.Join(dir, "seedstore")
	daemon := startDaemonOnLAN(t, ns[0], ips[0], store)
	if code, out := runInNetns(t, ns[0], time.Minute, "seed", "--store", store, "--from", src, torrent); code != 0 {
		t.Fatalf("seed through the daemon: %d\n%s", code, out)
	}
	t0 := time.Now()
	out := filepath.Join(dir, "lt")
	lt := startLTOnLAN(t, ns[1], ips[1], 60*time.Second, "download", "--torrent", torrent, "--dir", out)
	code, done := lt.finish(t, false, 90*time.Second)
	if code != 0 || done["complete"] != true {
		t.Fatalf("libtorrent download from distswarm found by LSD: exit %d, %v\ndaemon:\n%s", code, done, lastLines(daemon.Stderr(), 20))
	}
	t.Logf("libtorrent's download of %d files from distswarm found by LSD: %s", len(files), time.Since(t0).Round(time.Millisecond))
	checkLTTree(t, out, torrent, files)
}
