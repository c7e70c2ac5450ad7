package manifest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// OneSufficient keeps SHA512 (else BLAKE2B, …) and only it; an entry with
// weak hashes only is unchanged. Verifying the reduced entry passes with a
// wrong BLAKE2B beside a right SHA512 (BLAKE2B is not computed) and fails
// with a wrong SHA512 beside a right BLAKE2B.
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

	e := OneSufficient(entry(Digests{SHA512: right[SHA512], BLAKE2B: wrong, MD5: right[MD5]}))
	if len(e.Digests) != 1 || e.Digests[SHA512] == "" {
		t.Fatalf("reduced digests %v, want SHA512 only", e.Digests)
	}
	if _, err := VerifyFile(context.Background(), p, e); err != nil {
		t.Errorf("right SHA512, wrong BLAKE2B: %v", err)
	}
	e = OneSufficient(entry(Digests{SHA512: wrong, BLAKE2B: right[BLAKE2B]}))
	var mm *MismatchError
	if _, err := VerifyFile(context.Background(), p, e); !errors.As(err, &mm) || mm.What != SHA512 {
		t.Errorf("wrong SHA512, right BLAKE2B: %v, want a SHA512 mismatch", err)
	}
	e = OneSufficient(entry(Digests{BLAKE2B: right[BLAKE2B], SHA256: right[SHA256]}))
	if len(e.Digests) != 1 || e.Digests[BLAKE2B] == "" {
		t.Errorf("no SHA512: reduced to %v, want BLAKE2B only", e.Digests)
	}
	weak := Digests{MD5: right[MD5], SHA1: "x"}
	if e := OneSufficient(entry(weak)); len(e.Digests) != 2 {
		t.Errorf("weak hashes only: reduced to %v, want them all", e.Digests)
	}
}
