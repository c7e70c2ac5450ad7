package integration

// Interop with the real libtorrent-rasterbar 2.0 (python3-libtorrent),
// driven by testdata/ltpeer.py: collections moving both ways, a hybrid
// v1+v2 torrent libtorrent made, and magnet links (BEP 9) both ways. All
// peers listen on 127.0.0.1 and are connected explicitly; DHT, LSD,
// trackers, UPnP and uTP are off on both sides.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// ltScript is the libtorrent driver, resolved against the package
// directory (go test runs tests there).
func ltScript(t testing.TB) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", "ltpeer.py"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// ltSizes are the interop corpus: empty, tiny and sub-chunk files (under
// 16 KiB), files just around a chunk, and several-MiB files, so a
// collection has pad files before and after files of every kind.
var ltSizes = []int{0, 1, 700, 5000, 16383, 16385, 40000, 300000, 3<<20 + 123, 5<<20 + 7}

// ltJSON returns the last JSON line of out whose "event" is event.
func ltJSON(t testing.TB, out, event string) map[string]any {
	t.Helper()
	var found map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(l, "{") {
			continue
		}
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["event"] == event {
			found = m
		}
	}
	return found
}

// LTPeer is a running ltpeer.py seed or download.
type LTPeer struct {
	*ExtProc
	Port int
}

// Addr is the libtorrent peer's HOST:PORT.
func (p *LTPeer) Addr() string { return fmt.Sprintf("127.0.0.1:%d", p.Port) }

// startLT runs `ltpeer.py MODE --timeout SECS ARGS...` and waits until it
// reports its listen port. The process is bounded by its own --timeout
// and, a little later, killed by StartExt.
func startLT(t testing.TB, timeout time.Duration, mode string, args ...string) *LTPeer {
	t.Helper()
	RequireLibtorrent(t)
	argv := append([]string{ltScript(t), mode, "--listen-ip", "127.0.0.1", "--port", "0",
		"--timeout", fmt.Sprint(int(timeout.Seconds()))}, args...)
	p := &LTPeer{ExtProc: StartExt(t, timeout+20*time.Second, "", Python, argv...)}
	p.waitListening(t, mode)
	return p
}

// waitListening waits until the peer reports its listen port.
func (p *LTPeer) waitListening(t testing.TB, mode string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if m := ltJSON(t, p.Output(), "listening"); m != nil {
			port, ok := m["port"].(float64)
			if !ok || port <= 0 {
				t.Fatalf("libtorrent %s: bad listening line %v", mode, m)
			}
			p.Port = int(port)
			return
		}
		select {
		case <-p.Done():
			t.Fatalf("libtorrent %s exited before listening:\n%s", mode, p.Output())
		case <-deadline:
			t.Fatalf("libtorrent %s not listening within 30s:\n%s", mode, p.Output())
		case <-tick.C:
		}
	}
}

// finish waits (bounded) for the peer to exit, or stops it first when
// stop is set, and returns its exit code and final "done" line.
func (p *LTPeer) finish(t testing.TB, stop bool, d time.Duration) (int, map[string]any) {
	t.Helper()
	if stop {
		p.Stop()
	}
	code, err := p.Wait(d)
	if err != nil {
		t.Fatalf("libtorrent: %v\n%s", err, lastLines(p.Output(), 30))
	}
	done := ltJSON(t, p.Output(), "done")
	if done == nil {
		t.Fatalf("libtorrent printed no done line (exit %d):\n%s", code, lastLines(p.Output(), 30))
	}
	return code, done
}

// ltMake makes a torrent of dir with libtorrent (hybrid unless --v1-only
// is in extra) and returns its "made" line.
func ltMake(t testing.TB, dir, out string, extra ...string) map[string]any {
	t.Helper()
	RequireLibtorrent(t)
	p := StartExt(t, time.Minute, "", Python, append([]string{ltScript(t), "make", dir, "--out", out}, extra...)...)
	code, err := p.Wait(time.Minute)
	if err != nil || code != 0 {
		t.Fatalf("ltpeer make %s: exit %d %v\n%s", dir, code, err, p.Output())
	}
	m := ltJSON(t, p.Output(), "made")
	if m == nil {
		t.Fatalf("ltpeer make printed no made line:\n%s", p.Output())
	}
	return m
}

