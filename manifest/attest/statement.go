package attest

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// FormatV1 is the first line's value of a version 1 statement.
const FormatV1 = "distswarm-attestation-v1"

// Bounds of a statement's fields and of a whole attestation file.
const (
	MaxPathLength     = 1024
	MaxBuildKeyLength = 256
	MaxFileSize       = 8 << 10
)

// ErrMalformed marks a statement or file that is not in the format.
var ErrMalformed = errors.New("malformed attestation")

// Kind says what the signer did with the package.
type Kind string

// The kinds of attestation.
const (
	// Built: the signer built the package.
	Built Kind = "built"
	// Checked: the signer rebuilt it, or otherwise checked it, and got
	// the same bytes.
	Checked Kind = "checked"
)

// Statement is what one signer says about one package.
type Statement struct {
	Kind Kind
	// Path is the package's path in the PKGDIR
	// ("category/package/name-version[-build].gpkg.tar").
	Path string
	// BuildKey identifies the build configuration (opaque here; it may
	// be empty when the signer does not know it).
	BuildKey string
	Size     int64
	// BLAKE2B and SHA512 are lowercase hex (128 digits each).
	BLAKE2B string
	SHA512  string
	// Signer is the signing key's fingerprint (KeyID).
	Signer string
	// Time is when the statement was signed, UTC, whole seconds.
	Time time.Time
}

// field names, in their fixed order.
var fieldOrder = []string{"format", "kind", "path", "build-key", "size", "blake2b", "sha512", "signer", "time"}

// Encode returns the canonical bytes of s: one "name=value\n" line per
// field in a fixed order. The same statement always encodes to the same
// bytes, and ParseStatement accepts nothing but such bytes.
func (s Statement) Encode() ([]byte, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	values := []string{FormatV1, string(s.Kind), s.Path, s.BuildKey, strconv.FormatInt(s.Size, 10),
		s.BLAKE2B, s.SHA512, s.Signer, s.Time.Format(time.RFC3339)}
	var b bytes.Buffer
	for i, name := range fieldOrder {
		b.WriteString(name + "=" + values[i] + "\n")
	}
	return b.Bytes(), nil
}

// ParseStatement parses canonical statement bytes strictly: every field,
// in order, once, with a canonical value; nothing else.
func ParseStatement(data []byte) (Statement, error) {
	if len(data) > MaxFileSize {
		return Statement{}, fmt.Errorf("%w: statement larger than %d bytes", ErrMalformed, MaxFileSize)
	}
	text, ok := strings.CutSuffix(string(data), "\n")
	if !ok {
		return Statement{}, fmt.Errorf("%w: statement does not end with a newline", ErrMalformed)
	}
	lines := strings.Split(text, "\n")
	if len(lines) != len(fieldOrder) {
		return Statement{}, fmt.Errorf("%w: %d lines, want %d", ErrMalformed, len(lines), len(fieldOrder))
	}
	values := make([]string, len(lines))
	for i, l := range lines {
		name, value, ok := strings.Cut(l, "=")
		if !ok || name != fieldOrder[i] {
			return Statement{}, fmt.Errorf("%w: line %d: want %q", ErrMalformed, i+1, fieldOrder[i]+"=…")
		}
		values[i] = value
	}
	s, err := statementFrom(values)
	if err != nil {
		return Statement{}, err
	}
	canon, err := s.Encode()
	if err != nil {
		return Statement{}, err
	}
	if !bytes.Equal(canon, data) {
		return Statement{}, fmt.Errorf("%w: not in canonical form", ErrMalformed)
	}
	return s, nil
}

