package binpkg

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/distswarm/distswarm/manifest"
)

// samplePKGDIR lays the two real binpkgs out at their PATHs; paths[0] is
// the XPAK one.
func samplePKGDIR(t *testing.T) (dir string, paths []Path) {
	t.Helper()
	dir = t.TempDir()
	for _, f := range [][2]string{
		{xpakSample, "acct-group/adm/adm-0-r2-1.xpak"},
		{gpkgSample, "acct-group/dnsmasq/dnsmasq-0-r3-1.gpkg.tar"},
	} {
		src, rel := f[0], f[1]
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := ParsePath(rel)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return dir, paths
}

func TestDigestIndexRealPackages(t *testing.T) {
	ctx := context.Background()
	dir, paths := samplePKGDIR(t)
	var entries []DigestEntry
	for _, p := range paths {
		e, err := ComputeDigestEntry(ctx, dir, p)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, e)
	}
	x, err := NewDigestIndex(entries)
	if err != nil {
		t.Fatal(err)
	}
	// The MD5, SHA1 and SIZE computed agree with the real binhosts' Packages.
	for _, idx := range []string{xpakIndex, gpkgIndex} {
		found := false
		for _, p := range readIndexFile(t, idx).Packages {
			path, _ := p.Path()
			if e, ok := x.Lookup(path); ok {
				found = true
				if err := e.CheckPackage(p); err != nil {
					t.Fatal(err)
				}
			}
		}
		if !found {
			t.Fatalf("%s: no package of the digest index", idx)
		}
	}
	var out bytes.Buffer
	if err := x.Write(&out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "DATA acct-group/adm/adm-0-r2-1.xpak 9839 BLAKE2B ") || !strings.Contains(lines[1], " MD5 b729ad7d144a40ab170fdc4a4883b2f1 SHA1 51b69716c8f2d18d69e921a036dcc374cb13cabd SHA512 ") {
		t.Fatalf("output:\n%s", out.String())
	}
	back, err := ReadDigestIndex(bytes.NewReader(out.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Entries(), x.Entries()) {
		t.Fatalf("read back differs")
	}
	// Verification with the manifest package, then after a flipped byte.
	for _, e := range back.Entries() {
		file := filepath.Join(dir, e.Path.String())
		if _, err := manifest.VerifyFile(ctx, file, e.ManifestEntry()); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(file)
		b[len(b)/3] ^= 0x80
		if err := os.WriteFile(file, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := manifest.VerifyFile(ctx, file, e.ManifestEntry()); err == nil || !strings.Contains(err.Error(), e.Path.String()) {
			t.Fatalf("flipped byte: %v", err)
		}
	}
}

func TestDigestIndexRejects(t *testing.T) {
	ctx := context.Background()
	dir, paths := samplePKGDIR(t)
	e, err := ComputeDigestEntry(ctx, dir, paths[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewDigestIndex([]DigestEntry{e, e}); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("duplicate: %v", err)
	}
	noSHA1 := e
	noSHA1.Digests = copyDigests(e.Digests)
	delete(noSHA1.Digests, manifest.SHA1)
	if _, err := NewDigestIndex([]DigestEntry{noSHA1}); err == nil || !strings.Contains(err.Error(), "SHA1") {
		t.Fatalf("no SHA1: %v", err)
	}
	line := e.ManifestEntry().String()
	for name, in := range map[string]string{
		"not DATA":      strings.Replace(line, "DATA", "DIST", 1),
		"bad path":      strings.Replace(line, "acct-group/adm/", "acct-group/../", 1),
		"missing hash":  line[:strings.Index(line, " SHA512")],
		"conflict":      line + "\n" + strings.Replace(line, " 9839 ", " 9840 ", 1),
		"extra hash":    line + " SHA256 " + strings.Repeat("0", 64),
		"absolute path": strings.Replace(line, "DATA acct", "DATA /acct", 1),
	} {
		if _, err := ReadDigestIndex(strings.NewReader(in + "\n")); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := ReadDigestIndex(strings.NewReader(line + "\n" + line + "\n")); err != nil {
		t.Errorf("identical duplicate lines: %v", err)
	}
	other := e
	other.Size = 1
	if err := other.CheckPackage(Package{KeyPath: e.Path.String(), KeySize: "9839"}); err == nil {
		t.Error("size mismatch accepted")
	}
}