// ltCreateCollection runs `distswarm collection create` and returns the
// infohash and magnet it prints.
func ltCreateCollection(t testing.TB, src, out string) (infohash, magnet string) {
	t.Helper()
	r := Run(t, time.Minute, "collection", "create", "--from", src, "--out", out)
	if r.Code != 0 {
		t.Fatalf("collection create: exit %d\n%s", r.Code, r.Stderr)
	}
	for _, l := range strings.Split(r.Stdout, "\n") {
		if v, ok := strings.CutPrefix(l, "infohash "); ok {
			infohash = v
		}
		if v, ok := strings.CutPrefix(l, "magnet "); ok {
			magnet = v
		}
	}
	if len(infohash) != 40 || !strings.HasPrefix(magnet, "magnet:?xt=urn:btih:"+infohash) {
		t.Fatalf("collection create printed no infohash/magnet:\n%s", r.Stdout)
	}
	return infohash, magnet
}

// collectionTree lays out what a collection torrent holds under root, as
// libtorrent expects it for seeding: root/distfiles/Manifest (the
// collection Manifest distswarm wrote beside the torrent) and the GLEP 75
// tree of the files. No pad files.
func collectionTree(t testing.TB, root, torrent string, files []File) {
	t.Helper()
	WriteGLEP75Tree(t, root, files)
	mf, err := os.ReadFile(torrent + ".Manifest")
	if err != nil {
		t.Fatalf("collection Manifest sidecar: %v", err)
	}
	if err := os.WriteFile(filepath.Join(root, "distfiles", "Manifest"), mf, 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkLTTree asserts that the tree libtorrent downloaded into dir is
// exactly the collection: distfiles/Manifest equal to the sidecar distswarm
// wrote, every file at its GLEP 75 path with its exact bytes, and nothing
// else (in particular no BEP 47 pad file written to disk).
func checkLTTree(t testing.TB, dir, torrent string, files []File) {
	t.Helper()
	want := []string{"distfiles/Manifest"}
	for _, f := range files {
		rel, err := filepath.Rel(dir, GLEP75Path(dir, f.Name))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, filepath.ToSlash(rel))
	}
	slices.Sort(want)
	got := RegularFiles(t, dir)
	for _, p := range got {
		if strings.Contains(p, ".pad") {
			t.Errorf("libtorrent wrote a pad file %s (BEP 47 pad files must not be written)", p)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("libtorrent's tree:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	mf, err := os.ReadFile(torrent + ".Manifest")
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "distfiles", "Manifest")); err != nil || !bytes.Equal(b, mf) {
		t.Errorf("libtorrent's distfiles/Manifest differs from the collection Manifest (err %v)", err)
	}
	CheckPlaced(t, dir, files)
}

// ltNum returns a numeric field of a done line.
func ltNum(m map[string]any, k string) int64 {
	v, _ := m[k].(float64)
	return int64(v)
}

func ltTotalSize(files []File) int64 {
	var n int64
	for _, f := range files {
		n += int64(len(f.Data))
	}
	return n
}

// ltSubset splits files into those distswarm fetches first (every other
// one, plus the largest: tiny and several-MiB files alike) and the rest,
// so that placing only what was asked is checked too.
func ltSubset(files []File) (want, rest []File) {
	for i, f := range files {
		if i%2 == 0 || len(f.Data) > 4<<20 {
			want = append(want, f)
		} else {
			rest = append(rest, f)
		}
	}
	return want, rest
}

// ltCheckNotPlaced asserts the files were not placed in the store.
func ltCheckNotPlaced(t testing.TB, store string, files []File) {
	t.Helper()
	for _, f := range files {
		if _, err := os.Stat(GLEP75Path(store, f.Name)); err == nil {
			t.Errorf("%s was placed but not asked for", f.Name)
		}
	}
}

// TestInteropLibtorrentSeedsCollection proves that libtorrent can seed a
// collection distswarm created (v1 with BEP 47 pad files, GLEP 75 tree)
// from a plain mirror tree, and that distswarm fetches a subset of it from
// libtorrent alone, verifies it against a Manifest the test wrote and
// places exactly the files asked for; then fetches the rest trusting the
// collection Manifest, which also comes from libtorrent.
func TestInteropLibtorrentSeedsCollection(t *testing.T) {
	RequireLibtorrent(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	files := Corpus(t, src, 101, ltSizes)
	torrent := filepath.Join(dir, "c.torrent")
	ltCreateCollection(t, src, torrent)
	mirror := filepath.Join(dir, "mirror")
	collectionTree(t, mirror, torrent, files)

	lt := startLT(t, 90*time.Second, "seed", "--torrent", torrent, "--dir", mirror)
	mf := WriteManifest(t, dir, files)
	want, rest := ltSubset(files)
	store := filepath.Join(dir, "store")
	r := Run(t, 90*time.Second, append(FetchArgs(store, "--torrent", torrent, "--manifest", mf,
		"--peer", lt.Addr(), "--timeout", "60s"), Names(want)...)...)
	if r.Code != 0 {
		t.Fatalf("fetch from libtorrent: exit %d\n%s\nlibtorrent:\n%s", r.Code, r.Stderr, lastLines(lt.Output(), 20))
	}
	CheckPlaced(t, store, want)
	ltCheckNotPlaced(t, store, rest)

	// The rest with the collection's own Manifest as the authority: it
	// comes from libtorrent too (the torrent's first file, piece-aligned).
	r = Run(t, 90*time.Second, append(FetchArgs(store, "--torrent", torrent, "--trust-collection",
		"--peer", lt.Addr(), "--timeout", "60s"), Names(rest)...)...)
	if r.Code != 0 {
		t.Fatalf("fetch --trust-collection from libtorrent: exit %d\n%s", r.Code, r.Stderr)
	}
	CheckPlaced(t, store, files)

	code, done := lt.finish(t, true, 20*time.Second)
	if code != 0 || done["error"] != nil {
		t.Fatalf("libtorrent seed: exit %d, %v", code, done)
	}
	// distswarm had no other source: libtorrent uploaded at least the
	// bytes of the files placed.
	if up := ltNum(done, "payload_up"); up < ltTotalSize(files) {
		t.Errorf("libtorrent uploaded %d payload bytes, less than the %d placed", up, ltTotalSize(files))
	}
}

// TestInteropLibtorrentDownloadsCollection proves that a distswarm seeder
// serves a collection to libtorrent: libtorrent (honouring BEP 47)
// downloads every file, byte for byte, into the GLEP 75 tree with the
// collection Manifest, and writes no pad files.
func TestInteropLibtorrentDownloadsCollection(t *testing.T) {
	RequireLibtorrent(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	files := Corpus(t, src, 102, ltSizes)
	torrent := filepath.Join(dir, "c.torrent")
	ltCreateCollection(t, src, torrent)
	seeder := StartSeeder(t, append(Loopback, "--store", filepath.Join(dir, "seedstore"), "--from", src, torrent)...)

	out := filepath.Join(dir, "lt")
	lt := startLT(t, 60*time.Second, "download", "--torrent", torrent, "--dir", out, "--peer", seeder.Addr())
	code, done := lt.finish(t, false, 90*time.Second)
	if code != 0 || done["complete"] != true {
		t.Fatalf("libtorrent download from distswarm: exit %d, %v\nseeder:\n%s", code, done, lastLines(seeder.Stderr(), 20))
	}
	if f := ltNum(done, "failed_bytes"); f != 0 {
		t.Errorf("libtorrent saw %d bytes fail their hash check", f)
	}
	checkLTTree(t, out, torrent, files)
}

// TestInteropLibtorrentHybridTorrent proves that distswarm fetches from a
// foreign torrent: a hybrid v1+v2 torrent (with BEP 47 pad files and v2
// piece layers) that libtorrent made of a GLEP 75 tree and seeds. Every
// file is fetched by name, verified against the test's Manifest and
// placed; --trust-collection fails fast, as the torrent has no collection
// Manifest. The v1-only variant (no pad files: files straddle pieces) is
// checked the same way.
func TestInteropLibtorrentHybridTorrent(t *testing.T) {
	RequireLibtorrent(t)
	for _, tc := range []struct {
		name  string
		extra []string
	}{
		{"hybrid", nil},
		{"v1", []string{"--v1-only"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			files := Corpus(t, filepath.Join(dir, "gen"), 103, ltSizes)
			mirror := filepath.Join(dir, "mirror")
			WriteGLEP75Tree(t, mirror, files)
			torrent := filepath.Join(dir, "lt.torrent")
			made := ltMake(t, filepath.Join(mirror, "distfiles"), torrent, tc.extra...)
			hasV2 := made["info_hash_v2"] != nil
			if hasV2 != (tc.name == "hybrid") {
				t.Fatalf("libtorrent made %v, want hybrid=%v", made, tc.name == "hybrid")
			}
			if pads := ltNum(made, "pad_files"); tc.name == "hybrid" && pads == 0 {
				t.Fatalf("hybrid torrent without pad files: %v", made)
			}

			lt := startLT(t, 90*time.Second, "seed", "--torrent", torrent, "--dir", mirror)
			mf := WriteManifest(t, dir, files)
			store := filepath.Join(dir, "store")
			r := Run(t, 90*time.Second, append(FetchArgs(store, "--torrent", torrent, "--manifest", mf,
				"--peer", lt.Addr(), "--timeout", "60s"), Names(files)...)...)
			if r.Code != 0 {
				t.Fatalf("fetch %s torrent from libtorrent: exit %d\n%s\nlibtorrent:\n%s", tc.name, r.Code, r.Stderr, lastLines(lt.Output(), 20))
			}
			CheckPlaced(t, store, files)
			if _, problems := NewStoreChecker(store, files).Check(); len(problems) > 0 {
				t.Errorf("store problems:\n%s", strings.Join(problems, "\n"))
			}

			// The torrent has no collection Manifest: trusting it gives no
			// authority, and the fetch says so at once rather than waiting
			// for its timeout.
			r = Run(t, 30*time.Second, append(FetchArgs(filepath.Join(dir, "store2"), "--torrent", torrent,
				"--trust-collection", "--peer", lt.Addr(), "--timeout", "20s"), files[1].Name)...)
			if r.Code != 1 || !strings.Contains(r.Stderr, "no authority knows its digests") {
				t.Errorf("--trust-collection on a foreign torrent: exit %d\n%s", r.Code, r.Stderr)
			}
		})
	}
}

// TestInteropLibtorrentMagnet proves magnet links work both ways with
// libtorrent: distswarm resolves the info dict from libtorrent by BEP 9
// (for distswarm's own collection magnet, and for libtorrent's hybrid
// magnet carrying both btih and btmh) and fetches; and libtorrent, given
// only the magnet `collection create` printed, gets the metadata from a
// distswarm seeder and downloads the whole collection byte for byte.
func TestInteropLibtorrentMagnet(t *testing.T) {
	RequireLibtorrent(t)

	t.Run("distswarm-from-libtorrent", func(t *testing.T) {
		dir := t.TempDir()
		src := filepath.Join(dir, "src")
		files := Corpus(t, src, 104, ltSizes)
		torrent := filepath.Join(dir, "c.torrent")
		_, magnet := ltCreateCollection(t, src, torrent)
		mirror := filepath.Join(dir, "mirror")
		collectionTree(t, mirror, torrent, files)
		lt := startLT(t, 90*time.Second, "seed", "--torrent", torrent, "--dir", mirror)
		mf := WriteManifest(t, dir, files)
		want, rest := ltSubset(files)
		store := filepath.Join(dir, "store")
		r := Run(t, 90*time.Second, append(FetchArgs(store, "--magnet", magnet, "--manifest", mf,
			"--peer", lt.Addr(), "--timeout", "60s"), Names(want)...)...)
		if r.Code != 0 {
			t.Fatalf("fetch by magnet from libtorrent: exit %d\n%s\nlibtorrent:\n%s", r.Code, r.Stderr, lastLines(lt.Output(), 20))
		}
		CheckPlaced(t, store, want)
		ltCheckNotPlaced(t, store, rest)
	})

	t.Run("distswarm-hybrid-magnet", func(t *testing.T) {
		dir := t.TempDir()
		files := Corpus(t, filepath.Join(dir, "gen"), 105, ltSizes)
		mirror := filepath.Join(dir, "mirror")
		WriteGLEP75Tree(t, mirror, files)
		torrent := filepath.Join(dir, "lt.torrent")
		made := ltMake(t, filepath.Join(mirror, "distfiles"), torrent)
		magnet, _ := made["magnet"].(string)
		if !strings.Contains(magnet, "xt=urn:btih:") || !strings.Contains(magnet, "xt=urn:btmh:") {
			t.Fatalf("libtorrent's hybrid magnet lacks btih or btmh: %q", magnet)
		}
		lt := startLT(t, 90*time.Second, "seed", "--torrent", torrent, "--dir", mirror)
		mf := WriteManifest(t, dir, files)
		store := filepath.Join(dir, "store")
		// The metadata comes over ut_metadata (by the v1 infohash); the
		// torrent then lacks the piece layers of its multi-piece files, and
		// anacrolix v1.61 crashed on the v2 hash exchange it started for
		// them (Torrent.getFileByPiecesRoot). It is refused with a clear
		// error instead; the hybrid .torrent itself works (case above).
		r := Run(t, 90*time.Second, append(FetchArgs(store, "--magnet", magnet, "--manifest", mf,
			"--peer", lt.Addr(), "--timeout", "60s"), Names(files)...)...)
		if r.Code != 1 || !strings.Contains(r.Stderr, "without its piece layers, as from a magnet link: not supported") {
			t.Fatalf("fetch by hybrid magnet from libtorrent: exit %d, want 1 and the refusal\n%s\nlibtorrent:\n%s", r.Code, r.Stderr, lastLines(lt.Output(), 20))
		}
		ltCheckNotPlaced(t, store, files)
	})

	t.Run("libtorrent-from-distswarm", func(t *testing.T) {
		dir := t.TempDir()
		src := filepath.Join(dir, "src")
		files := Corpus(t, src, 106, ltSizes)
		torrent := filepath.Join(dir, "c.torrent")
		infohash, magnet := ltCreateCollection(t, src, torrent)
		seeder := StartSeeder(t, append(Loopback, "--store", filepath.Join(dir, "seedstore"), "--from", src, torrent)...)
		out := filepath.Join(dir, "lt")
		lt := startLT(t, 60*time.Second, "download", "--magnet", magnet, "--dir", out, "--peer", seeder.Addr())
		code, done := lt.finish(t, false, 90*time.Second)
		if code != 0 || done["complete"] != true {
			t.Fatalf("libtorrent download by magnet from distswarm: exit %d, %v\nseeder:\n%s", code, done, lastLines(seeder.Stderr(), 20))
		}
		if done["info_hash_v1"] != infohash {
			t.Errorf("libtorrent got metadata for %v, want %s", done["info_hash_v1"], infohash)
		}
		checkLTTree(t, out, torrent, files)
	})
}
