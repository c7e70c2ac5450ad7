package manifest

import (
	"errors"
	"strings"
	"testing"
)

const (
	b2Empty  = "786a02f742015903c6c6fd852552d272912f4740e15847618a86e217f71f5419d25e1031afee585313896444934eb04b903a685b1448b755d56f701afe9be2ce"
	s512Emp  = "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
	okHashes = "BLAKE2B " + b2Empty + " SHA512 " + s512Emp
)

func parseString(s string) (*Manifest, error) { return Parse(strings.NewReader(s), "Manifest") }

func TestParseSyntaxErrors(t *testing.T) {
	cases := []struct{ name, in, msg string }{
		{"unknown tag", "FOO bar 1 SHA1 00\n", "unknown tag"},
		{"lowercase tag", "dist a 0 " + okHashes + "\n", "unknown tag"},
		{"OPTIONAL", "OPTIONAL ChangeLog\n", "unknown tag"},
		{"odd pairs", "DIST a 0 BLAKE2B " + b2Empty + " SHA512\n", "has no value"},
		{"negative size", "DIST a -1 " + okHashes + "\n", "invalid size"},
		{"plus size", "DIST a +1 " + okHashes + "\n", "invalid size"},
		{"garbage size", "DIST a 1x " + okHashes + "\n", "invalid size"},
		{"huge size", "DIST a 99999999999999999999 " + okHashes + "\n", "out of range"},
		{"missing size", "DIST a\n", "needs a path and a size"},
		{"bare backslash", `DIST a\ 0 ` + okHashes + "\n", `bare "\"`},
		{"bad escape", `DIST a\tb 0 ` + okHashes + "\n", "invalid escape"},
		{"short escape", `DIST a\x2 0 ` + okHashes + "\n", "escape"},
		{"surrogate", `DIST a\uD800 0 ` + okHashes + "\n", "not a valid code point"},
		{"beyond unicode", `DIST a\U00110000 0 ` + okHashes + "\n", "not a valid code point"},
		{"dotdot", "DATA ../etc/passwd 0 " + okHashes + "\n", `".." path component`},
		{"dotdot inner", "DATA a/../b 0 " + okHashes + "\n", `".."`},
		{"escaped dotdot", `DATA \x2E\x2E/x 0 ` + okHashes + "\n", `".."`},
		{"absolute", "DATA /etc/passwd 0 " + okHashes + "\n", "absolute path"},
		{"trailing slash", "IGNORE distfiles/\n", "empty path component"},
		{"NUL escaped", `DATA a\x00b 0 ` + okHashes + "\n", "NUL"},
		{"NUL raw", "DATA a\x00b 0 " + okHashes + "\n", "control character"},
		{"DIST slash", "DIST a/b.tar.gz 0 " + okHashes + "\n", "bare file name"},
		{"DIST escaped slash", `DIST a\x2Fb 0 ` + okHashes + "\n", "bare file name"},
		{"DIST dotdot", "DIST .. 0 " + okHashes + "\n", "not a file name"},
		{"non-hex", "DIST a 0 BLAKE2B " + strings.Repeat("zz", 64) + "\n", "not hexadecimal"},
		{"short digest", "DIST a 0 SHA512 abcd\n", "want 128"},
		{"dup hash", "DIST a 0 SHA512 " + s512Emp + " SHA512 " + s512Emp + "\n", "given twice"},
		{"bad timestamp", "TIMESTAMP 2017-10-22 18:06:41\n", "TIMESTAMP"},
		{"bad timestamp frac", "TIMESTAMP 2017-10-22T18:06:41.5Z\n", "invalid TIMESTAMP"},
		{"ignore extra", "IGNORE a b\n", "exactly one path"},
		{"invalid utf8", "DIST a\xff 0 " + okHashes + "\n", "invalid UTF-8"},
		{"conflict size", "DIST a 1 SHA512 " + s512Emp + "\nDIST a 2 SHA512 " + s512Emp + "\n", "conflicts with line 1: size 1 vs 2"},
		{"conflict hash", "DIST a 0 SHA512 " + s512Emp + "\nDIST a 0 SHA512 " + strings.Repeat("0", 128) + "\n", "SHA512 differs"},
		{"conflict MISC vs DATA", "MISC metadata.xml 0 " + okHashes + "\nDATA metadata.xml 0 " + okHashes + "\n", "MISC vs DATA"},
		{"conflict two timestamps", "TIMESTAMP 2017-10-22T18:06:41Z\nTIMESTAMP 2017-10-22T18:06:42Z\n", "different timestamps"},
		{"inside ignore", "IGNORE local\nDATA local/x 0 " + okHashes + "\n", "inside IGNORE"},
		{"inside ignore later", "DATA local/x 0 " + okHashes + "\nIGNORE local\n", "inside IGNORE"},
		{"ignore vs data", "IGNORE x\nDATA x 0 " + okHashes + "\n", "IGNORE vs DATA"},
		{"long line", "DIST " + strings.Repeat("a", MaxLineLength+10) + " 0\n", "line longer"},
		// OpenPGP wrapper structure.
		{"truncated wrapper", "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nDIST a 0 " + okHashes + "\n", "no signature block"},
		{"truncated headers", "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n", "armour headers"},
		{"truncated signature", "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nDIST a 0 " + okHashes + "\n-----BEGIN PGP SIGNATURE-----\nabc\n", "END PGP SIGNATURE"},
		{"data before", "DIST b 0 " + okHashes + "\n-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nDIST a 0 " + okHashes + "\n-----BEGIN PGP SIGNATURE-----\n-----END PGP SIGNATURE-----\n", "unsigned data before"},
		{"data after", "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nDIST a 0 " + okHashes + "\n-----BEGIN PGP SIGNATURE-----\nxx\n-----END PGP SIGNATURE-----\nDIST b 0 " + okHashes + "\n", "unsigned data after"},
		{"bad header", "-----BEGIN PGP SIGNED MESSAGE-----\nDIST a 0\n\n", "armour header"},
		{"undashed", "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n-DIST a 0\n", "not dash-escaped"},
		{"signature alone", "-----BEGIN PGP SIGNATURE-----\n", "armour line"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := parseString(c.in)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("want SyntaxError containing %q, got %v (%+v)", c.msg, err, m)
			}
			if !strings.Contains(se.Msg, c.msg) {
				t.Errorf("error %q does not contain %q", err, c.msg)
			}
			if se.Pos.File != "Manifest" || se.Pos.Line < 1 || !strings.HasPrefix(err.Error(), se.Pos.String()+": ") {
				t.Errorf("bad position in %q", err)
			}
		})
	}
}

