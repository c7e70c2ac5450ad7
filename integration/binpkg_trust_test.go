package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// trustKey is a key made with `distswarm key generate`, as a trust file
// lists it.
type trustKey struct{ name, keys, pubLine string }

func generateKey(t *testing.T, name string) trustKey {
	t.Helper()
	keys := filepath.Join(t.TempDir(), name)
	if r := Run(t, 30*time.Second, "key", "generate", "--keys-dir", keys, name); r.Code != 0 {
		t.Fatalf("key generate %s: exit %d\n%s", name, r.Code, r.Stderr)
	}
	r := Run(t, 30*time.Second, "key", "export", "--keys-dir", keys, name)
	if r.Code != 0 {
		t.Fatalf("key export %s: exit %d\n%s", name, r.Code, r.Stderr)
	}
	return trustKey{name, keys, strings.TrimSpace(r.Stdout)}
}

func writeTrustFile(t *testing.T, threshold int, keys ...trustKey) string {
	t.Helper()
	text := fmt.Sprintf("threshold = %d\n", threshold)
	for _, k := range keys {
		text += fmt.Sprintf("[[key]]\nname = %q\npublic-key = %q\n", k.name, k.pubLine)
	}
	p := filepath.Join(t.TempDir(), "trust.toml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

type fetchJSON struct {
	Name      string
	Outcome   string
	Judgement *struct {
		Summary    string
		Accepted   bool
		Unverified bool
	}
}

// TestBinpkgTrustCLI runs the whole trust chain as processes: alice
// attests every package of a PKGDIR, bob (who built only dnsmasq, from a
// PKGDIR of his own) attests his; both PKGDIRs are published with
// `binpkg publish`. A client trusting both at threshold 2 gets dnsmasq
// only, in-process and through its daemon, with the counts in --json;
// at threshold 1 it gets adm too.
func TestBinpkgTrustCLI(t *testing.T) {
	dir := t.TempDir()
	hub, bobDir := filepath.Join(dir, "hub"), filepath.Join(dir, "bob")
	binpkgSamples(t, hub)
	binpkgSamples(t, bobDir)
	const adm, dnsmasq = "acct-group/adm/adm-0-r2-1.xpak", "acct-group/dnsmasq/dnsmasq-0-r3-1.gpkg.tar"
	for _, rel := range []string{adm, "acct-user/adm/adm-0-r2-1.xpak"} {
		if err := os.Remove(filepath.Join(bobDir, filepath.FromSlash(rel))); err != nil {
			t.Fatal(err)
		}
	}
	alice, bob := generateKey(t, "alice"), generateKey(t, "bob")
	for _, a := range []struct {
		k      trustKey
		pkgdir string
	}{{alice, hub}, {bob, bobDir}} {
		if r := Run(t, 60*time.Second, "attest", "--keys-dir", a.k.keys, "--key", a.k.name, "--pkgdir", a.pkgdir); r.Code != 0 {
			t.Fatalf("attest by %s: exit %d\n%s", a.k.name, r.Code, r.Stderr)
		}
	}
	var torrents, peers []string
	for i, pkgdir := range []string{hub, bobDir} {
		torrent := filepath.Join(dir, fmt.Sprintf("c%d.torrent", i))
		pub, m := startProc(t, 60*time.Second, readyLine, append([]string{"binpkg", "publish"},
			append(Loopback, "--store", filepath.Join(dir, fmt.Sprintf("pub%d", i)), "--pkgdir", pkgdir, "--out", torrent)...))
		fmt.Sscan(m[1], &pub.Port)
		torrents, peers = append(torrents, "--torrent", torrent), append(peers, "--peer", pub.Addr())
	}
	fetch := func(store string, k int, extra ...string) (Result, map[string]fetchJSON) {
		args := append(append(append([]string{"binpkg", "fetch", "--store", store, "--json",
			"--trust-file", writeTrustFile(t, k, alice, bob)}, torrents...), extra...), adm, dnsmasq)
		r := Run(t, 90*time.Second, args...)
		var res []fetchJSON
		if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil {
			t.Fatalf("--json: %v\n%s\n%s", err, r.Stdout, r.Stderr)
		}
		out := map[string]fetchJSON{}
		for _, x := range res {
			out[x.Name] = x
		}
		return r, out
	}
	check := func(what string, res map[string]fetchJSON, rel, outcome, summary string) {
		t.Helper()
		x := res[rel]
		if x.Outcome != outcome || x.Judgement == nil || x.Judgement.Summary != summary || x.Judgement.Unverified {
			t.Errorf("%s: %s: %+v %+v, want %s with %q", what, rel, x, x.Judgement, outcome, summary)
		}
	}
	inProc := append(append([]string{}, Loopback...), peers...)
	r, res := fetch(filepath.Join(dir, "c1"), 2, inProc...)
	if r.Code != 1 {
		t.Errorf("threshold 2: exit %d, want 1 (adm refused)\n%s", r.Code, r.Stderr)
	}
	check("threshold 2", res, adm, "untrusted", "1 of 2 agree, 0 disagree, 1 missing (threshold 2)")
	check("threshold 2", res, dnsmasq, "placed", "2 of 2 agree, 0 disagree, 0 missing (threshold 2)")
	if _, err := os.Stat(filepath.Join(dir, "c1", "binpkgs", filepath.FromSlash(adm))); err == nil {
		t.Errorf("threshold 2: %s placed", adm)
	}
	r, res = fetch(filepath.Join(dir, "c2"), 1, inProc...)
	if r.Code != 0 {
		t.Errorf("threshold 1: exit %d\n%s", r.Code, r.Stderr)
	}
	check("threshold 1", res, adm, "placed", "1 of 2 agree, 0 disagree, 1 missing (threshold 1)")

	store := filepath.Join(dir, "c3")
	StartDaemon(t, store, peers...)
	r, res = fetch(store, 2)
	if !strings.Contains(r.Stderr, "through the distswarm daemon") || r.Code != 1 {
		t.Errorf("through the daemon: exit %d\n%s", r.Code, r.Stderr)
	}
	check("daemon", res, adm, "untrusted", "1 of 2 agree, 0 disagree, 1 missing (threshold 2)")
	check("daemon", res, dnsmasq, "placed", "2 of 2 agree, 0 disagree, 0 missing (threshold 2)")
}
