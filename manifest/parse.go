package manifest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Entry tags (GLEP 44 / GLEP 74).
const (
	TagDIST      = "DIST"
	TagEBUILD    = "EBUILD"
	TagAUX       = "AUX"
	TagMISC      = "MISC"
	TagDATA      = "DATA"
	TagMANIFEST  = "MANIFEST"
	TagIGNORE    = "IGNORE"
	TagTIMESTAMP = "TIMESTAMP"
)

// Limits applied to untrusted input.
const (
	// MaxLineLength bounds one Manifest line in bytes (the longest real
	// lines are a few hundred bytes).
	MaxLineLength = 64 << 10
	// MaxEntries bounds the number of lines that produce entries.
	MaxEntries = 1 << 20
	// MaxManifestSize bounds the (decompressed) size of one Manifest.
	MaxManifestSize = 256 << 20
)

// TimestampLayout is the GLEP 74 TIMESTAMP format (UTC, second precision).
const TimestampLayout = "2006-01-02T15:04:05Z"

// ErrTooLarge is returned (wrapped) when a Manifest exceeds MaxManifestSize.
var ErrTooLarge = errors.New("manifest too large")

// Digests maps a GLEP 74 hash name ("BLAKE2B") to its lowercase hex value.
type Digests map[string]string

// String formats the digests as Manifest hash pairs,
// "BLAKE2B <hex> SHA512 <hex>", sorted by name as Portage and gemato write
// them.
func (d Digests) String() string {
	names := make([]string, 0, len(d))
	for n := range d {
		names = append(names, n)
	}
	slices.Sort(names)
	var b strings.Builder
	for i, n := range names {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(n)
		b.WriteByte(' ')
		b.WriteString(d[n])
	}
	return b.String()
}

// Position names where an entry came from.
type Position struct {
	File string
	Line int
}

// String returns "file:line".
func (p Position) String() string { return p.File + ":" + strconv.Itoa(p.Line) }

// Entry is one Manifest line.
//
// Path is decoded (GLEP 74 escapes undone, no Unicode normalisation: NFC
// and NFD spellings are different names). For DIST it is the bare file
// name; for AUX it is "files/<name>", i.e. like every other file entry it
// is relative to the directory holding the Manifest. For IGNORE it is the
// ignored path; for TIMESTAMP it holds the raw timestamp field. Size and
// Digests are zero for IGNORE and TIMESTAMP.
type Entry struct {
	Tag     string
	Path    string
	Size    int64
	Digests Digests
	Pos     Position
}

// String formats the entry as a Manifest line (without newline), escaping
// the path; AUX paths lose their "files/" prefix again.
func (e Entry) String() string {
	switch e.Tag {
	case TagTIMESTAMP:
		return e.Tag + " " + e.Path
	case TagIGNORE:
		return e.Tag + " " + EscapePath(e.Path)
	}
	p := e.Path
	if e.Tag == TagAUX {
		p = strings.TrimPrefix(p, "files/")
	}
	s := e.Tag + " " + EscapePath(p) + " " + strconv.FormatInt(e.Size, 10)
	if len(e.Digests) > 0 {
		s += " " + e.Digests.String()
	}
	return s
}

// Manifest is a parsed Manifest file.
type Manifest struct {
	Path      string
	Entries   []Entry   // in file order, after the duplicate policy is applied
	Timestamp time.Time // zero if none
	// Signed reports that the file had an OpenPGP clear-signed wrapper.
	// Its structure was checked but the signature was NOT verified.
	Signed bool
}

// Dist returns the DIST entries by file name.
func (m *Manifest) Dist() map[string]Entry {
	d := make(map[string]Entry)
	for _, e := range m.Entries {
		if e.Tag == TagDIST {
			d[e.Path] = e
		}
	}
	return d
}

// SyntaxError reports malformed or inconsistent Manifest content.
type SyntaxError struct {
	Pos Position
	Msg string
}

func (e *SyntaxError) Error() string { return e.Pos.String() + ": " + e.Msg }

