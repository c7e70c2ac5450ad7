package integration

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/anacrolix/torrent/metainfo"
)

var infohashLine = regexp.MustCompile(`(?m)^infohash ([0-9a-f]{40})$`)

// createCollection runs `collection create` and returns the infohashes it
// printed.
func createCollection(t *testing.T, from, out string, extra ...string) []string {
	t.Helper()
	args := append([]string{"collection", "create", "--from", from, "--out", out}, extra...)
	r := Run(t, 2*time.Minute, args...)
	if r.Code != 0 {
		t.Fatalf("collection create --from %s: exit %d\n%s", from, r.Code, r.Stderr)
	}
	var ihs []string
	for _, m := range infohashLine.FindAllStringSubmatch(r.Stdout, -1) {
		ihs = append(ihs, m[1])
	}
	if len(ihs) == 0 {
		t.Fatalf("collection create printed no infohash line:\n%s", r.Stdout)
	}
	return ihs
}

// torrentInfo loads a .torrent and returns its raw info dict, checking
// that its infohash is the one printed.
func torrentInfo(t *testing.T, path string) (metainfo.Hash, []byte) {
	t.Helper()
	mi, err := metainfo.LoadFromFile(path)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	return mi.HashInfoBytes(), mi.InfoBytes
}

// TestCreateIsDeterministic: the same distfiles give the same collection
// (infohash and byte-identical info dict) whether they sit in a flat
// distdir or one already nested in the GLEP 75 layout (with and without
// layout.conf), whatever their mtimes.
func TestCreateIsDeterministic(t *testing.T) {
	dir := t.TempDir()
	flat := filepath.Join(dir, "flat")
	sizes := []int{0, 1, 100, 16 << 10, 16<<10 + 1, 40000, 300000, 1 << 20, 2<<20 + 7}
	sizes = append(sizes, MixedSizes(25, 2<<20, 7)...)
	files := Corpus(t, flat, 7, sizes)

	// Nested copies: DIR/<2 hex of BLAKE2B(name)>/<name>, one with the
	// layout.conf a Gentoo mirror carries. Each copy gets other mtimes.
	nested := filepath.Join(dir, "nested")
	nestedConf := filepath.Join(dir, "nested-conf")
	for i, root := range []string{nested, nestedConf} {
		for j, f := range files {
			p := GLEP75Path(root, f.Name)
			// GLEP75Path is STORE/distfiles/xx/name; a distdir has no
			// distfiles/ component.
			rel, err := filepath.Rel(filepath.Join(root, "distfiles"), p)
			if err != nil {
				t.Fatal(err)
			}
			p = filepath.Join(root, rel)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, f.Data, 0o644); err != nil {
				t.Fatal(err)
			}
			mt := time.Date(2001+i, 1, 1+j%28, 0, 0, 0, 0, time.UTC)
			if err := os.Chtimes(p, mt, mt); err != nil {
				t.Fatal(err)
			}
		}
	}
	conf := "[structure]\n0=filename-hash BLAKE2B 8\n1=flat\n"
	if err := os.WriteFile(filepath.Join(nestedConf, "layout.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	for j, f := range files {
		mt := time.Date(2020, 6, 1+j%28, 12, 0, 0, 0, time.UTC)
		if err := os.Chtimes(filepath.Join(flat, f.Name), mt, mt); err != nil {
			t.Fatal(err)
		}
	}

	out := map[string]string{}
	ihs := map[string][]string{}
	for _, src := range []string{flat, nested, nestedConf} {
		o := filepath.Join(dir, filepath.Base(src)+".torrent")
		ihs[src] = createCollection(t, src, o)
		out[src] = o
	}
	// Run flat twice more, later and from another working copy, to catch
	// time-dependent output.
	flat2 := filepath.Join(dir, "flat2")
	Corpus(t, flat2, 7, sizes)
	out[flat2] = filepath.Join(dir, "flat2.torrent")
	ihs[flat2] = createCollection(t, flat2, out[flat2])

	if len(ihs[flat]) != 1 {
		t.Fatalf("expected one torrent for %d files, got infohashes %v", len(files), ihs[flat])
	}
	wantIH, wantInfo := torrentInfo(t, out[flat])
	if wantIH.HexString() != ihs[flat][0] {
		t.Errorf("printed infohash %s, torrent file has %s", ihs[flat][0], wantIH.HexString())
	}
	for _, src := range []string{nested, nestedConf, flat2} {
		if len(ihs[src]) != 1 || ihs[src][0] != ihs[flat][0] {
			t.Errorf("%s: infohash %v, flat gave %v", filepath.Base(src), ihs[src], ihs[flat])
		}
		ih, info := torrentInfo(t, out[src])
		if ih != wantIH {
			t.Errorf("%s: torrent infohash %s, want %s", filepath.Base(src), ih.HexString(), wantIH.HexString())
		}
		if !bytes.Equal(info, wantInfo) {
			t.Errorf("%s: info dict differs from the flat one (%d vs %d bytes)", filepath.Base(src), len(info), len(wantInfo))
		}
	}
	// The info dict lists every distfile (independently of distswarm's
	// own parser): each name appears in it.
	for _, f := range files {
		if !bytes.Contains(wantInfo, []byte(f.Name)) {
			t.Errorf("info dict does not name %s", f.Name)
		}
	}
}
