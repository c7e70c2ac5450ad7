package binpkg

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Limits on package metadata (XPAK or GPKG metadata.tar).
const (
	// MaxMetadataSize bounds the total size of a package's metadata
	// values (environment.bz2 is the largest, usually under 1 MiB).
	MaxMetadataSize = 64 << 20
	// MaxMetadataKeys bounds the number of metadata entries (real
	// packages have about 25).
	MaxMetadataKeys = 4096
)

// Metadata is a binary package's metadata: one value per key, as the
// build wrote it (text values usually end in "\n"; environment.bz2 is
// binary).
type Metadata map[string][]byte

// Value returns a text value without surrounding whitespace, "" if absent.
func (m Metadata) Value(key string) string { return strings.TrimSpace(string(m[key])) }

// Keys lists the keys, sorted.
func (m Metadata) Keys() []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// CPV is CATEGORY/PF from the metadata.
func (m Metadata) CPV() (CPV, error) {
	cpv, err := ParseCPV(m.Value("CATEGORY") + "/" + m.Value("PF"))
	if err != nil {
		return CPV{}, fmt.Errorf("metadata: %w", err)
	}
	return cpv, nil
}

// checkMetadataKey rejects keys that could not be a file name in a
// metadata directory.
func checkMetadataKey(k string) error {
	if k == "" || len(k) > MaxKeyLength || k == "." || k == ".." || strings.ContainsAny(k, "/\x00") {
		return fmt.Errorf("invalid metadata key %q", k)
	}
	return nil
}

// ReadMetadata reads the metadata of a binary package of either format
// (sniffed as Portage does). A GPKG's metadata archive is verified
// against its Manifest first; XPAK metadata has nothing to verify against.
func ReadMetadata(ctx context.Context, r io.ReaderAt, size int64) (Metadata, Format, error) {
	f, err := Sniff(r, size)
	if err != nil {
		return nil, FormatUnknown, err
	}
	switch f {
	case FormatGPKG:
		g, err := OpenGPKG(r, size)
		if err != nil {
			return nil, f, err
		}
		md, err := g.Metadata(ctx)
		return md, f, err
	case FormatXPAK:
		x, err := ReadXPAK(r, size)
		if err != nil {
			return nil, f, err
		}
		return x.Metadata, f, nil
	}
	return nil, FormatUnknown, fmt.Errorf("read binpkg metadata: neither GPKG nor XPAK")
}
