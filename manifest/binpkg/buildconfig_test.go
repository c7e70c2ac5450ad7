package binpkg

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

// TestBuildConfigRealPackage derives the configuration of the real adm
// package twice, from the binhost's Packages entry and from the package's
// own XPAK metadata: they agree on every field both know.
func TestBuildConfigRealPackage(t *testing.T) {
	ix := readIndexFile(t, xpakIndex)
	var entry Package
	for _, p := range ix.Packages {
		if p[KeyPath] == "acct-group/adm/adm-0-r2-1.xpak" {
			entry = p
		}
	}
	fromIndex, err := BuildConfigFromPackage(ix.Header, entry)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(xpakSample)
	if err != nil {
		t.Fatal(err)
	}
	x, err := ReadXPAK(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	fromMeta, err := BuildConfigFromMetadata(x.Metadata)
	if err != nil {
		t.Fatal(err)
	}
	var fields []string
	for _, d := range fromIndex.Diff(fromMeta) {
		if d.AKnown && d.BKnown {
			t.Errorf("index and metadata disagree: %s", d)
		}
		fields = append(fields, d.Field)
	}
	if got := strings.Join(fields, " "); got != "CFLAGS CXXFLAGS LDFLAGS ARCH PROFILE" {
		t.Fatalf("one-sided fields %q", got)
	}
	if use, _ := fromMeta.Get(FieldUSE); use != "abi_x86_64 amd64 elibc_glibc kernel_linux" {
		t.Fatalf("USE %q", use)
	}
	if arch, _ := fromIndex.Get(FieldARCH); arch != "amd64" {
		t.Fatalf("ARCH %q", arch)
	}
	// The index entry asks nothing of the compiler flags: the package built
	// with them matches it; the reverse does not hold.
	if ok, fails := fromMeta.Matches(fromIndex); ok {
		t.Fatal("metadata lacks ARCH/PROFILE yet matches")
	} else if len(fails) != 2 {
		t.Fatalf("fails %v", fails)
	}
	want, _ := NewBuildConfig(map[string]string{FieldCPV: "acct-group/adm-0-r2", FieldUSE: "kernel_linux amd64  abi_x86_64 elibc_glibc"})
	if ok, fails := fromMeta.Matches(want); !ok {
		t.Fatalf("fails %v", fails)
	}
}

func TestBuildConfigCanonicalDigestDiff(t *testing.T) {
	a, err := NewBuildConfig(map[string]string{FieldCPV: "app-misc/foo-1", FieldUSE: "ssl  gtk ssl", FieldCFLAGS: " -O2   -pipe ", FieldCHOST: "x86_64-pc-linux-gnu"})
	if err != nil {
		t.Fatal(err)
	}
	want := "distswarm-buildconfig 1\nCPV=app-misc/foo-1\nUSE=gtk ssl\nCHOST=x86_64-pc-linux-gnu\nCFLAGS=-O2 -pipe\n"
	if a.Canonical() != want {
		t.Fatalf("canonical\n%q\nwant\n%q", a.Canonical(), want)
	}
	back, err := ParseBuildConfig(a.Canonical())
	if err != nil || back.Digest() != a.Digest() || !strings.HasPrefix(a.Digest(), "sha256:") || len(a.Digest()) != 7+64 {
		t.Fatalf("round trip %v %s %s", err, back.Digest(), a.Digest())
	}
	b, _ := NewBuildConfig(map[string]string{FieldCPV: "app-misc/foo-1", FieldUSE: "gtk X", FieldCFLAGS: "-O3 -pipe", FieldARCH: "amd64"})
	if a.Digest() == b.Digest() {
		t.Fatal("different configs, same digest")
	}
	var got []string
	for _, d := range a.Diff(b) {
		got = append(got, d.String())
	}
	wantDiff := `USE: -ssl +X|CHOST: "x86_64-pc-linux-gnu" vs unknown|CFLAGS: "-O2 -pipe" vs "-O3 -pipe"|ARCH: unknown vs "amd64"`
	if strings.Join(got, "|") != wantDiff {
		t.Fatalf("diff\n%s\nwant\n%s", strings.Join(got, "|"), wantDiff)
	}
	if len(a.Diff(a)) != 0 {
		t.Fatal("self diff")
	}
	for _, bad := range []string{"", "distswarm-buildconfig 1\nUSE=b a\n", "distswarm-buildconfig 1\nFOO=x\n", "distswarm-buildconfig 1\nCPV=nonsense\n", "distswarm-buildconfig 1\nUSE=a\nUSE=a\n"} {
		if _, err := ParseBuildConfig(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// TestReadMetadataBothFormats: ReadMetadata sniffs and reads both real
// samples, and their build configurations name their own CPVs.
func TestReadMetadataBothFormats(t *testing.T) {
	for file, want := range map[string]struct {
		cpv string
		f   Format
	}{xpakSample: {"acct-group/adm-0-r2", FormatXPAK}, gpkgSample: {"acct-group/dnsmasq-0-r3", FormatGPKG}} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		md, f, err := ReadMetadata(context.Background(), bytes.NewReader(b), int64(len(b)))
		if err != nil || f != want.f {
			t.Fatalf("%s: %v %v", file, f, err)
		}
		bc, err := BuildConfigFromMetadata(md)
		if err != nil {
			t.Fatal(err)
		}
		if cpv, _ := bc.Get(FieldCPV); cpv != want.cpv {
			t.Fatalf("%s: CPV %s", file, cpv)
		}
		if cflags, ok := bc.Get(FieldCFLAGS); !ok || cflags == "" {
			t.Fatalf("%s: CFLAGS %q %v", file, cflags, ok)
		}
	}
	if _, _, err := ReadMetadata(context.Background(), bytes.NewReader([]byte("plain text")), 10); err == nil {
		t.Fatal("plain text accepted")
	}
}
