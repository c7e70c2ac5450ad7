package binpkg

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/distswarm/distswarm/manifest"
)

// Limits on GPKG containers.
const (
	// MaxGPKGMembers bounds the outer tar's members (GLEP 78 defines six).
	MaxGPKGMembers = 64
	// MaxGPKGManifestSize bounds the inner Manifest (a few hundred bytes,
	// a few KB when clear-signed).
	MaxGPKGManifestSize = 1 << 20
)

// GPKG member names (GLEP 78), relative to the package directory.
const (
	gpkgVersionFile  = "gpkg-1"
	gpkgManifestFile = "Manifest"
)

// ErrNotGPKG is wrapped when a file is not a GLEP 78 container.
var ErrNotGPKG = errors.New("not a gpkg")

// GPKGMember is one file of the outer tar.
type GPKGMember struct {
	Name   string // base name, e.g. "metadata.tar.zst"
	Size   int64
	Offset int64 // of the data in the container
}

// GPKG is an opened GLEP 78 container: its members located, its inner
// Manifest parsed. Nothing is verified until Verify or Metadata is called.
type GPKG struct {
	r       io.ReaderAt
	Prefix  string       // the package directory inside the tar, e.g. "dnsmasq-0-r3-1"
	Members []GPKGMember // in archive order
	// Manifest is the inner Manifest: DATA entries for every other member.
	Manifest *manifest.Manifest
	// Signed reports an OpenPGP clear-signed Manifest or any .sig member.
	// Signatures are carried, never checked here.
	Signed bool
}

// OpenGPKG reads the outer tar of a container of the given size with the
// structure rules of Portage's gpkg verifier: ustar or GNU format; regular
// files only, each exactly one directory deep under one common prefix; no
// duplicate names; gpkg-1 and Manifest present. The Manifest must consist
// of DATA entries only. Members may come in any order.
func OpenGPKG(r io.ReaderAt, size int64) (*GPKG, error) {
	if err := checkTarMagic(r); err != nil {
		return nil, err
	}
	g := &GPKG{r: r}
	sr := io.NewSectionReader(r, 0, size)
	tr := tar.NewReader(sr)
	seen := map[string]bool{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("open gpkg: %w", err)
		}
		m, err := g.member(h, seen)
		if err != nil {
			return nil, err
		}
		if m.Offset, err = sr.Seek(0, io.SeekCurrent); err != nil {
			return nil, fmt.Errorf("open gpkg: %w", err)
		}
		g.Members = append(g.Members, m)
	}
	if err := g.loadManifest(); err != nil {
		return nil, err
	}
	return g, nil
}

// checkTarMagic accepts the two tar formats Portage's _get_tar_format
// recognises: POSIX ustar ("ustar\x0000") and GNU ("ustar  \x00").
func checkTarMagic(r io.ReaderAt) error {
	var magic [8]byte
	if _, err := r.ReadAt(magic[:], 257); err != nil {
		return fmt.Errorf("open gpkg: %w: %w", ErrNotGPKG, err)
	}
	if s := string(magic[:]); s != "ustar\x0000" && s != "ustar  \x00" {
		return fmt.Errorf("open gpkg: %w: no ustar or GNU tar header", ErrNotGPKG)
	}
	return nil
}

// member checks one tar header against GLEP 78's structure.
func (g *GPKG) member(h *tar.Header, seen map[string]bool) (GPKGMember, error) {
	if len(g.Members) >= MaxGPKGMembers {
		return GPKGMember{}, fmt.Errorf("open gpkg: more than %d members: %w", MaxGPKGMembers, ErrLimit)
	}
	dir, base, ok := strings.Cut(h.Name, "/")
	if !ok || dir == "" || base == "" || strings.Contains(base, "/") || base == "." || base == ".." || dir == "." || dir == ".." {
		return GPKGMember{}, fmt.Errorf("open gpkg: member %q is not exactly one directory deep", h.Name)
	}
	if h.Typeflag != tar.TypeReg {
		return GPKGMember{}, fmt.Errorf("open gpkg: member %q is not a regular file", h.Name)
	}
	if g.Prefix == "" {
		g.Prefix = dir
	} else if dir != g.Prefix {
		return GPKGMember{}, fmt.Errorf("open gpkg: member %q outside %q", h.Name, g.Prefix)
	}
	if seen[base] {
		return GPKGMember{}, fmt.Errorf("open gpkg: member %q twice", h.Name)
	}
	seen[base] = true
	if strings.HasSuffix(base, ".sig") {
		g.Signed = true
	}
	return GPKGMember{Name: base, Size: h.Size}, nil
}

// Member returns the member with a base name.
func (g *GPKG) Member(name string) (GPKGMember, bool) {
	for _, m := range g.Members {
		if m.Name == name {
			return m, true
		}
	}
	return GPKGMember{}, false
}

// Open returns a reader of a member's bytes.
func (g *GPKG) Open(m GPKGMember) io.Reader { return io.NewSectionReader(g.r, m.Offset, m.Size) }

func (g *GPKG) loadManifest() error {
	if _, ok := g.Member(gpkgVersionFile); !ok {
		return fmt.Errorf("open gpkg: %w: no %s member", ErrNotGPKG, gpkgVersionFile)
	}
	mf, ok := g.Member(gpkgManifestFile)
	if !ok {
		return fmt.Errorf("open gpkg %s: no Manifest member", g.Prefix)
	}
	if mf.Size > MaxGPKGManifestSize {
		return fmt.Errorf("open gpkg %s: Manifest of %d bytes: %w", g.Prefix, mf.Size, ErrLimit)
	}
	m, err := manifest.Parse(g.Open(mf), g.Prefix+"/Manifest")
	if err != nil {
		return fmt.Errorf("open gpkg: %w", err)
	}
	for _, e := range m.Entries {
		if e.Tag != manifest.TagDATA || strings.Contains(e.Path, "/") {
			return fmt.Errorf("open gpkg: %s: %s %s is not a DATA entry for a member", e.Pos, e.Tag, e.Path)
		}
	}
	g.Manifest = m
	g.Signed = g.Signed || m.Signed
	return nil
}

