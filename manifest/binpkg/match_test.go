package binpkg

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
)

// samplePackages reads the real GPKG-era Packages sample.
func samplePackages(t *testing.T) *Index {
	t.Helper()
	f, err := os.Open("testdata/joepasss-gentoo-bin__amd64__Packages.gpkg-era")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	idx, err := ReadIndex(f)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

func samplePackage(t *testing.T, idx *Index, cpv string) Package {
	t.Helper()
	for _, p := range idx.Packages {
		if p[KeyCPV] == cpv {
			return p
		}
	}
	t.Fatalf("%s not in the sample", cpv)
	return nil
}

func diffStrings(ds []BuildDiff) string {
	var s []string
	for _, d := range ds {
		s = append(s, d.String())
	}
	return strings.Join(s, "; ")
}

// TestBuildWantCheck matches real Packages entries (libwww-perl has IUSE
// ssl and was built with it; CHOST, ARCH and PROFILE come from the header).
func TestBuildWantCheck(t *testing.T) {
	idx := samplePackages(t)
	lwp := samplePackage(t, idx, "dev-perl/libwww-perl-6.780.0-r1")
	cases := []struct {
		use, chost, cflags string
		diffs, unchecked   string
	}{
		{use: "ssl", diffs: ""},
		{use: "-ssl test", diffs: "USE: -ssl wanted, +ssl built; USE: +test wanted, -test built"},
		{use: "+test", diffs: "USE: +test wanted, -test built"},
		{use: "gtk -qt5", diffs: ""},                               // flags the package lacks do not count
		{use: "-amd64", diffs: "USE: -amd64 wanted, +amd64 built"}, // an implicit flag does
		{chost: "x86_64-pc-linux-gnu", diffs: ""},
		{chost: "aarch64-unknown-linux-gnu", diffs: `CHOST: "aarch64-unknown-linux-gnu" wanted, "x86_64-pc-linux-gnu" built`},
		{cflags: "-O2  -pipe", diffs: "", unchecked: "CFLAGS"},
	}
	for _, c := range cases {
		var w BuildWant
		if err := w.AddUSE(c.use); err != nil {
			t.Fatal(err)
		}
		for k, v := range map[string]string{FieldCHOST: c.chost, FieldCFLAGS: c.cflags} {
			if v != "" {
				if err := w.Set(k, v); err != nil {
					t.Fatal(err)
				}
			}
		}
		diffs, unchecked, err := w.Check(idx.Header, lwp)
		if err != nil {
			t.Fatal(err)
		}
		if got := diffStrings(diffs); got != c.diffs || strings.Join(unchecked, " ") != c.unchecked {
			t.Errorf("%+v: diffs %q unchecked %v", c, got, unchecked)
		}
	}
}

// TestBuildWantFields checks ARCH and PROFILE (from the header), and that
// unknown fields and bad flags are refused.
func TestBuildWantFields(t *testing.T) {
	idx := samplePackages(t)
	p := samplePackage(t, idx, "acct-group/dnsmasq-0-r3")
	var w BuildWant
	if !w.IsZero() {
		t.Fatal("zero want not zero")
	}
	must(t, w.Set(FieldARCH, "amd64"))
	must(t, w.Set(FieldPROFILE, "default/linux/arm64/23.0"))
	diffs, _, err := w.Check(idx.Header, p)
	if err != nil {
		t.Fatal(err)
	}
	if got := diffStrings(diffs); got != `PROFILE: "default/linux/arm64/23.0" wanted, "default/linux/amd64/23.0" built` {
		t.Fatalf("diffs %q", got)
	}
	if err := w.Set("MAKEOPTS", "-j4"); err == nil || !strings.Contains(err.Error(), "CHOST") {
		t.Fatalf("MAKEOPTS: %v", err)
	}
	for _, bad := range []string{"-*", "--ssl", "ss/l", "+"} {
		if err := w.AddUSE(bad); err == nil {
			t.Errorf("AddUSE(%q) accepted", bad)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestBuildWantMakeConf matches the sample make.conf against packages:
// its USE (later assignments override), CHOST, its PYTHON_TARGETS as a
// USE_EXPAND variable the header declares, and "-*".
func TestBuildWantMakeConf(t *testing.T) {
	m, err := ReadMakeConf(makeConfSample)
	if err != nil {
		t.Fatal(err)
	}
	var w BuildWant
	must(t, w.AddMakeConf(m))
	header := map[string]string{"USE_EXPAND": "PYTHON_TARGETS VIDEO_CARDS", "CHOST": "x86_64-pc-linux-gnu"}
	pkg := Package{KeyCPV: "dev-libs/foo-1", KeyCHOST: "x86_64-pc-linux-gnu",
		"IUSE": "+ssl systemd wayland python_targets_python3_12 python_targets_python3_11 static",
		KeyUSE: "amd64 ssl systemd python_targets_python3_11"}
	diffs, unchecked, err := w.Check(header, pkg)
	if err != nil {
		t.Fatal(err)
	}
	want := "USE: -python_targets_python3_11 wanted, +python_targets_python3_11 built; " +
		"USE: +python_targets_python3_12 wanted, -python_targets_python3_12 built; " +
		"USE: -systemd wanted, +systemd built; USE: +wayland wanted, -wayland built"
	if got := diffStrings(diffs); got != want {
		t.Fatalf("diffs\n%s\nwant\n%s", got, want)
	}
	if strings.Join(unchecked, " ") != "CFLAGS CXXFLAGS LDFLAGS" {
		t.Fatalf("unchecked %v", unchecked)
	}
	// "-*" turns off every flag of the package the make.conf does not turn on.
	reset, err := ParseMakeConf("make.conf", "USE=\"-* ssl\"\n")
	must(t, err)
	var w2 BuildWant
	must(t, w2.AddMakeConf(reset))
	diffs, _, err = w2.Check(header, pkg)
	must(t, err)
	if got := diffStrings(diffs); got != "USE: -systemd wanted, +systemd built" {
		t.Fatalf("-*: %q", got)
	}
}

// TestBuildWantJSON round-trips a want through its control-API form and
// refuses forged ones.
func TestBuildWantJSON(t *testing.T) {
	m, err := ReadMakeConf(makeConfSample)
	must(t, err)
	var w BuildWant
	must(t, w.AddMakeConf(m))
	must(t, w.AddUSE("-wayland"))
	b, err := json.Marshal(w)
	must(t, err)
	var back BuildWant
	must(t, json.Unmarshal(b, &back))
	if back.String() != w.String() || !reflect.DeepEqual(back, w) {
		t.Fatalf("round trip: %s\nvs %s", back, w)
	}
	for _, bad := range []string{`{"use":{"a b":true}}`, `{"fields":{"MAKEOPTS":"-j4"}}`,
		`{"fields":{"USE":"ssl"}}`, `{"expand":{"A-B":["x"]}}`, `{"use":[1]}`} {
		if err := json.Unmarshal([]byte(bad), &back); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
