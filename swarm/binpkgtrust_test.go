package swarm

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anacrolix/torrent/metainfo"
	"golang.org/x/crypto/ssh"

	"github.com/distswarm/distswarm/manifest"
	"github.com/distswarm/distswarm/manifest/attest"
	"github.com/distswarm/distswarm/manifest/binpkg"
	"github.com/distswarm/distswarm/manifest/trust"
	"github.com/distswarm/distswarm/swarm/collection"
)

// The sample PKGDIR's packages (samplePKGDIR).
const (
	pkgAdm     = "acct-group/adm/adm-0-r2-1.xpak"
	pkgDnsmasq = "acct-group/dnsmasq/dnsmasq-0-r3-1.gpkg.tar"
	pkgUserAdm = "acct-user/adm/adm-0-r2-1.xpak"
)

// builder is one signing key of a test.
type builder struct {
	name   string
	signer ssh.Signer
}

func newTestBuilder(t *testing.T, name string) builder {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return builder{name: name, signer: s}
}

// statementOf is the honest statement about the package at rel of pkgdir:
// its bytes and the build key `distswarm attest` derives (no Packages in
// pkgdir: the entry comes from the package's metadata).
func statementOf(t *testing.T, pkgdir, rel string) attest.Statement {
	t.Helper()
	bp, err := binpkg.ParsePath(rel)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
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
	return attest.Statement{Kind: attest.Built, Path: rel, BuildKey: key, Size: de.Size,
		BLAKE2B: de.Digests[manifest.BLAKE2B], SHA512: de.Digests[manifest.SHA512],
		Time: time.Now().UTC().Truncate(time.Second)}
}

