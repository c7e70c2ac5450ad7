package manifest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// oneSufficientBy keeps the first hash of its order that the entry has, and
// only it; an entry with weak hashes only is unchanged. Verifying the
// reduced entry passes with a wrong BLAKE2B beside a right SHA512 (BLAKE2B
// is not computed) and fails with a wrong SHA512 beside a right BLAKE2B.
func TestOneSufficient(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	data := []byte(strings.Repeat("distswarm ", 1000))
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	right := map[string]string{}
	for _, h := range []string{BLAKE2B, SHA512, SHA256, MD5} {
		hh, _ := NewHash(h)
		hh.Write(data)
		right[h] = hexOf(hh.Sum(nil))
	}
	wrong := strings.Repeat("0", 128)
	entry := func(d Digests) Entry { return Entry{Tag: TagDIST, Path: "f", Size: int64(len(data)), Digests: d} }

	shaFirst := []string{SHA512, BLAKE2B, SHA3_512, BLAKE2S, SHA3_256, SHA256}
	e := oneSufficientBy(shaFirst, entry(Digests{SHA512: right[SHA512], BLAKE2B: wrong, MD5: right[MD5]}))
	if len(e.Digests) != 1 || e.Digests[SHA512] == "" {
		t.Fatalf("reduced digests %v, want SHA512 only", e.Digests)
	}
	if _, err := VerifyFile(context.Background(), p, e); err != nil {
		t.Errorf("right SHA512, wrong BLAKE2B: %v", err)
	}
	e = oneSufficientBy(shaFirst, entry(Digests{SHA512: wrong, BLAKE2B: right[BLAKE2B]}))
	var mm *MismatchError
	if _, err := VerifyFile(context.Background(), p, e); !errors.As(err, &mm) || mm.What != SHA512 {
		t.Errorf("wrong SHA512, right BLAKE2B: %v, want a SHA512 mismatch", err)
	}
	e = oneSufficientBy(shaFirst, entry(Digests{BLAKE2B: right[BLAKE2B], SHA256: right[SHA256]}))
	if len(e.Digests) != 1 || e.Digests[BLAKE2B] == "" {
		t.Errorf("no SHA512: reduced to %v, want BLAKE2B only", e.Digests)
	}
	weak := Digests{MD5: right[MD5], SHA1: "x"}
	if e := OneSufficient(entry(weak)); len(e.Digests) != 2 {
		t.Errorf("weak hashes only: reduced to %v, want them all", e.Digests)
	}
	blakeFirst := []string{BLAKE2B, SHA512}
	e = oneSufficientBy(blakeFirst, entry(Digests{SHA512: wrong, BLAKE2B: right[BLAKE2B]}))
	if _, err := VerifyFile(context.Background(), p, e); err != nil || e.Digests[BLAKE2B] == "" {
		t.Errorf("BLAKE2B first, right BLAKE2B, wrong SHA512: kept %v, %v", e.Digests, err)
	}
	// OneSufficient itself keeps whichever of the two this machine hashes faster.
	e = OneSufficient(entry(Digests{SHA512: right[SHA512], BLAKE2B: right[BLAKE2B]}))
	order := FastestSufficient()
	faster := SHA512
	if slices.Index(order, BLAKE2B) < slices.Index(order, SHA512) {
		faster = BLAKE2B
	}
	if len(e.Digests) != 1 || e.Digests[faster] == "" {
		t.Errorf("kept %v, want %s only (order here %v)", e.Digests, faster, order)
	}
}

// rankBySpeed puts a hash that is many times faster first, whatever the
// order it is given, and returns every name once.
func TestRankBySpeed(t *testing.T) {
	for _, in := range [][]string{{WHIRLPOOL, SHA256}, {SHA256, WHIRLPOOL}} {
		got := rankBySpeed(in)
		if len(got) != 2 || got[0] != SHA256 || got[1] != WHIRLPOOL {
			t.Errorf("rankBySpeed(%v) = %v, want SHA256 (about 30x faster) first", in, got)
		}
	}
	got := rankBySpeed([]string{"NOPE", SHA1})
	if len(got) != 2 || got[0] != SHA1 {
		t.Errorf("an unsupported name ranks last: got %v", got)
	}
	if all := FastestSufficient(); len(all) != len(sufficientHashes) {
		t.Errorf("FastestSufficient() = %v, want a permutation of %v", all, sufficientHashes)
	}
}
