package binpkg

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// TestPackageFromFileMatchesRealIndex rebuilds the real binhosts' entries
// for the two sample packages from the files alone and gets what Portage
// wrote (MTIME is the builder's file time, taken from the index).
func TestPackageFromFileMatchesRealIndex(t *testing.T) {
	ctx := context.Background()
	dir, paths := samplePKGDIR(t)
	for i, idxFile := range []string{xpakIndex, gpkgIndex} {
		ix := readIndexFile(t, idxFile)
		var want Package
		for _, p := range ix.Packages {
			if p[KeyPath] == paths[i].String() {
				want = p
			}
		}
		de, err := ComputeDigestEntry(ctx, dir, paths[i])
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(dir + "/" + paths[i].String())
		if err != nil {
			t.Fatal(err)
		}
		md, _, err := ReadMetadata(ctx, bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		mtime, _ := strconv.ParseInt(want[KeyMTime], 10, 64)
		got, err := PackageFromFile(FileInfo{Path: paths[i], Size: de.Size, MD5: de.Digests["MD5"], SHA1: de.Digests["SHA1"], MTime: mtime, Metadata: md})
		if err != nil {
			t.Fatal(err)
		}
		// Through a write and read, as a client sees it.
		fresh := &Index{Header: ix.Header, Packages: []Package{got}}
		back, err := ReadIndex(bytes.NewReader(writeIndex(t, fresh)))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back.Packages[0], want) {
			t.Fatalf("%s:\n got %v\nwant %v", paths[i], back.Packages[0], want)
		}
	}
}

func TestPackageFromFileRejects(t *testing.T) {
	p, _ := ParsePath("app-misc/foo/foo-1-1.gpkg.tar")
	md := Metadata{"CATEGORY": []byte("app-misc\n"), "PF": []byte("foo-1\n"), "SLOT": []byte("0\n")}
	ok := FileInfo{Path: p, Size: 1, MD5: strings.Repeat("a", 32), SHA1: strings.Repeat("b", 40), Metadata: md}
	if e, err := PackageFromFile(ok); err != nil || e[KeyEAPI] != "0" {
		t.Fatalf("%v %v", e, err)
	}
	other := ok
	other.Metadata = Metadata{"CATEGORY": []byte("app-misc"), "PF": []byte("bar-1"), "SLOT": []byte("0")}
	noSum := ok
	noSum.MD5 = ""
	noSlot := ok
	noSlot.Metadata = Metadata{"CATEGORY": []byte("app-misc"), "PF": []byte("foo-1")}
	badDep := ok
	badDep.Metadata = Metadata{"CATEGORY": []byte("app-misc"), "PF": []byte("foo-1"), "SLOT": []byte("0"), "RDEPEND": []byte("ssl? dev-libs/openssl")}
	for name, fi := range map[string]FileInfo{"other cpv": other, "no md5": noSum, "no slot": noSlot, "bad dep": badDep} {
		if _, err := PackageFromFile(fi); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestPackageFromFileReducesDeps: conditional dependencies are evaluated
// with the package's USE, as in Portage's own index.
func TestPackageFromFileReducesDeps(t *testing.T) {
	p, _ := ParsePath("app-misc/foo/foo-1-1.gpkg.tar")
	md := Metadata{
		"CATEGORY": []byte("app-misc\n"), "PF": []byte("foo-1\n"), "SLOT": []byte("0\n"), "USE": []byte("amd64 ssl\n"),
		"RDEPEND":  []byte("ssl? ( dev-libs/openssl:= )\n\tgtk? ( x11-libs/gtk+:3 ) dev-libs/foo[ssl?,-gtk,gtk=]\n"),
		"LICENSE":  []byte("GPL-2 ssl? ( openssl )\n"),
		"RESTRICT": []byte("!test? ( test )\n"),
	}
	e, err := PackageFromFile(FileInfo{Path: p, Size: 1, MD5: strings.Repeat("a", 32), SHA1: strings.Repeat("b", 40), Metadata: md})
	if err != nil {
		t.Fatal(err)
	}
	if e["RDEPEND"] != "dev-libs/openssl:= dev-libs/foo[ssl,-gtk,-gtk]" || e["LICENSE"] != "GPL-2 openssl" || e["RESTRICT"] != "test" {
		t.Fatalf("RDEPEND %q LICENSE %q RESTRICT %q", e["RDEPEND"], e["LICENSE"], e["RESTRICT"])
	}
}

// TestPackageFromFileAgainstPortage lets Portage's binarytree index a
// PKGDIR holding the two real packages and demands the same Packages,
// byte for byte, from PackageFromFile and Index.Write. (Portage's
// re-index leaves MD5 and SHA1 out; it adds them when it injects a new
// package, which the real-index test above covers.)
func TestPackageFromFileAgainstPortage(t *testing.T) {
	tree := portageTree(t)
	ctx := context.Background()
	dir, paths := samplePKGDIR(t)
	runPortagePython(t, tree, portageReindexScript, dir)
	portageOut, err := os.ReadFile(filepath.Join(dir, "Packages"))
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := ReadIndex(bytes.NewReader(portageOut))
	if err != nil {
		t.Fatal(err)
	}
	ours := &Index{Header: map[string]string{KeyTimestamp: theirs.Header[KeyTimestamp]}}
	for _, p := range paths {
		file := filepath.Join(dir, p.String())
		st, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		md, _, err := ReadMetadata(ctx, f, st.Size())
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		de, err := ComputeDigestEntry(ctx, dir, p)
		if err != nil {
			t.Fatal(err)
		}
		e, err := PackageFromFile(FileInfo{Path: p, Size: st.Size(), MD5: de.Digests["MD5"], SHA1: de.Digests["SHA1"], MTime: st.ModTime().Unix(), Metadata: md})
		if err != nil {
			t.Fatal(err)
		}
		delete(e, KeyMD5)
		delete(e, KeySHA1)
		ours.Packages = append(ours.Packages, e)
	}
	var b bytes.Buffer
	if err := ours.Write(&b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), portageOut) {
		t.Fatalf("ours differs from Portage's re-index:\n%s\n--- ours:\n%s--- Portage:\n%s", firstDiff(b.String(), string(portageOut)), b.String(), portageOut)
	}
}
