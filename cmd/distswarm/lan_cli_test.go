package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestLANWithoutDaemon: `distswarm lan` on a store no daemon runs on fails
// (exit 1) saying LAN discovery runs in the daemon; extra arguments are a
// usage error.
func TestLANWithoutDaemon(t *testing.T) {
	store := filepath.Join(t.TempDir(), "store")
	r := runCLI(t, "", "lan", "--store", store, "--json")
	if r.code != 1 || !strings.Contains(r.stderr, "no daemon runs on") {
		t.Errorf("lan without a daemon: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := runCLI(t, "", "lan", "--store", store, "extra"); r.code != 2 {
		t.Errorf("lan extra: exit %d, want 2", r.code)
	}
}

// TestFetchAllNeedsCollections: fetch --all without --torrent or --magnet
// is a usage error (every collection the store knows is not a request).
func TestFetchAllNeedsCollections(t *testing.T) {
	store := filepath.Join(t.TempDir(), "store")
	r := runCLI(t, "", "fetch", "--store", store, "--offline", "--all")
	if r.code != 2 || !strings.Contains(r.stderr, "--torrent or --magnet") {
		t.Errorf("fetch --all without collections: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestFetchNameWithNoCollectionKnown: fetch NAME without --torrent on a
// store that knows no collection fails (exit 1) saying no collection
// lists it.
func TestFetchNameWithNoCollectionKnown(t *testing.T) {
	store := filepath.Join(t.TempDir(), "store")
	r := runCLI(t, "", "fetch", "--store", store, "--offline", "--listen", "127.0.0.1:0", "--digests",
		"blake2b:"+strings.Repeat("00", 64), "zstd-1.5.5.tar.gz")
	if r.code != 1 || !strings.Contains(r.stderr, "not in any collection that this node knows (0 of the store's own, 0 learned from the LAN)") {
		t.Errorf("fetch NAME with no collection known: exit %d, stderr %q", r.code, r.stderr)
	}
}
