package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPortageBinhostTrust: Portage builds foo (GPKG) and bar (XPAK);
// alice attests both, bob only foo, with `distswarm attest` deriving the
// build keys from Portage's own Packages; the PKGDIR is published with
// its attestations. A daemon trusting alice and bob serves bar (1 of 2)
// to an unmodified emerge --getbinpkgonly --fetchonly at threshold 1; at
// threshold 2 its binhost leaves bar out, answers 403, says why on
// /api/v1/binpkgs, and Portage finds no binary package for it, while foo
// (2 of 2) is still fetched.
func TestPortageBinhostTrust(t *testing.T) {
	builder := NewPortage(t)
	pkgdir := buildBinpkgs(t, builder, map[string]string{"foo": "gpkg", "bar": "xpak"})
	const foo, bar = "app-misc/foo/foo-1-1.gpkg.tar", "app-misc/bar/bar-1-1.xpak"
	alice, bob := generateKey(t, "alice"), generateKey(t, "bob")
	for _, k := range []trustKey{alice, bob} {
		if r := Run(t, time.Minute, "attest", "--keys-dir", k.keys, "--key", k.name, "--pkgdir", pkgdir); r.Code != 0 {
			t.Fatalf("attest by %s: exit %d\n%s", k.name, r.Code, r.Stderr)
		}
	}
	bobs, _ := filepath.Glob(filepath.Join(pkgdir, "attestations", "*", filepath.FromSlash(bar)+".attestation"))
	removed := 0
	for _, p := range bobs {
		if data, err := os.ReadFile(p); err == nil && strings.Contains(string(data), "signer="+keyID(t, bob)) {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			removed++
		}
	}
	if removed != 1 {
		t.Fatalf("bob's attestation of %s: removed %d of %v", bar, removed, bobs)
	}
	torrent := filepath.Join(builder.Root, "binpkgs.torrent")
	pub, m := startProc(t, 60*time.Second, readyLine, append([]string{"binpkg", "publish"},
		append(Loopback, "--store", filepath.Join(builder.Root, "publisher-store"), "--pkgdir", pkgdir, "--out", torrent)...))
	fmt.Sscan(m[1], &pub.Port)

	client := func(k int) (*Portage, *Daemon) {
		c := NewPortage(t)
		store := c.NewStore("store")
		d := StartDaemon(t, store, "--peer", pub.Addr(), "--trust-file", writeTrustFile(t, k, alice, bob))
		if r := Run(t, time.Minute, "collection", "add", "--store", store, torrent); r.Code != 0 {
			t.Fatalf("collection add: exit %d\n%s", r.Code, r.Stderr)
		}
		c.writeFile(filepath.Join(c.Prefix, "etc/portage/binrepos.conf"),
			fmt.Sprintf("[swarm]\nsync-uri = %s/binpkgs\nverify-signature = false\n", d.Gateway))
		return c, d
	}
	c1, d1 := client(1)
	if r := c1.Emerge(nil, "--getbinpkgonly", "--fetchonly", "=app-misc/bar-1"); r.Code != 0 || !strings.Contains(r.Output, d1.Gateway+"/binpkgs/"+bar) {
		t.Fatalf("threshold 1: emerge of bar (1 of 2 agree): exit %d\n%s", r.Code, lastLines(r.Output, 60))
	}

	c2, d2 := client(2)
	r := c2.Emerge(nil, "--getbinpkgonly", "--fetchonly", "=app-misc/bar-1")
	if r.Code == 0 || strings.Contains(r.Output, "/binpkgs/"+bar) || !strings.Contains(r.Output, `there are no binary packages to satisfy "=app-misc/bar-1"`) {
		t.Fatalf("threshold 2: emerge got bar (1 of 2 agree): exit %d\n%s", r.Code, lastLines(r.Output, 60))
	}
	t.Logf("Portage at threshold 2: %s", lastLines(r.Output, 6))
	if r := c2.Emerge(nil, "--getbinpkgonly", "--fetchonly", "=app-misc/foo-1"); r.Code != 0 {
		t.Fatalf("threshold 2: emerge of foo (2 of 2 agree): exit %d\n%s", r.Code, lastLines(r.Output, 60))
	}
	resp, err := http.Get(d2.Gateway + "/binpkgs/" + bar)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("GET %s at threshold 2: %s, want 403", bar, resp.Status)
	}
	checkJudgement(t, d2.Gateway, bar, false, "1 of 2 agree, 0 disagree, 1 missing (threshold 2)")
	checkJudgement(t, d2.Gateway, foo, true, "2 of 2 agree, 0 disagree, 0 missing (threshold 2)")
}

// keyID is a key's ID (its SHA256 fingerprint) as `key list --json` says.
func keyID(t *testing.T, k trustKey) string {
	t.Helper()
	r := Run(t, 30*time.Second, "key", "list", "--keys-dir", k.keys, "--json")
	var keys []struct{ Name, ID string }
	if err := json.Unmarshal([]byte(r.Stdout), &keys); err != nil || len(keys) != 1 {
		t.Fatalf("key list --json: %v\n%s", err, r.Stdout)
	}
	return keys[0].ID
}

// checkJudgement checks the daemon's /api/v1/binpkgs entry for a package.
func checkJudgement(t *testing.T, gateway, rel string, accepted bool, summary string) {
	t.Helper()
	resp, err := http.Get(gateway + "/api/v1/binpkgs")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var js []struct {
		Path     string
		Accepted bool
		Summary  string
	}
	if err := json.NewDecoder(resp.Body).Decode(&js); err != nil {
		t.Fatal(err)
	}
	for _, j := range js {
		if j.Path == rel {
			if j.Accepted != accepted || j.Summary != summary {
				t.Errorf("/api/v1/binpkgs %s: %+v, want accepted=%v %q", rel, j, accepted, summary)
			}
			return
		}
	}
	t.Errorf("/api/v1/binpkgs does not list %s: %+v", rel, js)
}
