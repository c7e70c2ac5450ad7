package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/distswarm/distswarm/manifest/binpkg"
)

// multiBuildSamples writes three builds of acct-group/adm-0-r2, the XPAK
// sample with IUSE "ssl test" and USE: build 1 and 2 with ssl, 3 without.
func multiBuildSamples(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	xp := readFile(t, "../manifest/binpkg/testdata/257-binpkgs__acct-group__adm__adm-0-r2-1.xpak")
	pkgs := map[string][]byte{}
	for id, use := range map[int]string{1: "amd64 ssl", 2: "amd64 ssl", 3: "amd64"} {
		x, err := binpkg.ReadXPAK(bytes.NewReader(xp), int64(len(xp)))
		if err != nil {
			t.Fatal(err)
		}
		x.Metadata["IUSE"], x.Metadata["USE"] = []byte("ssl test\n"), []byte(use+"\n")
		x.Metadata["BUILD_ID"] = []byte(fmt.Sprintf("%d\n", id))
		keys := x.Keys
		for _, k := range []string{"IUSE", "USE", "BUILD_ID"} {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
		blob, err := binpkg.EncodeXPAK(x.Metadata, keys)
		if err != nil {
			t.Fatal(err)
		}
		rel := fmt.Sprintf("acct-group/adm/adm-0-r2-%d.xpak", id)
		pkgs[rel] = append(append(append([]byte{}, xp[:x.TarSize]...), blob...), binpkg.XPAKTrailer(blob)...)
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, pkgs[rel], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return pkgs
}

// binpkgJSONResult is one element of `binpkg fetch --json`.
type binpkgJSONResult struct {
	Want       string `json:"want"`
	Outcome    string `json:"outcome"`
	Path       string `json:"path"`
	Error      string `json:"error"`
	Candidates []struct {
		Path        string `json:"path"`
		BuildID     int    `json:"build_id"`
		Differences []struct {
			Field, Want, Built string
		} `json:"differences"`
	} `json:"candidates"`
}

// TestBinpkgFetchMatchThroughDaemon: with a daemon on the store, `binpkg
// fetch --match-make-conf` whose make.conf no build satisfies exits 1 and
// lists every candidate with its differences (text and --json); --match-use
// ssl with --match CHOST=... gets BUILD_ID 2; a make.conf with an
// unterminated quote is a usage error naming file and line.
func TestBinpkgFetchMatchThroughDaemon(t *testing.T) {
	dir := t.TempDir()
	pkgdir := filepath.Join(dir, "pkgdir")
	pkgs := multiBuildSamples(t, pkgdir)
	torrent := filepath.Join(dir, "binpkgs.torrent")
	pub, m := startProc(t, 60*time.Second, readyLine, append([]string{"binpkg", "publish"},
		append(Loopback, "--store", filepath.Join(dir, "s1"), "--pkgdir", pkgdir, "--out", torrent)...))
	fmt.Sscan(m[1], &pub.Port)
	store := filepath.Join(dir, "s2")
	StartDaemon(t, store, "--peer", pub.Addr())
	fetch := func(args ...string) Result {
		return Run(t, 90*time.Second, append([]string{"binpkg", "fetch", "--store", store, "--torrent", torrent, "--trust-collection"}, args...)...)
	}

	makeConf := filepath.Join(dir, "make.conf")
	writeFile(t, makeConf, "COMMON_FLAGS=\"-O2 -pipe\"\nCFLAGS=\"${COMMON_FLAGS}\"\nUSE=\"ssl \\\n  test\"\nCHOST=\"aarch64-unknown-linux-gnu\"\n")
	r := fetch("--json", "--match-make-conf", "--make-conf", makeConf, "acct-group/adm-0-r2")
	if r.Code != 1 || !strings.Contains(r.Stderr, "through the distswarm daemon") {
		t.Fatalf("mismatching make.conf: exit %d\n%s", r.Code, r.Stderr)
	}
	for _, s := range []string{"acct-group/adm/adm-0-r2-2.xpak (BUILD_ID 2", "USE: +test wanted, -test built", `CHOST: "aarch64-unknown-linux-gnu" wanted`, "Packages entries do not record CFLAGS"} {
		if !strings.Contains(r.Stderr, s) {
			t.Fatalf("stderr lacks %q:\n%s", s, r.Stderr)
		}
	}
	var res []binpkgJSONResult
	if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil {
		t.Fatalf("--json: %v\n%s", err, r.Stdout)
	}
	if len(res) != 1 || res[0].Outcome != "not-in-collections" || len(res[0].Candidates) != 3 {
		t.Fatalf("--json: %+v", res)
	}
	for i, c := range res[0].Candidates {
		d := c.Differences
		wantN := map[bool]int{true: 2, false: 3}[i < 2] // build 3 also lacks ssl
		if c.BuildID != i+1 || len(d) != wantN || d[len(d)-2].Want != "+test" || d[len(d)-1].Field != "CHOST" {
			t.Fatalf("candidate %d: %+v", i, c)
		}
	}

	r = fetch("--match-use", "ssl", "--match", "CHOST=x86_64-pc-linux-gnu", "--match", "LDFLAGS=-Wl,-O1,--as-needed", "acct-group/adm-0-r2")
	rel := "acct-group/adm/adm-0-r2-2.xpak"
	if r.Code != 0 || strings.TrimSpace(r.Stdout) != filepath.Join(store, "binpkgs", filepath.FromSlash(rel)) {
		t.Fatalf("--match-use ssl: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if !bytes.Equal(readFile(t, filepath.Join(store, "binpkgs", filepath.FromSlash(rel))), pkgs[rel]) {
		t.Fatalf("%s: wrong bytes", rel)
	}

	bad := filepath.Join(dir, "bad.conf")
	writeFile(t, bad, "CFLAGS=\"-O2\"\n\nUSE=\"ssl\n")
	r = fetch("--match-make-conf", "--make-conf", bad, "acct-group/adm-0-r2")
	if r.Code != 2 || !strings.Contains(r.Stderr, bad+":3: unterminated double quote") {
		t.Fatalf("bad make.conf: exit %d\n%s", r.Code, r.Stderr)
	}
}

func writeFile(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
