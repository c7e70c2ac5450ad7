package collection

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anacrolix/torrent/metainfo"
	"golang.org/x/crypto/blake2b"

	"github.com/distswarm/distswarm/manifest"
	"github.com/distswarm/distswarm/storage/layout"
)

// testFiles returns deterministic distfiles: name → content.
func testFiles(seed int64, n int, maxSize int) map[string][]byte {
	r := rand.New(rand.NewSource(seed))
	files := map[string][]byte{}
	for i := 0; i < n; i++ {
		size := r.Intn(maxSize + 1)
		if i%7 == 0 {
			size = 0
		}
		b := make([]byte, size)
		r.Read(b)
		files[fmt.Sprintf("pkg%d-1.%d.tar.gz", i, r.Intn(100))] = b
	}
	return files
}

// writeTree writes files under dir, flat or at their default GLEP 75 path.
func writeTree(t *testing.T, dir string, files map[string][]byte, nested bool) {
	t.Helper()
	for name, data := range files {
		p := name
		if nested {
			var ok bool
			p, ok = layout.Default().Path(name, nil)
			if !ok {
				t.Fatalf("layout path of %q", name)
			}
		}
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func mustCreate(t *testing.T, o CreateOptions) *Collection {
	t.Helper()
	c, err := Create(context.Background(), o)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return c
}

func mustInfo(t *testing.T, mi *metainfo.MetaInfo) metainfo.Info {
	t.Helper()
	info, err := mi.UnmarshalInfo()
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func TestLayoutBuckets(t *testing.T) {
	for name, want := range map[string]string{
		"which-2.23.tar.gz": "80/which-2.23.tar.gz",
		"foo-1.tar.gz":      "1b/foo-1.tar.gz",
	} {
		if got, _ := layout.Default().Path(name, nil); got != want {
			t.Errorf("layout path %q = %q, want %q", name, got, want)
		}
	}
	dir := t.TempDir()
	writeTree(t, dir, map[string][]byte{"which-2.23.tar.gz": []byte("w"), "foo-1.tar.gz": []byte("f")}, false)
	c := mustCreate(t, CreateOptions{From: dir})
	info := mustInfo(t, c.Torrents[0])
	var paths []string
	for _, f := range info.Files {
		paths = append(paths, strings.Join(f.Path, "/"))
	}
	want := fmt.Sprint([]string{"Manifest", fmt.Sprintf(".pad/%d", info.PieceLength-int64(info.Files[0].Length)), "1b/foo-1.tar.gz", fmt.Sprintf(".pad/%d", info.PieceLength-1), "80/which-2.23.tar.gz"})
	if fmt.Sprint(paths) != want {
		t.Errorf("files %v, want %v", paths, want)
	}
	if info.Name != "distfiles" {
		t.Errorf("name %q", info.Name)
	}
}

func TestDeterministic(t *testing.T) {
	files := testFiles(1, 60, 100<<10)
	flat, nested, junk := t.TempDir(), t.TempDir(), t.TempDir()
	writeTree(t, flat, files, false)
	writeTree(t, nested, files, true)
	writeTree(t, junk, files, true)
	// Things Create must ignore.
	for _, p := range []string{".hidden", "layout.conf.bak/../layout.conf", "x.tar.gz.__download__", "y.tar.gz._checksum_failure_.abc", ".partial/z.tar.gz", ".distswarm/Manifest", ".quarantine/q"} {
		full := filepath.Join(junk, filepath.FromSlash(p))
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte("junk"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// layout.conf with the default layout: same tree.
	os.WriteFile(filepath.Join(junk, "layout.conf"), []byte("[structure]\n0=filename-hash BLAKE2B 8\n1=flat\n"), 0o644)
	var hashes []string
	for _, d := range []string{flat, nested, junk} {
		c := mustCreate(t, CreateOptions{From: d})
		if len(c.Torrents) != 1 || c.Index != nil {
			t.Fatalf("%d torrents, index %v", len(c.Torrents), c.Index)
		}
		hashes = append(hashes, c.Torrents[0].HashInfoBytes().HexString())
	}
	if hashes[0] != hashes[1] || hashes[0] != hashes[2] {
		t.Errorf("infohashes differ: %v", hashes)
	}
	// Different content → different infohash.
	other := t.TempDir()
	files["pkg0-extra.tar.gz"] = []byte("x")
	writeTree(t, other, files, false)
	if h := mustCreate(t, CreateOptions{From: other}).Torrents[0].HashInfoBytes().HexString(); h == hashes[0] {
		t.Error("adding a file did not change the infohash")
	}
}

// stream reconstructs a torrent's data: pads are zeros, the Manifest comes
// from the collection, distfiles from dir at their torrent path.
func stream(t *testing.T, info *metainfo.Info, mdata []byte, dir string) []byte {
	t.Helper()
	var b bytes.Buffer
	for i, f := range info.Files {
		switch {
		case f.Attr == "p":
			b.Write(make([]byte, f.Length))
		case i == 0:
			b.Write(mdata)
		default:
			data, err := os.ReadFile(filepath.Join(dir, filepath.Join(f.Path...)))
			if err != nil {
				t.Fatal(err)
			}
			b.Write(data)
		}
	}
	return b.Bytes()
}

func checkTorrent(t *testing.T, mi *metainfo.MetaInfo, mdata []byte, dir string, files map[string][]byte) {
	t.Helper()
	info := mustInfo(t, mi)
	pl := info.PieceLength

	// Pads exactly where needed; every real file piece-aligned.
	var off int64
	for i, f := range info.Files {
		isPad := f.Attr == "p"
		if isPad != (f.Path[0] == ".pad") {
			t.Errorf("file %d %v: attr %q", i, f.Path, f.Attr)
		}
		if !isPad && off%pl != 0 {
			t.Errorf("file %v starts at %d, not a piece boundary", f.Path, off)
		}
		last := i == len(info.Files)-1
		needPad := !isPad && !last && f.Length%pl != 0
		nextIsPad := !last && info.Files[i+1].Attr == "p"
		if needPad != nextIsPad {
			t.Errorf("file %v (%d bytes): pad follows = %v, want %v", f.Path, f.Length, nextIsPad, needPad)
		}
		if needPad && nextIsPad {
			want := pl - f.Length%pl
			if p := info.Files[i+1]; p.Length != want || p.Path[1] != fmt.Sprint(want) {
				t.Errorf("pad after %v: %v %d, want %d", f.Path, p.Path, p.Length, want)
			}
		}
		off += f.Length
	}
	if info.Files[len(info.Files)-1].Attr == "p" {
		t.Error("torrent ends with a pad")
	}

	// SHA-1 pieces over the zero-padded stream.
	data := stream(t, &info, mdata, dir)
	if int64(len(data)) != info.TotalLength() {
		t.Fatalf("stream %d bytes, info %d", len(data), info.TotalLength())
	}
	for i := 0; i < info.NumPieces(); i++ {
		end := min(int64(i+1)*pl, int64(len(data)))
		sum := sha1.Sum(data[int64(i)*pl : end])
		if !bytes.Equal(sum[:], info.Pieces[i*20:i*20+20]) {
			t.Fatalf("piece %d hash mismatch", i)
		}
	}

	// The Manifest parses and its digests are right.
	p, ok := ManifestFile(&info)
	if !ok {
		t.Fatal("no collection Manifest")
	}
	m, err := manifest.Parse(bytes.NewReader(mdata), strings.Join(p, "/"))
	if err != nil {
		t.Fatalf("parse collection Manifest: %v", err)
	}
	dist := m.Dist()
	if len(dist) != len(info.Files)-1-countPads(&info) {
		t.Errorf("Manifest has %d entries for %d files", len(dist), len(info.Files)-1-countPads(&info))
	}
	var names []string
	for _, e := range m.Entries {
		names = append(names, e.Path)
		want, ok := files[e.Path]
		if !ok {
			t.Errorf("Manifest lists unknown %q", e.Path)
			continue
		}
		b2 := blake2b.Sum512(want)
		s5 := sha512.Sum512(want)
		if e.Size != int64(len(want)) || e.Digests["BLAKE2B"] != hex.EncodeToString(b2[:]) || e.Digests["SHA512"] != hex.EncodeToString(s5[:]) {
			t.Errorf("Manifest entry %v is wrong", e)
		}
	}
	for i := 1; i < len(names); i++ {
		if names[i-1] >= names[i] {
			t.Errorf("Manifest not sorted by name: %q before %q", names[i-1], names[i])
		}
	}
}

func countPads(info *metainfo.Info) int {
	n := 0
	for _, f := range info.Files {
		if f.Attr == "p" {
			n++
		}
	}
	return n
}

func TestTorrentContent(t *testing.T) {
	files := testFiles(2, 40, 70<<10)
	files["exact-16k.bin"] = bytes.Repeat([]byte{7}, 16<<10)
	files["name with space.tar.gz"] = []byte("spaces are escaped in Manifests")
	dir := t.TempDir()
	writeTree(t, dir, files, true)
	for _, pl := range []int64{0, 16 << 10, 64 << 10} {
		c := mustCreate(t, CreateOptions{From: dir, PieceLength: pl})
		info := mustInfo(t, c.Torrents[0])
		if pl != 0 && info.PieceLength != pl {
			t.Errorf("piece length %d, want %d", info.PieceLength, pl)
		}
		checkTorrent(t, c.Torrents[0], c.Manifests[0], filepath.Join(dir), files)
	}
}

func TestFlatManifestCollision(t *testing.T) {
	files := map[string][]byte{"Manifest": []byte("a distfile named Manifest"), "a-1.tar.gz": []byte("a")}
	dir := t.TempDir()
	writeTree(t, dir, files, false)
	os.WriteFile(filepath.Join(dir, "layout.conf"), []byte("[structure]\n0=flat\n"), 0o644)
	c := mustCreate(t, CreateOptions{From: dir, Name: "mirror"})
	info := mustInfo(t, c.Torrents[0])
	if p, _ := ManifestFile(&info); fmt.Sprint(p) != "[Manifest.distswarm]" {
		t.Errorf("collection Manifest at %v", p)
	}
	checkTorrent(t, c.Torrents[0], c.Manifests[0], dir, files)
}

func TestWebseedsAndTrackers(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string][]byte{"a-1.tar.gz": []byte("a")}, false)
	c := mustCreate(t, CreateOptions{From: dir, Webseeds: []string{"https://m1/", "http://m2/gentoo"}, Trackers: []string{"udp://t1:6969", "http://t2/announce"}})
	if got := fmt.Sprint(c.Torrents[0].UrlList); got != "[https://m1/ http://m2/gentoo/]" {
		t.Errorf("webseeds %s", got)
	}
	if c.Torrents[0].Announce != "udp://t1:6969" || len(c.Torrents[0].AnnounceList) != 2 {
		t.Errorf("trackers %q %v", c.Torrents[0].Announce, c.Torrents[0].AnnounceList)
	}
	mags := c.Magnets()
	if len(mags) != 1 || !strings.Contains(mags[0], c.Torrents[0].HashInfoBytes().HexString()) || !strings.Contains(mags[0], "ws=") {
		t.Errorf("magnets %v", mags)
	}
	if _, err := Create(context.Background(), CreateOptions{From: dir, Webseeds: []string{"ftp://x/"}}); err == nil {
		t.Error("ftp webseed accepted")
	}
	for _, bad := range []int64{2048, 12288} {
		if _, err := Create(context.Background(), CreateOptions{From: dir, PieceLength: bad}); err == nil {
			t.Errorf("piece length %d accepted (below the minimum or not a power of two)", bad)
		}
	}
	if _, err := Create(context.Background(), CreateOptions{From: t.TempDir()}); err == nil {
		t.Error("empty distdir accepted")
	}
}

func TestShardedRoundTrip(t *testing.T) {
	files := testFiles(3, 80, 40<<10)
	files["big-1.tar.xz"] = bytes.Repeat([]byte("big"), 400_000) // 1.2 MB: large class
	dir := t.TempDir()
	writeTree(t, dir, files, true)
	c := mustCreate(t, CreateOptions{From: dir, MaxFilesPerTorrent: 8, Webseeds: []string{"https://mirror"}})
	if c.Index == nil || c.Index.ShardRule.HexDigits != 1 || c.Index.ShardRule.SmallBelow != DefaultSmallBelow {
		t.Fatalf("index %+v", c.Index)
	}
	if len(c.Torrents) != len(c.Index.Shards) || len(c.Torrents) < 10 {
		t.Fatalf("%d torrents, %d shards", len(c.Torrents), len(c.Index.Shards))
	}
	total := 0
	for i, mi := range c.Torrents {
		checkTorrent(t, mi, c.Manifests[i], dir, files)
		total += c.Index.Shards[i].Files
	}
	if total != len(files) {
		t.Errorf("shards hold %d files, want %d", total, len(files))
	}

	out := filepath.Join(t.TempDir(), "collection.json")
	if err := c.Write(out); err != nil {
		t.Fatal(err)
	}
	l, err := Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Torrents) != len(c.Torrents) {
		t.Fatalf("loaded %d torrents", len(l.Torrents))
	}
	for i := range l.Torrents {
		if l.Torrents[i].HashInfoBytes() != c.Torrents[i].HashInfoBytes() {
			t.Errorf("shard %d infohash changed", i)
		}
		if !bytes.Equal(l.Manifests[i], c.Manifests[i]) {
			t.Errorf("shard %d Manifest not loaded", i)
		}
	}
	for name, data := range files {
		mi, err := l.TorrentFor(name, int64(len(data)))
		if err != nil {
			t.Fatalf("TorrentFor(%q): %v", name, err)
		}
		info := mustInfo(t, mi)
		want, _ := layout.Default().Path(name, nil)
		found := false
		for _, f := range info.Files {
			found = found || strings.Join(f.Path, "/") == want
		}
		if !found {
			t.Errorf("TorrentFor(%q) picked a shard without it", name)
		}
	}
	if _, err := l.TorrentFor("big-1.tar.xz", -1); err == nil {
		t.Error("TorrentFor without a size accepted in a size-classed collection")
	}
	// Tampering: the index's infohash must match the shard torrent.
	data, _ := os.ReadFile(out)
	bad := strings.Replace(string(data), l.Index.Shards[0].InfoHash, strings.Repeat("0", 40), 1)
	os.WriteFile(out, []byte(bad), 0o644)
	if _, err := Load(out); err == nil || !strings.Contains(err.Error(), "infohash") {
		t.Errorf("Load of a tampered index: %v", err)
	}
}

func TestSingleWriteLoad(t *testing.T) {
	files := testFiles(4, 10, 30<<10)
	dir := t.TempDir()
	writeTree(t, dir, files, false)
	c := mustCreate(t, CreateOptions{From: dir})
	out := filepath.Join(t.TempDir(), "c.torrent")
	if err := c.Write(out); err != nil {
		t.Fatal(err)
	}
	l, err := Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if l.Index != nil || len(l.Torrents) != 1 || l.Torrents[0].HashInfoBytes() != c.Torrents[0].HashInfoBytes() || !bytes.Equal(l.Manifests[0], c.Manifests[0]) {
		t.Fatal("round trip changed the collection")
	}
	if mi, err := l.TorrentFor("anything", 1); err != nil || mi != l.Torrents[0] {
		t.Errorf("TorrentFor: %v", err)
	}
	// A Manifest sidecar that does not match is rejected.
	os.WriteFile(out+ManifestSuffix, bytes.ToUpper(c.Manifests[0]), 0o644)
	if _, err := Load(out); err == nil {
		t.Error("mismatching Manifest sidecar accepted")
	}
}

func TestProgressAndCancel(t *testing.T) {
	files := testFiles(6, 30, 3<<20) // some files go through Fanout
	dir := t.TempDir()
	writeTree(t, dir, files, true)
	var total int64
	for _, b := range files {
		total += int64(len(b))
	}
	var last, calls int64
	c := mustCreate(t, CreateOptions{From: dir, Progress: func(done, tot int64) {
		if tot != total || done < last || done > tot {
			t.Errorf("progress %d/%d after %d (total %d)", done, tot, last, total)
		}
		last = done
		calls++
	}})
	if last != total || calls == 0 {
		t.Errorf("progress ended at %d/%d after %d calls", last, total, calls)
	}
	checkTorrent(t, c.Torrents[0], c.Manifests[0], dir, files)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Create(ctx, CreateOptions{From: dir}); err == nil {
		t.Error("cancelled Create succeeded")
	}
}
