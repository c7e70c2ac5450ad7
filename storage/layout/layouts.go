package layout

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/distswarm/distswarm/manifest"
	"golang.org/x/crypto/blake2b"
)

// Layout maps a distfile name to its path inside a distfiles directory.
// Implementations returned by this package are immutable, comparable with ==
// and safe for concurrent use.
type Layout interface {
	// Path returns the path of a distfile relative to the distfiles
	// directory, using '/' separators. ok is false when this layout cannot
	// place the file: the name is not a valid distfile name (see ValidName),
	// or (content-hash) digests lack a well-formed digest of its algorithm.
	Path(name string, digests map[string]string) (p string, ok bool)
	// String returns the canonical spec, e.g. "filename-hash BLAKE2B 8".
	String() string
}

// DefaultSpec is the structure distfiles.gentoo.org uses (GLEP 75 "Status";
// flat was dropped from its layout.conf on 2023-09-14).
const DefaultSpec = "filename-hash BLAKE2B 8"

// ErrUnsupported is wrapped by every error ParseSpec returns: the spec names
// an unknown kind or hash, or has unusable arguments. Such layout.conf
// entries are skipped, as GLEP 75 requires for unknown formats.
var ErrUnsupported = errors.New("unsupported layout")

// ErrInvalidName is wrapped by ValidName's errors.
var ErrInvalidName = errors.New("invalid distfile name")

// Layout kinds as spelled in layout.conf.
const (
	KindFlat         = "flat"
	KindFilenameHash = "filename-hash"
	KindContentHash  = "content-hash"
)

// maxCutoffToken bounds the length of one cutoff number, so hostile input
// cannot make us parse huge integers; any cutoff above 512 bits is invalid
// anyway because no supported digest is longer.
const maxCutoffToken = 8

// Flat returns the flat layout: the file sits directly in the directory.
func Flat() Layout { return flatLayout{} }

// Default returns the layout described by DefaultSpec.
func Default() Layout {
	l, err := ParseSpec(DefaultSpec)
	if err != nil {
		panic(err) // unreachable: DefaultSpec is valid and BLAKE2B is always registered
	}
	return l
}

// ValidName reports whether name can be a distfile name: a single,
// non-empty path component. Names are otherwise opaque bytes (no Unicode
// normalisation, any other byte allowed); this is what keeps every computed
// path inside the distfiles directory.
func ValidName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrInvalidName)
	case name == "." || name == "..":
		return fmt.Errorf("%w: %q", ErrInvalidName, name)
	case strings.ContainsRune(name, '/'):
		return fmt.Errorf("%w: %q contains '/'", ErrInvalidName, name)
	case strings.IndexByte(name, 0) >= 0:
		return fmt.Errorf("%w: %q contains NUL", ErrInvalidName, name)
	}
	return nil
}

// ParseSpec parses one structure definition as found in a layout.conf value:
// "flat", "filename-hash ALGO CUTOFFS" or "content-hash ALGO CUTOFFS", tokens
// separated by any whitespace. ALGO is a case-sensitive GLEP 74 hash name
// known to package manifest. CUTOFFS is a colon-separated list of bit counts;
// each must be a positive multiple of 4 and their sum must not exceed the
// digest length. Every error wraps ErrUnsupported.
func ParseSpec(spec string) (Layout, error) {
	f := strings.Fields(spec)
	if len(f) == 0 {
		return nil, fmt.Errorf("%w: empty spec", ErrUnsupported)
	}
	switch f[0] {
	case KindFlat:
		if len(f) != 1 {
			return nil, fmt.Errorf("%w: %q: flat takes no arguments", ErrUnsupported, spec)
		}
		return flatLayout{}, nil
	case KindFilenameHash, KindContentHash:
		if len(f) != 3 {
			return nil, fmt.Errorf("%w: %q: want %q ALGO CUTOFFS", ErrUnsupported, spec, f[0])
		}
		algo := f[1]
		if !manifest.Supported(algo) {
			return nil, fmt.Errorf("%w: %q: unknown hash %q (names are case-sensitive)", ErrUnsupported, spec, algo)
		}
		cuts, err := parseCutoffs(f[2], manifest.DigestSize(algo)*8)
		if err != nil {
			return nil, fmt.Errorf("%w: %q: %w", ErrUnsupported, spec, err)
		}
		return hashLayout{content: f[0] == KindContentHash, algo: algo, cuts: cuts}, nil
	default:
		return nil, fmt.Errorf("%w: %q: unknown kind %q", ErrUnsupported, spec, f[0])
	}
}

