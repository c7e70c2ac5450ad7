package layout

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func layoutStrings(ls []Layout) []string {
	var out []string
	for _, l := range ls {
		out = append(out, l.String())
	}
	return out
}

// TestRealConfigs parses the real (and Portage test-suite) layout.conf files.
func TestRealConfigs(t *testing.T) {
	cases := []struct {
		file    string
		layouts []string
		skipped int
		name    string
		digests map[string]string
		want    string
	}{
		{"SHA1_8-16.layout.conf", []string{"filename-hash SHA1 8:16", "flat"}, 0, "foo-1.tar.gz", nil, "19/c3b6/foo-1.tar.gz"},
		{"fallback.layout.conf", []string{"filename-hash SHA1 32", "flat"}, 1, "foo-1.tar.gz", nil, "19c3b637/foo-1.tar.gz"},
		{"filename-hash_BLAKE2B_8__flat.layout.conf", []string{"filename-hash BLAKE2B 8", "flat"}, 0, "foo-1.tar.gz", nil, "1b/foo-1.tar.gz"},
		{"flat-first.layout.conf", []string{"flat", "filename-hash BLAKE2B 8"}, 0, "foo-1.tar.gz", nil, "foo-1.tar.gz"},
		{"distfiles.gentoo.org.layout.conf", []string{"filename-hash BLAKE2B 8"}, 0, "which-2.23.tar.gz", nil, "80/which-2.23.tar.gz"},
		{"distfiles.gentoo.org.layout.conf", []string{"filename-hash BLAKE2B 8"}, 0, "lxqt-about-0.15.0.tar.xz", nil, "ef/lxqt-about-0.15.0.tar.xz"},
		{"gentoo.osuosl.org-2019-2023.layout.conf", []string{"filename-hash BLAKE2B 8", "flat"}, 0, "which-2.23.tar.gz", nil, "80/which-2.23.tar.gz"},
		// content-hash applies only with a SHA512 digest, else flat.
		{"content-hash_SHA512_8-8-8__flat.layout.conf", []string{"content-hash SHA512 8:8:8", "flat"}, 0, "foo-1.tar.gz", nil, "foo-1.tar.gz"},
		{"content-hash_SHA512_8-8-8__flat.layout.conf", []string{"content-hash SHA512 8:8:8", "flat"}, 0, "foo-1.tar.gz", emptyDigests(),
			"cf/83/e1/" + emptyDigests()["SHA512"]},
	}
	for _, c := range cases {
		cfg, err := LoadConfig(filepath.Join("testdata", c.file))
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		if got := layoutStrings(cfg.Layouts); !slices.Equal(got, c.layouts) {
			t.Errorf("%s: layouts %q, want %q", c.file, got, c.layouts)
		}
		if len(cfg.Skipped) != c.skipped {
			t.Errorf("%s: skipped %q", c.file, cfg.Skipped)
		}
		if got := cfg.Path(c.name, c.digests); got != c.want {
			t.Errorf("%s: Path(%q) = %q, want %q", c.file, c.name, got, c.want)
		}
		if cfg.Primary().String() != c.layouts[0] {
			t.Errorf("%s: Primary = %s", c.file, cfg.Primary())
		}
		// String() renders a file that parses back to the same layouts.
		back, err := ParseConfig(strings.NewReader(cfg.String()), "rendered")
		if err != nil || !slices.Equal(layoutStrings(back.Layouts), c.layouts) {
			t.Errorf("%s: round trip %q -> %v, %v", c.file, cfg.String(), back, err)
		}
	}
}

// TestRepositoryLayoutConf: a repository metadata/layout.conf has options
// before any section; configparser (so Portage) refuses it, which Portage
// then treats as flat.
func TestRepositoryLayoutConf(t *testing.T) {
	_, err := LoadConfig("testdata/tex-overlay-metadata.layout.conf")
	if !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), "tex-overlay-metadata.layout.conf:1:") {
		t.Fatalf("err = %v, want ErrSyntax naming file:1", err)
	}
}

func TestLoadConfigMissing(t *testing.T) {
	cfg, err := LoadConfig(filepath.Join(t.TempDir(), "layout.conf"))
	if err != nil || len(cfg.Layouts) != 0 || cfg.Primary() != Flat() {
		t.Fatalf("missing file: %v, %v", cfg, err)
	}
	if got := cfg.Path("foo-1.tar.gz", nil); got != "foo-1.tar.gz" {
		t.Fatalf("Path = %q", got)
	}
	if got := cfg.Path("../x", nil); got != "" {
		t.Fatalf("Path(invalid) = %q", got)
	}
	if cfg.String() != "[structure]\n0=flat\n" {
		t.Fatalf("String = %q", cfg.String())
	}
}

