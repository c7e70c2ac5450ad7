package integration

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// ReadmeMakeConf returns the make.conf lines of the README's Portage
// section, made fit for a test: the built binary instead of
// /usr/bin/distswarm, --offline (never the public DHT), store instead of
// /var/cache/distswarm (DISTSWARM_STORE too, as the default store), and
// mirror (none if "") instead of the public one. It fails the test when
// the README no longer has what it replaces, so the lines tested are the
// README's.
func ReadmeMakeConf(t testing.TB, store, mirror string) []string {
	t.Helper()
	_, self, _, _ := runtime.Caller(0)
	readme, err := os.ReadFile(filepath.Join(filepath.Dir(filepath.Dir(self)), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	lines := readmeBlockAfter(string(readme), "# /etc/portage/make.conf")
	if len(lines) == 0 {
		t.Fatal("README.md has no \"# /etc/portage/make.conf\" block")
	}
	text := strings.Join(lines, "\n")
	for _, r := range []struct{ old, new string }{
		{"/usr/bin/distswarm fetch ", binary + " fetch --offline "},
		{"/var/cache/distswarm", store},
		{" https://distfiles.gentoo.org", strings.TrimSuffix(" "+mirror, " ")},
	} {
		if !strings.Contains(text, r.old) {
			t.Fatalf("README's make.conf no longer has %q; update ReadmeMakeConf:\n%s", r.old, text)
		}
		text = strings.ReplaceAll(text, r.old, r.new)
	}
	return append(strings.Split(text, "\n"), "DISTSWARM_STORE=\""+store+"\"")
}

// EmptyMirror serves a GLEP 75 mirror that has nothing but
// distfiles/layout.conf: Portage asks it for layout.conf (through
// FETCHCOMMAND, with empty ${DIGESTS}) and then for each distfile before
// SRC_URI, as it asks distfiles.gentoo.org on Gentoo.
func EmptyMirror(t testing.TB, dir string) *HTTPLog {
	t.Helper()
	conf := filepath.Join(dir, "distfiles", "layout.conf")
	if err := os.MkdirAll(filepath.Dir(conf), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte("[structure]\n0=filename-hash BLAKE2B 8\n1=flat\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return ServeDir(t, dir)
}

// checkMirrorTried asserts Portage read the mirror's layout.conf (through
// FETCHCOMMAND, with empty ${DIGESTS}) and so tried each file at its
// GLEP 75 path on the mirror.
func checkMirrorTried(t testing.TB, output string, mirror *HTTPLog, files []File) {
	t.Helper()
	if countRequests(mirror.Requests(), "layout.conf") == 0 {
		t.Errorf("Portage never asked the mirror for layout.conf")
	}
	for _, f := range files {
		rel, _ := filepath.Rel("/s", GLEP75Path("/s", f.Name))
		if u := mirror.URL + "/" + filepath.ToSlash(rel); !strings.Contains(output, ">>> Downloading '"+u+"'") {
			t.Errorf("Portage did not try %s:\n%s", u, output)
		}
	}
}

// readmeBlockAfter returns the lines that follow the line equal to marker,
// up to the end of its code block.
func readmeBlockAfter(readme, marker string) []string {
	var out []string
	in := false
	for _, l := range strings.Split(readme, "\n") {
		switch {
		case strings.TrimSpace(l) == marker:
			in = true
		case in && strings.HasPrefix(l, "```"):
			return out
		case in && strings.TrimSpace(l) != "":
			out = append(out, l)
		}
	}
	return out
}

// TestPortageFetchCommandHTTP: real Portage, the README's make.conf,
// FEATURES=userfetch, no daemon: distswarm's Portage mode downloads every
// distfile from the HTTP origin as the fetch user and places it both in
// DISTDIR and in the store. The next emerge finds the files in the store,
// which the README's GENTOO_MIRRORS names as a local mirror; a partial
// download in DISTDIR makes Portage run the README's RESUMECOMMAND.
func TestPortageFetchCommandHTTP(t *testing.T) {
	p := NewPortage(t)
	ebuilds := SampleEbuilds(3, 81)
	files := EbuildFiles(ebuilds)
	www := filepath.Join(p.Root, "www")
	WriteFlat(t, www, files)
	origin := ServeDir(t, www)
	p.AddEbuilds(origin.URL, ebuilds...)
	store := p.NewStore("store")
	mirror := EmptyMirror(t, filepath.Join(p.Root, "mirror"))
	p.WriteMakeConf(ReadmeMakeConf(t, store, mirror.URL)...)
	fetchonly := append([]string{"--fetchonly"}, Atoms(ebuilds)...)

	seen := len(origin.Requests())
	r := p.Emerge(nil, fetchonly...)
	if r.Code != 0 {
		t.Fatalf("emerge --fetchonly: exit %d\n%s", r.Code, r.Output)
	}
	p.CheckDistDir(files)
	CheckPlaced(t, store, files)
	checkMirrorTried(t, r.Output, mirror, files)
	for _, f := range files {
		CheckOwner(t, GLEP75Path(store, f.Name), p.UID)
		if n := countRequests(origin.Requests()[seen:], f.Name); n == 0 {
			t.Errorf("%s: no request reached the HTTP origin", f.Name)
		}
	}

	t.Run("local-mirror", func(t *testing.T) {
		p.ClearDistDir()
		seen := len(origin.Requests())
		r := p.Emerge(nil, fetchonly...)
		if r.Code != 0 {
			t.Fatalf("emerge --fetchonly: exit %d\n%s", r.Code, r.Output)
		}
		p.CheckDistDir(files)
		if !strings.Contains(r.Output, "Local mirror has file") {
			t.Errorf("Portage did not take the files from the store as a local mirror:\n%s", r.Output)
		}
		if reqs := origin.Requests()[seen:]; len(reqs) > 0 {
			t.Errorf("the files are in the store, yet the origin got %v", reqs)
		}
	})

	t.Run("resume", func(t *testing.T) {
		big := largestFile(files)
		const resumeMin = 350 << 10 // Portage's PORTAGE_FETCH_RESUME_MIN_SIZE default, 350K
		if len(big.Data) <= resumeMin+1 {
			t.Fatalf("no distfile is larger than %d bytes: change SampleEbuilds' seed", resumeMin)
		}
		p.ClearDistDir()
		if err := os.Remove(GLEP75Path(store, big.Name)); err != nil {
			t.Fatal(err)
		}
		partial := filepath.Join(p.DistDir, big.Name+".__download__")
		if err := os.WriteFile(partial, big.Data[:resumeMin+1], 0o644); err != nil {
			t.Fatal(err)
		}
		r := p.Emerge(nil, "--fetchonly", ebuildOf(ebuilds, big).Atom())
		if r.Code != 0 {
			t.Fatalf("emerge --fetchonly: exit %d\n%s", r.Code, r.Output)
		}
		if !strings.Contains(r.Output, ">>> Resuming download") {
			t.Errorf("Portage did not run RESUMECOMMAND:\n%s", r.Output)
		}
		p.CheckDistDir([]File{big})
		CheckPlaced(t, store, []File{big})
	})
}

// countRequests counts the requests whose path ends in /name.
func countRequests(reqs []Request, name string) int {
	n := 0
	for _, q := range reqs {
		if strings.HasSuffix(q.Path, "/"+name) {
			n++
		}
	}
	return n
}

func largestFile(files []File) File {
	big := files[0]
	for _, f := range files[1:] {
		if len(f.Data) > len(big.Data) {
			big = f
		}
	}
	return big
}

// ebuildOf is the package f belongs to.
func ebuildOf(ebuilds []Ebuild, f File) Ebuild {
	for _, e := range ebuilds {
		for _, g := range e.Files {
			if g.Name == f.Name && bytes.Equal(g.Data, f.Data) {
				return e
			}
		}
	}
	panic("no ebuild has " + f.Name)
}
