package binpkg

import (
	"fmt"
	"strconv"
	"strings"
)

// Format is a binary package container format.
type Format int

// The two container formats Portage writes.
const (
	FormatUnknown Format = iota
	FormatGPKG           // GLEP 78 .gpkg.tar
	FormatXPAK           // compressed tar + XPAK trailer (.xpak, .tbz2)
)

// String names the format as BINPKG_FORMAT does ("gpkg", "xpak").
func (f Format) String() string {
	switch f {
	case FormatGPKG:
		return "gpkg"
	case FormatXPAK:
		return "xpak"
	}
	return "unknown"
}

// File name suffixes (Portage's SUPPORTED_GPKG_EXTENSIONS and
// SUPPORTED_XPAK_EXTENSIONS).
const (
	ExtGPKG = ".gpkg.tar"
	ExtXPAK = ".xpak" // binpkg-multi-instance XPAK
	ExtTBZ2 = ".tbz2" // classic XPAK, whatever the compressor
)

// Limits on PKGDIR paths.
const (
	// MaxPathLength bounds a PKGDIR-relative path in bytes.
	MaxPathLength = 1024
	// MaxBuildID bounds a BUILD_ID (Portage counts up from 1).
	MaxBuildID = 1<<31 - 1
)

// Path is a validated PKGDIR-relative binpkg path, the identity of a
// binary package: base names collide (acct-group/portage and
// acct-user/portage both have portage-0-1.gpkg.tar).
//
// Two layouts are accepted, both ASCII only, with no "..", ".", empty or
// absolute components:
//
//	category/PN/PF-BUILD_ID.gpkg.tar|.xpak|.tbz2   (binpkg-multi-instance)
//	category/PF.gpkg.tar|.tbz2                     (classic)
//
// The zero Path is invalid; String returns "".
type Path struct {
	cpv     CPV
	buildID int // 0: classic layout
	ext     string
}

// CPV is the package the path names.
func (p Path) CPV() CPV { return p.cpv }

// BuildID is the BUILD_ID of a multi-instance path, 0 for the classic layout.
func (p Path) BuildID() int { return p.buildID }

// Format is the container format implied by the suffix.
func (p Path) Format() Format { return formatOfExt(p.ext) }

// IsZero reports whether p is the invalid zero Path.
func (p Path) IsZero() bool { return p.ext == "" }

// String formats the path, "cat/pn/pf-1.gpkg.tar" or "cat/pf.tbz2".
func (p Path) String() string {
	if p.IsZero() {
		return ""
	}
	if p.buildID == 0 {
		return p.cpv.Category + "/" + p.cpv.PF() + p.ext
	}
	return p.cpv.Category + "/" + p.cpv.PN + "/" + p.cpv.PF() + "-" + strconv.Itoa(p.buildID) + p.ext
}

// MarshalText implements encoding.TextMarshaler.
func (p Path) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParsePath's rules.
func (p *Path) UnmarshalText(b []byte) error {
	q, err := ParsePath(string(b))
	if err != nil {
		return err
	}
	*p = q
	return nil
}

func formatOfExt(ext string) Format {
	switch ext {
	case ExtGPKG:
		return FormatGPKG
	case ExtXPAK, ExtTBZ2:
		return FormatXPAK
	}
	return FormatUnknown
}

// NewPath is the path Portage gives a package: the multi-instance layout
// with buildID > 0 (".gpkg.tar" or ".xpak"), else the classic one
// (".gpkg.tar" or ".tbz2").
func NewPath(cpv CPV, buildID int, f Format) (Path, error) {
	if _, err := ParseCPV(cpv.String()); err != nil {
		return Path{}, fmt.Errorf("new binpkg path: %w", err)
	}
	if buildID < 0 || buildID > MaxBuildID {
		return Path{}, fmt.Errorf("new binpkg path: build id %d out of range", buildID)
	}
	p := Path{cpv: cpv, buildID: buildID}
	switch {
	case f == FormatGPKG:
		p.ext = ExtGPKG
	case f == FormatXPAK && buildID > 0:
		p.ext = ExtXPAK
	case f == FormatXPAK:
		p.ext = ExtTBZ2
	default:
		return Path{}, fmt.Errorf("new binpkg path: unknown format %d", f)
	}
	return p, nil
}

