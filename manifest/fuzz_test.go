package manifest

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func addSeeds(f *testing.F) {
	files, _ := filepath.Glob("testdata/*")
	for _, p := range files {
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			continue // testdata/bombs: compressed, for TestDecompressionBombs
		}
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		if len(b) > 1536 {
			b = b[:1536] // small seeds keep minimisation cheap; cut lines are fine inputs
		}
		f.Add(string(b))
	}
	for _, s := range []string{
		"",
		"DIST foo\\x20bar 0 SHA512 " + s512Emp + "\n",
		"IGNORE local\nDATA a/b 0 MD5 00\r\nTIMESTAMP 2017-10-30T10:11:12Z\n",
		"DIST a 1 SHA512 " + s512Emp + "\nDIST a 1 BLAKE2B " + b2Empty + "\n",
		"AUX p 0\nDATA files/p 0 X 0\n",
		"DIST \\U0001F600\\u00e9 0\n",
		"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n- DIST a 0\n-----BEGIN PGP SIGNATURE-----\n\nx\n-----END PGP SIGNATURE-----\n",
	} {
		f.Add(s)
	}
}

// FuzzParse: Parse never panics, fails only with *SyntaxError on in-memory
// input, and accepted Manifests survive a format/re-parse round trip.
func FuzzParse(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, in string) {
		m, err := Parse(strings.NewReader(in), "fuzz")
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("non-syntax error %T: %v", err, err)
			}
			if se.Pos.Line < 0 {
				t.Fatalf("negative line in %v", err)
			}
			return
		}
		var b strings.Builder
		for _, e := range m.Entries {
			if e.Pos.Line < 1 || e.Path == "" {
				t.Fatalf("bad entry %+v", e)
			}
			if e.Tag == TagDIST && strings.Contains(e.Path, "/") {
				t.Fatalf("DIST with slash: %q", e.Path)
			}
			for _, v := range e.Digests {
				if v != strings.ToLower(v) {
					t.Fatalf("digest not lowercase: %q", v)
				}
			}
			b.WriteString(e.String())
			b.WriteByte('\n')
		}
		m2, err := Parse(strings.NewReader(b.String()), "again")
		if err != nil {
			t.Fatalf("re-parse of formatted Manifest failed: %v\n%s", err, b.String())
		}
		if len(m2.Entries) != len(m.Entries) || !m2.Timestamp.Equal(m.Timestamp) {
			t.Fatalf("round trip: %d entries vs %d", len(m2.Entries), len(m.Entries))
		}
		for i, e := range m.Entries {
			e2 := m2.Entries[i]
			if e.Tag != e2.Tag || e.Path != e2.Path || e.Size != e2.Size || !maps.Equal(e.Digests, e2.Digests) {
				t.Fatalf("round trip changed entry %d:\n%+v\n%+v", i, e, e2)
			}
		}
	})
}

// FuzzParseDigestsArg: never panics; accepted input round-trips.
func FuzzParseDigestsArg(f *testing.F) {
	for _, s := range []string{
		"blake2b:" + b2Empty + " sha512:" + s512Emp,
		"BLAKE2B:" + strings.ToUpper(b2Empty),
		"md5:d41d8cd98f00b204e9800998ecf8427e sha1:da39a3ee5e6b4b0d3255bfef95601890afd80709",
		"streebog256:00", "", "sha512:", ":", "a:b:c",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		d, err := ParseDigestsArg(in)
		if err != nil {
			return
		}
		if len(d) == 0 {
			t.Fatal("empty result without error")
		}
		var parts []string
		for n, v := range d {
			if n != strings.ToUpper(n) || v != strings.ToLower(v) || !isHex(v) {
				t.Fatalf("not normalised: %s=%s", n, v)
			}
			parts = append(parts, strings.ToLower(n)+":"+v)
		}
		d2, err := ParseDigestsArg(strings.Join(parts, " "))
		if err != nil || !maps.Equal(d, d2) {
			t.Fatalf("round trip: %v %v %v", d, d2, err)
		}
	})
}
