package integration

// Interop with two independent BitTorrent implementations, Transmission
// 3.00 (transmission-cli) and aria2 1.36, meeting distswarm through a
// loopback opentracker or by a direct dial. Every data byte that crosses
// is checked against the generated corpus.
//
// Client quirks these tests work around (see also the comments below):
//   - Transmission never dials peers in 127.0.0.0/8 (isMartianAddr) but
//     accepts incoming connections: distswarm must dial it, either after
//     finding it in the tracker's peer list or by --peer.
//   - Transmission waits for its ~10 s rechoke before the first byte and
//     never exits on its own: completion is signalled by its -f script and
//     the process is then stopped with SIGTERM.
//   - Neither client implements BEP 47: both write the pad files to disk
//     as real zero-filled files under distfiles/.pad/, and both need them
//     on disk (zero-filled) to seed.
//   - Transmission 3.00 does not create zero-length files (it creates a
//     file when it first writes to it), so an empty distfile is absent
//     from its download directory.
//   - aria2 cannot be given a peer on the command line and needs DHT for
//     UDP trackers, so it only meets distswarm via the HTTP announce.

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anacrolix/torrent/metainfo"
)

// Each client has its own loopback address: Transmission keeps one peer
// per IP, and opentracker must see the peers apart.
const (
	transmissionIP = "127.0.0.11"
	aria2IP        = "127.0.0.12"
)

// trackedCollection is a distswarm collection announced to a loopback
// opentracker that whitelists it.
type trackedCollection struct {
	Dir      string // the test's temporary directory
	Src      string // flat distdir the collection was created from
	Files    []File
	Torrent  string // the .torrent, announcing to Announce
	InfoHash string // 40 hex
	Announce string // opentracker's HTTP announce URL
	// Tree maps every file of the torrent, as a slash path below the
	// download directory ("distfiles/Manifest", "distfiles/ab/name",
	// "distfiles/.pad/N"), to its exact content.
	Tree map[string][]byte
	Pads map[string]bool // the pad file paths in Tree
}

// interopSizes mixes files under one 16 KiB block, around it, and a few
// MiB, so that pad files follow most files and pieces span file ends.
var interopSizes = []int{0, 1, 777, 9000, 16383, 16384, 16385, 40000, 300001, 1<<20 + 3, 2<<20 + 12345, 3<<20 - 1}

// newTrackedCollection generates the corpus, starts an opentracker
// whitelisting the collection, and creates the collection announcing to
// it. The infohash does not cover the announce URL, so the collection is
// created once to learn the infohash for the whitelist and again with the
// tracker's real URL; both must hash the same.
func newTrackedCollection(t *testing.T, seed int64) *trackedCollection {
	t.Helper()
	RequireTool(t, "opentracker")
	dir := t.TempDir()
	tc := &trackedCollection{Dir: dir, Src: filepath.Join(dir, "src")}
	tc.Files = Corpus(t, tc.Src, seed, interopSizes)
	probe := filepath.Join(dir, "probe.torrent")
	ih := createTracked(t, tc.Src, probe, "http://127.0.0.1:1/announce")
	tc.Announce = StartOpentracker(t, ih)
	tc.Torrent = filepath.Join(dir, "c.torrent")
	tc.InfoHash = createTracked(t, tc.Src, tc.Torrent, tc.Announce)
	if tc.InfoHash != ih {
		t.Fatalf("infohash changed with the announce URL: %s then %s", ih, tc.InfoHash)
	}
	tc.Tree, tc.Pads = torrentTree(t, tc.Torrent, tc.Files)
	if len(tc.Pads) == 0 {
		t.Fatal("collection has no pad files; the test would not cover BEP 47")
	}
	return tc
}

var createdInfohash = regexp.MustCompile(`(?m)^infohash ([0-9a-f]{40})$`)

// createTracked runs `distswarm collection create` with one tracker and
// returns the infohash it prints.
func createTracked(t *testing.T, src, out, announce string) string {
	t.Helper()
	r := Run(t, time.Minute, "collection", "create", "--from", src, "--out", out, "--tracker", announce)
	if r.Code != 0 {
		t.Fatalf("collection create: exit %d\n%s", r.Code, r.Stderr)
	}
	m := createdInfohash.FindStringSubmatch(r.Stdout)
	if m == nil {
		t.Fatalf("no infohash in collection create output:\n%s", r.Stdout)
	}
	return m[1]
}

