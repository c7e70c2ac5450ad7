package trust

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/blake2b"
	"golang.org/x/crypto/ssh"

	"github.com/distswarm/distswarm/manifest/attest"
)

var now = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

type party struct {
	signer ssh.Signer
	key    TrustedKey
}

func newParty(t testing.TB, name string) party {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return party{s, TrustedKey{Name: name, ID: attest.KeyID(s.PublicKey()), Key: s.PublicKey()}}
}

func parties(t testing.TB, names ...string) []party {
	out := make([]party, len(names))
	for i, n := range names {
		out[i] = newParty(t, n)
	}
	return out
}

func policy(t testing.TB, k int, ps ...party) *Policy {
	t.Helper()
	keys := make([]TrustedKey, len(ps))
	for i, p := range ps {
		keys[i] = p.key
	}
	pol, err := New(k, keys)
	if err != nil {
		t.Fatal(err)
	}
	return pol
}

// subjectOf computes the digests of data independently of the code under
// test.
func subjectOf(path, buildKey string, data []byte) Subject {
	b, s := blake2b.Sum512(data), sha512.Sum512(data)
	return Subject{Path: path, BuildKey: buildKey, Size: int64(len(data)),
		BLAKE2B: hex.EncodeToString(b[:]), SHA512: hex.EncodeToString(s[:])}
}

// attestFile has p sign that subj has the digests of data.
func (p party) attestFile(t testing.TB, path, buildKey string, data []byte) []byte {
	t.Helper()
	s := subjectOf(path, buildKey, data)
	file, err := attest.Sign(attest.Statement{Kind: attest.Built, Path: s.Path, BuildKey: s.BuildKey,
		Size: s.Size, BLAKE2B: s.BLAKE2B, SHA512: s.SHA512, Time: now.Add(-time.Hour)}, p.signer)
	if err != nil {
		t.Fatal(err)
	}
	return file
}

func addAll(t testing.TB, pool *Pool, files ...[]byte) {
	t.Helper()
	for i, f := range files {
		if err := pool.Add(fmt.Sprintf("file%d", i), f); err != nil {
			t.Fatal(err)
		}
	}
}

// check asserts the counts, the invariant agree+disagree+missing = M, and
// the decision.
func check(t *testing.T, v Verdict, agree, disagree, missing int, accepted bool) {
	t.Helper()
	a, d, m := v.Counts()
	if a+d+m != v.Trusted {
		t.Errorf("%s: counts do not add up to M=%d", v, v.Trusted)
	}
	if a != agree || d != disagree || m != missing || v.Accepted != accepted {
		t.Errorf("%s, accepted=%v (threshold %d); want %d/%d/%d accepted=%v",
			v, v.Accepted, v.Threshold, agree, disagree, missing, accepted)
	}
	if v.Summary != v.String() {
		t.Errorf("summary %q", v.Summary)
	}
}

func names(votes []Vote) string {
	var out []string
	for _, v := range votes {
		out = append(out, v.Key)
	}
	return strings.Join(out, ",")
}

// Three builders, two honest and one lying about one package, at
// thresholds 1, 2 and 3.
func TestThreeBuildersOneLiar(t *testing.T) {
	ps := parties(t, "alice", "bob", "mallory")
	good1, good2, evil := []byte("pkg one"), []byte("pkg two"), []byte("pkg two, trojaned")
	pool := NewPool()
	for _, p := range ps {
		addAll(t, pool, p.attestFile(t, "a/one/one-1-1.gpkg.tar", "cfg", good1))
		pkg2 := good2
		if p.key.Name == "mallory" {
			pkg2 = evil
		}
		addAll(t, pool, p.attestFile(t, "a/two/two-1-1.gpkg.tar", "cfg", pkg2))
	}
	for k := 1; k <= 3; k++ {
		pol := policy(t, k, ps...)
		v1 := pool.Evaluate(pol, subjectOf("a/one/one-1-1.gpkg.tar", "cfg", good1), now)
		check(t, v1, 3, 0, 0, true)
		v2 := pool.Evaluate(pol, subjectOf("a/two/two-1-1.gpkg.tar", "cfg", good2), now)
		check(t, v2, 2, 1, 0, k <= 2)
		if names(v2.Disagree) != "mallory" {
			t.Errorf("k=%d: disagreeing keys %q, want mallory", k, names(v2.Disagree))
		}
		// The trojaned bytes: only mallory vouches for them.
		v3 := pool.Evaluate(pol, subjectOf("a/two/two-1-1.gpkg.tar", "cfg", evil), now)
		check(t, v3, 1, 2, 0, k <= 1)
		if names(v3.Disagree) != "alice,bob" {
			t.Errorf("k=%d: evil bytes: disagreeing %q, want alice,bob", k, names(v3.Disagree))
		}
	}
}

