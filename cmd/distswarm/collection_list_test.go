package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// collection list and info show what a store knows: an empty store says
// how to add one; after collection add, the collection with its file count
// (none held yet), in text and JSON; info finds it by an infohash prefix.
func TestCollectionListAndInfo(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("f%d-1.tar.gz", i)), bytes.Repeat([]byte{byte(i)}, 1000*(i+1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	store := filepath.Join(dir, "store")
	// Reading a store that does not exist creates nothing.
	if r := runCLI(t, "", "collection", "list", "--store", store); r.code != 0 || !strings.Contains(r.stderr, "knows no collections") {
		t.Fatalf("no store: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := runCLI(t, "", "collection", "info", "--store", store, "abcd"); r.code != 1 || !strings.Contains(r.stderr, "not a distswarm store") {
		t.Fatalf("info on no store: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(store); !os.IsNotExist(err) {
		t.Fatalf("collection list/info created %s (%v)", store, err)
	}
	torrent := filepath.Join(dir, "c.torrent")
	if r := runCLI(t, "", "collection", "create", "--from", src, "--out", torrent); r.code != 0 {
		t.Fatalf("create: %d %s", r.code, r.stderr)
	}
	if r := runCLI(t, "", "collection", "add", "--store", store, torrent); r.code != 0 {
		t.Fatalf("add: %d %s", r.code, r.stderr)
	}
	r := runCLI(t, "", "collection", "list", "--store", store, "--json")
	var known []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &known); r.code != 0 || err != nil || len(known) != 1 {
		t.Fatalf("list --json: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	k := known[0]
	if k["files"] != 3.0 || k["present"] != 0.0 || k["bytes"] != 6000.0 || k["name"] != "distfiles" {
		t.Errorf("listed %v, want 3 files of 6000 bytes, none present, name distfiles", k)
	}
	ih := k["infohash"].(string)
	if r := runCLI(t, "", "collection", "list", "--store", store); r.code != 0 || !strings.Contains(r.stdout, ih) || !strings.Contains(r.stdout, "0/3") {
		t.Errorf("list: exit %d\n%s", r.code, r.stdout)
	}
	if r := runCLI(t, "", "collection", "info", "--store", store, ih[:8]); r.code != 0 || !strings.Contains(r.stdout, "magnet:?xt=urn:btih:"+ih) {
		t.Errorf("info %s: exit %d\n%s%s", ih[:8], r.code, r.stdout, r.stderr)
	}
	if r := runCLI(t, "", "collection", "info", "--store", store, "0000000"); r.code != 1 || !strings.Contains(r.stderr, "no known collection") {
		t.Errorf("info of an unknown infohash: exit %d\n%s", r.code, r.stderr)
	}
	if r := runCLI(t, "", "collection", "info", "--store", store, filepath.Join(dir, "missing.torrent")); r.code != 2 || !strings.Contains(r.stderr, "is not an infohash") {
		t.Errorf("info with a path that does not exist: %d %q, want a usage error", r.code, r.stderr)
	}
	// A .torrent file is described as the known collection is.
	if r := runCLI(t, "", "collection", "info", "--store", store, torrent); r.code != 0 ||
		!strings.Contains(r.stdout, "magnet:?xt=urn:btih:"+ih) || !strings.Contains(r.stdout, "3 (0 in the store)") {
		t.Errorf("info of the .torrent: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, "", "collection", "info", "--store", store, "--json", torrent)
	var described []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &described); r.code != 0 || err != nil || len(described) != 1 || described[0]["infohash"] != ih {
		t.Errorf("info --json of the .torrent: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
	} else if p, ok := described[0]["present"].(float64); !ok || p != 0 {
		t.Errorf("info --json of the .torrent with a store: present %v, want 0", described[0]["present"])
	}
	r = runCLI(t, "", "collection", "info", "--store", filepath.Join(dir, "nostore"), "--json", torrent)
	described = nil
	if err := json.Unmarshal([]byte(r.stdout), &described); r.code != 0 || err != nil || len(described) != 1 ||
		described[0]["files"] != 3.0 || described[0]["present"] != nil {
		t.Errorf("info --json without a store: exit %d, %v, want files 3 and present null\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	if _, ok := described[0]["present"]; !ok {
		t.Errorf("info --json without a store: no present key\n%s", r.stdout)
	}
	if r := runCLI(t, "", "collection", "info", "--store", filepath.Join(dir, "nostore"), torrent); r.code != 0 ||
		!strings.Contains(r.stdout, "3 (no store to count them in)") {
		t.Errorf("info of the .torrent without a store: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// A store that cannot be opened is an error, not a description without one.
	if r := runCLI(t, "", "collection", "info", "--store", torrent, torrent); r.code != 1 || !strings.Contains(r.stderr, "not a directory") {
		t.Errorf("info with a --store that is a file: exit %d %q, want 1", r.code, r.stderr)
	}
	junk := filepath.Join(dir, "junk.torrent")
	if err := os.WriteFile(junk, []byte("d4:infoi3ee"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, "", "collection", "info", "--store", store, junk); r.code != 1 || !strings.Contains(r.stderr, "junk.torrent") {
		t.Errorf("info of a broken .torrent: exit %d %q, want 1 naming the file", r.code, r.stderr)
	}
	if r := runCLI(t, "", "collection", "info", "--store", store); r.code != 2 {
		t.Errorf("info without a name: exit %d, want 2", r.code)
	}

	// fetch --json: one JSON array of results, here a file no collection lists (exit 1).
	r = runCLI(t, "", "fetch", "--store", store, "--offline", "--listen", "127.0.0.1:0", "--torrent", torrent,
		"--trust-collection", "--json", "nothere-1.tar.gz")
	var res []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || r.code != 1 || len(res) != 1 ||
		res[0]["name"] != "nothere-1.tar.gz" || res[0]["outcome"] != "not-in-collections" || res[0]["error"] == nil {
		t.Errorf("fetch --json: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
}
