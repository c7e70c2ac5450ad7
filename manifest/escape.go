package manifest

import (
	"errors"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// UnescapePath undoes GLEP 74 path escaping. The escapes \xHH, \uHHHH and
// \UHHHHHHHH denote Unicode code points (not bytes); the result is the UTF-8
// encoding of those code points. Any other use of a backslash is an error,
// as is an escape that denotes a surrogate or a value beyond U+10FFFF.
func UnescapePath(s string) (string, error) {
	i := strings.IndexByte(s, '\\')
	if i < 0 {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for i >= 0 {
		b.WriteString(s[:i])
		s = s[i:]
		if len(s) < 2 {
			return "", errors.New(`bare "\" in path (must be escaped as \x5C)`)
		}
		var n int
		switch s[1] {
		case 'x':
			n = 2
		case 'u':
			n = 4
		case 'U':
			n = 8
		default:
			return "", errors.New(`invalid escape "\` + string(s[1]) + `" in path`)
		}
		if len(s) < 2+n {
			return "", errors.New("truncated escape " + strconv.Quote(s) + " in path")
		}
		v, err := strconv.ParseUint(s[2:2+n], 16, 32)
		if err != nil || strings.ContainsAny(s[2:2+n], "+-_") {
			return "", errors.New("invalid escape " + strconv.Quote(s[:2+n]) + " in path")
		}
		r := rune(v)
		if v > unicode.MaxRune || !utf8.ValidRune(r) {
			return "", errors.New("escape " + strconv.Quote(s[:2+n]) + " is not a valid code point")
		}
		b.WriteRune(r)
		s = s[2+n:]
		i = strings.IndexByte(s, '\\')
	}
	b.WriteString(s)
	return b.String(), nil
}

// needsEscape reports whether GLEP 74 requires r to be escaped in a path:
// control characters, whitespace and the backslash (gemato's
// [\x00-\x1F\x7F-\x9F\s\\]).
func needsEscape(r rune) bool {
	return r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == '\\' || unicode.IsSpace(r)
}

// EscapePath encodes a path for a Manifest line, escaping exactly the
// characters GLEP 74 forbids raw, with uppercase hex like gemato. It is the
// inverse of UnescapePath for valid UTF-8 input.
func EscapePath(s string) string {
	if strings.IndexFunc(s, needsEscape) < 0 {
		return s
	}
	const hexdig = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 8)
	for _, r := range s {
		if !needsEscape(r) {
			b.WriteRune(r)
			continue
		}
		var n int
		switch {
		case r < 0x80:
			b.WriteString(`\x`)
			n = 2
		case r <= 0xffff:
			b.WriteString(`\u`)
			n = 4
		default:
			b.WriteString(`\U`)
			n = 8
		}
		for k := n - 1; k >= 0; k-- {
			b.WriteByte(hexdig[(r>>(4*k))&0xf])
		}
	}
	return b.String()
}