// parseCutoffs parses "8:16:24" into a string whose bytes are the number of
// hex characters per level (cutoff/4); a string keeps hashLayout comparable.
func parseCutoffs(s string, digestBits int) (string, error) {
	var b strings.Builder
	total := 0
	for tok := range strings.SplitSeq(s, ":") {
		// Portage uses int(): accept an optional '+' and leading zeros.
		digits := strings.TrimPrefix(tok, "+")
		if digits == "" || len(digits) > maxCutoffToken || strings.Trim(digits, "0123456789") != "" {
			return "", fmt.Errorf("cutoff %q is not a non-negative integer", tok)
		}
		c, err := strconv.Atoi(digits)
		if err != nil {
			return "", fmt.Errorf("cutoff %q: %w", tok, err)
		}
		if c <= 0 || c%4 != 0 {
			return "", fmt.Errorf("cutoff %d is not a positive multiple of 4", c)
		}
		total += c
		if total > digestBits {
			return "", fmt.Errorf("cutoffs %q exceed the %d-bit digest", s, digestBits)
		}
		b.WriteByte(byte(c / 4)) // c <= 512 here, so c/4 <= 128 fits
	}
	return b.String(), nil
}

type flatLayout struct{}

func (flatLayout) Path(name string, _ map[string]string) (string, bool) {
	if ValidName(name) != nil {
		return "", false
	}
	return name, true
}

func (flatLayout) String() string { return KindFlat }

// hashLayout is filename-hash (content == false) or content-hash.
type hashLayout struct {
	content bool
	algo    string
	cuts    string // hex characters per level, one byte each
}

func (l hashLayout) String() string {
	var b strings.Builder
	if l.content {
		b.WriteString(KindContentHash)
	} else {
		b.WriteString(KindFilenameHash)
	}
	b.WriteByte(' ')
	b.WriteString(l.algo)
	b.WriteByte(' ')
	for i := 0; i < len(l.cuts); i++ {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(strconv.Itoa(int(l.cuts[i]) * 4))
	}
	return b.String()
}

// Path implements Layout. filename-hash hashes the exact UTF-8 bytes of name
// (GLEP 75); content-hash uses digests[algo] (the Manifest digest, looked up
// case-insensitively) and names the file by its full lowercase digest.
func (l hashLayout) Path(name string, digests map[string]string) (string, bool) {
	if ValidName(name) != nil {
		return "", false
	}
	var (
		hx    []byte
		last  string
		hxBuf [128]byte
	)
	if l.content {
		d, ok := lookupDigest(digests, l.algo)
		if !ok {
			return "", false
		}
		hx, last = []byte(d), d
	} else {
		var ok bool
		if hx, ok = l.nameHashHex(name, &hxBuf); !ok {
			return "", false
		}
		last = name
	}
	var b strings.Builder
	b.Grow(len(hx) + len(l.cuts) + len(last))
	off := 0
	for i := 0; i < len(l.cuts); i++ {
		n := int(l.cuts[i])
		if off+n > len(hx) { // unreachable: ParseSpec bounds the total
			return "", false
		}
		b.Write(hx[off : off+n])
		b.WriteByte('/')
		off += n
	}
	b.WriteString(last)
	return b.String(), true
}

// nameHashHex encodes into buf as much of the lowercase hex digest of name
// as the levels use. A seeder of 100,000 files calls Path for every one at
// start-up; hashing into a new hash.Hash and encoding the whole digest
// allocated ~1.3 KiB a call, 140 MB of garbage that the seeder's tight
// memory limit (cmd/distswarm/memlimit.go) collected again and again.
// BLAKE2B, GLEP 75's hash, is summed without allocating.
func (l hashLayout) nameHashHex(name string, buf *[128]byte) ([]byte, bool) {
	var sum [64]byte
	var digest []byte
	if l.algo == manifest.BLAKE2B {
		sum = blake2b.Sum512([]byte(name))
		digest = sum[:]
	} else {
		h, ok := manifest.NewHash(l.algo)
		if !ok {
			return nil, false
		}
		h.Write([]byte(name))
		digest = h.Sum(sum[:0])
	}
	digits := 0
	for i := 0; i < len(l.cuts); i++ {
		digits += int(l.cuts[i])
	}
	n := min((digits+1)/2, len(digest), len(buf)/2)
	hex.Encode(buf[:], digest[:n])
	return buf[:min(digits, 2*n)], true
}

// lookupDigest returns the lowercase hex digest of algo from digests, trying
// the exact key first, then a case-insensitive match (Portage upper-cases the
// spec's algorithm before looking it up). The value must be well-formed hex
// of the algorithm's length: a digest is used as a path component, so
// anything else ("../x", "") must not pass.
func lookupDigest(digests map[string]string, algo string) (string, bool) {
	d, ok := digests[algo]
	if !ok {
		for k, v := range digests {
			if strings.EqualFold(k, algo) {
				d, ok = v, true
				break
			}
		}
	}
	if !ok || len(d) != 2*manifest.DigestSize(algo) {
		return "", false
	}
	if _, err := hex.DecodeString(d); err != nil {
		return "", false
	}
	return strings.ToLower(d), true
}
