package gateway

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/distswarm/distswarm/manifest/binpkg"
	"github.com/distswarm/distswarm/swarm"
	"github.com/distswarm/distswarm/swarm/collection"
)

// binpkgPKGDIR writes a PKGDIR of the real sample packages plus the XPAK
// sample re-categorized to acct-user (same base name, other category).
func binpkgPKGDIR(t *testing.T) (string, map[string][]byte) {
	t.Helper()
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	xp := read("../../manifest/binpkg/testdata/257-binpkgs__acct-group__adm__adm-0-r2-1.xpak")
	x, err := binpkg.ReadXPAK(bytes.NewReader(xp), int64(len(xp)))
	if err != nil {
		t.Fatal(err)
	}
	x.Metadata["CATEGORY"] = []byte("acct-user\n")
	blob, err := binpkg.EncodeXPAK(x.Metadata, x.Keys)
	if err != nil {
		t.Fatal(err)
	}
	pkgs := map[string][]byte{
		"acct-group/adm/adm-0-r2-1.xpak":             xp,
		"acct-user/adm/adm-0-r2-1.xpak":              append(append(append([]byte{}, xp[:x.TarSize]...), blob...), binpkg.XPAKTrailer(blob)...),
		"acct-group/dnsmasq/dnsmasq-0-r3-1.gpkg.tar": read("../../manifest/binpkg/testdata/joepasss-gentoo-bin__amd64__acct-group__dnsmasq__dnsmasq-0-r3-1.gpkg.tar"),
	}
	dir := t.TempDir()
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

func loopbackClient() swarm.ClientOptions {
	return swarm.ClientOptions{ListenAddr: "127.0.0.1:0", NoTrackers: true}
}

// startBinpkgSeeder publishes a PKGDIR and seeds it in place on loopback.
func startBinpkgSeeder(t *testing.T, ctx context.Context, coll *collection.Collection, pkgdir string) string {
	t.Helper()
	st, err := swarm.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ready := make(chan int, 1)
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- swarm.Seed(sctx, swarm.SeedOptions{Store: st, Collections: []*collection.Collection{coll}, From: pkgdir,
			Client: loopbackClient(), Ready: func(p int) { ready <- p }})
	}()
	t.Cleanup(func() { stop(); <-done })
	select {
	case p := <-ready:
		return fmt.Sprintf("127.0.0.1:%d", p)
	case err := <-done:
		t.Fatalf("seeder: %v", err)
	case <-ctx.Done():
		t.Fatal("seeder not ready")
	}
	return ""
}

// TestGatewayBinhostFromSwarm: a node whose store knows a binpkg
// collection (nothing else: no package in its store) serves the merged
// Packages and the packages, fetched from a real seeding peer and verified,
// with Portage's SIZE/MD5/SHA1 matching the bytes served; Last-Modified is
// the TIMESTAMP; unknown paths, traversal and Packages.gz are 404.
func TestGatewayBinhostFromSwarm(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	pkgdir, pkgs := binpkgPKGDIR(t)
	coll, err := collection.CreateBinpkg(ctx, collection.CreateOptions{From: pkgdir})
	if err != nil {
		t.Fatal(err)
	}
	peer := startBinpkgSeeder(t, ctx, coll, pkgdir)

	st, err := swarm.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Remember(coll.Torrents[0], nil); err != nil { // as `collection add` does
		t.Fatal(err)
	}
	node, err := swarm.OpenNode(ctx, swarm.NodeOptions{Store: st, Client: loopbackClient(), Peers: []string{peer}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Close() })
	srv := httptest.NewServer(New(swarm.GatewaySource{Node: node, SwarmTimeout: 30 * time.Second}, Options{}))
	t.Cleanup(srv.Close)

	resp, body := get(t, srv.URL, "/binpkgs/Packages")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("Packages: %s %s", resp.Status, body)
	}
	ix, err := binpkg.ReadIndex(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(ix.Packages) != 3 || ix.Header["URI"] != "" {
		t.Fatalf("index: %d packages, header %v", len(ix.Packages), ix.Header)
	}
	lm, err := http.ParseTime(resp.Header.Get("Last-Modified"))
	if err != nil || fmt.Sprint(lm.Unix()) != ix.Header[binpkg.KeyTimestamp] {
		t.Fatalf("Last-Modified %q, TIMESTAMP %s", resp.Header.Get("Last-Modified"), ix.Header[binpkg.KeyTimestamp])
	}
	if resp, _ := get(t, srv.URL, "/binpkgs/Packages", "If-Modified-Since: "+resp.Header.Get("Last-Modified")); resp.StatusCode != http.StatusNotModified {
		t.Fatalf("If-Modified-Since: %s", resp.Status)
	}
	for _, p := range ix.Packages {
		rel := p[binpkg.KeyPath]
		resp, body := get(t, srv.URL, "/binpkgs/"+rel)
		if resp.StatusCode != http.StatusOK || !bytes.Equal(body, pkgs[rel]) {
			t.Fatalf("%s: %s, %d bytes (want %d)", rel, resp.Status, len(body), len(pkgs[rel]))
		}
		dir := t.TempDir()
		bp, _ := p.Path()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, rel)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, rel), body, 0o644); err != nil {
			t.Fatal(err)
		}
		de, err := binpkg.ComputeDigestEntry(ctx, dir, bp)
		if err != nil {
			t.Fatal(err)
		}
		if err := de.CheckPackage(p); err != nil {
			t.Fatalf("served bytes vs Packages: %v", err)
		}
	}
	for _, target := range []string{
		"/binpkgs/Packages.gz", "/binpkgs/app-misc/nothere/nothere-1-1.gpkg.tar",
		"/binpkgs/../distfiles/layout.conf", "/binpkgs/acct-group/adm/..%2F..%2Fadm-0-r2-1.xpak",
		"/binpkgs/acct-group/adm/%2e%2e/adm/adm-0-r2-1.xpak", "/binpkgs/acct-group//adm/adm-0-r2-1.xpak",
		"/binpkgs/.quarantine/x", "/binpkgs/acct-group/adm/adm-0-r2-1.xpak/",
	} {
		if resp, _ := get(t, srv.URL, target); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %s, want 404", target, resp.Status)
		}
	}
	// The packages served are now in the store's PKGDIR, which lists them.
	f, err := os.Open(filepath.Join(st.BinpkgsDir(), "Packages"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if local, err := binpkg.ReadIndex(f); err != nil || len(local.Packages) != 3 {
		t.Fatalf("store Packages: %v", err)
	}
}
