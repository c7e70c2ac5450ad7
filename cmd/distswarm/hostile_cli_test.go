package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The 4 MB .torrent of issue 12 (2,000,000 nested lists under "info")
// crashed fetch and seed with "fatal error: stack overflow". Both now
// refuse it as a usage error (exit 2) with one line naming the file.
func TestNestedBencodeTorrentIsUsageError(t *testing.T) {
	dir := t.TempDir()
	const n = 2_000_000
	torrent := filepath.Join(dir, "nested.torrent")
	data := append([]byte("d4:info"), bytes.Repeat([]byte{'l'}, n)...)
	data = append(data, bytes.Repeat([]byte{'e'}, n)...)
	write(t, torrent, append(data, 'e'))
	store := filepath.Join(dir, "store")
	for _, args := range [][]string{
		{"fetch", "--offline", "--store", store, "--torrent", torrent, "--trust-collection", "--all"},
		{"seed", "--offline", "--listen", "127.0.0.1:0", "--store", store, torrent},
	} {
		r := runCLI(t, "", args...)
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if r.code != 2 || len(lines) != 1 || !strings.Contains(r.stderr, torrent) || !strings.Contains(r.stderr, "nested deeper than") {
			t.Errorf("%s: exit %d stderr %q, want exit 2 and one line naming the file and the nesting", args[0], r.code, r.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(store, "distfiles")); err == nil {
		entries, _ := os.ReadDir(filepath.Join(store, "distfiles"))
		for _, e := range entries {
			if e.Name() != "layout.conf" {
				t.Errorf("store holds %s after refusing the collection", e.Name())
			}
		}
	}
}
