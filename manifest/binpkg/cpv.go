package binpkg

import (
	"fmt"
	"regexp"
	"strings"
)

// Name grammar of PMS 3.1 as Portage's versions.py spells it, restricted to
// ASCII (Portage compiles its category regex with re.ASCII too).
var (
	categoryRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9+_.-]*$`)
	pnRe       = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9+_-]*$`)
	// versionRe is Portage's _vr: a version with an optional -rN revision.
	versionRe = regexp.MustCompile(`^[0-9]+(\.[0-9]+)*[a-z]?(_(pre|p|beta|alpha|rc)[0-9]*)*(-r[0-9]+)?$`)
)

// MaxNameLength bounds a category, package name or version.
const MaxNameLength = 255

// CPV is a category/package-version, e.g. acct-group/adm-0-r2. Version
// includes the revision ("0-r2").
type CPV struct {
	Category string
	PN       string // package name, e.g. "adm"
	Version  string // version with optional -rN, e.g. "0-r2"
}

// PF is the package name with its version, "adm-0-r2".
func (c CPV) PF() string { return c.PN + "-" + c.Version }

// String is "category/PF".
func (c CPV) String() string { return c.Category + "/" + c.PF() }

// IsZero reports whether c is the zero CPV.
func (c CPV) IsZero() bool { return c == CPV{} }

// ParseCPV parses "category/name-version[-rN]" as Portage's catpkgsplit
// does (ASCII only). It fails for anything else, including a name that
// itself ends in something that looks like a version ("foo-1-2").
func ParseCPV(s string) (CPV, error) {
	cat, pf, ok := strings.Cut(s, "/")
	if !ok {
		return CPV{}, fmt.Errorf("parse cpv %q: no category", s)
	}
	if err := checkCategory(cat); err != nil {
		return CPV{}, fmt.Errorf("parse cpv %q: %w", s, err)
	}
	pn, ver, err := ParsePF(pf)
	if err != nil {
		return CPV{}, fmt.Errorf("parse cpv %q: %w", s, err)
	}
	return CPV{Category: cat, PN: pn, Version: ver}, nil
}

func checkCategory(cat string) error {
	if len(cat) > MaxNameLength || !categoryRe.MatchString(cat) {
		return fmt.Errorf("invalid category %q", cat)
	}
	return nil
}

// ParsePF splits "name-version[-rN]" into name and version the way
// Portage's _pkgsplit does: the shortest name whose remainder is a valid
// version, rejected when that name itself ends in "-<version>".
func ParsePF(pf string) (pn, version string, err error) {
	if len(pf) > 2*MaxNameLength {
		return "", "", fmt.Errorf("package %q: too long", pf)
	}
	for i := 0; i < len(pf); i++ {
		if pf[i] != '-' {
			continue
		}
		name, ver := pf[:i], pf[i+1:]
		if !versionRe.MatchString(ver) {
			continue
		}
		if !pnRe.MatchString(name) || endsInVersion(name) {
			return "", "", fmt.Errorf("invalid package name in %q", pf)
		}
		return name, ver, nil
	}
	return "", "", fmt.Errorf("no version in %q", pf)
}

// endsInVersion reports whether name ends in "-<version>", which PMS
// forbids (Portage's pn_inval).
func endsInVersion(name string) bool {
	for i := 0; i < len(name); i++ {
		if name[i] == '-' && versionRe.MatchString(name[i+1:]) {
			return true
		}
	}
	return false
}