func TestParseConflictNamesBothLines(t *testing.T) {
	_, err := parseString("\nDIST a 1 SHA512 " + s512Emp + "\n\nDIST a 2 SHA512 " + s512Emp + "\n")
	if err == nil || !strings.HasPrefix(err.Error(), "Manifest:4: ") || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("got %v", err)
	}
}

func TestParseTolerant(t *testing.T) {
	in := "\r\n  DIST   a.tar.gz\t0  SHA512 " + strings.ToUpper(s512Emp) + "   BLAKE2B " + b2Empty + " \r\n\n\nMISC metadata.xml 0 FOOHASH zz00\r\n"
	_, err := parseString(in)
	if err == nil || !strings.Contains(err.Error(), "not hexadecimal") {
		t.Fatalf("unknown hash with non-hex value: %v", err)
	}
	in = strings.Replace(in, "zz00", "AB01", 1)
	m, err := parseString(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Entries) != 2 {
		t.Fatalf("entries %+v", m.Entries)
	}
	e := m.Entries[0]
	if e.Path != "a.tar.gz" || e.Pos.Line != 2 || e.Digests[SHA512] != s512Emp || e.Digests[BLAKE2B] != b2Empty {
		t.Errorf("%+v", e)
	}
	if m.Entries[1].Digests["FOOHASH"] != "ab01" || m.Entries[1].Pos.Line != 5 {
		t.Errorf("%+v", m.Entries[1])
	}
	if got := e.String(); got != "DIST a.tar.gz 0 "+okHashes {
		t.Errorf("String() = %s", got)
	}
}

