package binpkg

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits applied when reading a Packages index.
const (
	// MaxIndexSize bounds a Packages file (Gentoo's official binhost index
	// is a few tens of MB).
	MaxIndexSize = 256 << 20
	// MaxIndexLineLength bounds one line (header USE lines are a few KB).
	MaxIndexLineLength = 1 << 20
	// MaxIndexPackages bounds the number of package blocks.
	MaxIndexPackages = 1 << 20
	// MaxKeyLength bounds a key of the index or of package metadata.
	MaxKeyLength = 256
)

// ErrLimit is wrapped by every error that reports an exceeded bound.
var ErrLimit = errors.New("limit exceeded")

// Keys of package blocks, by Portage's internal names. Three keys are
// renamed on disk (see DiskKey): DESCRIPTION is written DESC, _mtime_
// MTIME and repository REPO.
const (
	KeyCPV         = "CPV"
	KeyPath        = "PATH"
	KeyBuildID     = "BUILD_ID"
	KeySize        = "SIZE"
	KeyMD5         = "MD5"
	KeySHA1        = "SHA1"
	KeyCHOST       = "CHOST"
	KeyUSE         = "USE"
	KeySlot        = "SLOT"
	KeyEAPI        = "EAPI"
	KeyRepository  = "repository"
	KeyMTime       = "_mtime_"
	KeyDescription = "DESCRIPTION"
	KeyTimestamp   = "TIMESTAMP"
	KeyVersion     = "VERSION"
	KeyPackages    = "PACKAGES"
)

// diskNames is Portage's _pkgindex_translated_keys (internal → on disk).
var diskNames = map[string]string{KeyDescription: "DESC", KeyMTime: "MTIME", KeyRepository: "REPO"}

// internalNames is the reverse of diskNames.
var internalNames = map[string]string{"DESC": KeyDescription, "MTIME": KeyMTime, "REPO": KeyRepository}

// DiskKey is the name under which an internal key is written.
func DiskKey(k string) string {
	if d, ok := diskNames[k]; ok {
		return d
	}
	return k
}

// allowedPackageKeys is binarytree._pkgindex_allowed_pkg_keys of Portage
// 3.0.82: keys outside it are dropped from package blocks on read.
var allowedPackageKeys = setOf(
	"BASE_URI", "BDEPEND", "BUILD_ID", "BUILD_TIME", "CHOST", "CPV", "DEFINED_PHASES", "DEPEND",
	"DESC", "DESCRIPTION", "EAPI", "FETCHCOMMAND", "IDEPEND", "IUSE", "KEYWORDS", "LICENSE",
	"MD5", "MTIME", "PATH", "PDEPEND", "PKGINDEX_URI", "PROPERTIES", "PROVIDES", "RDEPEND",
	"REPO", "REQUIRES", "RESTRICT", "RESUMECOMMAND", "SHA1", "SIZE", "SLOT", "USE",
	"_mtime_", "repository")

// packageDefaults are the non-empty values of _pkgindex_default_pkg_data:
// filled in on read, omitted on write (the empty defaults need no work:
// empty values are never written).
var packageDefaults = map[string]string{KeySlot: "0", KeyEAPI: "0"}

// inheritedKeys are taken from the header when a package lacks them and
// omitted on write when equal to the header's value.
var inheritedKeys = []string{KeyCHOST, KeyRepository}

func setOf(keys ...string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}

// Index is a binhost Packages index, keyed by Portage's internal names.
// Header holds the header block; empty values are not kept.
type Index struct {
	Header   map[string]string
	Packages []Package
}

// Package is one package block as Portage sees it after reading: unknown
// keys dropped, SLOT and EAPI defaulted to "0", CHOST and repository
// inherited from the header. Empty values are not kept (Get returns "").
type Package map[string]string

// Get returns the value of an internal key, "" if absent.
func (p Package) Get(k string) string { return p[k] }

// CPV parses the package's CPV.
func (p Package) CPV() (CPV, error) { return ParseCPV(p[KeyCPV]) }

// Path parses the package's PATH. Portage falls back to CPV + ".tbz2"
// without one; distswarm requires it (GENTOO-FORMATS §6 trap 18).
func (p Package) Path() (Path, error) {
	s := p[KeyPath]
	if s == "" {
		return Path{}, fmt.Errorf("package %s: no PATH", p[KeyCPV])
	}
	return ParsePath(s)
}

// Size parses SIZE.
func (p Package) Size() (int64, error) {
	n, err := strconv.ParseInt(p[KeySize], 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("package %s: SIZE %q is not a size", p[KeyCPV], p[KeySize])
	}
	return n, nil
}

