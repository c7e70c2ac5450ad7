package swarm

import (
	"context"
	"sync"
)

// maxVerifiedCopies bounds the verified-copies memory (about 200 bytes an
// entry); when full it starts over.
const maxVerifiedCopies = 1 << 16

// fileID is what changes when a file's content may have changed: any write
// updates mtime and ctime, and ctime cannot be set back from user space.
type fileID struct {
	dev, ino     uint64
	size         int64
	mtime, ctime int64 // ns
}

type verifiedKey struct {
	path  string
	entry string // the authority's entry the file matched (size and digests)
	id    fileID
}

// verifiedCopies remembers store files that passed verification, so the
// gateway serving the same unchanged file again does not hash it again (a
// 1 GiB file costs seconds of BLAKE2B+SHA512 per request). A file whose
// identity changed, or an authority entry with other digests, is verified
// in full again. Without file identities (non-Linux) nothing is cached.
type verifiedCopies struct {
	mu sync.Mutex
	m  map[verifiedKey]struct{}
}

func newVerifiedCopies() *verifiedCopies {
	return &verifiedCopies{m: map[verifiedKey]struct{}{}}
}

// verify checks the store copy at path against auth's entry for name,
// skipping the hashing when this very file already matched that entry.
func (v *verifiedCopies) verify(ctx context.Context, auth *Authority, name, path string) error {
	want, ok := auth.Lookup(name)
	id, idOK := identify(path)
	if !ok || !idOK {
		return auth.VerifyFile(ctx, name, path)
	}
	key := verifiedKey{path: path, entry: want.String(), id: id}
	v.mu.Lock()
	_, known := v.m[key]
	v.mu.Unlock()
	if known {
		return nil
	}
	if err := auth.VerifyFile(ctx, name, path); err != nil {
		return err
	}
	if after, ok := identify(path); ok && after == id { // unchanged while it was hashed
		v.mu.Lock()
		if len(v.m) >= maxVerifiedCopies {
			clear(v.m)
		}
		v.m[key] = struct{}{}
		v.mu.Unlock()
	}
	return nil
}
