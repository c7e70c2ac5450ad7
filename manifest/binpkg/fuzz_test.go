package binpkg

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

func seedFile(f *testing.F, path string, max int) {
	b, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	if len(b) > max {
		b = b[:max]
	}
	f.Add(b)
}

// FuzzReadIndex: ReadIndex never panics; an index it reads that Write
// accepts is a fixed point after one write (write, read, write gives the
// same bytes and the same packages).
func FuzzReadIndex(f *testing.F) {
	seedFile(f, xpakIndex, 4096)
	seedFile(f, gpkgIndex, 4096)
	var synthetic bytes.Buffer
	if err := syntheticIndex().Write(&synthetic); err != nil {
		f.Fatal(err)
	}
	f.Add(synthetic.Bytes())
	f.Add([]byte("TIMESTAMP: 1\nREPO: g\n\nCPV: a/b-1\nPATH: a/b/b-1-1.xpak\nSLOT:\nDESC:\u00e9\r\n\n\nCPV: a/c-1\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		ix, err := ReadIndex(bytes.NewReader(in))
		if err != nil {
			return
		}
		var out1 bytes.Buffer
		if ix.Write(&out1) != nil {
			return
		}
		ix2, err := ReadIndex(bytes.NewReader(out1.Bytes()))
		if err != nil {
			t.Fatalf("own output unreadable: %v\n%q", err, out1.Bytes())
		}
		if len(ix2.Packages) != len(ix.Packages) {
			t.Fatalf("%d packages became %d", len(ix.Packages), len(ix2.Packages))
		}
		var out2 bytes.Buffer
		if err := ix2.Write(&out2); err != nil || !bytes.Equal(out1.Bytes(), out2.Bytes()) {
			t.Fatalf("not a fixed point (%v):\n%q\n%q", err, out1.Bytes(), out2.Bytes())
		}
	})
}

// FuzzReadXPAK: ReadXPAK never panics, and what it reads re-encodes to a
// blob that reads back the same.
func FuzzReadXPAK(f *testing.F) {
	seedFile(f, xpakSample, 1<<20)
	f.Add([]byte("XPAKPACK\x00\x00\x00\x00\x00\x00\x00\x00XPAKSTOP\x00\x00\x00\x18STOP"))
	f.Fuzz(func(t *testing.T, in []byte) {
		x, err := ReadXPAK(bytes.NewReader(in), int64(len(in)))
		if err != nil {
			return
		}
		if x.TarSize < 0 || x.TarSize > int64(len(in)) {
			t.Fatalf("tar size %d of %d", x.TarSize, len(in))
		}
		blob, err := EncodeXPAK(x.Metadata, x.Keys)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		pkg := append(append([]byte("tar"), blob...), XPAKTrailer(blob)...)
		y, err := ReadXPAK(bytes.NewReader(pkg), int64(len(pkg)))
		if err != nil {
			t.Fatalf("round trip: %v", err)
		}
		if strings.Join(y.Keys, "\x00") != strings.Join(x.Keys, "\x00") {
			t.Fatalf("round trip: keys %q vs %q", y.Keys, x.Keys)
		}
		for k, v := range x.Metadata {
			if !bytes.Equal(y.Metadata[k], v) {
				t.Fatalf("%s: %q vs %q", k, y.Metadata[k], v)
			}
		}
	})
}

// FuzzOpenGPKG: opening, verifying and reading metadata never panic, and
// an opened container's members lie inside it.
func FuzzOpenGPKG(f *testing.F) {
	seedFile(f, gpkgSample, 1<<20)
	f.Add(buildGPKG(f, "foo-1-1", []gpkgMember{{"gpkg-1", nil}, {"metadata.tar", metadataTar(f, map[string]string{"PF": "foo-1\n"})}, {"image.tar", []byte("x")}}, tar.FormatUSTAR))
	f.Fuzz(func(t *testing.T, in []byte) {
		g, err := OpenGPKG(bytes.NewReader(in), int64(len(in)))
		if err != nil {
			return
		}
		for _, m := range g.Members {
			if m.Offset < 0 || m.Size < 0 || m.Offset+m.Size > int64(len(in)) {
				t.Fatalf("member %+v outside %d bytes", m, len(in))
			}
		}
		_ = g.Verify(context.Background())
		_, _ = g.Metadata(context.Background())
	})
}

// FuzzParsePath: an accepted path formats back to itself and NewPath
// rebuilds it.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"acct-group/portage/portage-0-r3-1.gpkg.tar", "app-arch/zstd-1.5.5.tbz2", "a/b/b-1-1.xpak", "../x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePath(s)
		if err != nil {
			return
		}
		if p.String() != s {
			t.Fatalf("%q formats as %q", s, p)
		}
		if q, err := NewPath(p.CPV(), p.BuildID(), p.Format()); err != nil || (q != p && p.ext != ExtTBZ2) {
			t.Fatalf("NewPath(%q) = %q, %v", s, q, err)
		}
	})
}

// FuzzReduceDeps: ReduceDeps never panics, and its output is a fixed
// point (reducing it again with the same USE changes nothing).
func FuzzReduceDeps(f *testing.F) {
	for _, s := range []string{"|| ( x? ( a/b c/d ) e/f )", "c/d[x?,!y=] ( ( g/h ) )", "|| ( )", "x? ( y? ( || ( a/b ) ) )"} {
		f.Add(s, "x y")
	}
	f.Fuzz(func(t *testing.T, dep, useList string) {
		use := map[string]bool{}
		for _, u := range strings.Fields(useList) {
			use[u] = true
		}
		out, err := ReduceDeps(dep, use, true)
		if err != nil {
			return
		}
		// The reduced string must parse again. It need not be a fixed point:
		// Portage's own use_reduce turns "|| ( ( 0 || ( ( 0 0 ) ) ) )" into
		// "0 ( 0 0 )" and that into "0 0 0" (TestReduceDepsAgainstPortage).
		if _, err := ReduceDeps(out, use, true); err != nil && !strings.Contains(out, "__const__") {
			t.Fatalf("%q reduced to %q, which fails: %v", dep, out, err)
		}
	})
}
