package binpkg

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/distswarm/distswarm/manifest"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

const gpkgSample = "testdata/joepasss-gentoo-bin__amd64__acct-group__dnsmasq__dnsmasq-0-r3-1.gpkg.tar"

func openGPKGBytes(t *testing.T, b []byte) (*GPKG, error) {
	t.Helper()
	return OpenGPKG(bytes.NewReader(b), int64(len(b)))
}

func TestGPKGRealSample(t *testing.T) {
	b, err := os.ReadFile(gpkgSample)
	if err != nil {
		t.Fatal(err)
	}
	g, err := openGPKGBytes(t, b)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range g.Members {
		names = append(names, m.Name)
	}
	if g.Prefix != "dnsmasq-0-r3-1" || strings.Join(names, " ") != "gpkg-1 metadata.tar.zst image.tar.zst Manifest" || g.Signed {
		t.Fatalf("prefix %q members %v signed %v", g.Prefix, names, g.Signed)
	}
	if m, _ := g.Member("metadata.tar.zst"); m.Size != 6495 {
		t.Fatalf("metadata member %+v", m)
	}
	if err := g.Verify(context.Background()); err != nil {
		t.Fatal(err)
	}
	md, err := g.Metadata(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := "BUILD_ID BUILD_TIME CATEGORY CBUILD CFLAGS CHOST CXXFLAGS DEFINED_PHASES DESCRIPTION EAPI FEATURES INHERITED IUSE IUSE_EFFECTIVE KEYWORDS LDFLAGS PF REPO_REVISIONS SIZE SLOT USE dnsmasq-0-r3.ebuild environment.bz2 repository"
	if got := strings.Join(md.Keys(), " "); got != want {
		t.Fatalf("keys\n got %s\nwant %s", got, want)
	}
	if string(md["BUILD_ID"]) != "1" || md.Value("CATEGORY") != "acct-group" || md.Value("PF") != "dnsmasq-0-r3" || md.Value("repository") != "gentoo" {
		t.Fatalf("values: BUILD_ID %q CATEGORY %q PF %q", md["BUILD_ID"], md["CATEGORY"], md["PF"])
	}
	if f, err := Sniff(bytes.NewReader(b), int64(len(b))); err != nil || f != FormatGPKG {
		t.Fatalf("sniff %v %v", f, err)
	}
}

// TestGPKGCorruptMember flips one byte inside each member's data: the
// verification must fail naming that member, and Metadata must refuse a
// damaged metadata archive before decompressing it.
func TestGPKGCorruptMember(t *testing.T) {
	good, err := os.ReadFile(gpkgSample)
	if err != nil {
		t.Fatal(err)
	}
	g, err := openGPKGBytes(t, good)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range g.Members {
		if m.Size == 0 || m.Name == "Manifest" {
			continue
		}
		bad := bytes.Clone(good)
		bad[m.Offset+m.Size/2] ^= 0x01
		bg, err := openGPKGBytes(t, bad)
		if err != nil {
			t.Fatal(err)
		}
		err = bg.Verify(context.Background())
		var mm *manifest.MismatchError
		if err == nil || !strings.Contains(err.Error(), "member "+m.Name+":") || !errors.As(err, &mm) {
			t.Fatalf("flipped byte in %s: %v", m.Name, err)
		}
		_, err = bg.Metadata(context.Background())
		if (err != nil) != strings.HasPrefix(m.Name, "metadata") {
			t.Fatalf("flipped byte in %s: Metadata: %v", m.Name, err)
		}
	}
}

// gpkgMember is one member for buildGPKG.
type gpkgMember struct {
	name string
	data []byte
}

// buildGPKG writes a USTAR container under prefix with a Manifest carrying
// BLAKE2B and SHA512 for every member, as Portage writes it.
func buildGPKG(t testing.TB, prefix string, members []gpkgMember, format tar.Format) []byte {
	t.Helper()
	var mf strings.Builder
	for _, m := range members {
		d, _, err := manifest.Sum(context.Background(), bytes.NewReader(m.data), manifest.StrongHashes)
		if err != nil {
			t.Fatal(err)
		}
		mf.WriteString(manifest.Entry{Tag: manifest.TagDATA, Path: m.name, Size: int64(len(m.data)), Digests: d}.String() + "\n")
	}
	all := append(members, gpkgMember{"Manifest", []byte(mf.String())})
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, m := range all {
		h := &tar.Header{Name: prefix + "/" + m.name, Mode: 0o644, Size: int64(len(m.data)), Typeflag: tar.TypeReg, Format: format}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(m.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// metadataTar builds metadata.tar with a metadata/ directory.
func metadataTar(t testing.TB, kv map[string]string) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	if err := tw.WriteHeader(&tar.Header{Name: "metadata/", Typeflag: tar.TypeDir, Mode: 0o755, Format: tar.FormatUSTAR}); err != nil {
		t.Fatal(err)
	}
	for _, k := range slices.Sorted(maps.Keys(kv)) {
		if err := tw.WriteHeader(&tar.Header{Name: "metadata/" + k, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(kv[k])), Format: tar.FormatUSTAR}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(kv[k])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func compressWith(t *testing.T, suffix string, in []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	switch suffix {
	case "":
		return in
	case ".gz":
		w := gzip.NewWriter(&b)
		_, _ = w.Write(in)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	case ".xz":
		w, err := xz.NewWriter(&b)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write(in)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	case ".zst":
		w, err := zstd.NewWriter(&b)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write(in)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	case ".bz2":
		if _, err := exec.LookPath("bzip2"); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatal("bzip2 is missing (.ci/run installs it)")
			}
			t.Skip("bzip2 is missing")
		}
		cmd := exec.Command("bzip2", "-c")
		cmd.Stdin = bytes.NewReader(in)
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		return out
	default:
		t.Fatalf("no compressor for %q", suffix)
	}
	return b.Bytes()
}

var testMetadata = map[string]string{"CATEGORY": "app-misc\n", "PF": "foo-1\n", "BUILD_ID": "2", "USE": "amd64 x\n", "CHOST": "x86_64-pc-linux-gnu\n", "CFLAGS": "-O2 -pipe\n"}

func TestGPKGMetadataCompressions(t *testing.T) {
	for _, suffix := range []string{"", ".gz", ".bz2", ".xz", ".zst"} {
		t.Run("metadata.tar"+suffix, func(t *testing.T) {
			meta := compressWith(t, suffix, metadataTar(t, testMetadata))
			img := compressWith(t, suffix, []byte("not really a tar"))
			c := buildGPKG(t, "foo-1-2", []gpkgMember{{"gpkg-1", nil}, {"metadata.tar" + suffix, meta}, {"image.tar" + suffix, img}}, tar.FormatUSTAR)
			g, err := openGPKGBytes(t, c)
			if err != nil {
				t.Fatal(err)
			}
			if err := g.Verify(context.Background()); err != nil {
				t.Fatal(err)
			}
			md, err := g.Metadata(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(md) != len(testMetadata) || string(md["BUILD_ID"]) != "2" || md.Value("CFLAGS") != "-O2 -pipe" {
				t.Fatalf("metadata %q", md)
			}
		})
	}
	t.Run("lz4 unsupported", func(t *testing.T) {
		c := buildGPKG(t, "foo-1-2", []gpkgMember{{"gpkg-1", nil}, {"metadata.tar.lz4", []byte("x")}}, tar.FormatUSTAR)
		g, err := openGPKGBytes(t, c)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := g.Metadata(context.Background()); !errors.Is(err, ErrUnsupportedCompression) {
			t.Fatalf("lz4: %v", err)
		}
	})
}

// TestGPKGTarFormats: Portage writes USTAR, and GNU for long names; PAX
// carries the ustar magic too. All three are accepted.
func TestGPKGTarFormats(t *testing.T) {
	meta := metadataTar(t, testMetadata)
	for _, f := range []tar.Format{tar.FormatUSTAR, tar.FormatGNU, tar.FormatPAX} {
		c := buildGPKG(t, "foo-1-2", []gpkgMember{{"gpkg-1", nil}, {"metadata.tar", meta}, {"image.tar", []byte("img")}}, f)
		g, err := openGPKGBytes(t, c)
		if err != nil {
			t.Fatalf("%v: %v", f, err)
		}
		if err := g.Verify(context.Background()); err != nil {
			t.Fatalf("%v: %v", f, err)
		}
	}
}

func TestGPKGStructureRejected(t *testing.T) {
	meta := metadataTar(t, testMetadata)
	std := func() []gpkgMember {
		return []gpkgMember{{"gpkg-1", nil}, {"metadata.tar", meta}, {"image.tar", []byte("img")}}
	}
	cases := map[string]struct {
		prefix  string
		members []gpkgMember
		format  tar.Format
		want    string
	}{
		"two levels":      {"foo-1-2/sub", std(), tar.FormatUSTAR, "one directory deep"},
		"no directory":    {"", std(), tar.FormatUSTAR, "one directory deep"},
		"dotdot":          {"..", std(), tar.FormatUSTAR, "one directory deep"},
		"duplicate":       {"foo-1-2", append(std(), gpkgMember{"image.tar", nil}), tar.FormatUSTAR, "twice"},
		"no gpkg-1":       {"foo-1-2", std()[1:], tar.FormatUSTAR, "no gpkg-1"},
		"v7 tar":          {"foo-1-2", std(), tar.FormatUSTAR, "no ustar or GNU"},
		"manifest member": {"foo-1-2", append(std(), gpkgMember{"Manifest", nil}), tar.FormatUSTAR, "twice"},
	}
	for name, tc := range cases {
		c := buildGPKG(t, tc.prefix, tc.members, tc.format)
		if name == "v7 tar" {
			copy(c[257:265], make([]byte, 8)) // Portage sniffs the magic, not the checksum
		}
		_, err := openGPKGBytes(t, c)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}

// TestGPKGManifestMismatch covers the Manifest side: a member without an
// entry, an entry without a member, an entry lacking SHA512, a size lie.
func TestGPKGManifestMismatch(t *testing.T) {
	meta := metadataTar(t, testMetadata)
	c := buildGPKG(t, "foo-1-2", []gpkgMember{{"gpkg-1", nil}, {"metadata.tar", meta}, {"image.tar", []byte("img")}}, tar.FormatUSTAR)
	g, err := openGPKGBytes(t, c)
	if err != nil {
		t.Fatal(err)
	}
	entries := g.Manifest.Entries
	for name, tc := range map[string]struct {
		edit func([]manifest.Entry) []manifest.Entry
		want string
	}{
		"member without entry": {func(e []manifest.Entry) []manifest.Entry { return e[:2] }, "image.tar has no Manifest entry"},
		"entry without member": {func(e []manifest.Entry) []manifest.Entry {
			return append(e, manifest.Entry{Tag: manifest.TagDATA, Path: "image.tar.sig", Size: 0, Digests: e[0].Digests})
		}, "lists image.tar.sig, which is not a member"},
		"no SHA512": {func(e []manifest.Entry) []manifest.Entry {
			e[2].Digests = manifest.Digests{manifest.BLAKE2B: e[2].Digests[manifest.BLAKE2B]}
			return e
		}, "lacks SHA512"},
		"size": {func(e []manifest.Entry) []manifest.Entry { e[2].Size = 4; return e }, "member image.tar: size 3, Manifest says 4"},
	} {
		cp := make([]manifest.Entry, len(entries))
		for i, e := range entries {
			e.Digests = copyDigests(e.Digests)
			cp[i] = e
		}
		g.Manifest.Entries = tc.edit(cp)
		if err := g.Verify(context.Background()); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}

func copyDigests(d manifest.Digests) manifest.Digests {
	c := manifest.Digests{}
	for k, v := range d {
		c[k] = v
	}
	return c
}

// TestGPKGAgainstPortage: Portage's own verifier accepts what OpenGPKG and
// Verify accept (the real sample and buildGPKG's output, which tests of
// other packages may rely on), and rejects the corrupted copies Verify
// rejects; portage.xpak reads the same keys as ReadXPAK.
func TestGPKGAgainstPortage(t *testing.T) {
	tree := portageTree(t)
	dir := t.TempDir()
	real, err := os.ReadFile(gpkgSample)
	if err != nil {
		t.Fatal(err)
	}
	synthetic := buildGPKG(t, "foo-1-2", []gpkgMember{{"gpkg-1", nil}, {"metadata.tar.zst", compressWith(t, ".zst", metadataTar(t, testMetadata))}, {"image.tar.zst", compressWith(t, ".zst", []byte("img"))}}, tar.FormatUSTAR)
	type gpkgCase struct {
		name, prefix string
		data         []byte
	}
	cases := []gpkgCase{{"real", "dnsmasq-0-r3-1", real}, {"synthetic", "foo-1-2", synthetic}}
	for _, c := range slices.Clone(cases) {
		g, err := openGPKGBytes(t, c.data)
		if err != nil {
			t.Fatal(err)
		}
		m, _ := g.Member("image.tar.zst")
		bad := bytes.Clone(c.data)
		bad[m.Offset+m.Size-1] ^= 0x01
		cases = append(cases, gpkgCase{c.name + "-corrupt", c.prefix, bad})
	}
	var args []string
	for _, c := range cases {
		args = append(args, "gpkg:"+c.prefix+":"+writeTemp(t, dir, c.name+".gpkg.tar", c.data))
	}
	args = append(args, "xpak:"+xpakSample)
	lines := strings.Split(strings.TrimSpace(string(runPortagePython(t, tree, portageBinpkgScript, args...))), "\n")
	if len(lines) != len(args) {
		t.Fatalf("python printed %d lines for %d files", len(lines), len(args))
	}
	for i, c := range cases {
		var portageSays string
		if err := json.Unmarshal([]byte(lines[i]), &portageSays); err != nil {
			t.Fatal(err)
		}
		g, err := openGPKGBytes(t, c.data)
		if err == nil {
			err = g.Verify(context.Background())
		}
		if (err == nil) != (portageSays == "ok") {
			t.Errorf("%s: Verify says %v, Portage says %s", c.name, err, portageSays)
		}
		if strings.HasSuffix(c.name, "corrupt") && (err == nil || !strings.Contains(portageSays, "DigestException")) {
			t.Errorf("%s: corruption not caught (ours %v, Portage %s)", c.name, err, portageSays)
		}
	}
	var portageKeys map[string]int
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &portageKeys); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(xpakSample)
	x, err := ReadXPAK(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	ours := map[string]int{}
	for k, v := range x.Metadata {
		ours[k] = len(v)
	}
	if !reflect.DeepEqual(ours, portageKeys) {
		t.Fatalf("xpak keys\n ours    %v\n portage %v", ours, portageKeys)
	}
}

// TestGPKGTruncated: a container cut inside a member is refused when
// opened; not a partial member list.
func TestGPKGTruncated(t *testing.T) {
	b, err := os.ReadFile(gpkgSample)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 300, 1536, 8192 + 100, 9216 + 500} {
		if g, err := openGPKGBytes(t, b[:n]); err == nil {
			t.Errorf("cut at %d: opened with %d members", n, len(g.Members))
		}
	}
}
