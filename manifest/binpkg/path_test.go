package binpkg

import (
	"encoding/json"
	"testing"
)

func TestParseCPV(t *testing.T) {
	good := map[string]CPV{
		"acct-group/adm-0-r2":            {"acct-group", "adm", "0-r2"},
		"dev-libs/libfoo-1.2.3_pre4_p1":  {"dev-libs", "libfoo", "1.2.3_pre4_p1"},
		"app-misc/foo-bar-2-1.0b-r10":    {}, // name ends in a version: invalid
		"x11-libs/gtk+-3.24.38":          {"x11-libs", "gtk+", "3.24.38"},
		"dev-lang/python-3.11.4_rc1-r1":  {"dev-lang", "python", "3.11.4_rc1-r1"},
		"media-fonts/font-adobe-75dpi-1": {"media-fonts", "font-adobe-75dpi", "1"},
	}
	for s, want := range good {
		got, err := ParseCPV(s)
		if want.IsZero() {
			if err == nil {
				t.Errorf("%s accepted as %+v", s, got)
			}
			continue
		}
		if err != nil || got != want || got.String() != s {
			t.Errorf("%s: %+v %v", s, got, err)
		}
	}
	for _, s := range []string{"", "foo-1", "/foo-1", "cat/foo", "cat/-1", "cat/+foo-1", "cat/foo-1-2", "ca t/foo-1", "cat/foo-01a.b", "cat/foo-1-r", "cat/föo-1", "-cat/foo-1", "cat/foo-1/x"} {
		if c, err := ParseCPV(s); err == nil {
			t.Errorf("%q accepted as %+v", s, c)
		}
	}
}

func TestParsePath(t *testing.T) {
	for s, want := range map[string]struct {
		cpv     string
		buildID int
		format  Format
	}{
		"acct-group/portage/portage-0-r3-1.gpkg.tar": {"acct-group/portage-0-r3", 1, FormatGPKG},
		"acct-user/portage/portage-0-r3-1.gpkg.tar":  {"acct-user/portage-0-r3", 1, FormatGPKG},
		"app-arch/zstd/zstd-1.5.5-2.xpak":            {"app-arch/zstd-1.5.5", 2, FormatXPAK},
		"app-arch/zstd-1.5.5.tbz2":                   {"app-arch/zstd-1.5.5", 0, FormatXPAK},
		"app-arch/zstd-1.5.5-r1.gpkg.tar":            {"app-arch/zstd-1.5.5-r1", 0, FormatGPKG},
		"app-misc/foo/foo-1-r1-12.gpkg.tar":          {"app-misc/foo-1-r1", 12, FormatGPKG},
	} {
		p, err := ParsePath(s)
		if err != nil {
			t.Errorf("%s: %v", s, err)
			continue
		}
		if p.CPV().String() != want.cpv || p.BuildID() != want.buildID || p.Format() != want.format || p.String() != s {
			t.Errorf("%s: %v %d %v %s", s, p.CPV(), p.BuildID(), p.Format(), p)
		}
		again, err := NewPath(p.CPV(), p.BuildID(), p.Format())
		if err != nil || again != p {
			t.Errorf("%s: NewPath gives %s %v", s, again, err)
		}
	}
	for _, s := range []string{
		"", "/app-misc/foo/foo-1-1.gpkg.tar", "../foo/foo-1-1.gpkg.tar", "app-misc/../foo-1.tbz2",
		"app-misc//foo-1.tbz2", "app-misc/./foo-1.tbz2", "app-misc/foo/foo-1-1.tar", "app-misc/foo-1.xpak",
		"app-misc/bar/foo-1-1.gpkg.tar", "app-misc/foo/foo-1.gpkg.tar", "app-misc/foo/foo-1-01.gpkg.tar",
		"app-misc/foo/foo-1-+1.gpkg.tar", "app-misc/foo/foo-1-99999999999.gpkg.tar", "All/foo-1.tbz2/x",
		"app-misc/foo/foo-1-1.gpkg.tar\x00", "app-misc/foo/foo 1-1.gpkg.tar", "app-misc/foo/føo-1-1.gpkg.tar",
		"a/b/c/foo-1-1.gpkg.tar", `app-misc\foo-1.tbz2`,
	} {
		if p, err := ParsePath(s); err == nil {
			t.Errorf("%q accepted as %s", s, p)
		}
	}
}

// TestPathIdentity: the colliding base names of acct-group/portage and
// acct-user/portage stay distinct paths, also through JSON.
func TestPathIdentity(t *testing.T) {
	g, _ := ParsePath("acct-group/portage/portage-0-r3-1.gpkg.tar")
	u, _ := ParsePath("acct-user/portage/portage-0-r3-1.gpkg.tar")
	if g == u || g.String() == u.String() {
		t.Fatal("collision")
	}
	b, err := json.Marshal(map[string]Path{"p": g})
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]Path
	if err := json.Unmarshal(b, &back); err != nil || back["p"] != g {
		t.Fatalf("json %s: %v %v", b, back, err)
	}
	if err := json.Unmarshal([]byte(`{"p":"../x-1.tbz2"}`), &back); err == nil {
		t.Fatal("json accepted ../")
	}
	if _, err := NewPath(CPV{"cat", "foo", "1"}, -1, FormatGPKG); err == nil {
		t.Fatal("negative build id")
	}
	if _, err := NewPath(CPV{"cat", "foo-1", "1"}, 1, FormatGPKG); err == nil {
		t.Fatal("invalid cpv")
	}
}
