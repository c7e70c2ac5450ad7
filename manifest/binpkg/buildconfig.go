package binpkg

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
)

// Build configuration fields, in canonical order.
const (
	FieldCPV      = "CPV"
	FieldUSE      = "USE"
	FieldCHOST    = "CHOST"
	FieldCFLAGS   = "CFLAGS"
	FieldCXXFLAGS = "CXXFLAGS"
	FieldLDFLAGS  = "LDFLAGS"
	FieldARCH     = "ARCH"
	FieldPROFILE  = "PROFILE"
)

// BuildConfigFields lists the fields of a BuildConfig in canonical order.
var BuildConfigFields = []string{FieldCPV, FieldUSE, FieldCHOST, FieldCFLAGS, FieldCXXFLAGS, FieldLDFLAGS, FieldARCH, FieldPROFILE}

// buildConfigVersion heads the canonical form; bump it if the form changes.
const buildConfigVersion = "distswarm-buildconfig 1"

// BuildConfig is how a binary package was built: its CPV, USE flags,
// CHOST, compiler flags, ARCH and profile. A field is known or unknown:
// a Packages entry knows CPV, USE and CHOST (and ARCH and PROFILE from the
// index header) but not the compiler flags; package metadata knows CPV,
// USE, CHOST and the flags but not ARCH or the profile.
//
// Values are normalised: USE is the sorted set of flags, the flag
// variables have their whitespace collapsed (their order matters and is
// kept). The zero BuildConfig knows nothing.
type BuildConfig struct {
	fields map[string]string
}

// NewBuildConfig builds a configuration from known field values (unknown
// fields are simply absent). Field names must be BuildConfigFields.
func NewBuildConfig(values map[string]string) (BuildConfig, error) {
	bc := BuildConfig{fields: map[string]string{}}
	for k, v := range values {
		if !slices.Contains(BuildConfigFields, k) {
			return BuildConfig{}, fmt.Errorf("build config: unknown field %q", k)
		}
		v = normaliseField(k, v)
		if strings.ContainsAny(v, "\n\r\x00") {
			return BuildConfig{}, fmt.Errorf("build config: %s: control character", k)
		}
		if k == FieldCPV {
			if _, err := ParseCPV(v); err != nil {
				return BuildConfig{}, fmt.Errorf("build config: %w", err)
			}
		}
		bc.fields[k] = v
	}
	return bc, nil
}

func normaliseField(k, v string) string {
	words := strings.Fields(v)
	if k == FieldUSE {
		slices.Sort(words)
		words = slices.Compact(words)
	}
	return strings.Join(words, " ")
}

// BuildConfigFromPackage derives the configuration of a Packages entry;
// header is the index header (for ARCH and PROFILE; may be nil).
func BuildConfigFromPackage(header map[string]string, p Package) (BuildConfig, error) {
	v := map[string]string{FieldCPV: p[KeyCPV], FieldUSE: p[KeyUSE]}
	if c := p[KeyCHOST]; c != "" {
		v[FieldCHOST] = c
	}
	for _, k := range []string{FieldARCH, FieldPROFILE} {
		if header[k] != "" {
			v[k] = header[k]
		}
	}
	return NewBuildConfig(v)
}

// BuildConfigFromMetadata derives the configuration from package metadata
// (XPAK or GPKG metadata.tar). A missing CHOST or flag variable is unknown.
func BuildConfigFromMetadata(m Metadata) (BuildConfig, error) {
	cpv, err := m.CPV()
	if err != nil {
		return BuildConfig{}, fmt.Errorf("build config: %w", err)
	}
	v := map[string]string{FieldCPV: cpv.String(), FieldUSE: m.Value("USE")}
	for _, k := range []string{FieldCHOST, FieldCFLAGS, FieldCXXFLAGS, FieldLDFLAGS} {
		if _, ok := m[k]; ok {
			v[k] = m.Value(k)
		}
	}
	return NewBuildConfig(v)
}

// Get returns a field's value and whether it is known.
func (bc BuildConfig) Get(field string) (string, bool) {
	v, ok := bc.fields[field]
	return v, ok
}

