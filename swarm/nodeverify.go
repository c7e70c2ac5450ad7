package swarm

import (
	"context"
	"fmt"
	"path"
	"sync"

	"github.com/distswarm/distswarm/manifest/attest"
	"github.com/distswarm/distswarm/storage"
	"github.com/distswarm/distswarm/swarm/collection"
)

// nodeVerifier is the storage.Verifier of a node. A node serves many
// requests, each with its own authority: a completed file is checked
// against every authority that a waiting request brought for its name,
// and against the node's own (the daemon's Manifests). It must pass each
// one that knows the file; with none, it stays staged (Unverified) until
// a request that knows it comes (storage.Store.Retry).
type nodeVerifier struct {
	base *Authority // may be empty, never nil
	// binpkg knows the binpkg torrents, whose files are known by path.
	binpkg binpkgTorrents

	mu     sync.Mutex
	claims map[string]map[*Authority]int // name → authorities of waiting requests
}

func newNodeVerifier(base *Authority) *nodeVerifier {
	if base == nil {
		base = NewAuthority()
	}
	return &nodeVerifier{base: base, claims: map[string]map[*Authority]int{}}
}

// claim registers auth for names until release is called.
func (v *nodeVerifier) claim(auth *Authority, names []string) (release func()) {
	v.mu.Lock()
	for _, n := range names {
		m := v.claims[n]
		if m == nil {
			m = map[*Authority]int{}
			v.claims[n] = m
		}
		m[auth]++
	}
	v.mu.Unlock()
	return func() {
		v.mu.Lock()
		defer v.mu.Unlock()
		for _, n := range names {
			m := v.claims[n]
			if m[auth]--; m[auth] <= 0 {
				delete(m, auth)
			}
			if len(m) == 0 {
				delete(v.claims, n)
			}
		}
	}
}

func (v *nodeVerifier) authoritiesFor(name string) []*Authority {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := []*Authority{v.base}
	for a := range v.claims[name] {
		out = append(out, a)
	}
	return out
}

// WatchAuthority implements storage.AuthorityWatcher: when the node's own
// authority learns entries (the daemon trusts a collection added later), the
// store verifies again the files it could not verify before. Requests bring
// their authorities through claim and storage.Store.Retry instead.
func (v *nodeVerifier) WatchAuthority(learnt func()) (stop func()) {
	return v.base.watch(learnt)
}

func (v *nodeVerifier) Verify(ctx context.Context, f storage.FileRef, staged string) error {
	if isCollectionManifest(f.Path) {
		// Metadata whose integrity the torrent's piece hashes prove.
		return nil
	}
	if v.binpkg.has(f.InfoHash) {
		if collection.IsBinpkgIndexFile(f.Path) || attest.IsAttestationPath(f.Path) {
			return nil // as the collection Manifest; attestations are signed
		}
		return v.verifyName(ctx, f.Path, staged)
	}
	return v.verifyName(ctx, path.Base(f.Path), staged)
}

// verifyName checks the file at p against every authority that knows name.
func (v *nodeVerifier) verifyName(ctx context.Context, name, staged string) error {
	checked := false
	for _, a := range v.authoritiesFor(name) {
		if _, ok := a.Lookup(name); !ok {
			continue
		}
		if err := a.VerifyFile(ctx, name, staged); err != nil {
			return err
		}
		checked = true
	}
	if !checked {
		return fmt.Errorf("%s: %w", name, storage.ErrNoAuthority)
	}
	return nil
}