// ParsePath validates a PKGDIR-relative path and splits it into CPV,
// BUILD_ID and format. As in Portage's _parse_build_id, the build id is
// the part after the last '-' only when what precedes it is a valid PF;
// it must be canonical decimal (no sign, no leading zero).
func ParsePath(s string) (Path, error) {
	if err := checkPathSyntax(s); err != nil {
		return Path{}, fmt.Errorf("binpkg path %q: %w", s, err)
	}
	ext, stem := splitExt(s)
	if ext == "" {
		return Path{}, fmt.Errorf("binpkg path %q: suffix is not %s, %s or %s", s, ExtGPKG, ExtXPAK, ExtTBZ2)
	}
	parts := strings.Split(stem, "/")
	var p Path
	var err error
	switch len(parts) {
	case 2:
		p, err = parseClassic(parts[0], parts[1], ext)
	case 3:
		p, err = parseMulti(parts[0], parts[1], parts[2], ext)
	default:
		err = fmt.Errorf("want category/PN/PF-BUILD_ID%s or category/PF%s", ext, ext)
	}
	if err != nil {
		return Path{}, fmt.Errorf("binpkg path %q: %w", s, err)
	}
	return p, nil
}

func checkPathSyntax(s string) error {
	if s == "" {
		return fmt.Errorf("empty")
	}
	if len(s) > MaxPathLength {
		return fmt.Errorf("longer than %d bytes", MaxPathLength)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("+_.-/", c) >= 0) {
			return fmt.Errorf("character %q not allowed", c)
		}
	}
	for _, comp := range strings.Split(s, "/") {
		if comp == "" || comp == "." || comp == ".." {
			return fmt.Errorf("empty, absolute or dot component")
		}
	}
	return nil
}

func splitExt(s string) (ext, stem string) {
	for _, e := range []string{ExtGPKG, ExtXPAK, ExtTBZ2} {
		if strings.HasSuffix(s, e) {
			return e, strings.TrimSuffix(s, e)
		}
	}
	return "", s
}

func parseClassic(cat, pf, ext string) (Path, error) {
	if ext == ExtXPAK {
		return Path{}, fmt.Errorf("%s is the multi-instance suffix; want category/PN/PF-BUILD_ID%s", ext, ext)
	}
	cpv, err := ParseCPV(cat + "/" + pf)
	if err != nil {
		return Path{}, err
	}
	return Path{cpv: cpv, ext: ext}, nil
}

func parseMulti(cat, pnDir, base, ext string) (Path, error) {
	i := strings.LastIndexByte(base, '-')
	if i < 0 {
		return Path{}, fmt.Errorf("no build id in %q", base)
	}
	pf, idStr := base[:i], base[i+1:]
	id, err := parseBuildID(idStr)
	if err != nil {
		return Path{}, err
	}
	cpv, err := ParseCPV(cat + "/" + pf)
	if err != nil {
		return Path{}, err
	}
	if cpv.PN != pnDir {
		return Path{}, fmt.Errorf("package %s is in directory %q", cpv.PN, pnDir)
	}
	return Path{cpv: cpv, buildID: id, ext: ext}, nil
}

func parseBuildID(s string) (int, error) {
	if s == "" || len(s) > 10 || s[0] == '0' || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("build id %q is not a positive decimal", s)
	}
	id, err := strconv.Atoi(s)
	if err != nil || id > MaxBuildID {
		return 0, fmt.Errorf("build id %q out of range", s)
	}
	return id, nil
}
