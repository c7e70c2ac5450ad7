package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anacrolix/torrent/metainfo"
)

// lanJSON is the part of `distswarm lan --json` the tests read.
type lanJSON struct {
	Peers   []lanPeerJSON `json:"peers"`
	Learned []struct {
		InfoHash string `json:"infohash"`
		Files    int    `json:"files"`
		Manifest bool   `json:"manifest"`
	} `json:"learned"`
}

type lanPeerJSON struct {
	Addr       string   `json:"addr"`
	Infohashes []string `json:"infohashes"`
}

// waitLearned polls `distswarm lan --json` on store until the daemon has
// learned ih with its Manifest, and returns the last answer.
func waitLearned(t *testing.T, store, ih string, within time.Duration, daemons ...*Proc) lanJSON {
	t.Helper()
	deadline := time.Now().Add(within)
	var last lanJSON
	for {
		r := Run(t, 30*time.Second, "lan", "--store", store, "--json")
		if r.Code != 0 {
			t.Fatalf("lan --json: exit %d\n%s", r.Code, r.Stderr)
		}
		last = lanJSON{}
		if err := json.Unmarshal([]byte(r.Stdout), &last); err != nil {
			t.Fatalf("lan --json: %v\n%s", err, r.Stdout)
		}
		for _, l := range last.Learned {
			if l.InfoHash == ih && l.Manifest {
				return last
			}
		}
		if time.Now().After(deadline) {
			var logs []string
			for _, d := range daemons {
				logs = append(logs, lastLines(d.Stderr(), 20))
			}
			t.Fatalf("collection %s not learned within %s: %s\ndaemons:\n%s", ih, within, r.Stdout, strings.Join(logs, "\n---\n"))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// TestLANLearnsCollection: daemon A seeds a collection; daemon B, on the
// same link, is given nothing (no --torrent, --peer, tracker or DHT). B
// learns the collection from A's LAN announces (info and Manifest only),
// `distswarm lan --json` on B lists A and the collection, Portage mode
// through B gets a file from A's swarm, and `distswarm fetch NAME`
// through B gets the files from A, verified. A name
// no collection lists fails with a clear error. The learned collection
// is kept apart from the store's own (never trusted as an authority).
func TestLANLearnsCollection(t *testing.T) {
	ns, ips := vethLAN(t, "lrn")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	files := Corpus(t, src, 151, []int{400000, 1 << 20, 90000})
	torrent := filepath.Join(dir, "c.torrent")
	if r := Run(t, time.Minute, "collection", "create", "--from", src, "--out", torrent); r.Code != 0 {
		t.Fatalf("collection create: %s", r.Stderr)
	}
	mi, err := metainfo.LoadFromFile(torrent)
	if err != nil {
		t.Fatal(err)
	}
	ih := mi.HashInfoBytes().HexString()
	mf := WriteManifest(t, dir, files)
	stores := [2]string{filepath.Join(dir, "storeA"), filepath.Join(dir, "storeB")}
	a := startLearningDaemon(t, ns[0], ips[0], stores[0])
	if code, out := runInNetns(t, ns[0], time.Minute, "seed", "--store", stores[0], "--from", src, torrent); code != 0 {
		t.Fatalf("seed through daemon A: %d\n%s", code, out)
	}
	b := startLearningDaemon(t, ns[1], ips[1], stores[1])
	t0 := time.Now()
	lan := waitLearned(t, stores[1], ih, 90*time.Second, a, b)
	t.Logf("daemon B learned the collection from the LAN in %s", time.Since(t0).Round(time.Millisecond))
	if !slices.ContainsFunc(lan.Peers, func(p lanPeerJSON) bool {
		return strings.HasPrefix(p.Addr, ips[0]+":") && slices.Contains(p.Infohashes, ih)
	}) {
		t.Errorf("lan --json on B does not list A (%s) announcing %s: %+v", ips[0], ih, lan.Peers)
	}
	checkLearnedApart(t, stores[1], ih)

	// Portage mode through B: the file comes from the learned collection's
	// swarm (its URI is a closed port).
	out := filepath.Join(dir, "distdir", files[0].Name)
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	code, pout := runInNetns(t, ns[1], 2*time.Minute, "fetch", "--store", stores[1], "--uri", "http://127.0.0.1:9/"+files[0].Name,
		"--out", out, "--digests", DigestsArg(files[0]), "--swarm-timeout", "90s")
	if code != 0 || !strings.Contains(pout, "from swarm") {
		t.Fatalf("Portage mode through B: exit %d, want the file from the swarm:\n%s\ndaemon B:\n%s", code, pout, lastLines(b.Stderr(), 20))
	}
	fetch := append([]string{"fetch", "--store", stores[1], "--manifest", mf}, Names(files)...)
	code, fout := runInNetns(t, ns[1], 2*time.Minute, fetch...)
	if code != 0 {
		t.Fatalf("fetch NAME through B (no --torrent): exit %d\n%s\ndaemon A:\n%s\ndaemon B:\n%s", code, fout,
			lastLines(a.Stderr(), 20), lastLines(b.Stderr(), 20))
	}
	CheckPlaced(t, stores[1], files)

	code, fout = runInNetns(t, ns[1], time.Minute, "fetch", "--store", stores[1], "--manifest", mf, "nosuchfile-1.0.tar.gz")
	if code != 1 || !strings.Contains(fout, "not in any collection") || !strings.Contains(fout, "1 learned from the LAN") {
		t.Errorf("fetch of a name no collection lists: exit %d, want 1 saying it is in none of the collections known (1 learned from the LAN):\n%s", code, fout)
	}
}

// startLearningDaemon is startDaemonOnLAN logging at info level (what it
// learned from the LAN, and why not).
func startLearningDaemon(t *testing.T, ns, ip, store string) *Proc {
	t.Helper()
	return startDaemonOnLAN(t, ns, ip, store, "--log-level", "info")
}

// checkLearnedApart: the learned torrent is in STORE/collections/lan, not
// among the store's own collections (whose Manifests a daemon trusts).
func checkLearnedApart(t *testing.T, store, ih string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(store, "collections", "lan", ih+".torrent")); err != nil {
		t.Errorf("learned collection not kept in the store: %v", err)
	}
	if _, err := os.Stat(filepath.Join(store, "collections", ih+".torrent")); err == nil {
		t.Errorf("learned collection %s remembered among the store's own collections", ih)
	}
	if _, err := os.Stat(filepath.Join(store, "collections", ih+".Manifest")); err != nil {
		t.Errorf("learned collection's Manifest not fetched: %v", err)
	}
}
