package binpkg

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// BuildWant is the build a client asks for: USE flags it wants on or off,
// USE_EXPAND variables (from a make.conf) and exact values of CHOST,
// CFLAGS, CXXFLAGS, LDFLAGS, ARCH or PROFILE. The zero BuildWant accepts
// every build.
//
// USE is checked the way emerge --binpkg-respect-use does: only flags the
// package has (in its IUSE, or set in its USE such as the implicit arch
// flag) count, so asking for "ssl" does not exclude a package without an
// ssl flag.
type BuildWant struct {
	use       map[string]bool // flag → wanted on
	othersOff bool            // "-*": IUSE flags not wanted on are wanted off
	expand    map[string][]string
	fields    map[string]string
}

// matchFields are the fields BuildWant.Set accepts besides USE.
var matchFields = []string{FieldCHOST, FieldCFLAGS, FieldCXXFLAGS, FieldLDFLAGS, FieldARCH, FieldPROFILE}

// MatchFields lists the keys Set accepts: USE and matchFields.
func MatchFields() []string { return append([]string{FieldUSE}, matchFields...) }

// IsZero reports whether the want accepts every build.
func (w BuildWant) IsZero() bool {
	return len(w.use) == 0 && !w.othersOff && len(w.expand) == 0 && len(w.fields) == 0
}

// AddUSE adds USE tokens: "flag" or "+flag" wants it on, "-flag" off, a
// later token overriding an earlier one; "-*" (make.conf only, see
// AddMakeConf) wants every other flag off.
func (w *BuildWant) AddUSE(s string) error {
	return w.addUSE(s, false)
}

func (w *BuildWant) addUSE(s string, allowReset bool) error {
	for _, tok := range strings.Fields(s) {
		if tok == "-*" && allowReset {
			w.use, w.othersOff = nil, true
			continue
		}
		on := !strings.HasPrefix(tok, "-")
		flag := strings.TrimLeft(tok, "+-")
		if !validUSEFlag(flag) || len(tok)-len(flag) > 1 {
			return fmt.Errorf("USE flag %q: not a flag name", tok)
		}
		if w.use == nil {
			w.use = map[string]bool{}
		}
		w.use[flag] = on
	}
	return nil
}

