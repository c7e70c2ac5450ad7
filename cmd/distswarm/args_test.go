package main

import (
	"strings"
	"testing"
)

// A flag after a name is a usage error (exit 2) naming the flag, not a
// file to fetch; "-" stays a name; a mistyped command or flag gets a
// suggestion.
func TestFlagAfterNameAndSuggestions(t *testing.T) {
	store := t.TempDir()
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"fetch", "--store", store, "--torrent", "x.torrent", "foo-1.tar.gz", "--offline"}, 2,
			`flag --offline after the name "foo-1.tar.gz": put flags before names`},
		{[]string{"hash", "some-file", "-v"}, 2, `flag -v after the name "some-file"`},
		{[]string{"fetc"}, 2, `did you mean "fetch"?`},
		{[]string{"colection", "create"}, 2, `did you mean "collection"?`},
		{[]string{"fetch", "--offlin"}, 2, `Did you mean "--offline"?`},
		{[]string{"zzzzzzz"}, 2, `unknown command "zzzzzzz" (distswarm --help`},
	}
	for _, c := range cases {
		r := runCLI(t, "", c.args...)
		if out := r.stdout + r.stderr; r.code != c.code || !strings.Contains(out, c.want) {
			t.Errorf("distswarm %v: exit %d, stderr:\n%s\nwant exit %d and %q", c.args, r.code, r.stderr, c.code, c.want)
		}
	}
	// "-" (standard input or output) is a name like any other.
	if err := flagAfterName([]string{"NAME", "-"}); err != nil {
		t.Errorf("NAME -: %v", err)
	}
}

func TestEditDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		d    int
	}{{"fetch", "fetc", 1}, {"seed", "sede", 2}, {"", "abc", 3}, {"daemon", "daemon", 0}} {
		if got := editDistance(c.a, c.b); got != c.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.d)
		}
	}
}