func TestParseDuplicatesMerge(t *testing.T) {
	in := "DIST a 0 SHA512 " + s512Emp + "\n" +
		"AUX p.patch 0 SHA512 " + s512Emp + "\n" +
		"DIST a 0 BLAKE2B " + b2Empty + " SHA512 " + s512Emp + "\n" + // compatible: merged
		"DATA files/p.patch 0 BLAKE2B " + b2Empty + "\n" + // same file as the AUX: merged
		"DIST p.patch 0 MD5 00112233445566778899aabbccddeeff\n" + // DIST vs AUX: independent
		"IGNORE local\nIGNORE local\n"
	m, err := parseString(in)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range m.Entries {
		got = append(got, e.String())
	}
	want := []string{
		"DIST a 0 " + okHashes,
		"AUX p.patch 0 " + okHashes,
		"DIST p.patch 0 MD5 00112233445566778899aabbccddeeff",
		"IGNORE local",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestEscapes(t *testing.T) {
	m, err := parseString(`DIST foo\x20bar.tar.gz 0 ` + okHashes + "\n" +
		`DIST caf\u00E9 0 ` + okHashes + "\n" +
		`DIST \U0001F600\xE9\x5C 0 ` + okHashes + "\n" +
		`DATA dir/with\x09tab 0 ` + okHashes + "\n")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"foo bar.tar.gz", "café", "\U0001F600é\\", "dir/with\ttab"}
	for i, w := range want {
		if m.Entries[i].Path != w {
			t.Errorf("entry %d path %q, want %q", i, m.Entries[i].Path, w)
		}
	}
	if s := m.Entries[0].String(); !strings.HasPrefix(s, `DIST foo\x20bar.tar.gz 0 `) {
		t.Errorf("re-encoded %s", s)
	}
	if got := EscapePath("a b\\c\u00a0d\u2028é日本"); got != `a\x20b\x5Cc\u00A0d\u2028é日本` {
		t.Errorf("EscapePath = %s", got)
	}
}

// NFC and NFD spellings of café are distinct names (no normalisation).
func TestNFCNFDDistinct(t *testing.T) {
	nfc, nfd := "caf\u00e9.tar.gz", "cafe\u0301.tar.gz"
	m, err := parseString("DIST " + nfc + " 0 " + okHashes + "\nDIST " + nfd + " 1 SHA512 " + s512Emp + "\n")
	if err != nil {
		t.Fatal(err)
	}
	d := m.Dist()
	if len(d) != 2 || d[nfc].Size != 0 || d[nfd].Size != 1 {
		t.Errorf("%+v", d)
	}
}

func TestParseDigestsArg(t *testing.T) {
	d, err := ParseDigestsArg("blake2b:" + strings.ToUpper(b2Empty) + "  sha512:" + s512Emp + " streebog256:00ff")
	if err != nil {
		t.Fatal(err)
	}
	if d[BLAKE2B] != b2Empty || d[SHA512] != s512Emp || d["STREEBOG256"] != "00ff" || len(d) != 3 {
		t.Errorf("%v", d)
	}
	if got := d.String(); got != "BLAKE2B "+b2Empty+" SHA512 "+s512Emp+" STREEBOG256 00ff" {
		t.Errorf("String() = %s", got)
	}
	for _, bad := range []string{"", "   ", "blake2b", "blake2b:", ":00", "sha512:abcd", "blake2b:zz", "sha1:da39a3ee5e6b4b0d3255bfef95601890afd80709 SHA1:da39a3ee5e6b4b0d3255bfef95601890afd80709", "sha-1:00", "md5:d41d8cd98f00b204e9800998ecf8427e:x"} {
		if d, err := ParseDigestsArg(bad); err == nil {
			t.Errorf("ParseDigestsArg(%q) = %v, want error", bad, d)
		}
	}
}