func statementFrom(v []string) (Statement, error) {
	if v[0] != FormatV1 {
		return Statement{}, fmt.Errorf("%w: format %q, want %q", ErrMalformed, quoteShort(v[0]), FormatV1)
	}
	size, err := strconv.ParseInt(v[4], 10, 64)
	if err != nil {
		return Statement{}, fmt.Errorf("%w: size %s", ErrMalformed, quoteShort(v[4]))
	}
	t, err := time.Parse(time.RFC3339, v[8])
	if err != nil {
		return Statement{}, fmt.Errorf("%w: time %s: want RFC 3339 UTC", ErrMalformed, quoteShort(v[8]))
	}
	return Statement{Kind: Kind(v[1]), Path: v[2], BuildKey: v[3], Size: size,
		BLAKE2B: v[5], SHA512: v[6], Signer: v[7], Time: t}, nil
}

func (s Statement) validate() error {
	checks := []error{
		checkKind(s.Kind),
		CheckPath(s.Path),
		checkBuildKey(s.BuildKey),
		checkHex("blake2b", s.BLAKE2B),
		checkHex("sha512", s.SHA512),
		checkSigner(s.Signer),
	}
	if s.Size < 0 {
		checks = append(checks, fmt.Errorf("size %d is negative", s.Size))
	}
	if s.Time.Location() != time.UTC || s.Time.Nanosecond() != 0 || s.Time.Year() < 2000 || s.Time.Year() > 9999 {
		checks = append(checks, fmt.Errorf("time %s: want UTC, whole seconds, years 2000-9999", s.Time))
	}
	for _, err := range checks {
		if err != nil {
			return fmt.Errorf("%w: %v", ErrMalformed, err)
		}
	}
	return nil
}

func checkKind(k Kind) error {
	if k != Built && k != Checked {
		return fmt.Errorf("kind %s: want %q or %q", quoteShort(string(k)), Built, Checked)
	}
	return nil
}

// CheckPath reports whether p is an acceptable package path: relative,
// slash-separated, UTF-8, no empty, "." or ".." component, no white space
// or control character, at most MaxPathLength bytes.
func CheckPath(p string) error {
	if p == "" || len(p) > MaxPathLength {
		return fmt.Errorf("path of %d bytes: want 1-%d", len(p), MaxPathLength)
	}
	if !utf8.ValidString(p) {
		return errors.New("path is not UTF-8")
	}
	for _, r := range p {
		if r <= ' ' || r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == '\\' {
			return fmt.Errorf("path %s: white space, control character or backslash", quoteShort(p))
		}
	}
	for _, c := range strings.Split(p, "/") {
		if c == "" || c == "." || c == ".." {
			return fmt.Errorf("path %s: empty, \".\" or \"..\" component", quoteShort(p))
		}
	}
	return nil
}

func checkBuildKey(k string) error {
	if len(k) > MaxBuildKeyLength {
		return fmt.Errorf("build key of %d bytes: at most %d", len(k), MaxBuildKeyLength)
	}
	for i := 0; i < len(k); i++ {
		if k[i] <= ' ' || k[i] >= 0x7f {
			return fmt.Errorf("build key %s: want printable ASCII without spaces", quoteShort(k))
		}
	}
	return nil
}

func checkHex(name, h string) error {
	if len(h) != 128 {
		return fmt.Errorf("%s: %d hex digits, want 128", name, len(h))
	}
	for i := 0; i < len(h); i++ {
		if !(h[i] >= '0' && h[i] <= '9' || h[i] >= 'a' && h[i] <= 'f') {
			return fmt.Errorf("%s: want lowercase hex", name)
		}
	}
	return nil
}

// checkSigner accepts what KeyID returns: "SHA256:" and 43 characters of
// unpadded standard base64.
func checkSigner(s string) error {
	rest, ok := strings.CutPrefix(s, "SHA256:")
	if !ok || len(rest) != 43 {
		return fmt.Errorf("signer %s: want SHA256:<43 base64 characters>", quoteShort(s))
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/') {
			return fmt.Errorf("signer %s: not base64", quoteShort(s))
		}
	}
	return nil
}

func quoteShort(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return strconv.Quote(s)
}