// sign writes b's attestation of st under dir/attestations, where
// `distswarm attest` puts it.
func (b builder) sign(t *testing.T, dir string, st attest.Statement) {
	t.Helper()
	data, err := attest.Sign(st, b.signer)
	if err != nil {
		t.Fatal(err)
	}
	rel, err := attest.PathFor(b.signer.PublicKey(), st.Path)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// lie is st with the bytes of another file.
func lie(st attest.Statement) attest.Statement {
	d, n, err := manifest.Sum(context.Background(), strings.NewReader("a trojan build"), manifest.StrongHashes)
	if err != nil {
		panic(err)
	}
	st.Size, st.BLAKE2B, st.SHA512 = n, d[manifest.BLAKE2B], d[manifest.SHA512]
	return st
}

func policyOf(t *testing.T, k int, bs ...builder) *trust.Policy {
	t.Helper()
	var keys []trust.TrustedKey
	for _, b := range bs {
		pub := b.signer.PublicKey()
		keys = append(keys, trust.TrustedKey{Name: b.name, ID: attest.KeyID(pub), Key: pub})
	}
	p, err := trust.New(k, keys)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// trustSwarm is two binpkg collections of the same packages, seeded on
// loopback: the binhost's (alice's and carol's attestations, and those of
// 100 keys nobody trusts) and bob's (his attestations only), so a node
// must gather attestations from both. Alice and bob are honest; carol
// lies about pkgAdm; dave attests pkgDnsmasq for another build
// configuration (a replay) and pkgUserAdm honestly.
type trustSwarm struct {
	colls                   []*collection.Collection
	peers                   []string
	alice, bob, carol, dave builder
}

func newTrustSwarm(t *testing.T, ctx context.Context) trustSwarm {
	t.Helper()
	ts := trustSwarm{alice: newTestBuilder(t, "alice"), bob: newTestBuilder(t, "bob"),
		carol: newTestBuilder(t, "carol"), dave: newTestBuilder(t, "dave")}
	hub, _ := samplePKGDIR(t)
	bobDir, _ := samplePKGDIR(t)
	for _, rel := range []string{pkgAdm, pkgDnsmasq, pkgUserAdm} {
		st := statementOf(t, hub, rel)
		ts.alice.sign(t, hub, st)
		ts.bob.sign(t, bobDir, st)
		if rel == pkgAdm {
			ts.carol.sign(t, hub, lie(st))
		} else {
			ts.carol.sign(t, hub, st)
		}
	}
	for i := range 100 {
		newTestBuilder(t, fmt.Sprintf("sybil%d", i)).sign(t, hub, statementOf(t, hub, pkgAdm))
	}
	replay := statementOf(t, hub, pkgDnsmasq)
	replay.BuildKey = otherBuildKey(t, hub, pkgDnsmasq)
	ts.dave.sign(t, hub, replay)
	ts.dave.sign(t, hub, statementOf(t, hub, pkgUserAdm))
	for _, dir := range []string{hub, bobDir} {
		coll, err := collection.CreateBinpkg(ctx, collection.CreateOptions{From: dir})
		if err != nil {
			t.Fatal(err)
		}
		ts.colls = append(ts.colls, coll)
		ts.peers = append(ts.peers, fmt.Sprintf("127.0.0.1:%d", startSeeder(t, ctx, coll, dir)))
	}
	if n := len(ts.colls[0].Binpkgs[0].Attestations); n != 3+3+100+2 {
		t.Fatalf("the binhost's collection carries %d attestations, want 108", n)
	}
	return ts
}

// otherBuildKey is the build key of rel built with another USE.
func otherBuildKey(t *testing.T, pkgdir, rel string) string {
	t.Helper()
	bp, _ := binpkg.ParsePath(rel)
	de, err := binpkg.ComputeDigestEntry(context.Background(), pkgdir, bp)
	if err != nil {
		t.Fatal(err)
	}
	pkg, err := binpkg.PackageFor(context.Background(), pkgdir, de, nil)
	if err != nil {
		t.Fatal(err)
	}
	pkg[binpkg.KeyUSE] += " debug"
	key, err := binpkg.BuildKey(nil, pkg)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// fetch runs one in-process binpkg fetch of every sample package with
// policy into a fresh store; it returns the results by path and the log.
func (ts trustSwarm) fetch(t *testing.T, ctx context.Context, policy *trust.Policy) (*Store, map[string]BinpkgResult, string) {
	t.Helper()
	st, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	res, err := FetchBinpkgs(ctx, BinpkgFetchOptions{
		Store: st, Peers: ts.peers, Client: loopback(), Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		BinpkgRequest: BinpkgRequest{Collections: ts.colls, Trust: policy, Wants: []string{pkgAdm, pkgDnsmasq, pkgUserAdm}},
	})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]BinpkgResult{}
	for _, r := range res {
		out[r.Name] = r
	}
	return st, out, logs.String()
}

// checkJudged checks a result's counts and whether it was placed.
func checkJudged(t *testing.T, st *Store, r BinpkgResult, summary string, placed bool) {
	t.Helper()
	if r.Judgement == nil || r.Judgement.Unverified || r.Judgement.Summary != summary {
		t.Errorf("%s: judgement %+v, want %q", r.Name, r.Judgement, summary)
	}
	bp, _ := binpkg.ParsePath(r.Name)
	_, statErr := os.Stat(st.BinpkgPath(bp))
	switch {
	case placed && (!r.Outcome.OK() || r.Err != nil || statErr != nil):
		t.Errorf("%s: not placed: %v %v %v", r.Name, r.Outcome, r.Err, statErr)
	case !placed && (r.Outcome != OutcomeUntrusted || !errors.Is(r.Err, ErrUntrusted) || !errors.Is(statErr, fs.ErrNotExist)):
		t.Errorf("%s: placed or wrong refusal: %v %v %v", r.Name, r.Outcome, r.Err, statErr)
	}
}

// TestBinpkgTrustThreeBuilders: alice and bob honest, carol lying about
// one package, 100 untrusted keys attesting it too. Thresholds 1, 2, 3
// give exact counts; the lie is a warning naming carol; at 3 the package
// she lies about is not placed and not in the store's Packages.
func TestBinpkgTrustThreeBuilders(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ts := newTrustSwarm(t, ctx)
	for k := 1; k <= 3; k++ {
		t.Run(fmt.Sprintf("threshold %d", k), func(t *testing.T) {
			st, res, logs := ts.fetch(t, ctx, policyOf(t, k, ts.alice, ts.bob, ts.carol))
			checkJudged(t, st, res[pkgAdm], fmt.Sprintf("2 of 3 agree, 1 disagree, 0 missing (threshold %d)", k), k <= 2)
			checkJudged(t, st, res[pkgDnsmasq], fmt.Sprintf("3 of 3 agree, 0 disagree, 0 missing (threshold %d)", k), true)
			checkJudged(t, st, res[pkgUserAdm], fmt.Sprintf("3 of 3 agree, 0 disagree, 0 missing (threshold %d)", k), true)
			v := res[pkgAdm].Judgement.Verdict
			if v == nil || v.Untrusted != 100 || len(v.Disagree) != 1 || v.Disagree[0].Key != "carol" {
				t.Fatalf("verdict on %s: %+v", pkgAdm, v)
			}
			if !strings.Contains(logs, "DISAGREE") || !strings.Contains(logs, "carol (SHA256:") {
				t.Errorf("no warning naming carol in the log:\n%s", logs)
			}
			want := []string{pkgDnsmasq, pkgUserAdm}
			if k <= 2 {
				want = []string{pkgAdm, pkgDnsmasq, pkgUserAdm}
			}
			checkStoreIndex(t, st, want)
		})
	}
}

// TestBinpkgTrustSybilsAndReplay: with dave as the only trusted key, the
// 100 untrusted keys that attest pkgAdm's true bytes count for nothing,
// and dave's attestation of pkgDnsmasq for another build configuration
// counts as missing; his honest one of pkgUserAdm is enough at k=1.
func TestBinpkgTrustSybilsAndReplay(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ts := newTrustSwarm(t, ctx)
	st, res, _ := ts.fetch(t, ctx, policyOf(t, 1, ts.dave))
	checkJudged(t, st, res[pkgAdm], "0 of 1 agree, 0 disagree, 1 missing (threshold 1)", false)
	checkJudged(t, st, res[pkgDnsmasq], "0 of 1 agree, 0 disagree, 1 missing (threshold 1)", false)
	checkJudged(t, st, res[pkgUserAdm], "1 of 1 agree, 0 disagree, 0 missing (threshold 1)", true)
	// The 100 sybils, and alice, bob and carol, whom this trust file
	// does not list.
	if v := res[pkgAdm].Judgement.Verdict; v.Untrusted != 103 {
		t.Errorf("untrusted keys on %s: %d, want 103", pkgAdm, v.Untrusted)
	}
	if v := res[pkgDnsmasq].Judgement.Verdict; len(v.OtherBuild) != 1 || v.OtherBuild[0].Key != "dave" {
		t.Errorf("replayed attestation not reported as another build: %+v", v)
	}
	checkStoreIndex(t, st, []string{pkgUserAdm})
}

// TestPoolCache: the binhost pools a set of sources' attestations once;
// another set, or a source whose attestations changed, is pooled again.
func TestPoolCache(t *testing.T) {
	var c poolCache
	log := slog.New(slog.DiscardHandler)
	a := []binpkgSource{{ih: metainfo.Hash{1}}, {ih: metainfo.Hash{2}}}
	p1 := c.get(a, log)
	if p2 := c.get(a, log); p2 != p1 {
		t.Fatal("the same sources were pooled again")
	}
	b := []binpkgSource{{ih: metainfo.Hash{1}}, {ih: metainfo.Hash{2}, attestations: []collection.AttestationFile{{Path: "x", Data: []byte("not an attestation")}}}}
	p3 := c.get(b, log)
	if p3 == p1 {
		t.Fatal("a source with other attestations got the old pool")
	}
	if len(p3.Unattributed) != 1 {
		t.Fatalf("the new pool did not take the new file: %d unattributed", len(p3.Unattributed))
	}
}
