package collection

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/distswarm/distswarm/manifest/binpkg"
)

const (
	xpakSample = "../../manifest/binpkg/testdata/257-binpkgs__acct-group__adm__adm-0-r2-1.xpak"
	gpkgSample = "../../manifest/binpkg/testdata/joepasss-gentoo-bin__amd64__acct-group__dnsmasq__dnsmasq-0-r3-1.gpkg.tar"
)

// samplePKGDIR writes a PKGDIR of the real sample packages plus
// acct-user/adm/adm-0-r2-1.xpak: the XPAK sample with its CATEGORY
// rewritten, so two packages share a base name in two categories.
func samplePKGDIR(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	xp := mustRead(t, xpakSample)
	writeFile(t, dir, "acct-group/adm/adm-0-r2-1.xpak", xp)
	writeFile(t, dir, "acct-group/dnsmasq/dnsmasq-0-r3-1.gpkg.tar", mustRead(t, gpkgSample))
	writeFile(t, dir, "acct-user/adm/adm-0-r2-1.xpak", recategorize(t, xp, "acct-user"))
	writeFile(t, dir, "README", []byte("not a package\n"))
	stamp := time.Unix(1700000000, 0)
	filepath.WalkDir(dir, func(p string, _ os.DirEntry, _ error) error { return os.Chtimes(p, stamp, stamp) })
	return dir
}