// Canonical is the stable text form: a version line, then "FIELD=value"
// for each known field in BuildConfigFields order, each line ending "\n".
func (bc BuildConfig) Canonical() string {
	var b strings.Builder
	b.WriteString(buildConfigVersion + "\n")
	for _, k := range BuildConfigFields {
		if v, ok := bc.fields[k]; ok {
			b.WriteString(k + "=" + v + "\n")
		}
	}
	return b.String()
}

// Digest is "sha256:" and the hex SHA-256 of Canonical.
func (bc BuildConfig) Digest() string {
	sum := sha256.Sum256([]byte(bc.Canonical()))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ParseBuildConfig parses the Canonical form back.
func ParseBuildConfig(s string) (BuildConfig, error) {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	if len(lines) == 0 || lines[0] != buildConfigVersion {
		return BuildConfig{}, fmt.Errorf("parse build config: want %q first", buildConfigVersion)
	}
	v := map[string]string{}
	for _, l := range lines[1:] {
		k, val, ok := strings.Cut(l, "=")
		if _, dup := v[k]; !ok || dup {
			return BuildConfig{}, fmt.Errorf("parse build config: bad line %q", l)
		}
		v[k] = val
	}
	bc, err := NewBuildConfig(v)
	if err != nil {
		return BuildConfig{}, err
	}
	if bc.Canonical() != s {
		return BuildConfig{}, fmt.Errorf("parse build config: not in canonical form")
	}
	return bc, nil
}

// FieldDiff is one field on which two configurations differ.
type FieldDiff struct {
	Field string
	A, B  string // values; "" with the Known flag false when unknown
	// AKnown and BKnown say whether each side knows the field.
	AKnown, BKnown bool
	// For USE: flags only in A and only in B.
	OnlyA, OnlyB []string
}

// String describes the difference, e.g. "USE: -ssl +gtk" or
// "CFLAGS: -O2 vs -O3" or "CHOST: unknown vs x86_64-pc-linux-gnu".
func (d FieldDiff) String() string {
	if d.Field == FieldUSE && d.AKnown && d.BKnown {
		var parts []string
		for _, f := range d.OnlyA {
			parts = append(parts, "-"+f)
		}
		for _, f := range d.OnlyB {
			parts = append(parts, "+"+f)
		}
		return d.Field + ": " + strings.Join(parts, " ")
	}
	show := func(v string, known bool) string {
		if !known {
			return "unknown"
		}
		return fmt.Sprintf("%q", v)
	}
	return d.Field + ": " + show(d.A, d.AKnown) + " vs " + show(d.B, d.BKnown)
}

// Diff lists the fields on which bc and other differ, in canonical order;
// a field known on one side only is a difference too (see Matches to
// ignore those).
func (bc BuildConfig) Diff(other BuildConfig) []FieldDiff {
	var out []FieldDiff
	for _, k := range BuildConfigFields {
		a, aok := bc.fields[k]
		b, bok := other.fields[k]
		if a == b && aok == bok {
			continue
		}
		d := FieldDiff{Field: k, A: a, B: b, AKnown: aok, BKnown: bok}
		if k == FieldUSE && aok && bok {
			d.OnlyA, d.OnlyB = setDiff(strings.Fields(a), strings.Fields(b))
		}
		out = append(out, d)
	}
	return out
}

// Matches reports whether bc satisfies want: every field want knows is
// known in bc with the same value. It returns the failing differences.
func (bc BuildConfig) Matches(want BuildConfig) (bool, []FieldDiff) {
	var fails []FieldDiff
	for _, d := range want.Diff(bc) {
		if d.AKnown {
			fails = append(fails, d)
		}
	}
	return len(fails) == 0, fails
}

// setDiff returns the sorted elements only in a and only in b.
func setDiff(a, b []string) (onlyA, onlyB []string) {
	return minus(a, b), minus(b, a)
}

// minus returns the elements of a not in b, in a's order.
func minus(a, b []string) []string {
	inB := make(map[string]bool, len(b))
	for _, x := range b {
		inB[x] = true
	}
	var out []string
	for _, x := range a {
		if !inB[x] {
			out = append(out, x)
		}
	}
	return out
}