// torrentTree reads the torrent independently (anacrolix's metainfo
// parser only) and maps each of its files to the content it must have:
// the collection Manifest written next to the torrent, the corpus file at
// its GLEP 75 path, or zeros for a pad. It fails on any other file.
func torrentTree(t *testing.T, torrent string, files []File) (map[string][]byte, map[string]bool) {
	t.Helper()
	mi, err := metainfo.LoadFromFile(torrent)
	if err != nil {
		t.Fatal(err)
	}
	if len(mi.AnnounceList) == 0 && mi.Announce == "" {
		t.Fatalf("%s has no tracker", torrent)
	}
	info, err := mi.UnmarshalInfo()
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := os.ReadFile(torrent + ".Manifest")
	if err != nil {
		t.Fatalf("collection Manifest next to the torrent: %v", err)
	}
	byPath := map[string][]byte{}
	for _, f := range files {
		byPath[filepath.ToSlash(GLEP75Path("", f.Name))] = f.Data
	}
	tree := map[string][]byte{}
	pads := map[string]bool{}
	for i, fi := range info.UpvertedFiles() {
		p := info.Name + "/" + strings.Join(fi.BestPath(), "/")
		switch {
		case strings.Contains(fi.Attr, "p"):
			tree[p] = make([]byte, fi.Length)
			pads[p] = true
		case i == 0:
			if p != "distfiles/Manifest" || fi.Length != int64(len(manifest)) {
				t.Fatalf("first file is %s (%d bytes), want distfiles/Manifest (%d bytes)", p, fi.Length, len(manifest))
			}
			tree[p] = manifest
		default:
			data, ok := byPath[p]
			if !ok || int64(len(data)) != fi.Length {
				t.Fatalf("torrent file %s (%d bytes) is not a corpus file at its GLEP 75 path", p, fi.Length)
			}
			tree[p] = data
		}
	}
	for p := range byPath {
		if _, ok := tree[p]; !ok {
			t.Fatalf("corpus file %s missing from the torrent", p)
		}
	}
	return tree, pads
}