// entry returns the Manifest's DATA entry for a member name.
func (g *GPKG) entry(name string) (manifest.Entry, bool) {
	for _, e := range g.Manifest.Entries {
		if e.Path == name {
			return e, true
		}
	}
	return manifest.Entry{}, false
}

// VerifyMember checks one member against its Manifest entry: the size,
// then BLAKE2B and SHA512, both required (Portage's verifier computes both).
func (g *GPKG) VerifyMember(ctx context.Context, m GPKGMember) error {
	e, ok := g.entry(m.Name)
	if !ok {
		return fmt.Errorf("verify gpkg %s: member %s has no Manifest entry", g.Prefix, m.Name)
	}
	if e.Size != m.Size {
		return fmt.Errorf("verify gpkg %s: member %s: size %d, Manifest says %d", g.Prefix, m.Name, m.Size, e.Size)
	}
	for _, h := range manifest.StrongHashes {
		if e.Digests[h] == "" {
			return fmt.Errorf("verify gpkg %s: member %s: Manifest entry lacks %s", g.Prefix, m.Name, h)
		}
	}
	if _, err := manifest.VerifyReader(ctx, g.Open(m), e); err != nil {
		return fmt.Errorf("verify gpkg %s: member %s: %w", g.Prefix, m.Name, err)
	}
	return nil
}

// Verify checks every member but the Manifest against the Manifest's DATA
// entries, and that the Manifest names no missing member. Signatures are
// not checked.
func (g *GPKG) Verify(ctx context.Context) error {
	for _, m := range g.Members {
		if m.Name == gpkgManifestFile {
			continue
		}
		if err := g.VerifyMember(ctx, m); err != nil {
			return err
		}
	}
	for _, e := range g.Manifest.Entries {
		if _, ok := g.Member(e.Path); !ok || e.Path == gpkgManifestFile {
			return fmt.Errorf("verify gpkg %s: Manifest lists %s, which is not a member", g.Prefix, e.Path)
		}
	}
	return nil
}

// metadataMember finds metadata.tar[.comp].
func (g *GPKG) metadataMember() (GPKGMember, string, error) {
	for _, m := range g.Members {
		if base, suffix := splitCompression(m.Name); base == "metadata.tar" {
			return m, suffix, nil
		}
	}
	return GPKGMember{}, "", fmt.Errorf("gpkg %s: no metadata.tar member", g.Prefix)
}

// Metadata verifies the metadata archive against the Manifest (before
// decompressing it) and returns its keys: the files of its metadata/
// directory. Decompressed size, key count and key length are bounded.
func (g *GPKG) Metadata(ctx context.Context) (Metadata, error) {
	m, suffix, err := g.metadataMember()
	if err != nil {
		return nil, err
	}
	if err := g.VerifyMember(ctx, m); err != nil {
		return nil, err
	}
	return readMetadataTar(g.Open(m), suffix)
}

// metadataTarLimit bounds the decompressed size of a metadata.tar: the
// metadata plus the tar framing (at least 512 bytes per key).
const metadataTarLimit = int64(MaxMetadataSize + 1024*MaxMetadataKeys)

// readMetadataTar reads a (compressed) metadata.tar.
func readMetadataTar(r io.Reader, suffix string) (Metadata, error) {
	return readMetadataTarLimited(r, suffix, metadataTarLimit)
}

// readMetadataTarLimited is readMetadataTar with limit in place of
// metadataTarLimit.
func readMetadataTarLimited(r io.Reader, suffix string, limit int64) (Metadata, error) {
	dr, closeFn, err := decompress(r, suffix, limit)
	if err != nil {
		return nil, fmt.Errorf("read metadata.tar%s: %w", suffix, err)
	}
	defer closeFn()
	md := Metadata{}
	var total int64
	tr := tar.NewReader(dr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return md, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read metadata.tar%s: %w", suffix, err)
		}
		key, err := metadataKey(h)
		if err != nil || key == "" {
			if err != nil {
				return nil, fmt.Errorf("read metadata.tar%s: %w", suffix, err)
			}
			continue
		}
		if len(md) >= MaxMetadataKeys || h.Size > MaxMetadataSize-total {
			return nil, fmt.Errorf("read metadata.tar%s: more than %d keys or %d bytes: %w", suffix, MaxMetadataKeys, MaxMetadataSize, ErrLimit)
		}
		if _, dup := md[key]; dup {
			return nil, fmt.Errorf("read metadata.tar%s: key %s twice", suffix, key)
		}
		v, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("read metadata.tar%s: %s: %w", suffix, key, err)
		}
		total += int64(len(v))
		md[key] = v
	}
}

// metadataKey maps "metadata/KEY" to KEY; "" for the directory entry.
func metadataKey(h *tar.Header) (string, error) {
	name := strings.TrimSuffix(h.Name, "/")
	if h.Typeflag == tar.TypeDir && name == "metadata" {
		return "", nil
	}
	dir, key := path.Split(name)
	if dir != "metadata/" || h.Typeflag != tar.TypeReg {
		return "", fmt.Errorf("member %q is not a file in metadata/", h.Name)
	}
	return key, checkMetadataKey(key)
}