func recategorize(t *testing.T, pkg []byte, cat string) []byte {
	t.Helper()
	x, err := binpkg.ReadXPAK(bytes.NewReader(pkg), int64(len(pkg)))
	if err != nil {
		t.Fatal(err)
	}
	x.Metadata["CATEGORY"] = []byte(cat + "\n")
	blob, err := binpkg.EncodeXPAK(x.Metadata, x.Keys)
	if err != nil {
		t.Fatal(err)
	}
	out := append([]byte{}, pkg[:x.TarSize]...)
	out = append(out, blob...)
	return append(out, binpkg.XPAKTrailer(blob)...)
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, dir, rel string, b []byte) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCreateBinpkg builds a collection of a real PKGDIR and checks its
// tree, its index files against the packages, and that it is detected as
// a binpkg torrent.
func TestCreateBinpkg(t *testing.T) {
	ctx := context.Background()
	dir := samplePKGDIR(t)
	c, err := CreateBinpkg(ctx, CreateOptions{From: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Torrents) != 1 || len(c.Binpkgs) != 1 || c.Index != nil {
		t.Fatalf("%d torrents, %d index files, index %v", len(c.Torrents), len(c.Binpkgs), c.Index)
	}
	info, err := ParseInfo(c.Torrents[0].InfoBytes)
	if err != nil {
		t.Fatal(err)
	}
	if !IsBinpkgInfo(info) || info.Name != DefaultBinpkgName {
		t.Fatalf("not a binpkg torrent: %q %v", info.Name, info.Files)
	}
	var paths []string
	var off int64
	for _, f := range info.UpvertedFiles() {
		if off%info.PieceLength != 0 && !strings.Contains(f.Attr, "p") {
			t.Fatalf("%v starts at %d, not on a piece boundary", f.Path, off)
		}
		off += f.Length
		if !strings.Contains(f.Attr, "p") {
			paths = append(paths, strings.Join(f.Path, "/"))
		}
	}
	want := "Manifest Packages.digests Packages acct-group/adm/adm-0-r2-1.xpak acct-group/dnsmasq/dnsmasq-0-r3-1.gpkg.tar acct-user/adm/adm-0-r2-1.xpak"
	if got := strings.Join(paths, " "); got != want {
		t.Fatalf("tree\n got %s\nwant %s", got, want)
	}
	ix, err := binpkg.ReadIndex(bytes.NewReader(c.Binpkgs[0].Packages))
	if err != nil {
		t.Fatal(err)
	}
	dx, err := binpkg.ReadDigestIndex(bytes.NewReader(c.Binpkgs[0].Digests))
	if err != nil {
		t.Fatal(err)
	}
	if len(ix.Packages) != 3 || dx.Len() != 3 || !bytes.Equal(c.Manifests[0], c.Binpkgs[0].Digests) {
		t.Fatalf("%d packages, %d digests", len(ix.Packages), dx.Len())
	}
	for _, p := range ix.Packages {
		bp, err := p.Path()
		if err != nil {
			t.Fatal(err)
		}
		de, err := binpkg.ComputeDigestEntry(ctx, dir, bp)
		if err != nil {
			t.Fatal(err)
		}
		if err := de.CheckPackage(p); err != nil {
			t.Fatal(err)
		}
		if got, _ := dx.Lookup(bp); got.Digests["BLAKE2B"] != de.Digests["BLAKE2B"] {
			t.Fatalf("%s: digest index disagrees with the file", bp)
		}
	}
	if ix.Packages[0][binpkg.KeyCPV] == ix.Packages[2][binpkg.KeyCPV] {
		t.Fatalf("acct-group/adm and acct-user/adm got one CPV")
	}
}

// TestCreateBinpkgDeterministic: a copy of the PKGDIR elsewhere gives the
// same infohash; Portage's own Packages entries are reused when they match
// the file, and a stale one is replaced.
func TestCreateBinpkgDeterministic(t *testing.T) {
	ctx := context.Background()
	a, b := samplePKGDIR(t), samplePKGDIR(t)
	ca, err := CreateBinpkg(ctx, CreateOptions{From: a})
	if err != nil {
		t.Fatal(err)
	}
	cb, err := CreateBinpkg(ctx, CreateOptions{From: b})
	if err != nil {
		t.Fatal(err)
	}
	if ca.Torrents[0].HashInfoBytes() != cb.Torrents[0].HashInfoBytes() {
		t.Fatal("same PKGDIR, two infohashes")
	}
	// The PKGDIR's own Packages (here: ours, with a changed DESC and one
	// stale SIZE) is reused where it matches its file.
	ix, _ := binpkg.ReadIndex(bytes.NewReader(ca.Binpkgs[0].Packages))
	ix.Packages[0][binpkg.KeyDescription] = "from portage"
	ix.Packages[1][binpkg.KeySize] = "1"
	ix.Packages[1][binpkg.KeyDescription] = "stale"
	var buf bytes.Buffer
	if err := ix.Write(&buf); err != nil {
		t.Fatal(err)
	}
	writeFile(t, b, "Packages", buf.Bytes())
	cb, err = CreateBinpkg(ctx, CreateOptions{From: b})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := binpkg.ReadIndex(bytes.NewReader(cb.Binpkgs[0].Packages))
	if got.Packages[0][binpkg.KeyDescription] != "from portage" || got.Packages[1][binpkg.KeyDescription] == "stale" {
		t.Fatalf("entries: %v / %v", got.Packages[0], got.Packages[1])
	}
	if got.Packages[1][binpkg.KeySize] == "1" {
		t.Fatal("a stale entry was kept")
	}
}

// TestCreateBinpkgSharded: with at most one file per torrent the packages
// spread over shards keyed by base name, each shard a complete small
// PKGDIR with its own Packages.
func TestCreateBinpkgSharded(t *testing.T) {
	ctx := context.Background()
	dir := samplePKGDIR(t)
	c, err := CreateBinpkg(ctx, CreateOptions{From: dir, MaxFilesPerTorrent: 1})
	if err != nil {
		t.Fatal(err)
	}
	if c.Index == nil || c.Index.Kind != BinpkgKind || len(c.Torrents) < 2 {
		t.Fatalf("not sharded: %+v", c.Index)
	}
	out := filepath.Join(t.TempDir(), "binpkgs.json")
	if err := c.Write(out); err != nil {
		t.Fatal(err)
	}
	back, err := Load(out)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for i, mi := range back.Torrents {
		info, _ := ParseInfo(mi.InfoBytes)
		if !IsBinpkgInfo(info) {
			t.Fatalf("shard %d is not a binpkg torrent", i)
		}
		ix, err := binpkg.ReadIndex(bytes.NewReader(c.Binpkgs[i].Packages))
		if err != nil {
			t.Fatal(err)
		}
		total += len(ix.Packages)
		for _, p := range ix.Packages {
			if got, err := back.TorrentFor(filepath.Base(p[binpkg.KeyPath]), mustSize(t, p)); err != nil || got != mi {
				t.Fatalf("%s: TorrentFor gives another shard (%v)", p[binpkg.KeyPath], err)
			}
		}
	}
	if total != 3 {
		t.Fatalf("%d packages over the shards, want 3", total)
	}
}

func mustSize(t *testing.T, p binpkg.Package) int64 {
	t.Helper()
	n, err := p.Size()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCreateBinpkgEmpty(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "Packages", []byte("VERSION: 0\n\n"))
	if _, err := CreateBinpkg(context.Background(), CreateOptions{From: dir}); err == nil {
		t.Fatal("a PKGDIR without packages made a collection")
	}
}
