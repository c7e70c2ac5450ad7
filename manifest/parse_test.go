package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func mustParseFile(t *testing.T, name string) *Manifest {
	t.Helper()
	m, err := ParseFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("ParseFile(%s): %v", name, err)
	}
	return m
}

func countTags(m *Manifest) map[string]int {
	c := map[string]int{}
	for _, e := range m.Entries {
		c[e.Tag]++
	}
	return c
}

// Real gentoo/gentoo thin Manifests: DIST only; counts from grep -c '^DIST'.
func TestParseRealGentooManifests(t *testing.T) {
	files, err := filepath.Glob("testdata/gentoo__*")
	if err != nil || len(files) < 11 {
		t.Fatalf("glob: %v %d", err, len(files))
	}
	for _, f := range files {
		name := filepath.Base(f)
		if strings.Contains(name, "EXCERPT") {
			continue // truncated signed file, see TestParseTruncatedWrapper
		}
		t.Run(name, func(t *testing.T) {
			m := mustParseFile(t, name)
			raw, _ := os.ReadFile(f)
			want := strings.Count("\n"+string(raw), "\nDIST ")
			if got := countTags(m)[TagDIST]; got != want || len(m.Entries) != want {
				t.Errorf("DIST entries %d (total %d), want %d", got, len(m.Entries), want)
			}
			if m.Signed {
				t.Error("Signed = true for an unsigned Manifest")
			}
			for _, e := range m.Entries {
				if e.Size <= 0 || len(e.Digests) < 2 {
					t.Errorf("%s: suspicious entry %+v", e.Pos, e)
				}
				for h, v := range e.Digests {
					if !Supported(h) || len(v) != 2*DigestSize(h) {
						t.Errorf("%s: hash %s=%s", e.Pos, h, v)
					}
				}
				if e.Pos.File != m.Path || e.Pos.Line < 1 {
					t.Errorf("bad position %v", e.Pos)
				}
			}
		})
	}
}

func TestParseZstdManifestExact(t *testing.T) {
	m := mustParseFile(t, "gentoo__app-arch__zstd__Manifest")
	d := m.Dist()
	e, ok := d["zstd-1.4.4.tar.gz"]
	if !ok {
		t.Fatalf("zstd-1.4.4.tar.gz missing; have %v", d)
	}
	if e.Size != 1962617 || !strings.HasPrefix(e.Digests[BLAKE2B], "e21841a53b6c6070") || !strings.HasPrefix(e.Digests[SHA512], "8209837e8eb14e47") {
		t.Errorf("entry %+v", e)
	}
	if e.Pos.Line != 5 {
		t.Errorf("line %d", e.Pos.Line)
	}
}

func TestParseTexOverlay4063(t *testing.T) {
	m := mustParseFile(t, "gentoo-mirror_tex-overlay__dev-texlive__texlive-latexextra__Manifest")
	if len(m.Entries) != 4063 || countTags(m)[TagDIST] != 4063 || len(m.Dist()) != 4063 {
		t.Fatalf("entries %d, want 4063", len(m.Entries))
	}
	last := m.Entries[len(m.Entries)-1]
	if last.Pos.Line != 4063 {
		t.Errorf("last line %d", last.Pos.Line)
	}
}

func TestParseSignedThickZlib(t *testing.T) {
	m := mustParseFile(t, "gentoo-portage-rsync-mirror__sys-libs__zlib__Manifest.signed")
	if !m.Signed {
		t.Error("Signed = false")
	}
	c := countTags(m)
	if c[TagAUX] != 15 || c[TagDIST] != 6 || c[TagEBUILD] != 8 || c[TagMISC] != 2 || len(m.Entries) != 31 {
		t.Errorf("tag counts %v", c)
	}
	var aux Entry
	for _, e := range m.Entries {
		if e.Tag == TagAUX {
			aux = e
			break
		}
		for _, h := range []string{SHA256, SHA512, WHIRLPOOL} {
			if e.Digests[h] == "" {
				t.Errorf("%s lacks %s", e.Pos, h)
			}
		}
	}
	if aux.Path != "files/zlib-1.2.1-build-fPIC.patch" || aux.Size != 2211 || aux.Pos.Line != 4 {
		t.Errorf("first AUX %+v", aux)
	}
	if !strings.HasPrefix(aux.Digests[WHIRLPOOL], "d3ef6f0f2f73a83a") {
		t.Errorf("WHIRLPOOL %s", aux.Digests[WHIRLPOOL])
	}
	if got := aux.String(); !strings.HasPrefix(got, "AUX zlib-1.2.1-build-fPIC.patch 2211 SHA256 c02f") {
		t.Errorf("String() = %s", got)
	}
}

