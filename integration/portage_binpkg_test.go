package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Real Portage as a binhost client of a daemon's gateway (issue 9): Portage
// builds a PKGDIR (one GPKG, one XPAK package), `binpkg publish` seeds it
// from one process, a daemon on another store knows only the collection
// and the peer, and an unmodified emerge --getbinpkgonly --fetchonly in a
// second prefix, whose only binhost is the gateway, gets both packages
// with Portage's own checks passing.

// buildBinpkgs writes packages to the repository and has Portage build
// them into its PKGDIR, in the given formats.
func buildBinpkgs(t *testing.T, p *Portage, formats map[string]string) string {
	t.Helper()
	if err := os.Symlink("/bin/tar", filepath.Join(p.binDir, "gtar")); err != nil && !os.IsExist(err) {
		t.Fatal(err)
	}
	pkgdir := filepath.Join(p.Root, "packages")
	for name, format := range formats {
		ebuild := filepath.Join(p.Repo, "app-misc", name, name+"-1.ebuild")
		p.writeFile(ebuild, fmt.Sprintf(`EAPI=8
DESCRIPTION="distswarm binpkg test package %s"
HOMEPAGE="https://example.org/"
LICENSE="MIT"
SLOT="0"
KEYWORDS="amd64"
S="${WORKDIR}"
src_install() {
	echo "%s payload" > "${T}/%s.txt" || die
	insinto /usr/share/%s
	doins "${T}/%s.txt"
}
`, name, name, name, name, name))
		start := time.Now()
		r := runBounded(emergeTimeout, p.env("BINPKG_FORMAT="+format), filepath.Join(p.Tree, "bin", "ebuild"), ebuild, "package")
		if r.Code != 0 {
			t.Fatalf("ebuild %s package: exit %d\n%s", ebuild, r.Code, lastLines(r.Output, 40))
		}
		t.Logf("Portage built app-misc/%s-1 (%s) in %s", name, format, time.Since(start).Round(time.Millisecond))
	}
	return pkgdir
}

func TestPortageBinhostThroughGateway(t *testing.T) {
	builder := NewPortage(t)
	pkgdir := buildBinpkgs(t, builder, map[string]string{"foo": "gpkg", "bar": "xpak"})
	paths := []string{"app-misc/bar/bar-1-1.xpak", "app-misc/foo/foo-1-1.gpkg.tar"}
	for _, rel := range paths {
		if _, err := os.Stat(filepath.Join(pkgdir, rel)); err != nil {
			t.Fatalf("Portage did not build %s: %v", rel, err)
		}
	}
	torrent := filepath.Join(builder.Root, "binpkgs.torrent")
	start := time.Now()
	pub, m := startProc(t, 60*time.Second, readyLine, append([]string{"binpkg", "publish"},
		append(Loopback, "--store", filepath.Join(builder.Root, "publisher-store"), "--pkgdir", pkgdir, "--out", torrent)...))
	fmt.Sscan(m[1], &pub.Port)
	t.Logf("binpkg publish ready in %s", time.Since(start).Round(time.Millisecond))

	client := NewPortage(t)
	store := client.NewStore("store")
	d := StartDaemon(t, store, "--peer", pub.Addr())
	if r := Run(t, time.Minute, "collection", "add", "--store", store, torrent); r.Code != 0 {
		t.Fatalf("collection add: exit %d\n%s", r.Code, r.Stderr)
	}
	client.writeFile(filepath.Join(client.Prefix, "etc/portage/binrepos.conf"),
		fmt.Sprintf("[swarm]\nsync-uri = %s/binpkgs\nverify-signature = false\n", d.Gateway))
	r := client.Emerge(nil, "--getbinpkgonly", "--fetchonly", "=app-misc/foo-1", "=app-misc/bar-1")
	if r.Code != 0 {
		t.Fatalf("emerge --getbinpkgonly --fetchonly: exit %d\n%s", r.Code, lastLines(r.Output, 60))
	}
	for _, rel := range paths {
		want, err := os.ReadFile(filepath.Join(pkgdir, rel))
		if err != nil {
			t.Fatal(err)
		}
		// Portage saves a download under its own format's name (the XPAK
		// one as bar-1-1.gpkg.tar here), in PKGDIR or its binhost cache.
		stem := strings.TrimSuffix(strings.TrimSuffix(rel, ".xpak"), ".gpkg.tar")
		var found []string
		for _, dir := range []string{filepath.Join(client.Root, "packages"), filepath.Join(client.Prefix, "var/cache/binhost/swarm")} {
			m, _ := filepath.Glob(filepath.Join(dir, stem+".*"))
			found = append(found, m...)
		}
		if len(found) != 1 {
			t.Fatalf("%s: Portage saved %v\n%s", rel, found, lastLines(r.Output, 40))
		}
		if got, err := os.ReadFile(found[0]); err != nil || string(got) != string(want) {
			t.Fatalf("%s: %s does not hold the built bytes (%v)", rel, found[0], err)
		}
		if !strings.Contains(r.Output, filepath.Base(stem)+".gpkg.tar MD5 SHA1 size ;-)") {
			t.Errorf("Portage did not report its checks of %s:\n%s", rel, lastLines(r.Output, 40))
		}
		if !strings.Contains(r.Output, d.Gateway+"/binpkgs/"+rel) {
			t.Errorf("%s was not downloaded from the gateway", rel)
		}
		if _, err := os.Stat(filepath.Join(store, "binpkgs", rel)); err != nil {
			t.Errorf("%s: not in the daemon's STORE/binpkgs: %v", rel, err)
		}
	}
}