// Parse reads a Manifest. name is used in positions and errors. The input
// may be wrapped in an OpenPGP clear signature (whose structure is checked
// but whose signature is not verified). Duplicate entries are merged or
// rejected as described in the package documentation.
func Parse(r io.Reader, name string) (*Manifest, error) {
	return parseLimited(r, name, MaxManifestSize)
}

// parseLimited is Parse with limit in place of MaxManifestSize. Input past
// the limit is reported as ErrTooLarge, never as a syntax error of the line
// the limit cut.
func parseLimited(r io.Reader, name string, limit int64) (*Manifest, error) {
	p := &parser{
		name:  name,
		m:     &Manifest{Path: name},
		index: make(map[string]int),
	}
	lr := &limitReader{r: r, n: limit}
	tooLarge := func() error { return fmt.Errorf("%s: %w (limit %d bytes)", name, ErrTooLarge, limit) }
	sc := bufio.NewScanner(lr)
	sc.Buffer(make([]byte, 0, 4096), MaxLineLength+2) // grows on demand
	var cs clearsign
	lineno := 0
	for sc.Scan() {
		lineno++
		if err := p.scannedLine(&cs, sc.Bytes(), lineno); err != nil {
			if lr.exceeded() {
				// The scanner hands over the line the limit cut.
				return nil, tooLarge()
			}
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		switch {
		case errors.Is(err, ErrTooLarge):
			return nil, tooLarge()
		case errors.Is(err, bufio.ErrTooLong):
			return nil, p.errorf(lineno+1, "line longer than %d bytes", MaxLineLength)
		}
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if lr.exceeded() {
		return nil, tooLarge()
	}
	if err := cs.finish(); err != nil {
		return nil, p.errorf(lineno, "%s", err.Error())
	}
	if err := p.checkIgnored(); err != nil {
		return nil, err
	}
	p.m.Signed = cs.signed()
	return p.m, nil
}

// scannedLine handles one raw line: UTF-8, the clear-signature frame, then
// the entry.
func (p *parser) scannedLine(cs *clearsign, raw []byte, lineno int) error {
	if !utf8.Valid(raw) {
		return p.errorf(lineno, "invalid UTF-8")
	}
	line := strings.TrimRightFunc(string(raw), unicode.IsSpace)
	content, ok, err := cs.line(line, len(p.m.Entries) > 0)
	if err != nil {
		return p.errorf(lineno, "%s", err.Error())
	}
	if ok {
		return p.parseLine(content, lineno)
	}
	return nil
}

type parser struct {
	name    string
	m       *Manifest
	index   map[string]int // dedup key -> index in m.Entries
	ignores map[string]int // IGNORE path -> index in m.Entries
}

func (p *parser) errorf(line int, format string, args ...any) *SyntaxError {
	return &SyntaxError{Pos: Position{File: p.name, Line: line}, Msg: fmt.Sprintf(format, args...)}
}

func isBadControl(r rune) bool { return unicode.IsControl(r) && !unicode.IsSpace(r) }

// hasBadControl reports a raw control character that is not whitespace,
// with an ASCII fast path.
func hasBadControl(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 {
			return strings.IndexFunc(s[i:], isBadControl) >= 0
		}
		if c < 0x20 && c != '\t' && c != '\n' && c != '\v' && c != '\f' && c != '\r' || c == 0x7f {
			return true
		}
	}
	return false
}

func (p *parser) parseLine(s string, lineno int) error {
	if hasBadControl(s) {
		return p.errorf(lineno, "raw control character (must be escaped)")
	}
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return nil
	}
	e := Entry{Tag: fields[0], Pos: Position{File: p.name, Line: lineno}}
	switch e.Tag {
	case TagDIST, TagEBUILD, TagAUX, TagMISC, TagDATA, TagMANIFEST:
		if len(fields) < 3 {
			return p.errorf(lineno, "%s entry needs a path and a size", e.Tag)
		}
		path, err := p.path(e.Tag, fields[1], lineno)
		if err != nil {
			return err
		}
		e.Path = path
		if e.Size, err = parseSize(fields[2]); err != nil {
			return p.errorf(lineno, "%v", err)
		}
		pairs := fields[3:]
		if len(pairs)%2 != 0 {
			return p.errorf(lineno, "hash %s has no value", quoteShort(pairs[len(pairs)-1]))
		}
		e.Digests = make(Digests, len(pairs)/2)
		for i := 0; i < len(pairs); i += 2 {
			hn, hv := pairs[i], pairs[i+1]
			if _, dup := e.Digests[hn]; dup {
				return p.errorf(lineno, "hash %s given twice", quoteShort(hn))
			}
			v, err := normalizeHex(hn, hv)
			if err != nil {
				return p.errorf(lineno, "%v", err)
			}
			e.Digests[hn] = v
		}
	case TagIGNORE:
		if len(fields) != 2 {
			return p.errorf(lineno, "IGNORE takes exactly one path")
		}
		path, err := p.path(e.Tag, fields[1], lineno)
		if err != nil {
			return err
		}
		e.Path = path
	case TagTIMESTAMP:
		if len(fields) != 2 {
			return p.errorf(lineno, "TIMESTAMP takes exactly one value")
		}
		t, err := time.Parse(TimestampLayout, fields[1])
		if err != nil || len(fields[1]) != len(TimestampLayout) {
			return p.errorf(lineno, "invalid TIMESTAMP %s (want YYYY-MM-DDTHH:MM:SSZ)", quoteShort(fields[1]))
		}
		e.Path = fields[1]
		if p.m.Timestamp.IsZero() {
			p.m.Timestamp = t
		}
	default:
		return p.errorf(lineno, "unknown tag %s", quoteShort(e.Tag))
	}
	return p.add(e)
}