// ReadIndex reads a Packages index with the semantics of Portage's
// PackageIndex as binarytree configures it: text is UTF-8 with universal
// newlines; a block is "KEY: VALUE" lines up to an empty line; exactly one
// character after the colon is dropped; lines without a colon are
// skipped; the DESC/MTIME/REPO translations apply; package blocks lose
// keys Portage does not allow, a block without CPV is skipped and a block
// left empty ends the index. Sizes are bounded (ErrLimit).
func ReadIndex(r io.Reader) (*Index, error) {
	lr, err := newLineReader(r)
	if err != nil {
		return nil, fmt.Errorf("read Packages: %w", err)
	}
	header, err := readBlock(lr, false)
	if err != nil {
		return nil, fmt.Errorf("read Packages header: %w", err)
	}
	ix := &Index{Header: dropEmpty(header)}
	for {
		d, err := readBlock(lr, true)
		if err != nil {
			return nil, fmt.Errorf("read Packages block %d: %w", len(ix.Packages)+1, err)
		}
		if len(d) == 0 {
			return ix, nil
		}
		if d[KeyCPV] == "" {
			continue
		}
		if len(ix.Packages) >= MaxIndexPackages {
			return nil, fmt.Errorf("read Packages: more than %d packages: %w", MaxIndexPackages, ErrLimit)
		}
		ix.Packages = append(ix.Packages, completePackage(d, ix.Header))
	}
}

// completePackage applies Portage's defaults and header inheritance.
func completePackage(d map[string]string, header map[string]string) Package {
	for k, v := range packageDefaults {
		if _, ok := d[k]; !ok {
			d[k] = v
		}
	}
	for _, k := range inheritedKeys {
		if _, ok := d[k]; !ok && header[k] != "" {
			d[k] = header[k]
		}
	}
	return Package(dropEmpty(d))
}

func dropEmpty(m map[string]string) map[string]string {
	for k, v := range m {
		if v == "" {
			delete(m, k)
		}
	}
	return m
}

