package binpkg

import (
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"

	"github.com/distswarm/distswarm/manifest"
)

// ErrUnsupportedCompression is wrapped for a member compressed with a
// method this package cannot decode (.lz4, .lz, .lzo).
var ErrUnsupportedCompression = errors.New("unsupported compression")

// Sniff detects the container format as Portage's get_binpkg_format does:
// "/gpkg-1\0" within the first 100 bytes is GPKG, an XPAK trailer is XPAK.
func Sniff(r io.ReaderAt, size int64) (Format, error) {
	head := make([]byte, min(size, 100))
	if _, err := r.ReadAt(head, 0); err != nil && err != io.EOF {
		return FormatUnknown, fmt.Errorf("sniff binpkg: %w", err)
	}
	if bytes.Contains(head, []byte("/gpkg-1\x00")) {
		return FormatGPKG, nil
	}
	if size >= trailerSize {
		var tr [trailerSize]byte
		if _, err := r.ReadAt(tr[:], size-trailerSize); err != nil {
			return FormatUnknown, fmt.Errorf("sniff binpkg: %w", err)
		}
		if string(tr[:8]) == xpakTail && string(tr[12:]) == xpakStop {
			return FormatXPAK, nil
		}
	}
	return FormatUnknown, nil
}

// compressionSuffixes are GLEP 74 table 2's, as GPKG member names use them.
var compressionSuffixes = []string{".gz", ".bz2", ".xz", ".zst", ".lzma", ".lz4", ".lz", ".lzo"}

// splitCompression returns the base name and compression suffix of a
// member name ("metadata.tar.zst" → "metadata.tar", ".zst").
func splitCompression(name string) (base, suffix string) {
	for _, s := range compressionSuffixes {
		if strings.HasSuffix(name, s) {
			return strings.TrimSuffix(name, s), s
		}
	}
	return name, ""
}

// decompress wraps r for a compression suffix ("" is uncompressed); reading
// more than limit bytes from the result fails with ErrLimit, and what lies
// past them is never decompressed. The decoders' memory is bounded too
// (zstd's window by limit, lzma's dictionary by manifest.MaxLZMADict). The
// close function releases decoder resources.
func decompress(r io.Reader, suffix string, limit int64) (io.Reader, func(), error) {
	nop := func() {}
	var dr io.Reader
	closeFn := nop
	switch suffix {
	case "":
		dr = r
	case ".gz":
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, nop, fmt.Errorf("gzip: %w", err)
		}
		dr, closeFn = zr, func() { _ = zr.Close() }
	case ".bz2":
		dr = bzip2.NewReader(r)
	case ".xz":
		zr, err := xz.NewReader(r)
		if err != nil {
			return nil, nop, fmt.Errorf("xz: %w", err)
		}
		dr = zr
	case ".lzma":
		zr, err := lzma.ReaderConfig{DictCap: manifest.MaxLZMADict}.NewReader(r)
		if err != nil {
			return nil, nop, fmt.Errorf("lzma: %w", err)
		}
		dr = zr
	case ".zst":
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(uint64(limit)+1<<20))
		if err != nil {
			return nil, nop, fmt.Errorf("zstd: %w", err)
		}
		dr, closeFn = zr, zr.Close
	default:
		return nil, nop, fmt.Errorf("%w %s", ErrUnsupportedCompression, suffix)
	}
	return &boundedReader{r: dr, left: limit, limit: limit}, closeFn, nil
}

// boundedReader reads r up to limit bytes; a read past them fails with
// ErrLimit.
type boundedReader struct {
	r           io.Reader
	left, limit int64
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return n, fmt.Errorf("more than %d bytes decompressed: %w", b.limit, ErrLimit)
	}
	return n, err
}
