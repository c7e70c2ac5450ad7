package gateway

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/distswarm/distswarm/manifest"
	"github.com/distswarm/distswarm/manifest/attest"
	"github.com/distswarm/distswarm/manifest/binpkg"
	"github.com/distswarm/distswarm/manifest/trust"
	"github.com/distswarm/distswarm/swarm"
	"github.com/distswarm/distswarm/swarm/collection"
)

// attestInto signs, with a new key named name, honest attestations of the
// packages rels of pkgdir (build key derived as `distswarm attest` does)
// into pkgdir/attestations; it returns the key as the trust file lists it.
func attestInto(t *testing.T, pkgdir, name string, rels ...string) trust.TrustedKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, rel := range rels {
		bp, _ := binpkg.ParsePath(rel)
		de, err := binpkg.ComputeDigestEntry(ctx, pkgdir, bp)
		if err != nil {
			t.Fatal(err)
		}
		pkg, err := binpkg.PackageFor(ctx, pkgdir, de, nil)
		if err != nil {
			t.Fatal(err)
		}
		key, err := binpkg.BuildKey(nil, pkg)
		if err != nil {
			t.Fatal(err)
		}
		data, err := attest.Sign(attest.Statement{Kind: attest.Checked, Path: rel, BuildKey: key, Size: de.Size,
			BLAKE2B: de.Digests[manifest.BLAKE2B], SHA512: de.Digests[manifest.SHA512], Time: time.Now().UTC().Truncate(time.Second)}, signer)
		if err != nil {
			t.Fatal(err)
		}
		at, _ := attest.PathFor(signer.PublicKey(), rel)
		p := filepath.Join(pkgdir, filepath.FromSlash(at))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pub := signer.PublicKey()
	return trust.TrustedKey{Name: name, ID: attest.KeyID(pub), Key: pub}
}

// TestGatewayBinhostTrust: alice attests every package, bob only dnsmasq.
// With both trusted at threshold 2 the binhost lists and serves dnsmasq
// only; the others are 403 with their counts, which the status page and
// /api/v1/binpkgs show too. At threshold 1 all three are served. Without
// a trust file they are served and shown UNVERIFIED.
func TestGatewayBinhostTrust(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pkgdir, pkgs := binpkgPKGDIR(t)
	const adm, dnsmasq = "acct-group/adm/adm-0-r2-1.xpak", "acct-group/dnsmasq/dnsmasq-0-r3-1.gpkg.tar"
	alice := attestInto(t, pkgdir, "alice", adm, dnsmasq, "acct-user/adm/adm-0-r2-1.xpak")
	bob := attestInto(t, pkgdir, "bob", dnsmasq)
	coll, err := collection.CreateBinpkg(ctx, collection.CreateOptions{From: pkgdir})
	if err != nil {
		t.Fatal(err)
	}
	peer := startBinpkgSeeder(t, ctx, coll, pkgdir)
	serve := func(policy *trust.Policy) string {
		st, err := swarm.OpenStore(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Remember(coll.Torrents[0], nil); err != nil {
			t.Fatal(err)
		}
		node, err := swarm.OpenNode(ctx, swarm.NodeOptions{Store: st, Client: loopbackClient(), Peers: []string{peer}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { node.Close() })
		srv := httptest.NewServer(New(swarm.GatewaySource{Node: node, SwarmTimeout: 30 * time.Second, Trust: policy}, Options{}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	for k, listed := range map[int][]string{1: {adm, dnsmasq, "acct-user/adm/adm-0-r2-1.xpak"}, 2: {dnsmasq}} {
		policy, err := trust.New(k, []trust.TrustedKey{alice, bob})
		if err != nil {
			t.Fatal(err)
		}
		url := serve(policy)
		_, body := get(t, url, "/binpkgs/Packages")
		ix, err := binpkg.ReadIndex(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if got := packagePaths(ix); strings.Join(got, " ") != strings.Join(listed, " ") {
			t.Errorf("threshold %d: Packages lists %v, want %v", k, got, listed)
		}
		for _, rel := range listed {
			if resp, body := get(t, url, "/binpkgs/"+rel); resp.StatusCode != http.StatusOK || !bytes.Equal(body, pkgs[rel]) {
				t.Errorf("threshold %d: %s: %s", k, rel, resp.Status)
			}
		}
		if k == 2 {
			checkRefused(t, url, adm, "1 of 2 agree, 0 disagree, 1 missing (threshold 2)")
		}
	}
	url := serve(nil)
	if resp, _ := get(t, url, "/binpkgs/"+adm); resp.StatusCode != http.StatusOK {
		t.Fatalf("no trust file: %s", resp.Status)
	}
	if _, page := get(t, url, "/"); !bytes.Contains(page, []byte(`data-binpkg="`+adm+`" data-accepted="true" data-unverified="true"`)) ||
		!bytes.Contains(page, []byte("UNVERIFIED")) {
		t.Errorf("status page does not show %s UNVERIFIED", adm)
	}
}

func packagePaths(ix *binpkg.Index) []string {
	var out []string
	for _, p := range ix.Packages {
		out = append(out, p[binpkg.KeyPath])
	}
	return out
}

// checkRefused checks that rel is 403 with summary as the reason, on the
// status page and in /api/v1/binpkgs.
func checkRefused(t *testing.T, url, rel, summary string) {
	t.Helper()
	resp, body := get(t, url, "/binpkgs/"+rel)
	if resp.StatusCode != http.StatusForbidden || !bytes.Contains(body, []byte(summary)) {
		t.Errorf("%s: %s %q, want 403 with %q", rel, resp.Status, body, summary)
	}
	_, page := get(t, url, "/")
	if !bytes.Contains(page, []byte(`data-binpkg="`+rel+`" data-accepted="false"`)) || !bytes.Contains(page, []byte(summary)) {
		t.Errorf("status page does not show %s refused with %q", rel, summary)
	}
	_, api := get(t, url, "/api/v1/binpkgs")
	var js []swarm.BinpkgJudgement
	if err := json.Unmarshal(api, &js); err != nil {
		t.Fatal(err)
	}
	for _, j := range js {
		if j.Path == rel {
			if j.Accepted || j.Summary != summary || j.Verdict == nil || len(j.Verdict.Missing) != 1 || j.Verdict.Missing[0] != "bob" {
				t.Errorf("/api/v1/binpkgs: %+v", j)
			}
			return
		}
	}
	t.Errorf("/api/v1/binpkgs does not list %s: %s", rel, api)
}