// path decodes and validates a path field.
func (p *parser) path(tag, raw string, lineno int) (string, error) {
	path, err := UnescapePath(raw)
	if err != nil {
		return "", p.errorf(lineno, "%v", err)
	}
	if err := checkPath(tag, path); err != nil {
		return "", p.errorf(lineno, "%s path %s: %v", tag, quoteShort(raw), err)
	}
	if tag == TagAUX {
		path = "files/" + path
	}
	return path, nil
}

func checkPath(tag, path string) error {
	if path == "" {
		return errors.New("empty")
	}
	if strings.IndexByte(path, 0) >= 0 {
		return errors.New("contains NUL")
	}
	if tag == TagDIST {
		if strings.IndexByte(path, '/') >= 0 {
			return errors.New("a DIST entry names a bare file name, not a path")
		}
		if path == "." || path == ".." {
			return errors.New("not a file name")
		}
		return nil
	}
	if path[0] == '/' {
		return errors.New("absolute path")
	}
	for c := range strings.SplitSeq(path, "/") {
		switch c {
		case "":
			return errors.New("empty path component")
		case ".", "..":
			return fmt.Errorf("%q path component", c)
		}
	}
	return nil
}

func parseSize(s string) (int64, error) {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("invalid size %s (unsigned decimal expected)", quoteShort(s))
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid size %s (out of range)", quoteShort(s))
	}
	return n, nil
}

func isHex(s string) bool {
	ok, _ := scanHex(s)
	return ok
}

// scanHex reports whether s is all hex digits and whether any is uppercase.
func scanHex(s string) (ok, upper bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f':
		case 'A' <= c && c <= 'F':
			upper = true
		default:
			return false, false
		}
	}
	return true, upper
}

// normalizeHex validates a digest value: hex digits of any case (stored
// lowercase); for supported hashes the length must match the digest size.
func normalizeHex(name, v string) (string, error) {
	ok, upper := scanHex(v)
	if v == "" || !ok {
		return "", fmt.Errorf("hash %s: value %s is not hexadecimal", quoteShort(name), quoteShort(v))
	}
	if n := DigestSize(name); n > 0 && len(v) != 2*n {
		return "", fmt.Errorf("hash %s: value has %d hex digits, want %d", name, len(v), 2*n)
	}
	if upper {
		v = strings.ToLower(v)
	}
	return v, nil
}