// checkDownloadTree asserts that dl holds exactly the torrent's files with
// exactly their content. Pad files may be absent (a BEP 47 client skips
// them) but when written they must be zero-filled at their full length.
// With emptyMayBeMissing, zero-length distfiles may be absent too:
// Transmission 3.00 never creates a file it has no byte to write to.
func (tc *trackedCollection) checkDownloadTree(t *testing.T, who, dl string, emptyMayBeMissing bool) {
	t.Helper()
	have := map[string]bool{}
	for _, p := range RegularFiles(t, dl) {
		have[p] = true
		if _, ok := tc.Tree[p]; !ok {
			t.Errorf("%s wrote unexpected file %s", who, p)
		}
	}
	var data, pads int
	for p, want := range tc.Tree {
		if !have[p] {
			switch {
			case tc.Pads[p]:
			case len(want) == 0 && emptyMayBeMissing:
				t.Logf("%s did not create the empty file %s (known client quirk)", who, p)
			default:
				t.Errorf("%s did not write %s", who, p)
			}
			continue
		}
		got, err := os.ReadFile(filepath.Join(dl, filepath.FromSlash(p)))
		if err != nil {
			t.Errorf("%s: %v", who, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s wrote %s with wrong content (%d bytes, want %d)", who, p, len(got), len(want))
		}
		if tc.Pads[p] {
			pads++
		} else {
			data++
		}
	}
	t.Logf("%s: %d data files byte-identical, %d pad files written to disk (zero-filled)", who, data, pads)
}

// writeSeedTree lays the torrent's files out below root the way a client
// without BEP 47 needs them to seed: the collection Manifest, every
// distfile at its GLEP 75 path (WriteGLEP75Tree) and zero-filled pads.
func (tc *trackedCollection) writeSeedTree(t *testing.T, root string) {
	t.Helper()
	WriteGLEP75Tree(t, root, tc.Files)
	for p, data := range tc.Tree {
		full := filepath.Join(root, filepath.FromSlash(p))
		if _, err := os.Stat(full); err == nil {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

var (
	scrapeComplete   = regexp.MustCompile(`8:completei(\d+)e`)
	scrapeIncomplete = regexp.MustCompile(`10:incompletei(\d+)e`)
)

// waitAnnounced waits (bounded) until the tracker's scrape shows at least
// the given numbers of seeders and leechers for the collection, i.e.
// until those peers announced and will be in later peer lists.
func (tc *trackedCollection) waitAnnounced(t *testing.T, seeders, leechers int, d time.Duration) {
	t.Helper()
	raw, err := hex.DecodeString(tc.InfoHash)
	if err != nil {
		t.Fatal(err)
	}
	u := strings.TrimSuffix(tc.Announce, "/announce") + "/scrape?info_hash=" + url.QueryEscape(string(raw))
	deadline := time.Now().Add(d)
	var last string
	for {
		resp, err := http.Get(u)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			last = string(b)
			c, i := scrapeComplete.FindStringSubmatch(last), scrapeIncomplete.FindStringSubmatch(last)
			if c != nil && i != nil {
				nc, _ := strconv.Atoi(c[1])
				ni, _ := strconv.Atoi(i[1])
				if nc >= seeders && ni >= leechers {
					return
				}
			}
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			t.Fatalf("tracker did not see %d seeder(s) and %d leecher(s) within %s; last scrape: %q", seeders, leechers, d, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// doneHook writes a shell script that creates flag when run.
func doneHook(t *testing.T, script, flag string) {
	t.Helper()
	body := fmt.Sprintf("#!/bin/sh\n: > %q\n", flag)
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
}

// waitFile waits (bounded) until path exists, failing early if p exits.
func waitFile(t *testing.T, p *ExtProc, path string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		select {
		case <-p.Done():
			t.Fatalf("%s exited before %s appeared", p.Name, filepath.Base(path))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not finish within %s (%s never appeared)", p.Name, d, filepath.Base(path))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startTransmission runs transmission-cli on transmissionIP with the
// torrent, its data in dir (downloaded there, or seeded from there), and
// returns the process and its peer address. DHT, LPD, uTP, port mapping
// and RPC are off; the config lives in a temporary directory. onDone, if
// set, is a script Transmission runs when the download completes.
func startTransmission(t *testing.T, torrent, dir, onDone string) (*ExtProc, string) {
	t.Helper()
	bin := RequireTool(t, "transmission-cli")
	var p *ExtProc
	port := OnFreePort(t, transmissionIP, func(port int) error {
		p = runTransmission(t, bin, torrent, dir, onDone, port)
		if err := WaitOwnListener(p, transmissionIP, port, 20*time.Second); err != nil {
			p.Stop()
			return err
		}
		return nil
	})
	addr := fmt.Sprintf("%s:%d", transmissionIP, port)
	return p, addr
}

// runTransmission starts transmission-cli on transmissionIP:port with its
// config in a new temporary directory (see startTransmission).
func runTransmission(t *testing.T, bin, torrent, dir, onDone string, port int) *ExtProc {
	t.Helper()
	cfg := t.TempDir()
	settings := fmt.Sprintf(`{"bind-address-ipv4": %q, "bind-address-ipv6": "::1",
 "dht-enabled": false, "lpd-enabled": false, "utp-enabled": false, "pex-enabled": false,
 "port-forwarding-enabled": false, "rpc-enabled": false, "blocklist-enabled": false,
 "peer-port": %d, "peer-port-random-on-start": false, "rename-partial-files": false,
 "download-queue-enabled": false, "seed-queue-enabled": false,
 "speed-limit-down-enabled": false, "speed-limit-up-enabled": false,
 "ratio-limit-enabled": false, "idle-seeding-limit-enabled": false,
 "message-level": 2}`, transmissionIP, port)
	if err := os.WriteFile(filepath.Join(cfg, "settings.json"), []byte(settings), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-g", cfg, "-w", dir, "-p", strconv.Itoa(port)}
	if onDone != "" {
		args = append(args, "-f", onDone)
	}
	return StartExt(t, 2*time.Minute, cfg, bin, append(args, torrent)...)
}

// startAria2 starts aria2c in cwd with aria2Args for data on a free port
// and the extra args, bounded by timeout. A leecher may finish before it is seen
// listening: only a port found taken makes it start again on another;
// the caller's Wait reports any other failure.
func startAria2(t *testing.T, bin, cwd, data string, timeout time.Duration, extra ...string) *ExtProc {
	t.Helper()
	var p *ExtProc
	OnFreePort(t, aria2IP, func(port int) error {
		p = StartExt(t, timeout, cwd, bin, append(aria2Args(port, data), extra...)...)
		if err := WaitOwnListener(p, aria2IP, port, 20*time.Second); errors.Is(err, errPortTaken) {
			p.Stop()
			return err
		}
		return nil
	})
	return p
}

// aria2Args are the options every aria2c run gets: loopback address only,
// no DHT, LPD or IPv6, no renaming or metadata files.
func aria2Args(port int, dir string) []string {
	return []string{
		"--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
		"--enable-peer-exchange=false", "--disable-ipv6=true", "--file-allocation=none",
		"--summary-interval=0", "--console-log-level=notice", "--auto-file-renaming=false",
		"--allow-overwrite=true", "--bt-save-metadata=false", "--rpc-save-upload-metadata=false",
		"--interface=" + aria2IP, "--listen-port=" + strconv.Itoa(port), "--dir=" + dir,
	}
}

// seedDistswarm starts a distswarm seeder of the collection from its flat
// source directory, announcing to the tracker (no DHT, not --offline).
func (tc *trackedCollection) seedDistswarm(t *testing.T, extra ...string) *Proc {
	t.Helper()
	args := []string{"--listen", "127.0.0.1:0", "--no-dht", "--store", filepath.Join(tc.Dir, "seedstore"), "--from", tc.Src}
	args = append(args, extra...)
	return StartSeeder(t, append(args, tc.Torrent)...)
}

// TestInteropTransmissionLeechesFromDistswarm proves a distswarm seeder
// serves Transmission 3.00 every byte of a collection with pad files: both
// meet through opentracker (Transmission announces first; the distswarm
// seeder's announce returns Transmission's address and distswarm dials it,
// since Transmission never dials loopback peers), and Transmission's
// download directory ends up holding the collection Manifest and every
// distfile byte-identical at its GLEP 75 path (plus zero-filled .pad files,
// which Transmission writes because it does not implement BEP 47).
func TestInteropTransmissionLeechesFromDistswarm(t *testing.T) {
	RequireTool(t, "transmission-cli")
	tc := newTrackedCollection(t, 301)
	dl := filepath.Join(tc.Dir, "tr-dl")
	if err := os.MkdirAll(dl, 0o755); err != nil {
		t.Fatal(err)
	}
	flag := filepath.Join(tc.Dir, "tr-done")
	hook := filepath.Join(tc.Dir, "tr-done.sh")
	doneHook(t, hook, flag)
	tr, _ := startTransmission(t, tc.Torrent, dl, hook)
	tc.waitAnnounced(t, 0, 1, 30*time.Second)

	started := time.Now()
	seeder := tc.seedDistswarm(t)
	waitFile(t, tr, flag, 90*time.Second)
	t.Logf("Transmission complete %s after the distswarm seeder started", time.Since(started).Round(100*time.Millisecond))
	tr.Stop() // flushes and closes its files
	seeder.Stop()
	tc.checkDownloadTree(t, "transmission", dl, true)
}

// TestInteropAria2LeechesFromDistswarm proves aria2 1.36 downloads a whole
// collection with pad files from a distswarm seeder it finds only through
// opentracker's HTTP announce (aria2 takes no peer on its command line),
// and that every byte it wrote matches: the collection Manifest and each
// distfile at its GLEP 75 path (pads, which aria2 writes as ordinary
// files, must be zero-filled). It also checks that the freshly started
// distswarm seeder is counted as a seeder by the tracker (it used to
// announce left=<everything> before its first hash check, commit 7935a75).
func TestInteropAria2LeechesFromDistswarm(t *testing.T) {
	bin := RequireTool(t, "aria2c")
	tc := newTrackedCollection(t, 302)
	seeder := tc.seedDistswarm(t)
	tc.waitAnnounced(t, 1, 0, 30*time.Second)

	dl := filepath.Join(tc.Dir, "aria2-dl")
	started := time.Now()
	// Bounded by the process timeout (it exits once complete: --seed-time=0),
	// not by an aria2 --stop deadline of its own.
	a := startAria2(t, bin, tc.Dir, dl, 90*time.Second, "--seed-time=0", tc.Torrent)
	code, err := a.Wait(90 * time.Second)
	if err != nil || code != 0 {
		t.Fatalf("aria2c: exit %d (%v)\n%s", code, err, lastLines(a.Output(), 30))
	}
	t.Logf("aria2 complete in %s", time.Since(started).Round(100*time.Millisecond))
	seeder.Stop()
	tc.checkDownloadTree(t, "aria2", dl, false)
}

// TestInteropTransmissionSeedsDistswarm proves distswarm fetches from
// Transmission 3.00: Transmission seeds the collection from a GLEP 75
// tree (with the zero-filled pad files it needs, having no BEP 47), and
// distswarm, dialing it with --peer while also announcing to opentracker,
// fetches a subset that includes tiny files next to pads and multi-MiB
// files, verifies them against its own Manifest and places them at their
// GLEP 75 paths, byte-identical. Files not asked for are not placed.
func TestInteropTransmissionSeedsDistswarm(t *testing.T) {
	RequireTool(t, "transmission-cli")
	tc := newTrackedCollection(t, 303)
	data := filepath.Join(tc.Dir, "tr-data")
	tc.writeSeedTree(t, data)
	_, addr := startTransmission(t, tc.Torrent, data, "")
	// Seeder in the tracker means Transmission verified its data.
	tc.waitAnnounced(t, 1, 0, 60*time.Second)

	var want, skip []File
	for i, f := range tc.Files {
		if i%3 == 2 {
			skip = append(skip, f)
		} else {
			want = append(want, f)
		}
	}
	mf := WriteManifest(t, tc.Dir, tc.Files)
	store := filepath.Join(tc.Dir, "leech")
	args := []string{"fetch", "--listen", "127.0.0.1:0", "--no-dht", "--store", store,
		"--torrent", tc.Torrent, "--manifest", mf, "--peer", addr, "--timeout", "90s"}
	started := time.Now()
	r := Run(t, 2*time.Minute, append(args, Names(want)...)...)
	if r.Code != 0 {
		t.Fatalf("fetch from Transmission: exit %d\n%s", r.Code, r.Stderr)
	}
	t.Logf("distswarm fetched %d files from Transmission in %s", len(want), time.Since(started).Round(100*time.Millisecond))
	CheckPlaced(t, store, want)
	for _, f := range skip {
		if _, err := os.Stat(GLEP75Path(store, f.Name)); err == nil {
			t.Errorf("%s placed but not asked for", f.Name)
		}
	}
}

// TestInteropAria2SeedsDistswarm proves distswarm fetches a whole
// collection from aria2 1.36 found only through opentracker (no --peer):
// aria2 seeds from a GLEP 75 tree plus zero-filled pads after checking
// it, distswarm announces, gets aria2's address, downloads, verifies
// against its Manifest and places every distfile byte-identical.
func TestInteropAria2SeedsDistswarm(t *testing.T) {
	bin := RequireTool(t, "aria2c")
	tc := newTrackedCollection(t, 304)
	data := filepath.Join(tc.Dir, "aria2-data")
	tc.writeSeedTree(t, data)
	// It seeds until the test stops it (--seed-ratio=0.0: no ratio limit;
	// --seed-time in minutes, longer than the process timeout).
	startAria2(t, bin, tc.Dir, data, 4*time.Minute,
		"--check-integrity=true", "--seed-ratio=0.0", "--seed-time=10", tc.Torrent)
	tc.waitAnnounced(t, 1, 0, 60*time.Second)

	mf := WriteManifest(t, tc.Dir, tc.Files)
	store := filepath.Join(tc.Dir, "leech")
	fargs := []string{"fetch", "--listen", "127.0.0.1:0", "--no-dht", "--store", store,
		"--torrent", tc.Torrent, "--manifest", mf, "--timeout", "90s", "--all"}
	started := time.Now()
	r := Run(t, 2*time.Minute, fargs...)
	if r.Code != 0 {
		t.Fatalf("fetch from aria2: exit %d\n%s", r.Code, r.Stderr)
	}
	t.Logf("distswarm fetched %d files from aria2 in %s", len(tc.Files), time.Since(started).Round(100*time.Millisecond))
	CheckPlaced(t, store, tc.Files)
}