// TestConfigEdgeCases follows GENTOO-FORMATS.md §2.5 (verified against
// Portage) plus configparser details.
func TestConfigEdgeCases(t *testing.T) {
	cases := []struct {
		name, conf string
		want       []string // layouts
		skipped    int
	}{
		{"empty", "", nil, 0},
		{"no structure", "[other]\n0=filename-hash BLAKE2B 8\n", nil, 0},
		{"wrong case section", "[STRUCTURE]\n0=filename-hash BLAKE2B 8\n", nil, 0},
		{"no key 0", "[structure]\n1=filename-hash BLAKE2B 8\n", nil, 0},
		{"gap stops", "[structure]\n0=flat\n2=filename-hash BLAKE2B 8\n", []string{"flat"}, 0},
		{"spaces", "[structure]\n0 = filename-hash  BLAKE2B   8\n", []string{"filename-hash BLAKE2B 8"}, 0},
		{"colon delimiter", "[structure]\n0: filename-hash BLAKE2B 8\n", []string{"filename-hash BLAKE2B 8"}, 0},
		{"inline comment breaks entry", "[structure]\n0=filename-hash BLAKE2B 8 ; comment\n1=flat\n", []string{"flat"}, 1},
		{"lowercase algo", "[structure]\n0=filename-hash blake2b 8\n", nil, 1},
		{"pathological cutoffs", "[structure]\n0=filename-hash BLAKE2B 0\n1=filename-hash BLAKE2B -4\n2=filename-hash BLAKE2B 600\n3=filename-hash BLAKE2B 3\n4=filename-hash BLAKE2B 4:8:junk\n5=flat\n", []string{"flat"}, 5},
		{"leading zeros", "[structure]\n0=filename-hash BLAKE2B 08\n", []string{"filename-hash BLAKE2B 8"}, 0},
		{"comments and blanks", "# c\n; c\n\n[structure]\n  # indented comment\n0=flat\n\n", []string{"flat"}, 0},
		{"crlf", "[structure]\r\n0=filename-hash BLAKE2B 8\r\n1=flat\r\n", []string{"filename-hash BLAKE2B 8", "flat"}, 0},
		{"continuation", "[structure]\n0=filename-hash BLAKE2B\n   8\n", []string{"filename-hash BLAKE2B 8"}, 0},
		{"empty value", "[structure]\n0=\n1=flat\n", []string{"flat"}, 1},
		{"unknown kind", "[structure]\n0=mirror-magic 1 2\n1=filename-hash SHA1 32\n", []string{"filename-hash SHA1 32"}, 1},
		{"default section", "[DEFAULT]\n0=flat\n[structure]\n1=filename-hash BLAKE2B 8\n", []string{"flat", "filename-hash BLAKE2B 8"}, 0},
		{"percent stops", "[structure]\n0=flat\n1=filename-hash BLAKE2B 8%\n2=flat\n", []string{"flat"}, 1},
		{"other sections ignored", "[foo]\nbar=baz\n[structure]\n0=flat\n[baz]\n1=x\n", []string{"flat"}, 0},
		{"repeated DEFAULT", "[DEFAULT]\n[structure]\n0=flat\n[DEFAULT]\n1=filename-hash BLAKE2B 8\n", []string{"flat", "filename-hash BLAKE2B 8"}, 0},
		{"header trailing junk", "[structure] junk\n0=flat\n", []string{"flat"}, 0},
	}
	for _, c := range cases {
		cfg, err := ParseConfig(strings.NewReader(c.conf), c.name)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got := layoutStrings(cfg.Layouts); !slices.Equal(got, c.want) {
			t.Errorf("%s: layouts %q, want %q (skipped %q)", c.name, got, c.want, cfg.Skipped)
		}
		if len(cfg.Skipped) != c.skipped {
			t.Errorf("%s: skipped %q, want %d", c.name, cfg.Skipped, c.skipped)
		}
	}
}

func TestConfigSyntaxErrors(t *testing.T) {
	cases := map[string]string{
		"option before section": "0=flat\n",
		"garbage line":          "[structure]\n0=flat\nthis is not an option\n",
		"duplicate key":         "[structure]\n0=flat\n0=filename-hash BLAKE2B 8\n",
		"duplicate section":     "[structure]\n0=flat\n[structure]\n1=flat\n",
		"empty key":             "[structure]\n=flat\n",
		"too big":               "[structure]\n0=flat\n#" + strings.Repeat("x", MaxConfigSize),
	}
	for name, conf := range cases {
		_, err := ParseConfig(strings.NewReader(conf), "x.conf")
		if !errors.Is(err, ErrSyntax) || !strings.HasPrefix(err.Error(), "x.conf") {
			t.Errorf("%s: err = %v, want ErrSyntax naming x.conf", name, err)
		}
	}
	_, err := ParseConfig(strings.NewReader("[structure]\n0=flat\nbad\n"), "x.conf")
	if err == nil || !strings.Contains(err.Error(), "x.conf:3:") {
		t.Errorf("line number missing: %v", err)
	}
}

func TestWriteConfig(t *testing.T) {
	dir := t.TempDir()
	if err := WriteConfig(dir, Default(), Flat()); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, ConfigName))
	if err != nil || string(data) != "[structure]\n0=filename-hash BLAKE2B 8\n1=flat\n" {
		t.Fatalf("layout.conf = %q, %v", data, err)
	}
	st1, _ := os.Stat(filepath.Join(dir, ConfigName))
	if err := WriteConfig(dir, Default(), Flat()); err != nil { // unchanged: not rewritten
		t.Fatal(err)
	}
	st2, _ := os.Stat(filepath.Join(dir, ConfigName))
	if !os.SameFile(st1, st2) {
		t.Error("identical WriteConfig replaced the file")
	}
	if err := WriteConfig(dir); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(filepath.Join(dir, ConfigName))
	if err != nil || cfg.Primary() != Flat() {
		t.Fatalf("after WriteConfig(): %v %v", cfg, err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("leftover files: %v", ents)
	}
	if err := WriteConfig(filepath.Join(dir, "missing")); err == nil {
		t.Error("WriteConfig into a missing dir succeeded")
	}
}
