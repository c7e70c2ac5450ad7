package swarm

import (
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	g "github.com/anacrolix/generics"
	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"
	astorage "github.com/anacrolix/torrent/storage"

	"github.com/distswarm/distswarm/manifest/binpkg"
	"github.com/distswarm/distswarm/swarm/collection"
)

const (
	xpakSample = "../manifest/binpkg/testdata/257-binpkgs__acct-group__adm__adm-0-r2-1.xpak"
	gpkgSample = "../manifest/binpkg/testdata/joepasss-gentoo-bin__amd64__acct-group__dnsmasq__dnsmasq-0-r3-1.gpkg.tar"
)

// samplePKGDIR writes a PKGDIR of the real sample packages plus
// acct-user/adm/adm-0-r2-1.xpak, the XPAK sample with CATEGORY rewritten:
// two packages with one base name in two categories. It returns the
// directory and each package's bytes by path.
func samplePKGDIR(t *testing.T) (string, map[string][]byte) {
	t.Helper()
	dir := t.TempDir()
	xp, gp := readTestFile(t, xpakSample), readTestFile(t, gpkgSample)
	pkgs := map[string][]byte{
		"acct-group/adm/adm-0-r2-1.xpak":             xp,
		"acct-group/dnsmasq/dnsmasq-0-r3-1.gpkg.tar": gp,
		"acct-user/adm/adm-0-r2-1.xpak":              recategorize(t, xp, "acct-user"),
	}
	for rel, b := range pkgs {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, pkgs
}

// sampleBinpkgCollection is samplePKGDIR published as a binpkg collection.
func sampleBinpkgCollection(t *testing.T, ctx context.Context) (string, map[string][]byte, *collection.Collection) {
	t.Helper()
	pkgdir, pkgs := samplePKGDIR(t)
	coll, err := collection.CreateBinpkg(ctx, collection.CreateOptions{From: pkgdir})
	if err != nil {
		t.Fatal(err)
	}
	return pkgdir, pkgs, coll
}

func readTestFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
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

// TestBinpkgPublishAndFetch publishes a PKGDIR of real packages, seeds it
// in place, and fetches into another store over loopback by CPV and by
// path: the packages land in STORE/binpkgs at their paths, byte for byte,
// and STORE/binpkgs/Packages lists them with Portage's SIZE/MD5/SHA1.
func TestBinpkgPublishAndFetch(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	pkgdir, pkgs := samplePKGDIR(t)
	coll, port, leech := publishSeeded(t, ctx, pkgdir)
	res, err := FetchBinpkgs(ctx, BinpkgFetchOptions{
		Store: leech, Peers: []string{fmt.Sprintf("127.0.0.1:%d", port)}, Client: loopback(),
		BinpkgRequest: BinpkgRequest{
			Collections: []*collection.Collection{coll}, TrustCollection: true,
			Wants: []string{"acct-group/adm-0-r2", "acct-user/adm/adm-0-r2-1.xpak", "app-misc/nothere-1"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 {
		t.Fatalf("%d results", len(res))
	}
	for i, want := range []string{"acct-group/adm/adm-0-r2-1.xpak", "acct-user/adm/adm-0-r2-1.xpak"} {
		r := res[i]
		if r.Err != nil || !r.Outcome.OK() || r.Name != want {
			t.Fatalf("%s: %+v", r.Want, r)
		}
		got := readTestFile(t, r.Path)
		if r.Path != filepath.Join(leech.BinpkgsDir(), filepath.FromSlash(want)) || !bytes.Equal(got, pkgs[want]) {
			t.Fatalf("%s: placed at %s with other bytes", want, r.Path)
		}
	}
	if res[2].Err == nil || !errors.Is(res[2].Err, errNotInCollections) {
		t.Fatalf("unknown CPV: %+v", res[2])
	}
	checkStoreIndex(t, leech, []string{"acct-group/adm/adm-0-r2-1.xpak", "acct-user/adm/adm-0-r2-1.xpak"})
	if _, err := os.Stat(filepath.Join(leech.BinpkgsDir(), "acct-group/dnsmasq")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a package nobody asked for was placed: %v", err)
	}
}

// checkStoreIndex checks that STORE/binpkgs/Packages lists exactly paths,
// each entry matching its file as Portage checks it (SIZE, MD5, SHA1).
func checkStoreIndex(t *testing.T, st *Store, paths []string) {
	t.Helper()
	f, err := os.Open(filepath.Join(st.BinpkgsDir(), "Packages"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ix, err := binpkg.ReadIndex(f)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range ix.Packages {
		bp, err := p.Path()
		if err != nil {
			t.Fatal(err)
		}
		de, err := binpkg.ComputeDigestEntry(context.Background(), st.BinpkgsDir(), bp)
		if err != nil {
			t.Fatal(err)
		}
		if err := de.CheckPackage(p); err != nil {
			t.Fatal(err)
		}
		got = append(got, bp.String())
	}
	if strings.Join(got, " ") != strings.Join(paths, " ") {
		t.Fatalf("store Packages lists %v, want %v", got, paths)
	}
	if ix.Header[binpkg.KeyTimestamp] == "" || ix.Header["URI"] != "" {
		t.Fatalf("store Packages header %v", ix.Header)
	}
}

// TestBinpkgFetchRejectsForgedPackage: a torrent whose package bytes do
// not match its own Packages.digests (they pass the piece hashes: the
// torrent was made that way) is rejected and quarantined, never placed;
// a package whose Packages entry disagrees with Packages.digests is
// refused before any download.
func TestBinpkgFetchRejectsForgedPackage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	_, pkgs, coll := sampleBinpkgCollection(t, ctx)
	bf := coll.Binpkgs[0]
	forged := bytes.Clone(pkgs["acct-group/adm/adm-0-r2-1.xpak"])
	forged[100] ^= 0xff
	ix, err := binpkg.ReadIndex(bytes.NewReader(bf.Packages))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ix.Packages {
		if p[binpkg.KeyPath] == "acct-group/dnsmasq/dnsmasq-0-r3-1.gpkg.tar" {
			p[binpkg.KeyMD5] = strings.Repeat("0", 32)
		}
	}
	var pb bytes.Buffer
	if err := ix.Write(&pb); err != nil {
		t.Fatal(err)
	}
	files := []rawFile{
		{"Manifest", bf.Digests}, {binpkg.DigestIndexName, bf.Digests}, {"Packages", pb.Bytes()},
		{"acct-group/adm/adm-0-r2-1.xpak", forged},
		{"acct-group/dnsmasq/dnsmasq-0-r3-1.gpkg.tar", pkgs["acct-group/dnsmasq/dnsmasq-0-r3-1.gpkg.tar"]},
	}
	mi := rawTorrent(t, files)
	peer := startRawSeeder(t, mi, files, "127.0.0.1")
	forgedColl := &collection.Collection{Torrents: []*metainfo.MetaInfo{mi}}

	leech, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	fctx, fcancel := context.WithTimeout(ctx, 45*time.Second)
	defer fcancel()
	res, err := FetchBinpkgs(fctx, BinpkgFetchOptions{
		Store: leech, Peers: []string{peer}, Client: loopback(),
		BinpkgRequest: BinpkgRequest{
			Collections: []*collection.Collection{forgedColl}, TrustCollection: true,
			Wants: []string{"acct-group/adm-0-r2", "acct-group/dnsmasq-0-r3"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Outcome != OutcomeRejected || res[0].Err == nil {
		t.Fatalf("forged package: %+v", res[0])
	}
	if res[1].Outcome != OutcomeRejected || res[1].Err == nil || !strings.Contains(res[1].Err.Error(), "disagree") {
		t.Fatalf("Packages/digests mismatch: %+v", res[1])
	}
	for _, rel := range []string{"acct-group/adm/adm-0-r2-1.xpak", "acct-group/dnsmasq/dnsmasq-0-r3-1.gpkg.tar"} {
		if _, err := os.Stat(filepath.Join(leech.BinpkgsDir(), rel)); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%s reached STORE/binpkgs: %v", rel, err)
		}
	}
	q, _ := os.ReadDir(leech.QuarantineDir())
	if len(q) == 0 {
		t.Fatal("nothing quarantined")
	}
}

type rawFile struct {
	path string
	data []byte
}

// rawTorrent builds a torrent of the files in the given order, each on a
// 16 KiB piece boundary (BEP 47 pads), as a forger would.
func rawTorrent(t *testing.T, files []rawFile) *metainfo.MetaInfo {
	t.Helper()
	const pl = 16 << 10
	info := metainfo.Info{Name: "binpkgs", PieceLength: pl}
	var all []byte
	for i, f := range files {
		info.Files = append(info.Files, metainfo.FileInfo{Length: int64(len(f.data)), Path: strings.Split(f.path, "/")})
		all = append(all, f.data...)
		if r := len(f.data) % pl; r != 0 && i < len(files)-1 {
			n := pl - r
			info.Files = append(info.Files, metainfo.FileInfo{Length: int64(n), Path: []string{".pad", strconv.Itoa(n)},
				ExtendedFileAttrs: metainfo.ExtendedFileAttrs{Attr: "p"}})
			all = append(all, make([]byte, n)...)
		}
	}
	for off := 0; off < len(all); off += pl {
		sum := sha1.Sum(all[off:min(off+pl, len(all))])
		info.Pieces = append(info.Pieces, sum[:]...)
	}
	ib, err := bencode.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	return &metainfo.MetaInfo{InfoBytes: ib}
}

// startRawSeeder seeds mi from the given file contents with anacrolix's
// own storage, trusted complete, listening on host.
func startRawSeeder(t *testing.T, mi *metainfo.MetaInfo, files []rawFile, host string) string {
	t.Helper()
	dir := t.TempDir()
	info, err := mi.UnmarshalInfo()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range info.UpvertedFiles() {
		if f.Attr == "p" { // the file storage reads pads from disk
			files = append(files, rawFile{strings.Join(f.Path, "/"), make([]byte, f.Length)})
		}
	}
	for _, f := range files {
		p := filepath.Join(dir, "binpkgs", filepath.FromSlash(f.path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := torrent.NewDefaultClientConfig()
	cfg.ListenHost = func(string) string { return host }
	cfg.ListenPort = 0
	cfg.NoDHT, cfg.DisableTrackers, cfg.DisableIPv6, cfg.Seed = true, true, true, true
	cfg.DefaultStorage = astorage.NewFileOpts(astorage.NewFileClientOpts{
		ClientBaseDir: dir, PieceCompletion: allComplete{}, UsePartFiles: g.Some(false),
	})
	cl, err := torrent.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	if _, err := cl.AddTorrent(mi); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s:%d", host, cl.LocalPort())
}

// TestBinpkgFetchCorruptPeerNextToHonest: one peer claims every piece of
// the binpkg collection and serves garbage, another seeds the real
// PKGDIR. The garbage fails the piece hashes, the packages and the index
// files come from the honest peer, and only the real bytes are placed. The
// corrupt peer is on 127.0.0.2: anacrolix bans by IP (see
// integration.TestCorruptPeerSameIPAsHonestOne).
func TestBinpkgFetchCorruptPeerNextToHonest(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	pkgdir, pkgs, coll := sampleBinpkgCollection(t, ctx)
	info, err := coll.Torrents[0].UnmarshalInfo()
	if err != nil {
		t.Fatal(err)
	}
	var garbage []rawFile
	for _, f := range info.UpvertedFiles() {
		if f.Attr != "p" {
			garbage = append(garbage, rawFile{strings.Join(f.Path, "/"), bytes.Repeat([]byte{0x5a}, int(f.Length))})
		}
	}
	bad := startRawSeeder(t, coll.Torrents[0], garbage, "127.0.0.2")
	honest := startSeeder(t, ctx, coll, pkgdir)
	leech, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	wants := []string{"acct-group/adm/adm-0-r2-1.xpak", "acct-group/dnsmasq/dnsmasq-0-r3-1.gpkg.tar", "acct-user/adm/adm-0-r2-1.xpak"}
	res, err := FetchBinpkgs(ctx, BinpkgFetchOptions{
		Store: leech, Peers: []string{bad, fmt.Sprintf("127.0.0.1:%d", honest)}, Client: loopback(),
		BinpkgRequest: BinpkgRequest{Collections: []*collection.Collection{coll}, TrustCollection: true, Wants: wants},
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Err != nil || !bytes.Equal(readTestFile(t, r.Path), pkgs[wants[i]]) {
			t.Fatalf("%s: %+v", wants[i], r)
		}
	}
	checkStoreIndex(t, leech, wants)
}

// TestBinpkgFetchSharded: a PKGDIR published as shards (one package per
// torrent) is fetched through its collection index: each package comes
// from its shard, with that shard's Packages and Packages.digests.
func TestBinpkgFetchSharded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	pkgdir, pkgs := samplePKGDIR(t)
	coll, err := collection.CreateBinpkg(ctx, collection.CreateOptions{From: pkgdir, MaxFilesPerTorrent: 1})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "binpkgs.json")
	if err := coll.Write(out); err != nil {
		t.Fatal(err)
	}
	loaded, err := collection.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded.Torrents) < 2 {
		t.Fatalf("%d torrents: not sharded", len(loaded.Torrents))
	}
	port := startSeeder(t, ctx, coll, pkgdir)
	leech, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	wants := []string{"acct-group/adm/adm-0-r2-1.xpak", "acct-group/dnsmasq/dnsmasq-0-r3-1.gpkg.tar", "acct-user/adm/adm-0-r2-1.xpak"}
	res, err := FetchBinpkgs(ctx, BinpkgFetchOptions{
		Store: leech, Peers: []string{fmt.Sprintf("127.0.0.1:%d", port)}, Client: loopback(),
		BinpkgRequest: BinpkgRequest{Collections: []*collection.Collection{loaded}, TrustCollection: true,
			Wants: []string{"acct-group/adm-0-r2", "acct-group/dnsmasq-0-r3", "acct-user/adm-0-r2"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Err != nil || r.Name != wants[i] || !bytes.Equal(readTestFile(t, r.Path), pkgs[wants[i]]) {
			t.Fatalf("%s: %+v", wants[i], r)
		}
	}
	checkStoreIndex(t, leech, wants)
}

// publishSeeded makes pkgdir a binpkg collection, seeds it in place on
// loopback and opens an empty store to fetch into; it returns the
// collection, the seeder's port and the store.
func publishSeeded(t *testing.T, ctx context.Context, pkgdir string) (*collection.Collection, int, *Store) {
	t.Helper()
	coll, err := collection.CreateBinpkg(ctx, collection.CreateOptions{From: pkgdir})
	if err != nil {
		t.Fatal(err)
	}
	port := startSeeder(t, ctx, coll, pkgdir)
	leech, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return coll, port, leech
}
