package manifest

import (
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// ErrUnsupportedCompression is returned (wrapped) for a Manifest whose
// compression suffix (GLEP 74 table 2) cannot be decoded here: .lz4, .lz,
// .lzo.
var ErrUnsupportedCompression = errors.New("unsupported Manifest compression")

// compressionSuffix returns the GLEP 74 compression suffix of path, or "".
func compressionSuffix(path string) string {
	switch ext := filepath.Ext(path); ext {
	case ".gz", ".bz2", ".xz", ".zst", ".lzma", ".lz4", ".lz", ".lzo":
		return ext
	}
	return ""
}

// MaxLZMADict bounds the dictionary a .lzma Manifest may ask for: the
// dictionary of xz's highest preset (-9). The header of a .lzma stream sets
// its dictionary size (up to 4 GiB) and the decoder allocates it before it
// reads any data, so 13 hostile bytes would otherwise cost 2 GiB of memory.
const MaxLZMADict = 64 << 20

// decompressor wraps r according to the suffix of name. The returned close
// function releases decoder resources. The decoders' memory is bounded:
// zstd's window by MaxManifestSize, lzma's dictionary by MaxLZMADict, xz's
// by the library's 8 MiB default.
func decompressor(r io.Reader, name string) (io.Reader, func(), error) {
	nop := func() {}
	switch ext := compressionSuffix(name); ext {
	case "":
		return r, nop, nil
	case ".gz":
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, nop, fmt.Errorf("gzip %s: %w", name, err)
		}
		return zr, func() { _ = zr.Close() }, nil
	case ".bz2":
		return bzip2.NewReader(r), nop, nil
	case ".xz":
		zr, err := xz.NewReader(r)
		if err != nil {
			return nil, nop, fmt.Errorf("xz %s: %w", name, err)
		}
		return zr, nop, nil
	case ".lzma":
		zr, err := lzma.ReaderConfig{DictCap: MaxLZMADict}.NewReader(r)
		if err != nil {
			return nil, nop, fmt.Errorf("lzma %s: %w", name, err)
		}
		return zr, nop, nil
	case ".zst":
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(MaxManifestSize+1<<20))
		if err != nil {
			return nil, nop, fmt.Errorf("zstd %s: %w", name, err)
		}
		return zr, zr.Close, nil
	default:
		return nil, nop, fmt.Errorf("%s: %w %s", name, ErrUnsupportedCompression, ext)
	}
}

// parseMaybeCompressed parses r, decompressing according to name's suffix;
// the decompressed size is bounded by limit (MaxManifestSize but in tests):
// what lies past it is never decompressed.
func parseMaybeCompressed(r io.Reader, name string, limit int64) (*Manifest, error) {
	dr, closeFn, err := decompressor(r, name)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	m, err := parseLimited(dr, name, limit)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// ParseFile reads and parses the Manifest at path, decompressing it
// according to its suffix (.gz .bz2 .xz .lzma .zst). It does NOT verify a
// compressed file against a parent Manifest; use OpenSubManifest for that.
func ParseFile(path string) (*Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("parse manifest: %w", err)
	}
	defer f.Close()
	return parseMaybeCompressed(f, path, MaxManifestSize)
}

// OpenSubManifest reads the sub-Manifest at path, which the parent entry e
// (normally a MANIFEST entry) describes. The raw, still compressed bytes are
// verified against e's size and hashes BEFORE anything is decompressed (the
// GLEP 74 zip-bomb rule); the decompressed size is bounded by
// MaxManifestSize.
func OpenSubManifest(path string, e Entry) (*Manifest, error) {
	return openSubManifest(path, e, MaxManifestSize)
}

// openSubManifest is OpenSubManifest with limit in place of
// MaxManifestSize.
func openSubManifest(path string, e Entry, limit int64) (*Manifest, error) {
	if e.Size > limit {
		return nil, fmt.Errorf("open sub-manifest %s: entry size %d: %w", path, e.Size, ErrTooLarge)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open sub-manifest: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("open sub-manifest: %w", err)
	}
	name := displayName(path, e)
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("open sub-manifest %s: not a regular file", path)
	}
	if st.Size() != e.Size {
		return nil, &MismatchError{Name: name, What: "size", Want: fmt.Sprint(e.Size), Got: fmt.Sprint(st.Size())}
	}
	// Read at most e.Size+1 bytes into memory so that what is verified is
	// exactly what is decompressed (no re-read race).
	data, err := io.ReadAll(io.LimitReader(f, e.Size+1))
	if err != nil {
		return nil, fmt.Errorf("open sub-manifest: read %s: %w", path, err)
	}
	if _, err := VerifyReader(context.Background(), bytes.NewReader(data), e); err != nil {
		return nil, fmt.Errorf("open sub-manifest %s: %w", path, err)
	}
	m, err := parseMaybeCompressed(bytes.NewReader(data), path, limit)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// displayName is the name used in verification errors.
func displayName(path string, e Entry) string {
	if e.Path != "" {
		return e.Path
	}
	return strings.TrimSpace(filepath.Base(path))
}
