package integration

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/distswarm/distswarm/manifest/binpkg"
)

// binpkgSamples writes a PKGDIR of the real sample packages, plus the XPAK
// sample re-categorized to acct-user (same base name, other category).
func binpkgSamples(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	xp := readFile(t, "../manifest/binpkg/testdata/257-binpkgs__acct-group__adm__adm-0-r2-1.xpak")
	x, err := binpkg.ReadXPAK(bytes.NewReader(xp), int64(len(xp)))
	if err != nil {
		t.Fatal(err)
	}
	x.Metadata["CATEGORY"] = []byte("acct-user\n")
	blob, err := binpkg.EncodeXPAK(x.Metadata, x.Keys)
	if err != nil {
		t.Fatal(err)
	}
	user := append(append(append([]byte{}, xp[:x.TarSize]...), blob...), binpkg.XPAKTrailer(blob)...)
	pkgs := map[string][]byte{
		"acct-group/adm/adm-0-r2-1.xpak":             xp,
		"acct-user/adm/adm-0-r2-1.xpak":              user,
		"acct-group/dnsmasq/dnsmasq-0-r3-1.gpkg.tar": readFile(t, "../manifest/binpkg/testdata/joepasss-gentoo-bin__amd64__acct-group__dnsmasq__dnsmasq-0-r3-1.gpkg.tar"),
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
	return pkgs
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBinpkgPublishFetchCLI: `binpkg publish` seeds a PKGDIR from one
// process; `binpkg fetch` in another process, on another store, gets a
// package by CPV and one by path over loopback into STORE/binpkgs, whose
// Packages lists them.
func TestBinpkgPublishFetchCLI(t *testing.T) {
	dir := t.TempDir()
	pkgdir := filepath.Join(dir, "pkgdir")
	pkgs := binpkgSamples(t, pkgdir)
	torrent := filepath.Join(dir, "binpkgs.torrent")
	start := time.Now()
	pub, m := startProc(t, 60*time.Second, readyLine, append([]string{"binpkg", "publish"},
		append(Loopback, "--store", filepath.Join(dir, "s1"), "--pkgdir", pkgdir, "--out", torrent)...))
	fmt.Sscan(m[1], &pub.Port)
	for _, line := range strings.Split(pub.Stderr(), "\n") {
		if strings.HasPrefix(line, "created a binpkg collection") {
			t.Logf("publish: %s (ready after %s)", line, time.Since(start).Round(time.Millisecond))
		}
	}
	store := filepath.Join(dir, "s2")
	start = time.Now()
	r := Run(t, 90*time.Second, append(append([]string{"binpkg", "fetch"}, Loopback...),
		"--store", store, "--peer", pub.Addr(), "--torrent", torrent, "--trust-collection",
		"acct-group/adm-0-r2", "acct-user/adm/adm-0-r2-1.xpak")...)
	t.Logf("fetch of 2 packages: %s", time.Since(start).Round(time.Millisecond))
	if r.Code != 0 {
		t.Fatalf("binpkg fetch: exit %d\n%s", r.Code, r.Stderr)
	}
	if !strings.Contains(r.Stderr, "UNVERIFIED") {
		t.Fatalf("output does not say the index is unverified:\n%s", r.Stderr)
	}
	for _, rel := range []string{"acct-group/adm/adm-0-r2-1.xpak", "acct-user/adm/adm-0-r2-1.xpak"} {
		got := readFile(t, filepath.Join(store, "binpkgs", filepath.FromSlash(rel)))
		if !bytes.Equal(got, pkgs[rel]) {
			t.Fatalf("%s: wrong bytes", rel)
		}
		if !strings.Contains(r.Stdout, filepath.Join(store, "binpkgs", filepath.FromSlash(rel))) {
			t.Fatalf("%s not reported:\n%s", rel, r.Stdout)
		}
	}
	ix, err := binpkg.ReadIndex(bytes.NewReader(readFile(t, filepath.Join(store, "binpkgs", "Packages"))))
	if err != nil {
		t.Fatal(err)
	}
	if len(ix.Packages) != 2 {
		t.Fatalf("store Packages lists %d packages", len(ix.Packages))
	}
	// Without --trust-collection nothing vouches for the packages: usage error.
	if r := Run(t, 30*time.Second, "binpkg", "fetch", "--store", store, "--torrent", torrent, "acct-group/adm-0-r2"); r.Code != 2 {
		t.Fatalf("without --trust-collection: exit %d\n%s", r.Code, r.Stderr)
	}
}

// TestBinpkgFetchThroughDaemon: with a daemon on the store, `binpkg fetch`
// hands the request to it over the control socket; the daemon's node gets
// the package from the publisher and places it in STORE/binpkgs.
func TestBinpkgFetchThroughDaemon(t *testing.T) {
	dir := t.TempDir()
	pkgdir := filepath.Join(dir, "pkgdir")
	pkgs := binpkgSamples(t, pkgdir)
	torrent := filepath.Join(dir, "binpkgs.torrent")
	pub, m := startProc(t, 60*time.Second, readyLine, append([]string{"binpkg", "publish"},
		append(Loopback, "--store", filepath.Join(dir, "s1"), "--pkgdir", pkgdir, "--out", torrent)...))
	fmt.Sscan(m[1], &pub.Port)
	store := filepath.Join(dir, "s2")
	StartDaemon(t, store, "--peer", pub.Addr())
	r := Run(t, 90*time.Second, "binpkg", "fetch", "--store", store, "--torrent", torrent, "--trust-collection", "acct-group/dnsmasq-0-r3")
	if r.Code != 0 || !strings.Contains(r.Stderr, "through the distswarm daemon") {
		t.Fatalf("binpkg fetch: exit %d\n%s", r.Code, r.Stderr)
	}
	rel := "acct-group/dnsmasq/dnsmasq-0-r3-1.gpkg.tar"
	if got := readFile(t, filepath.Join(store, "binpkgs", filepath.FromSlash(rel))); !bytes.Equal(got, pkgs[rel]) {
		t.Fatalf("%s: wrong bytes", rel)
	}
}
