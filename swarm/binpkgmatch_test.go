package swarm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/distswarm/distswarm/manifest/binpkg"
	"github.com/distswarm/distswarm/swarm/collection"
)

// withUSE returns the XPAK sample with its IUSE and USE metadata replaced.
func withUSE(t *testing.T, pkg []byte, iuse, use string) []byte {
	t.Helper()
	x, err := binpkg.ReadXPAK(bytes.NewReader(pkg), int64(len(pkg)))
	if err != nil {
		t.Fatal(err)
	}
	x.Metadata["IUSE"] = []byte(iuse + "\n")
	x.Metadata["USE"] = []byte(use + "\n")
	keys := x.Keys
	for _, k := range []string{"IUSE", "USE"} {
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	blob, err := binpkg.EncodeXPAK(x.Metadata, keys)
	if err != nil {
		t.Fatal(err)
	}
	out := append([]byte{}, pkg[:x.TarSize]...)
	out = append(out, blob...)
	return append(out, binpkg.XPAKTrailer(blob)...)
}

// multiBuildPKGDIR writes three builds of acct-group/adm-0-r2 (BUILD_IDs
// 1, 2, 3): 1 and 2 with USE=ssl, 3 without; none with test.
func multiBuildPKGDIR(t *testing.T) (string, map[string][]byte) {
	t.Helper()
	dir := t.TempDir()
	xp := readTestFile(t, xpakSample)
	pkgs := map[string][]byte{
		"acct-group/adm/adm-0-r2-1.xpak": withUSE(t, xp, "ssl test", "amd64 ssl"),
		"acct-group/adm/adm-0-r2-2.xpak": withUSE(t, xp, "+ssl test", "amd64 elibc_glibc ssl"),
		"acct-group/adm/adm-0-r2-3.xpak": withUSE(t, xp, "ssl test", "amd64"),
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

// TestBinpkgFetchMatchesBuild publishes three builds of one CPV and
// fetches it over loopback with build requirements: a requirement no build
// meets fails with every candidate and its differences, and nothing is
// placed; USE=ssl picks BUILD_ID 2 (the highest with ssl, not 3), -ssl
// picks 3, and no requirement picks 3.
func TestBinpkgFetchMatchesBuild(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	pkgdir, pkgs := multiBuildPKGDIR(t)
	coll, port, leech := publishSeeded(t, ctx, pkgdir)
	fetch := func(match binpkg.BuildWant) BinpkgResult {
		t.Helper()
		res, err := FetchBinpkgs(ctx, BinpkgFetchOptions{
			Store: leech, Peers: []string{fmt.Sprintf("127.0.0.1:%d", port)}, Client: loopback(),
			BinpkgRequest: BinpkgRequest{Collections: []*collection.Collection{coll}, TrustCollection: true,
				Wants: []string{"acct-group/adm-0-r2"}, Match: match},
		})
		if err != nil {
			t.Fatal(err)
		}
		return res[0]
	}

	var none binpkg.BuildWant
	must(t, none.AddUSE("test"))
	must(t, none.Set(binpkg.FieldCHOST, "aarch64-unknown-linux-gnu"))
	r := fetch(none)
	nm, ok := errors.AsType[*NoMatchError](r.Err)
	if !ok || r.Outcome.OK() || r.Outcome != OutcomeNotInCollections {
		t.Fatalf("mismatching request: %+v", r)
	}
	if len(nm.Candidates) != 3 {
		t.Fatalf("%d candidates: %v", len(nm.Candidates), nm)
	}
	for i, c := range nm.Candidates {
		if c.BuildID != i+1 || c.Path != fmt.Sprintf("acct-group/adm/adm-0-r2-%d.xpak", i+1) || c.Collection != coll.Torrents[0].HashInfoBytes().HexString() {
			t.Fatalf("candidate %d: %+v", i, c)
		}
		if got := describeDiffs(c.Differences); !strings.HasPrefix(got, "USE: +test wanted, -test built; CHOST: \"aarch64-unknown-linux-gnu\" wanted, ") {
			t.Fatalf("candidate %d differences: %s", i, got)
		}
	}
	if !strings.Contains(r.Err.Error(), "acct-group/adm/adm-0-r2-3.xpak (BUILD_ID 3, collection ") {
		t.Fatalf("error does not list the candidates: %v", r.Err)
	}
	if ents, err := os.ReadDir(leech.BinpkgsDir()); err == nil && len(ents) > 1 {
		t.Fatalf("a mismatching request placed something: %v", ents)
	}

	for _, c := range []struct{ use, want string }{
		{"ssl", "acct-group/adm/adm-0-r2-2.xpak"},
		{"-ssl", "acct-group/adm/adm-0-r2-3.xpak"},
		{"", "acct-group/adm/adm-0-r2-3.xpak"},
	} {
		var w binpkg.BuildWant
		must(t, w.AddUSE(c.use))
		r := fetch(w)
		if r.Err != nil || !r.Outcome.OK() || r.Name != c.want {
			t.Fatalf("USE %q: %+v, want %s", c.use, r, c.want)
		}
		if !bytes.Equal(readTestFile(t, r.Path), pkgs[c.want]) {
			t.Fatalf("USE %q: %s has other bytes", c.use, r.Path)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestBinpkgFetchPrefersTrustedBuild: of three builds of one CPV, the
// trusted key attests 1 and 2 only. A fetch by CPV takes BUILD_ID 2, the
// highest the trust file accepts, not 3; asking for a build only 3 meets
// (-ssl) reports 3 as untrusted, with its counts, and places nothing.
func TestBinpkgFetchPrefersTrustedBuild(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	pkgdir, pkgs := multiBuildPKGDIR(t)
	alice := newTestBuilder(t, "alice")
	for _, rel := range []string{"acct-group/adm/adm-0-r2-1.xpak", "acct-group/adm/adm-0-r2-2.xpak"} {
		alice.sign(t, pkgdir, statementOf(t, pkgdir, rel))
	}
	coll, port, leech := publishSeeded(t, ctx, pkgdir)
	fetch := func(use string) BinpkgResult {
		t.Helper()
		var w binpkg.BuildWant
		must(t, w.AddUSE(use))
		res, err := FetchBinpkgs(ctx, BinpkgFetchOptions{
			Store: leech, Peers: []string{fmt.Sprintf("127.0.0.1:%d", port)}, Client: loopback(),
			BinpkgRequest: BinpkgRequest{Collections: []*collection.Collection{coll}, Trust: policyOf(t, 1, alice),
				Wants: []string{"acct-group/adm-0-r2"}, Match: w},
		})
		if err != nil {
			t.Fatal(err)
		}
		return res[0]
	}
	r := fetch("")
	const trusted = "acct-group/adm/adm-0-r2-2.xpak"
	if r.Err != nil || !r.Outcome.OK() || r.Name != trusted || r.Judgement == nil || !r.Judgement.Accepted {
		t.Fatalf("fetch by CPV: %+v (judgement %+v), want %s placed", r, r.Judgement, trusted)
	}
	if !bytes.Equal(readTestFile(t, r.Path), pkgs[trusted]) {
		t.Fatalf("%s has other bytes", r.Path)
	}
	r = fetch("-ssl")
	if r.Name != "acct-group/adm/adm-0-r2-3.xpak" || r.Outcome != OutcomeUntrusted || !errors.Is(r.Err, ErrUntrusted) ||
		r.Judgement == nil || !strings.HasPrefix(r.Judgement.Summary, "0 of 1 agree") {
		t.Fatalf("fetch of the untrusted build: %+v (judgement %+v)", r, r.Judgement)
	}
}
