package manifest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mkfile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// buildRepo lays out a synthetic ebuild repository from real Manifests.
// The conflicting zstd distfile is the first line of zstd's Manifest.
func buildRepo(t *testing.T) (root string, names map[string]bool) {
	root = t.TempDir()
	names = map[string]bool{}
	add := func(pkg, file string) {
		b := readTestdata(t, file)
		mkfile(t, filepath.Join(root, pkg, "Manifest"), b)
		m, err := Parse(strings.NewReader(string(b)), file)
		if err != nil {
			t.Fatal(err)
		}
		for n := range m.Dist() {
			names[n] = true
		}
	}
	add("app-arch/zstd", "gentoo__app-arch__zstd__Manifest")
	add("sys-libs/zlib", "gentoo__sys-libs__zlib__Manifest")
	add("dev-libs/openssl", "gentoo__dev-libs__openssl__Manifest")
	add("net-misc/curl", "gentoo__net-misc__curl__Manifest")
	add("dev-texlive/texlive-latexextra", "gentoo-mirror_tex-overlay__dev-texlive__texlive-latexextra__Manifest")
	// Two more packages share zstd's distfiles (a subset of hashes: merged).
	zstd := string(readTestdata(t, "gentoo__app-arch__zstd__Manifest"))
	mkfile(t, filepath.Join(root, "app-arch/zstd-shared/Manifest"), []byte(zstd))
	var onlySHA []string
	for l := range strings.Lines(zstd) {
		f := strings.Fields(l)
		onlySHA = append(onlySHA, strings.Join([]string{f[0], f[1], f[2], f[5], f[6]}, " "))
	}
	mkfile(t, filepath.Join(root, "sys-apps/zstd-sha-only/Manifest.gz"), gz(t, []byte(strings.Join(onlySHA, "\n")+"\n")))
	// One package claims zstd-1.4.4.tar.gz with a different size: conflict.
	first := strings.Fields(strings.SplitN(zstd, "\n", 2)[0])
	first[2] = "12345"
	mkfile(t, filepath.Join(root, "zz-conflict/pkg/Manifest"), []byte(strings.Join(first, " ")+"\n"))
	// A conflicting hash (same size) for a curl distfile.
	curl := strings.Fields(strings.SplitN(string(readTestdata(t, "gentoo__net-misc__curl__Manifest")), "\n", 2)[0])
	curl[4] = strings.Repeat("0", 128) // BLAKE2B value
	mkfile(t, filepath.Join(root, "aa-conflict/pkg/Manifest"), []byte(strings.Join(curl, " ")+"\n"))
	// Noise: broken Manifest, package without Manifest, non-category dirs.
	mkfile(t, filepath.Join(root, "dev-util/broken/Manifest"), []byte("DIST x 1 SHA512\n"))
	mkfile(t, filepath.Join(root, "dev-util/nomanifest/foo-1.ebuild"), []byte("EAPI=8\n"))
	mkfile(t, filepath.Join(root, "metadata/md5-cache/Manifest.gz"), []byte("garbage"))
	mkfile(t, filepath.Join(root, "profiles/arch/Manifest"), []byte("garbage"))
	mkfile(t, filepath.Join(root, ".git/x/Manifest"), []byte("garbage"))
	mkfile(t, filepath.Join(root, "eclass/Manifest"), []byte("garbage"))
	return root, names
}

func TestLoadRepo(t *testing.T) {
	root, names := buildRepo(t)
	idx, err := LoadRepo(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	if idx.Manifests != 9 {
		t.Errorf("Manifests = %d, want 9", idx.Manifests)
	}
	if len(idx.Errors) != 1 || !strings.Contains(idx.Errors[0].Error(), "dev-util/broken/Manifest:1: ") {
		t.Errorf("Errors = %v", idx.Errors)
	}
	if len(idx.Dist) != len(names) {
		t.Errorf("Dist has %d names, want %d", len(idx.Dist), len(names))
	}
	if len(idx.Conflicts) != 2 {
		t.Fatalf("Conflicts = %+v", idx.Conflicts)
	}
	c0, c1 := idx.Conflicts[0], idx.Conflicts[1]
	if !strings.HasPrefix(c0.Name, "curl-") || len(c0.Entries) != 2 || !strings.Contains(c0.Entries[0].Pos.File, "aa-conflict") {
		t.Errorf("conflict 0: %+v", c0)
	}
	if c1.Name != "zstd-1.3.7.tar.gz" || len(c1.Entries) != 4 || !strings.Contains(c1.Entries[3].Pos.File, "zz-conflict") {
		t.Errorf("conflict 1: %s %d entries", c1.Name, len(c1.Entries))
	}
	// The first Manifest in path order wins; compatible duplicates merge.
	e := idx.Dist["zstd-1.4.4.tar.gz"]
	if e.Size != 1962617 || idx.Dist["zstd-1.3.7.tar.gz"].Size == 12345 || !strings.Contains(e.Pos.File, filepath.Join("app-arch", "zstd", "Manifest")) || len(e.Digests) != 2 {
		t.Errorf("zstd entry %+v", e)
	}
	// Deterministic across runs.
	idx2, err := LoadRepo(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(idx2.Conflicts) != fmt.Sprint(idx.Conflicts) || fmt.Sprint(idx2.Dist) != fmt.Sprint(idx.Dist) {
		t.Error("LoadRepo is not deterministic")
	}
}

func TestLoadRepoErrors(t *testing.T) {
	if _, err := LoadRepo(context.Background(), filepath.Join(t.TempDir(), "nope")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing root: %v", err)
	}
	root, _ := buildRepo(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := LoadRepo(ctx, root); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// BenchmarkLoadRepo builds a 20,000-package tree of real Manifests.
func BenchmarkLoadRepo(b *testing.B) {
	root := b.TempDir()
	files, _ := filepath.Glob("testdata/gentoo__*Manifest")
	var data [][]byte
	for _, f := range files {
		d, _ := os.ReadFile(f)
		data = append(data, d)
	}
	for i := range 20000 {
		p := filepath.Join(root, fmt.Sprintf("cat-%03d", i%160), fmt.Sprintf("pkg-%05d", i), "Manifest")
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, data[i%len(data)], 0o644)
	}
	b.ResetTimer()
	for b.Loop() {
		idx, err := LoadRepo(context.Background(), root)
		if err != nil || idx.Manifests != 20000 {
			b.Fatal(err, idx.Manifests)
		}
	}
}