// tagClass groups tags that may describe the same file (gemato's
// verify_entry_compatibility: MANIFEST, DATA, EBUILD and AUX are
// interchangeable; MISC, IGNORE, DIST and TIMESTAMP only match themselves).
func tagClass(tag string) string {
	switch tag {
	case TagDATA, TagEBUILD, TagAUX, TagMANIFEST:
		return TagDATA
	}
	return tag
}

func dedupKey(e *Entry) string {
	switch e.Tag {
	case TagDIST:
		return "D" + e.Path
	case TagTIMESTAMP:
		return "T"
	}
	return "F" + e.Path
}

// incompatibility explains why b may not merge into a, or returns "".
func incompatibility(a, b *Entry) string {
	if tagClass(a.Tag) != tagClass(b.Tag) {
		return fmt.Sprintf("%s vs %s", a.Tag, b.Tag)
	}
	if a.Tag == TagTIMESTAMP && a.Path != b.Path {
		return "different timestamps"
	}
	if a.Size != b.Size {
		return fmt.Sprintf("size %d vs %d", a.Size, b.Size)
	}
	for _, n := range sortedKeys(b.Digests) {
		if av, ok := a.Digests[n]; ok && av != b.Digests[n] {
			return n + " differs"
		}
	}
	return ""
}

func sortedKeys(d Digests) []string {
	names := make([]string, 0, len(d))
	for n := range d {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func (p *parser) add(e Entry) error {
	key := dedupKey(&e)
	if i, ok := p.index[key]; ok {
		a := &p.m.Entries[i]
		if why := incompatibility(a, &e); why != "" {
			return p.errorf(e.Pos.Line, "%s %s conflicts with line %d: %s", e.Tag, quoteShort(e.Path), a.Pos.Line, why)
		}
		for n, v := range e.Digests {
			if _, ok := a.Digests[n]; !ok {
				a.Digests[n] = v
			}
		}
		return nil
	}
	if len(p.m.Entries) >= MaxEntries {
		return p.errorf(e.Pos.Line, "more than %d entries", MaxEntries)
	}
	p.index[key] = len(p.m.Entries)
	if e.Tag == TagIGNORE {
		if p.ignores == nil {
			p.ignores = make(map[string]int)
		}
		p.ignores[e.Path] = len(p.m.Entries)
	}
	p.m.Entries = append(p.m.Entries, e)
	return nil
}

// checkIgnored rejects entries for paths inside an IGNOREd directory
// (GLEP 74: "It is an error to specify another entry for a file that
// matches IGNORE, or that is located inside an ignored directory").
func (p *parser) checkIgnored() error {
	if len(p.ignores) == 0 {
		return nil
	}
	for i := range p.m.Entries {
		e := &p.m.Entries[i]
		if e.Tag == TagDIST || e.Tag == TagTIMESTAMP {
			continue
		}
		for j := 0; j < len(e.Path); j++ {
			if e.Path[j] != '/' {
				continue
			}
			if k, ok := p.ignores[e.Path[:j]]; ok {
				ig := &p.m.Entries[k]
				return p.errorf(e.Pos.Line, "%s %s is inside IGNORE %s (line %d)", e.Tag, quoteShort(e.Path), quoteShort(ig.Path), ig.Pos.Line)
			}
		}
	}
	return nil
}

// limitReader fails with ErrTooLarge once more than n bytes were read.
type limitReader struct {
	r io.Reader
	n int64
}

// exceeded reports whether more than the limit was read.
func (l *limitReader) exceeded() bool { return l.n < 0 }

func (l *limitReader) Read(b []byte) (int, error) {
	if l.n < 0 {
		return 0, ErrTooLarge
	}
	if int64(len(b)) > l.n+1 {
		b = b[:l.n+1]
	}
	n, err := l.r.Read(b)
	l.n -= int64(n)
	if l.n < 0 {
		return n, ErrTooLarge
	}
	return n, err
}