// readBlock reads "KEY: VALUE" lines up to an empty line or EOF.
func readBlock(lr *lineReader, pkg bool) (map[string]string, error) {
	d := make(map[string]string)
	for {
		line, err := lr.next()
		if err == io.EOF {
			return d, nil
		}
		if err != nil {
			return nil, err
		}
		if line == "" {
			return d, nil
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		if v != "" {
			// Portage drops one character (a code point, not a byte),
			// assumed to be the space.
			_, size := utf8.DecodeRuneInString(v)
			v = v[size:]
		}
		if len(k) > MaxKeyLength {
			return nil, fmt.Errorf("line %d: key longer than %d bytes: %w", lr.n, MaxKeyLength, ErrLimit)
		}
		if in, ok := internalNames[k]; ok {
			k = in
		}
		if pkg && !allowedPackageKeys[k] {
			continue
		}
		d[k] = v
	}
}

// lineReader yields lines like Python's text-mode iteration with
// universal newlines: "\n", "\r\n" and a lone "\r" end a line.
type lineReader struct {
	data []byte // not yet read
	n    int    // lines read
}

// newLineReader reads all of r, at most MaxIndexSize bytes.
func newLineReader(r io.Reader) (*lineReader, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxIndexSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxIndexSize {
		return nil, fmt.Errorf("index larger than %d bytes: %w", MaxIndexSize, ErrLimit)
	}
	return &lineReader{data: data}, nil
}

func (lr *lineReader) next() (string, error) {
	if len(lr.data) == 0 {
		return "", io.EOF
	}
	end := bytes.IndexAny(lr.data, "\r\n")
	line, rest := lr.data, []byte(nil)
	if end >= 0 {
		line, rest = lr.data[:end], lr.data[end+1:]
		if lr.data[end] == '\r' && len(rest) > 0 && rest[0] == '\n' {
			rest = rest[1:]
		}
	}
	lr.data = rest
	lr.n++
	if len(line) > MaxIndexLineLength {
		return "", fmt.Errorf("line %d longer than %d bytes: %w", lr.n, MaxIndexLineLength, ErrLimit)
	}
	if !utf8.Valid(line) {
		return "", fmt.Errorf("line %d: invalid UTF-8", lr.n)
	}
	return string(line), nil
}

// Write writes the index deterministically, byte for byte as Portage's
// PackageIndex.write would with the same content: header keys sorted by
// internal name, PACKAGES set to the package count, VERSION "0" when
// absent; blocks sorted by CPV (stable); in each, keys sorted by internal
// name, empty values, SLOT/EAPI "0" and CHOST/repository equal to the
// header omitted. TIMESTAMP must be set (clients reject an index without
// one). Every package needs a valid CPV, a PATH naming that CPV and only
// keys Portage keeps; keys are [A-Za-z0-9_]+ and values single-line UTF-8.
func (ix *Index) Write(w io.Writer) error {
	header := make(map[string]string, len(ix.Header)+2)
	for k, v := range ix.Header {
		header[k] = v
	}
	header[KeyPackages] = strconv.Itoa(len(ix.Packages))
	if header[KeyVersion] == "" {
		header[KeyVersion] = "0"
	}
	if header[KeyTimestamp] == "" {
		return errors.New("write Packages: no TIMESTAMP")
	}
	bw := bufio.NewWriter(w)
	if err := writeBlock(bw, header); err != nil {
		return fmt.Errorf("write Packages header: %w", err)
	}
	pkgs := slices.Clone(ix.Packages)
	slices.SortStableFunc(pkgs, func(a, b Package) int { return cmp.Compare(a[KeyCPV], b[KeyCPV]) })
	for _, p := range pkgs {
		if err := checkPackage(p); err != nil {
			return fmt.Errorf("write Packages: %w", err)
		}
		if err := writeBlock(bw, reducePackage(p, header)); err != nil {
			return fmt.Errorf("write Packages: %s: %w", p[KeyCPV], err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write Packages: %w", err)
	}
	return nil
}

// checkPackage enforces what makes a block read back identically.
func checkPackage(p Package) error {
	cpv, err := p.CPV()
	if err != nil {
		return err
	}
	path, err := p.Path()
	if err != nil {
		return err
	}
	if path.CPV() != cpv {
		return fmt.Errorf("package %s: PATH %s names %s", cpv, path, path.CPV())
	}
	for k := range p {
		if !allowedPackageKeys[k] || internalNames[k] != "" {
			return fmt.Errorf("package %s: key %q is not kept by Portage", cpv, k)
		}
	}
	return nil
}

// reducePackage drops what the reader restores: defaults and inherited keys.
func reducePackage(p Package, header map[string]string) map[string]string {
	m := make(map[string]string, len(p))
	for k, v := range p {
		m[k] = v
	}
	for _, k := range inheritedKeys {
		if header[k] != "" && header[k] == m[k] {
			delete(m, k)
		}
	}
	for k, v := range packageDefaults {
		if m[k] == v {
			delete(m, k)
		}
	}
	return m
}

func writeBlock(w *bufio.Writer, m map[string]string) error {
	keys := make([]string, 0, len(m))
	for k, v := range m {
		if v != "" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := checkField(k, m[k]); err != nil {
			return err
		}
		_, _ = w.WriteString(DiskKey(k))
		_, _ = w.WriteString(": ")
		_, _ = w.WriteString(m[k])
		_ = w.WriteByte('\n')
	}
	return w.WriteByte('\n')
}

func checkField(k, v string) error {
	if k == "" || len(k) > MaxKeyLength {
		return fmt.Errorf("key %q: empty or too long", k)
	}
	if in, alias := internalNames[k]; alias {
		return fmt.Errorf("key %s is read back as %s: use that name", k, in)
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return fmt.Errorf("key %q: character %q not allowed", k, c)
		}
	}
	if strings.ContainsAny(v, "\r\n") || !utf8.ValidString(v) || len(v) > MaxIndexLineLength-len(k)-2 {
		return fmt.Errorf("key %s: value is not one line of UTF-8 within %d bytes", k, MaxIndexLineLength)
	}
	return nil
}

// MergeIndexes builds one index from several (e.g. every binpkg collection
// a gateway serves) under a new header. Packages keep their effective
// values (inherited CHOST and repository included), so Write re-reduces
// them against the new header. A PATH listed by more than one index must
// describe the same file (SIZE, MD5 and SHA1 equal) and is kept once; no
// package may lack a valid PATH.
func MergeIndexes(header map[string]string, idxs ...*Index) (*Index, error) {
	out := &Index{Header: make(map[string]string, len(header))}
	for k, v := range header {
		if v != "" {
			out.Header[k] = v
		}
	}
	byPath := map[Path]Package{}
	for i, ix := range idxs {
		for _, p := range ix.Packages {
			path, err := p.Path()
			if err != nil {
				return nil, fmt.Errorf("merge index %d: %w", i+1, err)
			}
			if prev, dup := byPath[path]; dup {
				if err := sameFile(prev, p); err != nil {
					return nil, fmt.Errorf("merge index %d: %s: %w", i+1, path, err)
				}
				continue
			}
			if len(byPath) >= MaxIndexPackages {
				return nil, fmt.Errorf("merge indexes: more than %d packages: %w", MaxIndexPackages, ErrLimit)
			}
			byPath[path] = p
			out.Packages = append(out.Packages, maps.Clone(p))
		}
	}
	return out, nil
}

// sameFile reports whether two entries describe the same binpkg file.
func sameFile(a, b Package) error {
	for _, k := range []string{KeySize, KeyMD5, KeySHA1} {
		if !strings.EqualFold(a[k], b[k]) {
			return fmt.Errorf("listed twice with %s %q and %q", k, a[k], b[k])
		}
	}
	return nil
}
