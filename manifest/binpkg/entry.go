package binpkg

import (
	"fmt"
	"strconv"
	"strings"
)

// metadataIndexKeys are the metadata keys Portage copies into a Packages
// entry (bindbapi._aux_cache_keys without MD5, SIZE and _mtime_, which
// describe the file, not the build).
var metadataIndexKeys = []string{
	"BDEPEND", "BUILD_ID", "BUILD_TIME", "CHOST", "DEFINED_PHASES", "DEPEND", "EAPI", "IDEPEND",
	"IUSE", "KEYWORDS", "LICENSE", "PDEPEND", "PROPERTIES", "PROVIDES", "RDEPEND", "repository",
	"REQUIRES", "RESTRICT", "SLOT", "USE",
}

// FileInfo describes a binpkg file for its Packages entry.
type FileInfo struct {
	Path     Path
	Size     int64
	MD5      string // lowercase hex
	SHA1     string // lowercase hex
	MTime    int64  // seconds; Portage's MTIME
	Metadata Metadata
}

// useEvaluatedKeys are USE-reduced before they are written
// (binarytree._pkgindex_use_evaluated_keys); the *DEPEND ones hold atoms.
var useEvaluatedKeys = []string{"BDEPEND", "DEPEND", "IDEPEND", "LICENSE", "RDEPEND", "PDEPEND", "PROPERTIES", "RESTRICT"}

// PackageFromFile builds the Packages entry Portage's binarytree would
// write for a binpkg: the build keys from its metadata (whitespace
// collapsed, EAPI "0" when absent, dependency keys USE-reduced with the
// package's USE by ReduceDeps), CPV, PATH, SIZE, MD5, SHA1 and MTIME from
// the file. The metadata's CATEGORY/PF must name the path's CPV; a
// dependency string Portage would reject is an error (Portage skips such a
// package).
func PackageFromFile(fi FileInfo) (Package, error) {
	cpv, err := fi.Metadata.CPV()
	if err != nil {
		return nil, fmt.Errorf("package entry for %s: %w", fi.Path, err)
	}
	if cpv != fi.Path.CPV() {
		return nil, fmt.Errorf("package entry for %s: metadata names %s", fi.Path, cpv)
	}
	if len(fi.MD5) != 32 || len(fi.SHA1) != 40 || fi.Size < 0 {
		return nil, fmt.Errorf("package entry for %s: need SIZE, MD5 and SHA1", fi.Path)
	}
	p := Package{
		KeyCPV: cpv.String(), KeyPath: fi.Path.String(), KeySize: strconv.FormatInt(fi.Size, 10),
		KeyMD5: strings.ToLower(fi.MD5), KeySHA1: strings.ToLower(fi.SHA1), KeyMTime: strconv.FormatInt(fi.MTime, 10),
	}
	for _, k := range metadataIndexKeys {
		if v := strings.Join(strings.Fields(string(fi.Metadata[k])), " "); v != "" {
			p[k] = v
		}
	}
	if err := reduceEntryDeps(p); err != nil {
		return nil, fmt.Errorf("package entry for %s: %w", fi.Path, err)
	}
	if p[KeyEAPI] == "" {
		p[KeyEAPI] = "0"
	}
	if p[KeySlot] == "" {
		return nil, fmt.Errorf("package entry for %s: no SLOT in metadata", fi.Path)
	}
	if id := p[KeyBuildID]; id != "" {
		if _, err := strconv.Atoi(id); err != nil {
			return nil, fmt.Errorf("package entry for %s: BUILD_ID %q", fi.Path, id)
		}
	}
	return p, nil
}

// reduceEntryDeps USE-reduces the dependency keys of an entry in place.
func reduceEntryDeps(p Package) error {
	use := map[string]bool{}
	for _, f := range strings.Fields(p[KeyUSE]) {
		use[f] = true
	}
	for _, k := range useEvaluatedKeys {
		if p[k] == "" {
			continue
		}
		v, err := ReduceDeps(p[k], use, strings.HasSuffix(k, "DEPEND"))
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		if v == "" {
			delete(p, k)
		} else {
			p[k] = v
		}
	}
	return nil
}
