package layout

import "strings"

// QuotePath percent-encodes p exactly like Python's
// urllib.parse.quote(p, safe="/"), which Portage applies to layout paths of
// ftp/http/https mirrors: the bytes A-Z a-z 0-9 '_' '.' '-' '~' and '/' are
// kept, every other byte of the UTF-8 (or arbitrary) encoding becomes %XX
// with uppercase hex. This differs from url.PathEscape, which escapes '/'
// and keeps "@+:=&$,;".
func QuotePath(p string) string {
	const hexDigits = "0123456789ABCDEF"
	n := 0
	for i := 0; i < len(p); i++ {
		if !keepByte(p[i]) {
			n++
		}
	}
	if n == 0 {
		return p
	}
	var b strings.Builder
	b.Grow(len(p) + 2*n)
	for i := 0; i < len(p); i++ {
		c := p[i]
		if keepByte(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0xf])
	}
	return b.String()
}

func keepByte(c byte) bool {
	switch {
	case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		return true
	}
	return c == '_' || c == '.' || c == '-' || c == '~' || c == '/'
}

// MirrorURL returns the URL of a layout path on an HTTP(S)/FTP mirror:
// the mirror base without trailing slashes, "/distfiles/", then the quoted
// relative path (GLEP 75; Portage async_mirror_url). Filesystem mirrors have
// no "/distfiles" component; join those with filepath.Join instead.
func MirrorURL(mirror, relpath string) string {
	return strings.TrimRight(mirror, "/") + "/distfiles/" + QuotePath(relpath)
}
