package manifest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/distswarm/distswarm/internal/regfile"
)

// ErrNoSupportedHash means an entry lists no hash this package can compute;
// GLEP 74 requires at least one supported hash for verification to succeed.
var ErrNoSupportedHash = errors.New("no supported hash")

// Result describes a successful (or partially run) verification.
type Result struct {
	Checked     []string // supported hash names that were computed and compared, sorted
	Unsupported []string // hash names listed in the entry but not supported, sorted
}

// MismatchError reports a size or digest mismatch.
type MismatchError struct {
	Name string // entry path (file name for DIST)
	What string // "size" or a hash name
	Want string
	Got  string
}

func (e *MismatchError) Error() string {
	if e.What == "size" {
		return fmt.Sprintf("%s: size %s, want %s", e.Name, e.Got, e.Want)
	}
	return fmt.Sprintf("%s: %s mismatch: want %s, got %s", e.Name, e.What, abbrev(e.Want), abbrev(e.Got))
}

func abbrev(h string) string {
	if len(h) > 16 {
		return h[:16] + "…"
	}
	return h
}

// split separates the entry's hash names into supported and unsupported.
func split(d Digests) (sup, unsup []string) {
	for n := range d {
		if Supported(n) {
			sup = append(sup, n)
		} else {
			unsup = append(unsup, n)
		}
	}
	slices.Sort(sup)
	slices.Sort(unsup)
	return sup, unsup
}

// VerifyFile checks the file at path against want per GLEP 74: the size
// (from stat, before reading), then every supported hash listed; at least
// one must be supported (else ErrNoSupportedHash), unsupported ones are
// reported in Result.Unsupported. A missing file yields an error wrapping
// fs.ErrNotExist; a mismatch yields a *MismatchError.
func VerifyFile(ctx context.Context, path string, want Entry) (Result, error) {
	name := want.Path
	if name == "" {
		name = filepath.Base(path)
	}
	sup, unsup := split(want.Digests)
	res := Result{Unsupported: unsup}
	f, err := regfile.Open(path, os.O_RDONLY, 0)
	if err != nil {
		return res, fmt.Errorf("verify %s: %w", name, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return res, fmt.Errorf("verify %s: %w", name, err)
	}
	if !st.Mode().IsRegular() {
		return res, fmt.Errorf("verify %s: %s is not a regular file", name, path)
	}
	if st.Size() != want.Size {
		return res, &MismatchError{Name: name, What: "size", Want: strconv.FormatInt(want.Size, 10), Got: strconv.FormatInt(st.Size(), 10)}
	}
	if len(sup) == 0 {
		return res, fmt.Errorf("verify %s: %w (entry has %v)", name, ErrNoSupportedHash, unsup)
	}
	return verifyStream(ctx, f, want, name, sup, res, st.Size())
}

// VerifyReader checks everything r yields against want, like VerifyFile.
// At most want.Size+1 bytes are read, so an over-long stream is reported
// as a size mismatch without being consumed entirely.
func VerifyReader(ctx context.Context, r io.Reader, want Entry) (Result, error) {
	name := want.Path
	sup, unsup := split(want.Digests)
	res := Result{Unsupported: unsup}
	if len(sup) == 0 {
		return res, fmt.Errorf("verify %s: %w (entry has %v)", name, ErrNoSupportedHash, unsup)
	}
	return verifyStream(ctx, r, want, name, sup, res, -1)
}

func verifyStream(ctx context.Context, r io.Reader, want Entry, name string, sup []string, res Result, hint int64) (Result, error) {
	if want.Size < 0 {
		return res, fmt.Errorf("verify %s: negative size %d in entry", name, want.Size)
	}
	if hint < 0 {
		hint = want.Size
	}
	got, n, err := sum(ctx, io.LimitReader(r, want.Size+1), sup, hint)
	if err != nil {
		return res, fmt.Errorf("verify %s: %w", name, err)
	}
	if n != want.Size {
		// A file that changed size under us, or a stream of the wrong length.
		return res, &MismatchError{Name: name, What: "size", Want: strconv.FormatInt(want.Size, 10), Got: sizeGot(n, want.Size)}
	}
	for _, h := range sup {
		if !strings.EqualFold(got[h], want.Digests[h]) {
			return res, &MismatchError{Name: name, What: h, Want: want.Digests[h], Got: got[h]}
		}
	}
	res.Checked = sup
	return res, nil
}

func sizeGot(n, want int64) string {
	if n > want {
		return "> " + strconv.FormatInt(want, 10)
	}
	return strconv.FormatInt(n, 10)
}

// sufficientHashes are the hashes any one of which is enough to trust a
// file: each is 256-bit-secure or better against second preimages.
// OneSufficient tries them fastest first, as measured on this machine
// (see rankBySpeed); this order only breaks ties.
var sufficientHashes = []string{SHA512, BLAKE2B, SHA3_512, BLAKE2S, SHA3_256, SHA256}

// sufficientBySpeed is sufficientHashes ordered by their speed on this
// machine, measured once, on first use. Which of SHA512 and BLAKE2B (the two
// Gentoo Manifests carry) is faster depends on the CPU: SHA512 on the AMD
// EPYC of the benchmarks (704 MB/s against 559, BenchmarkRawHash), BLAKE2B
// on an Intel Xeon with AVX-512 (docs/benchmarks.md).
var sufficientBySpeed = sync.OnceValue(func() []string { return rankBySpeed(sufficientHashes) })

// OneSufficient returns want reduced to the one of its hashes that alone is
// enough to trust a file and that this machine computes fastest (SHA512 or
// BLAKE2B for a Gentoo Manifest entry), so verifying it reads and hashes the
// file once with one hash instead of every listed one. An entry with none of
// them (MD5, SHA1, RMD160, WHIRLPOOL only) is returned unchanged. The
// `manifest verify` command still checks every hash; the swarm's
// verify-and-place checks the size and this one.
func OneSufficient(want Entry) Entry {
	return oneSufficientBy(sufficientBySpeed(), want)
}

// FastestSufficient lists the hashes OneSufficient may keep, fastest on this
// machine first.
func FastestSufficient() []string {
	return slices.Clone(sufficientBySpeed())
}

func oneSufficientBy(order []string, want Entry) Entry {
	for _, h := range order {
		if d, ok := want.Digests[h]; ok {
			want.Digests = Digests{h: d}
			return want
		}
	}
	return want
}

// rankBySpeed orders names by how long each takes to hash the same buffer
// here, the best of a few interleaved rounds so that a busy moment does not
// decide; ties keep the given order. It costs a few milliseconds.
func rankBySpeed(names []string) []string {
	const rounds, size = 3, 64 << 10
	buf := make([]byte, size)
	best := make(map[string]time.Duration, len(names))
	for range rounds {
		for _, n := range names {
			h, ok := NewHash(n)
			if !ok {
				best[n] = time.Duration(math.MaxInt64) // last
				continue
			}
			t0 := time.Now()
			h.Write(buf)
			h.Sum(nil)
			if d := time.Since(t0); best[n] == 0 || d < best[n] {
				best[n] = d
			}
		}
	}
	ranked := slices.Clone(names)
	slices.SortStableFunc(ranked, func(a, b string) int { return cmp.Compare(best[a], best[b]) })
	return ranked
}