// validUSEFlag is PMS 3.1.4: [A-Za-z0-9][A-Za-z0-9+_@-]*.
func validUSEFlag(f string) bool {
	if f == "" || !isAlnum(f[0]) {
		return false
	}
	return !strings.ContainsFunc(f, func(r rune) bool {
		return r > 127 || !isAlnum(byte(r)) && !strings.ContainsRune("+_@-", r)
	})
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// Set asks for a field's exact value (whitespace collapsed); USE adds
// flags as AddUSE does.
func (w *BuildWant) Set(field, value string) error {
	if field == FieldUSE {
		return w.AddUSE(value)
	}
	if !slices.Contains(matchFields, field) {
		return fmt.Errorf("cannot match on %q: use one of %s", field, strings.Join(MatchFields(), ", "))
	}
	if w.fields == nil {
		w.fields = map[string]string{}
	}
	w.fields[field] = normaliseField(field, value)
	return nil
}

// AddMakeConf asks for what a make.conf sets: its USE (with "-*"), CHOST,
// CFLAGS, CXXFLAGS and LDFLAGS, and its USE_EXPAND variables (e.g.
// PYTHON_TARGETS, CPU_FLAGS_X86: every upper-case variable is kept, and
// those a binhost's header lists in USE_EXPAND are checked).
func (w *BuildWant) AddMakeConf(m MakeConf) error {
	if m.Has(FieldUSE) {
		if err := w.addUSE(m[FieldUSE], true); err != nil {
			return fmt.Errorf("make.conf USE: %w", err)
		}
	}
	for _, k := range []string{FieldCHOST, FieldCFLAGS, FieldCXXFLAGS, FieldLDFLAGS} {
		if m.Has(k) {
			if err := w.Set(k, m[k]); err != nil {
				return err
			}
		}
	}
	for k, v := range m {
		if k != FieldUSE && strings.ToUpper(k) == k && !slices.Contains(matchFields, k) {
			if w.expand == nil {
				w.expand = map[string][]string{}
			}
			w.expand[k] = strings.Fields(v)
		}
	}
	return nil
}

// BuildDiff is one way a package's build differs from a BuildWant.
type BuildDiff struct {
	Field string `json:"field"`
	Want  string `json:"want"`
	Built string `json:"built"`
}

// String reads e.g. "USE: +ssl wanted, -ssl built" or
// `CHOST: "x86_64-pc-linux-gnu" wanted, "aarch64-unknown-linux-gnu" built`.
func (d BuildDiff) String() string {
	if d.Field == FieldUSE {
		return fmt.Sprintf("USE: %s wanted, %s built", d.Want, d.Built)
	}
	return fmt.Sprintf("%s: %q wanted, %q built", d.Field, d.Want, d.Built)
}

// Check compares a Packages entry (with its index header, for ARCH,
// PROFILE and USE_EXPAND) against the want. It returns the differences,
// and the fields the want names that the entry does not record (Packages
// entries carry no compiler flags): those are not checked.
func (w BuildWant) Check(header map[string]string, p Package) (diffs []BuildDiff, unchecked []string, err error) {
	bc, err := BuildConfigFromPackage(header, p)
	if err != nil {
		return nil, nil, err
	}
	diffs = w.checkUSE(header, p)
	for _, k := range matchFields {
		want, asked := w.fields[k]
		if !asked {
			continue
		}
		built, known := bc.Get(k)
		switch {
		case !known:
			unchecked = append(unchecked, k)
		case built != want:
			diffs = append(diffs, BuildDiff{Field: k, Want: want, Built: built})
		}
	}
	return diffs, unchecked, nil
}

// checkUSE returns one BuildDiff per flag whose state differs.
func (w BuildWant) checkUSE(header map[string]string, p Package) []BuildDiff {
	built := setOf(strings.Fields(p[KeyUSE])...)
	iuse := map[string]bool{}
	for _, f := range strings.Fields(p["IUSE"]) {
		iuse[strings.TrimLeft(f, "+-")] = true
	}
	wanted := w.wantedFlags(header, iuse, built)
	var diffs []BuildDiff
	for _, f := range slices.Sorted(maps.Keys(wanted)) {
		if !iuse[f] && !built[f] {
			continue // the package has no such flag
		}
		if on := wanted[f]; on != built[f] {
			diffs = append(diffs, BuildDiff{Field: FieldUSE, Want: useSign(on) + f, Built: useSign(built[f]) + f})
		}
	}
	return diffs
}

// wantedFlags resolves the want against one package: USE_EXPAND
// variables (those the header declares) first, then "-*", then the
// explicit flags.
func (w BuildWant) wantedFlags(header map[string]string, iuse, built map[string]bool) map[string]bool {
	wanted := map[string]bool{}
	expandPrefixes := map[string]bool{}
	for _, v := range strings.Fields(header["USE_EXPAND"]) {
		prefix := strings.ToLower(v) + "_"
		expandPrefixes[prefix] = true
		values, ok := w.expand[v]
		if !ok {
			continue
		}
		for f := range mergeKeys(iuse, built) {
			if strings.HasPrefix(f, prefix) {
				wanted[f] = slices.Contains(values, strings.TrimPrefix(f, prefix))
			}
		}
	}
	if w.othersOff {
		for f := range iuse {
			if !hasAnyPrefix(f, expandPrefixes) {
				wanted[f] = false
			}
		}
	}
	for f, on := range w.use {
		wanted[f] = on
	}
	return wanted
}

func hasAnyPrefix(s string, prefixes map[string]bool) bool {
	for p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func mergeKeys(a, b map[string]bool) map[string]bool {
	out := make(map[string]bool, len(a)+len(b))
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

func useSign(on bool) string {
	if on {
		return "+"
	}
	return "-"
}

// String summarises the want, e.g. "USE=+ssl -gtk CHOST=x86_64-pc-linux-gnu".
func (w BuildWant) String() string {
	var parts []string
	if len(w.use) > 0 || w.othersOff {
		var flags []string
		if w.othersOff {
			flags = append(flags, "-*")
		}
		for _, f := range slices.Sorted(maps.Keys(w.use)) {
			flags = append(flags, useSign(w.use[f])+f)
		}
		parts = append(parts, "USE="+strings.Join(flags, " "))
	}
	for _, k := range matchFields {
		if v, ok := w.fields[k]; ok {
			parts = append(parts, k+"="+v)
		}
	}
	if len(w.expand) > 0 {
		parts = append(parts, fmt.Sprintf("(+%d USE_EXPAND variables)", len(w.expand)))
	}
	return strings.Join(parts, " ")
}

// unrecordedFields are the fields a Packages entry never records.
var unrecordedFields = []string{FieldCFLAGS, FieldCXXFLAGS, FieldLDFLAGS}

// Unrecorded lists the fields the want names that Packages entries do not
// record, so Check cannot verify them.
func (w BuildWant) Unrecorded() []string {
	var out []string
	for _, k := range unrecordedFields {
		if _, ok := w.fields[k]; ok {
			out = append(out, k)
		}
	}
	return out
}

// buildWantJSON is the wire form of a BuildWant (the daemon's control API).
type buildWantJSON struct {
	USE       map[string]bool     `json:"use,omitempty"`
	OthersOff bool                `json:"others_off,omitempty"`
	Expand    map[string][]string `json:"expand,omitempty"`
	Fields    map[string]string   `json:"fields,omitempty"`
}

// MarshalJSON writes the want for the control API.
func (w BuildWant) MarshalJSON() ([]byte, error) {
	return json.Marshal(buildWantJSON{USE: w.use, OthersOff: w.othersOff, Expand: w.expand, Fields: w.fields})
}

// UnmarshalJSON reads a want, validating flags and field names.
func (w *BuildWant) UnmarshalJSON(b []byte) error {
	var j buildWantJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	out := BuildWant{othersOff: j.OthersOff}
	for f, on := range j.USE {
		if !validUSEFlag(f) {
			return fmt.Errorf("build want: USE flag %q: not a flag name", f)
		}
		if err := out.addUSE(useSign(on)+f, false); err != nil {
			return err
		}
	}
	for k, v := range j.Fields {
		if k == FieldUSE {
			return errors.New("build want: USE belongs in use, not fields")
		}
		if err := out.Set(k, v); err != nil {
			return fmt.Errorf("build want: %w", err)
		}
	}
	for k, v := range j.Expand {
		if !validVarName(k) || len(v) > maxMakeConfVars {
			return fmt.Errorf("build want: USE_EXPAND variable %q", k)
		}
		if out.expand == nil {
			out.expand = map[string][]string{}
		}
		out.expand[k] = v
	}
	*w = out
	return nil
}