// A trusted key that said nothing is missing, not agreement (Trustix).
func TestSilentKeysAreMissing(t *testing.T) {
	ps := parties(t, "alice", "bob", "carol")
	data := []byte("pkg")
	pool := NewPool()
	addAll(t, pool, ps[0].attestFile(t, "a/b/b-1.gpkg.tar", "cfg", data))
	subj := subjectOf("a/b/b-1.gpkg.tar", "cfg", data)
	v := pool.Evaluate(policy(t, 2, ps...), subj, now)
	check(t, v, 1, 0, 2, false)
	if v.String() != "1 of 3 agree, 0 disagree, 2 missing" || strings.Join(v.Missing, ",") != "bob,carol" {
		t.Errorf("got %q missing %v", v, v.Missing)
	}
	check(t, pool.Evaluate(policy(t, 1, ps...), subj, now), 1, 0, 2, true)
	// Nobody at all: everyone missing.
	check(t, pool.Evaluate(policy(t, 1, ps...), subjectOf("x/y/y-1.gpkg.tar", "cfg", data), now), 0, 0, 3, false)
}

// 100 keys not in the trust file count for nothing, whatever they sign.
func TestSybilKeysCountForNothing(t *testing.T) {
	alice, bob := newParty(t, "alice"), newParty(t, "bob")
	good, evil := []byte("good"), []byte("evil")
	pool := NewPool()
	for i := 0; i < 100; i++ {
		sybil := newParty(t, fmt.Sprintf("sybil%d", i))
		addAll(t, pool, sybil.attestFile(t, "a/b/b-1.gpkg.tar", "cfg", evil))
		addAll(t, pool, sybil.attestFile(t, "a/c/c-1.gpkg.tar", "cfg", good))
	}
	addAll(t, pool, alice.attestFile(t, "a/b/b-1.gpkg.tar", "cfg", good))
	pol := policy(t, 1, alice, bob)
	v := pool.Evaluate(pol, subjectOf("a/b/b-1.gpkg.tar", "cfg", evil), now)
	check(t, v, 0, 1, 1, false)
	if v.Untrusted != 100 {
		t.Errorf("untrusted %d, want 100", v.Untrusted)
	}
	check(t, pool.Evaluate(pol, subjectOf("a/b/b-1.gpkg.tar", "cfg", good), now), 1, 0, 1, true)
	// Sybils agreeing with the bytes do not help either.
	check(t, pool.Evaluate(pol, subjectOf("a/c/c-1.gpkg.tar", "cfg", good), now), 0, 0, 2, false)
}

func TestSplitVote(t *testing.T) {
	ps := parties(t, "a1", "a2", "b1", "b2")
	x, y := []byte("x"), []byte("y")
	pool := NewPool()
	for i, p := range ps {
		data := x
		if i >= 2 {
			data = y
		}
		addAll(t, pool, p.attestFile(t, "c/p/p-1.gpkg.tar", "cfg", data))
	}
	pol := policy(t, 2, ps...)
	vx := pool.Evaluate(pol, subjectOf("c/p/p-1.gpkg.tar", "cfg", x), now)
	check(t, vx, 2, 2, 0, true)
	vy := pool.Evaluate(pol, subjectOf("c/p/p-1.gpkg.tar", "cfg", y), now)
	check(t, vy, 2, 2, 0, true)
	if names(vx.Disagree) != "b1,b2" || names(vy.Disagree) != "a1,a2" {
		t.Errorf("disagree: x %q, y %q", names(vx.Disagree), names(vy.Disagree))
	}
	check(t, pool.Evaluate(policy(t, 3, ps...), subjectOf("c/p/p-1.gpkg.tar", "cfg", x), now), 2, 2, 0, false)
}

func TestSameKeySigningTwice(t *testing.T) {
	alice, bob := newParty(t, "alice"), newParty(t, "bob")
	x, y := []byte("x"), []byte("y")
	path := "c/p/p-1.gpkg.tar"
	subj := subjectOf(path, "cfg", x)

	pool := NewPool()
	f := alice.attestFile(t, path, "cfg", x)
	addAll(t, pool, f, f, alice.attestFile(t, path, "cfg", x))
	v := pool.Evaluate(policy(t, 2, alice, bob), subj, now)
	check(t, v, 1, 0, 1, false) // one key is one vote, however often it signs

	pool = NewPool()
	addAll(t, pool, alice.attestFile(t, path, "cfg", x), alice.attestFile(t, path, "cfg", y))
	v = pool.Evaluate(policy(t, 1, alice, bob), subj, now)
	check(t, v, 0, 1, 1, false)
	if len(v.Disagree) != 1 || !v.Disagree[0].Contradicts {
		t.Errorf("a key contradicting itself: %+v", v.Disagree)
	}
}

