package layout

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkSafePath asserts p is a clean relative path inside the directory.
func checkSafePath(t *testing.T, what, name, p string) {
	t.Helper()
	if p == "" || strings.HasPrefix(p, "/") || strings.Contains(p, "\x00") {
		t.Fatalf("%s: Path(%q) = %q escapes or is empty", what, name, p)
	}
	for comp := range strings.SplitSeq(p, "/") {
		if comp == "" || comp == "." || comp == ".." {
			t.Fatalf("%s: Path(%q) = %q has component %q", what, name, p, comp)
		}
	}
	if filepath.Clean(p) != filepath.FromSlash(p) || !filepath.IsLocal(p) {
		t.Fatalf("%s: Path(%q) = %q is not local and clean", what, name, p)
	}
}

func fuzzNames(name string) []string {
	return []string{name, "foo-1.tar.gz", "..", ".", "", "a/b", "caf\u00e9"}
}

func FuzzParseConfig(f *testing.F) {
	ents, _ := filepath.Glob("testdata/*.layout.conf")
	for _, e := range ents {
		if b, err := os.ReadFile(e); err == nil {
			f.Add(b, "foo-1.tar.gz", "")
		}
	}
	f.Add([]byte("[structure]\n0=content-hash SHA512 8:8:8\n1=flat\n"), "x", emptyDigests()["SHA512"])
	f.Add([]byte("[DEFAULT]\n0=filename-hash BLAKE2B 0\n[structure]\n  1=flat\n\t2\n"), "..", "../..")
	f.Add([]byte("[structure]\n0=filename-hash SHA1 4:4:4:4:4\n0:x\n"), "a/b", "")
	f.Fuzz(func(t *testing.T, data []byte, name, digest string) {
		cfg, err := ParseConfig(strings.NewReader(string(data)), "fuzz")
		if err != nil {
			return
		}
		digests := map[string]string{"SHA512": digest, "blake2b": digest}
		for _, n := range fuzzNames(name) {
			valid := ValidName(n) == nil
			p := cfg.Path(n, digests)
			if !valid {
				if p != "" {
					t.Fatalf("Config.Path(invalid %q) = %q", n, p)
				}
				continue
			}
			checkSafePath(t, "config", n, p)
			for _, l := range cfg.Layouts {
				if lp, ok := l.Path(n, digests); ok {
					checkSafePath(t, l.String(), n, lp)
				}
			}
		}
		// Rendering and re-parsing preserves the supported layouts.
		back, err := ParseConfig(strings.NewReader(cfg.String()), "rendered")
		if err != nil {
			t.Fatalf("rendered config does not parse: %v\n%s", err, cfg.String())
		}
		if len(cfg.Layouts) > 0 && cfg.String() != back.String() {
			t.Fatalf("round trip changed:\n%s\n%s", cfg.String(), back.String())
		}
	})
}

func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{
		"flat", DefaultSpec, "filename-hash BLAKE2B 8:8", "filename-hash SHA1 4:8:12",
		"content-hash SHA512 8:8:8", "filename-hash BLAKE2B 0", "filename-hash BLAKE2B -4",
		"filename-hash BLAKE2B +08", "content-hash sha512 8", "filename-hash WHIRLPOOL 512",
	} {
		f.Add(s, "foo-1.tar.gz", emptyDigests()["SHA512"])
	}
	f.Fuzz(func(t *testing.T, spec, name, digest string) {
		l, err := ParseSpec(spec)
		if err != nil {
			return
		}
		// The canonical form parses back to an equal layout.
		l2, err := ParseSpec(l.String())
		if err != nil || l2 != l {
			t.Fatalf("ParseSpec(%q).String() = %q does not round-trip: %v", spec, l.String(), err)
		}
		digests := map[string]string{}
		if f := strings.Fields(spec); len(f) == 3 {
			digests[f[1]] = digest
		}
		for _, n := range fuzzNames(name) {
			p, ok := l.Path(n, digests)
			if ValidName(n) != nil {
				if ok {
					t.Fatalf("%s: Path(invalid %q) = %q", l, n, p)
				}
				continue
			}
			if ok {
				checkSafePath(t, l.String(), n, p)
			}
		}
	})
}
