package collection

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestCreate100k builds a sharded collection of 100,000 small files.
func TestCreate100k(t *testing.T) {
	if testing.Short() {
		t.Skip("100k files: skipped with -short")
	}
	dir := t.TempDir()
	r := rand.New(rand.NewSource(100))
	const n = 100_000
	buf := make([]byte, 4<<10)
	start := time.Now()
	for i := 0; i < n; i++ {
		size := 1<<10 + r.Intn(3<<10+1)
		r.Read(buf[:size])
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%06d-1.0.tar.gz", i)), buf[:size], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("wrote %d files in %v", n, time.Since(start))

	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	start = time.Now()
	c, err := Create(context.Background(), CreateOptions{From: dir})
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	runtime.ReadMemStats(&ms)
	t.Logf("Create: %d files → %d shards in %v (heap %+.0f MiB, max %d files/shard, PL %d)",
		n, len(c.Torrents), elapsed, float64(int64(ms.HeapAlloc)-int64(before))/(1<<20), maxFiles(c), c.Index.Shards[0].PieceLength)
	if c.Index == nil || c.Index.ShardRule.HexDigits != 2 {
		t.Fatalf("want 256 buckets, got %+v", c.Index.ShardRule)
	}
	out := filepath.Join(t.TempDir(), "idx.json")
	start = time.Now()
	if err := c.Write(out); err != nil {
		t.Fatal(err)
	}
	l, err := Load(out)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Write+Load: %v", time.Since(start))
	for i := 0; i < n; i += 9973 {
		name := fmt.Sprintf("f%06d-1.0.tar.gz", i)
		fi, _ := os.Stat(filepath.Join(dir, name))
		mi, err := l.TorrentFor(name, fi.Size())
		if err != nil {
			t.Fatal(err)
		}
		info := mustInfo(t, mi)
		found := false
		for _, f := range info.Files {
			found = found || f.Path[len(f.Path)-1] == name
		}
		if !found {
			t.Errorf("%s not in its shard", name)
		}
	}
}

func maxFiles(c *Collection) int {
	m := 0
	for _, s := range c.Index.Shards {
		m = max(m, s.Files)
	}
	return m
}

// writeSharded writes a small sharded collection and returns the index path.
func writeSharded(t testing.TB) string {
	dir := t.TempDir()
	files := testFiles(5, 20, 4<<10)
	for name, data := range files {
		os.WriteFile(filepath.Join(dir, name), data, 0o644)
	}
	c, err := Create(context.Background(), CreateOptions{From: dir, MaxFilesPerTorrent: 4})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "idx.json")
	if err := c.Write(out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestLoadHostile(t *testing.T) {
	out := writeSharded(t)
	orig, _ := os.ReadFile(out)
	var idx Index
	if err := json.Unmarshal(orig, &idx); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(filepath.Dir(filepath.Dir(out)), "evil.torrent")
	os.WriteFile(outside, []byte("d4:infod4:name1:x12:piece lengthi16384e6:pieces0:ee"), 0o644)
	os.Symlink(outside, filepath.Join(filepath.Dir(out), "link.torrent"))
	cases := map[string]struct {
		mutate func(*Index)
		why    string // in the error
	}{
		"dotdot":          {func(i *Index) { i.Shards[0].Torrent = "../evil.torrent" }, `torrent: "../evil.torrent": path component ".."`},
		"absolute":        {func(i *Index) { i.Shards[0].Torrent = outside }, "torrent: absolute path"},
		"symlink escape":  {func(i *Index) { i.Shards[0].Torrent = "link.torrent" }, "path escapes from parent"},
		"backslash":       {func(i *Index) { i.Shards[0].Torrent = `..\evil.torrent` }, `contains '/', '\' or NUL`},
		"version":         {func(i *Index) { i.Version = 2 }, "unsupported version 2"},
		"format":          {func(i *Index) { i.Format = "something-else" }, `format "something-else"`},
		"infohash":        {func(i *Index) { i.Shards[0].InfoHash = i.Shards[1].InfoHash }, "the index says"},
		"bad key":         {func(i *Index) { i.Shards[0].Key = "zz" }, `key "zz" does not match the shard rule`},
		"duplicate key":   {func(i *Index) { i.Shards[1].Key = i.Shards[0].Key }, "not sorted or duplicated"},
		"name":            {func(i *Index) { i.Name = ".." }, `name: path component ".."`},
		"layout":          {func(i *Index) { i.Layout = "nonsense" }, `unknown kind "nonsense"`},
		"rule digits":     {func(i *Index) { i.ShardRule.HexDigits = 5 }, "hex_digits 5 not in 0..2"},
		"no shards":       {func(i *Index) { i.Shards = nil }, "no shards"},
		"missing torrent": {func(i *Index) { i.Shards[0].Torrent = "nope.torrent" }, "no such file or directory"},
		"benign":          {func(i *Index) {}, ""},
	}
	for name, c := range cases {
		var i Index
		json.Unmarshal(orig, &i)
		c.mutate(&i)
		data, _ := json.Marshal(&i)
		os.WriteFile(out, data, 0o644)
		_, err := Load(out)
		switch {
		case c.why == "" && err != nil:
			t.Errorf("%s: refused: %v", name, err)
		case c.why != "" && (err == nil || !strings.Contains(err.Error(), c.why)):
			t.Errorf("%s: %v, want it refused: %s", name, err, c.why)
		}
	}
	os.WriteFile(out, append([]byte(`{"format":"distswarm-collection-index","version":1,"pad":"`), append([]byte(strings.Repeat("x", MaxIndexSize)), `"}`...)...), 0o644)
	if _, err := Load(out); err == nil {
		t.Error("oversized index accepted")
	}
	os.WriteFile(out, []byte("PK\x03\x04"), 0o644)
	if _, err := Load(out); err == nil || !strings.Contains(err.Error(), "neither") {
		t.Errorf("zip: %v", err)
	}
	// Hostile torrents, and a benign one.
	for name, c := range map[string]struct{ tor, why string }{
		"dotdot path":   {"d4:infod5:filesld6:lengthi1e4:pathl2:..1:xeee4:name1:x12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee", `file 0: path component ".."`},
		"piece count":   {"d4:infod5:filesld6:lengthi1e4:pathl1:xeee4:name1:x12:piece lengthi16384e6:pieces0:ee", "0 piece hashes for 1 bytes"},
		"slash in name": {"d4:infod5:filesld6:lengthi1e4:pathl1:xeee4:name3:a/b12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee", `name: path component "a/b"`},
		"trailing":      {"d4:infod6:lengthi1e4:name1:x12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaeeXX", "2 bytes of trailing data"},
		"dots in names": {"d4:infod5:filesld6:lengthi1e4:pathl3:..x3:a..eee4:name1:x12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee", ""},
	} {
		p := filepath.Join(t.TempDir(), "t.torrent")
		os.WriteFile(p, []byte(c.tor), 0o644)
		_, err := Load(p)
		switch {
		case c.why == "" && err != nil:
			t.Errorf("%s: refused: %v", name, err)
		case c.why != "" && (err == nil || !strings.Contains(err.Error(), c.why)):
			t.Errorf("%s: %v, want it refused: %s", name, err, c.why)
		}
	}
}

func FuzzLoadIndex(f *testing.F) {
	out := writeSharded(f)
	orig, _ := os.ReadFile(out)
	f.Add(orig)
	f.Add([]byte(`{"format":"distswarm-collection-index","version":1}`))
	f.Add([]byte(`{"format":"distswarm-collection-index","version":1,"name":"d","layout":"flat","shard_rule":{"hash":"BLAKE2B","hex_digits":1},"shards":[{"key":"0","infohash":"0000000000000000000000000000000000000000","torrent":"../x"}]}`))
	f.Add([]byte("d4:infod6:lengthi1e4:name1:x12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if idx, err := ParseIndex(data); err == nil {
			if err := idx.validate(); err != nil {
				t.Fatalf("ParseIndex accepted an invalid index: %v", err)
			}
			for _, sh := range idx.Shards {
				// ".." as a component escapes; "..x" is a name like any other.
				if slices.Contains(strings.Split(sh.Torrent, "/"), "..") || filepath.IsAbs(sh.Torrent) {
					t.Fatalf("unsafe path %q accepted", sh.Torrent)
				}
			}
		}
		// The whole loader, with the real shards beside the index.
		if err := os.WriteFile(out, data, 0o644); err != nil {
			t.Fatal(err)
		}
		Load(out)
	})
}
