package layout

import (
	"net/url"
	"testing"
)

// Expected values computed with CPython 3:
//
//	python3 -c 'from urllib.parse import quote; print(quote(NAME, safe="/"))'
var quoteCases = []struct{ in, want string }{
	{"with space.tar.gz", "with%20space.tar.gz"},
	{"100%done.tgz", "100%25done.tgz"},
	{"plus+sign-1.0.tar.gz", "plus%2Bsign-1.0.tar.gz"},
	{"user@host.zip", "user%40host.zip"},
	{"a:b.tar", "a%3Ab.tar"},
	{"k=v&x.tar", "k%3Dv%26x.tar"},
	{"$dollar,comma;semi.tar", "%24dollar%2Ccomma%3Bsemi.tar"},
	{"tilde~1.0.tar.gz", "tilde~1.0.tar.gz"},
	{"caf\u00e9-1.0.tar.gz", "caf%C3%A9-1.0.tar.gz"},
	{"cafe\u0301-1.0.tar.gz", "cafe%CC%81-1.0.tar.gz"},
	{"日本語-1.0.tar.xz", "%E6%97%A5%E6%9C%AC%E8%AA%9E-1.0.tar.xz"},
	{"golang.org%2Fx%2Fnet%2F@v%2Fv0.1.0.zip", "golang.org%252Fx%252Fnet%252F%40v%252Fv0.1.0.zip"},
	{"ab/github.com%2Fpkg%2Ferrors%2F@v%2Fv0.9.1.zip", "ab/github.com%252Fpkg%252Ferrors%252F%40v%252Fv0.9.1.zip"},
	{"1b/32/foo-1.tar.gz", "1b/32/foo-1.tar.gz"},
	{"!*'()[]#?\"<>\\^`{|}.tar", "%21%2A%27%28%29%5B%5D%23%3F%22%3C%3E%5C%5E%60%7B%7C%7D.tar"},
	{"\x7f\x01tab\there", "%7F%01tab%09here"},
	{"under_score.-~", "under_score.-~"},
	{"", ""},
}

func TestQuotePath(t *testing.T) {
	for _, c := range quoteCases {
		if got := QuotePath(c.in); got != c.want {
			t.Errorf("QuotePath(%q) = %q, want %q", c.in, got, c.want)
		}
		// The quoted path decodes back to the original.
		if dec, err := url.PathUnescape(c.want); err != nil || dec != c.in {
			t.Errorf("PathUnescape(%q) = %q, %v", c.want, dec, err)
		}
	}
	// Arbitrary (non-UTF-8) bytes are escaped byte-wise.
	if got := QuotePath("\xff\xfe"); got != "%FF%FE" {
		t.Errorf("QuotePath(invalid UTF-8) = %q", got)
	}
}

// TestMirrorURL reproduces the Portage-computed URLs of GENTOO-FORMATS.md §2.4.
func TestMirrorURL(t *testing.T) {
	def := Default()
	for _, c := range []struct{ mirror, name, want string }{
		{"https://distfiles.example.org", "with space.tar.gz", "https://distfiles.example.org/distfiles/b9/with%20space.tar.gz"},
		{"https://distfiles.example.org/", "plus+sign-1.0.tar.gz", "https://distfiles.example.org/distfiles/98/plus%2Bsign-1.0.tar.gz"},
		{"https://distfiles.example.org//", "github.com%2Fpkg%2Ferrors%2F@v%2Fv0.9.1.zip", "https://distfiles.example.org/distfiles/ab/github.com%252Fpkg%252Ferrors%252F%40v%252Fv0.9.1.zip"},
		{"https://distfiles.example.org", "caf\u00e9-1.0.tar.gz", "https://distfiles.example.org/distfiles/1d/caf%C3%A9-1.0.tar.gz"},
		{"http://distfiles.gentoo.org", "which-2.23.tar.gz", "http://distfiles.gentoo.org/distfiles/80/which-2.23.tar.gz"},
	} {
		p, ok := def.Path(c.name, nil)
		if !ok {
			t.Fatalf("Path(%q) refused", c.name)
		}
		if got := MirrorURL(c.mirror, p); got != c.want {
			t.Errorf("MirrorURL(%q, %q) = %q, want %q", c.mirror, p, got, c.want)
		}
	}
}