// An attestation replayed for another build configuration does not count.
func TestWrongBuildKey(t *testing.T) {
	alice, bob := newParty(t, "alice"), newParty(t, "bob")
	data := []byte("pkg")
	path := "c/p/p-1.gpkg.tar"
	pool := NewPool()
	addAll(t, pool, alice.attestFile(t, path, "cfg-A", data), bob.attestFile(t, path, "cfg-B", data))
	v := pool.Evaluate(policy(t, 1, alice, bob), subjectOf(path, "cfg-B", data), now)
	check(t, v, 1, 0, 1, true)
	if names(v.Agree) != "bob" || strings.Join(v.Missing, ",") != "alice" || names(v.OtherBuild) != "alice" {
		t.Errorf("agree %q missing %v other-build %q", names(v.Agree), v.Missing, names(v.OtherBuild))
	}
	v = pool.Evaluate(policy(t, 1, alice, bob), subjectOf(path, "cfg-C", data), now)
	check(t, v, 0, 0, 2, false)
}

func TestBadSignaturesReportedAndIgnored(t *testing.T) {
	alice, bob := newParty(t, "alice"), newParty(t, "bob")
	data := []byte("pkg")
	path := "c/p/p-1.gpkg.tar"
	good := alice.attestFile(t, path, "cfg", data)
	forged := []byte(strings.Replace(string(bob.attestFile(t, path, "cfg", data)), "kind=built", "kind=checked", 1))
	pool := NewPool()
	addAll(t, pool, good)
	if err := pool.Add("forged", forged); err == nil {
		t.Fatal("forged attestation accepted")
	}
	if err := pool.Add("junk", []byte("not an attestation")); err == nil {
		t.Fatal("junk accepted")
	}
	v := pool.Evaluate(policy(t, 2, alice, bob), subjectOf(path, "cfg", data), now)
	check(t, v, 1, 0, 1, false)
	if len(v.BadSignatures) != 1 || v.BadSignatures[0].Origin != "forged" || v.BadSignatures[0].Signer != bob.key.ID {
		t.Errorf("bad signatures: %+v", v.BadSignatures)
	}
	if len(pool.Unattributed) != 1 || pool.Unattributed[0].Origin != "junk" {
		t.Errorf("unattributed: %+v", pool.Unattributed)
	}
}

func TestRevokedAndExpiredKeys(t *testing.T) {
	ps := parties(t, "alice", "old", "gone")
	data := []byte("pkg")
	path := "c/p/p-1.gpkg.tar"
	pool := NewPool()
	for _, p := range ps {
		addAll(t, pool, p.attestFile(t, path, "cfg", data))
	}
	ps[1].key.Expires = now.Add(-time.Minute)
	ps[2].key.Revoked = true
	pol := policy(t, 2, ps...)
	v := pool.Evaluate(pol, subjectOf(path, "cfg", data), now)
	check(t, v, 1, 0, 0, false)
	if v.Trusted != 1 || names(v.Inactive) != "old,gone" {
		t.Errorf("M=%d inactive %q", v.Trusted, names(v.Inactive))
	}
	// Before the expiry the old key counted.
	check(t, pool.Evaluate(pol, subjectOf(path, "cfg", data), now.Add(-time.Hour)), 2, 0, 0, true)
}

// Evaluate, given attestations of other packages, ignores them: identity
// is the path, even when the bytes are the same.
func TestOtherPathsIgnored(t *testing.T) {
	alice := newParty(t, "alice")
	data := []byte("same bytes")
	a, err := attest.Parse(alice.attestFile(t, "acct-group/portage/portage-0-1.gpkg.tar", "cfg", data))
	if err != nil {
		t.Fatal(err)
	}
	v := Evaluate(policy(t, 1, alice), subjectOf("acct-user/portage/portage-0-1.gpkg.tar", "cfg", data), []attest.Attestation{a}, nil, now)
	check(t, v, 0, 0, 1, false)
	if len(v.OtherBuild) != 0 || len(v.Inactive) != 0 || v.Untrusted != 0 {
		t.Errorf("another package's attestation was reported: %+v", v)
	}
}