func TestParseGematoSigned(t *testing.T) {
	var prev []Entry
	for _, name := range []string{"gemato-tests__SIGNED_MANIFEST.txt", "gemato-tests__DASH_ESCAPED_SIGNED_MANIFEST.txt"} {
		m := mustParseFile(t, name)
		if !m.Signed {
			t.Errorf("%s: Signed = false", name)
		}
		want := time.Date(2017, 10, 22, 18, 6, 41, 0, time.UTC)
		if !m.Timestamp.Equal(want) {
			t.Errorf("%s: Timestamp %v", name, m.Timestamp)
		}
		var tags []string
		for _, e := range m.Entries {
			tags = append(tags, e.Tag+":"+e.Path)
		}
		if got := strings.Join(tags, " "); got != "TIMESTAMP:2017-10-22T18:06:41Z MANIFEST:eclass/Manifest IGNORE:local DATA:myebuild-0.ebuild MISC:metadata.xml DIST:mydistfile.tar.gz" {
			t.Errorf("%s: entries %s", name, got)
		}
		if prev != nil {
			for i := range prev {
				if prev[i].String() != m.Entries[i].String() {
					t.Errorf("dash-escaped differs: %s vs %s", prev[i], m.Entries[i])
				}
			}
		}
		prev = m.Entries
	}
}

func TestParseGLEP44Example(t *testing.T) {
	m := mustParseFile(t, "glep-0044-extras__manifest2-example.txt")
	c := countTags(m)
	if c[TagAUX] != 2 || c[TagEBUILD] != 3 || c[TagMISC] != 2 || c[TagDIST] != 3 {
		t.Errorf("counts %v", c)
	}
	if m.Entries[0].Path != "files/ldif-buffer-overflow-fix.diff" || m.Entries[0].Digests[RMD160] != "1354a6bd2687430b628b78aaf43f5c793d2f0704" {
		t.Errorf("first %+v", m.Entries[0])
	}
}

func TestParseGPKGInnerManifest(t *testing.T) {
	m := mustParseFile(t, "joepasss-gentoo-bin__dnsmasq-0-r3-1.gpkg.tar__inner-Manifest")
	if len(m.Entries) != 3 || m.Entries[0].Tag != TagDATA || m.Entries[0].Size != 0 {
		t.Errorf("%+v", m.Entries)
	}
}

func TestParseTruncatedWrapper(t *testing.T) {
	_, err := ParseFile("testdata/gentoo__dev-texlive__texlive-latexextra__Manifest.EXCERPT-first-13-lines")
	var se *SyntaxError
	if !errors.As(err, &se) || !strings.Contains(se.Msg, "truncated") {
		t.Fatalf("want truncated-wrapper SyntaxError, got %v", err)
	}
}

// Formatting the entries of Portage-written Manifests reproduces them
// byte for byte (hash names sorted, single spaces, LF).
func TestFormatRoundTripReal(t *testing.T) {
	files, _ := filepath.Glob("testdata/gentoo*__*Manifest")
	files = append(files, "testdata/glep-0044-extras__manifest2-example.txt", "testdata/joepasss-gentoo-bin__dnsmasq-0-r3-1.gpkg.tar__inner-Manifest")
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Parse(strings.NewReader(string(raw)), f)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, e := range m.Entries {
			b.WriteString(e.String() + "\n")
		}
		if b.String() != string(raw) {
			t.Errorf("%s: formatted entries differ from the file", f)
		}
	}
}
