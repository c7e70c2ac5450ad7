package attest

import (
	"bytes"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/blake2b"
	"golang.org/x/crypto/ssh"
)

// newSigner generates a key in a fresh store and returns its signer.
func newSigner(t testing.TB, name string) ssh.Signer {
	t.Helper()
	ks := KeyStore{Dir: t.TempDir()}
	if _, err := ks.Generate(name, name+"@test"); err != nil {
		t.Fatal(err)
	}
	s, err := ks.Signer(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// statementFor describes data as the package at path, with digests
// computed here independently of the code under test.
func statementFor(path, buildKey string, data []byte) Statement {
	b := blake2b.Sum512(data)
	s := sha512.Sum512(data)
	return Statement{Kind: Built, Path: path, BuildKey: buildKey, Size: int64(len(data)),
		BLAKE2B: hex.EncodeToString(b[:]), SHA512: hex.EncodeToString(s[:]),
		Time: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
}

func TestSignParseRoundTrip(t *testing.T) {
	signer := newSigner(t, "alice")
	st := statementFor("acct-group/portage/portage-0-1.gpkg.tar", "cfg:1234", []byte("package bytes"))
	st.Kind = Checked
	file, err := Sign(st, signer)
	if err != nil {
		t.Fatal(err)
	}
	a, err := Parse(file)
	if err != nil {
		t.Fatalf("%v\n%s", err, file)
	}
	st.Signer = KeyID(signer.PublicKey())
	if a.Statement != st {
		t.Errorf("parsed %+v\nwant   %+v", a.Statement, st)
	}
	if KeyID(a.Key) != st.Signer {
		t.Errorf("key %s, want %s", KeyID(a.Key), st.Signer)
	}
	again, err := Sign(st, signer)
	if err != nil {
		t.Fatal(err)
	}
	// Ed25519 is deterministic and the encoding canonical: same statement,
	// same file.
	if !bytes.Equal(again, file) {
		t.Errorf("signing twice gave different files:\n%s\n%s", file, again)
	}
}

func TestTamperedAttestationsFail(t *testing.T) {
	alice, mallory := newSigner(t, "alice"), newSigner(t, "mallory")
	st := statementFor("app-misc/foo/foo-1-1.gpkg.tar", "cfg", []byte("foo"))
	file, err := Sign(st, alice)
	if err != nil {
		t.Fatal(err)
	}
	st.Signer = KeyID(alice.PublicKey())
	body, _ := st.Encode()
	otherNS, err := sshSign(alice, "file", body)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := sshSign(mallory, Namespace, body) // mallory signs a statement naming alice
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"size changed":      bytes.Replace(file, []byte("size=3\n"), []byte("size=4\n"), 1),
		"build key changed": bytes.Replace(file, []byte("build-key=cfg\n"), []byte("build-key=cfh\n"), 1),
		"kind changed":      bytes.Replace(file, []byte("kind=built\n"), []byte("kind=checked\n"), 1),
		"other namespace":   append(bytes.Clone(body), otherNS...),
		"signer mismatch":   append(bytes.Clone(body), forged...),
		"signature byte":    flipInSignature(file),
	}
	for name, data := range cases {
		if bytes.Equal(data, file) {
			t.Fatalf("%s: tamper target not found", name)
		}
		a, err := Parse(data)
		if !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: %v, want ErrBadSignature", name, err)
			continue
		}
		if a.Path != st.Path || a.Key != nil {
			t.Errorf("%s: claimed statement %+v (key %v), want the path and no key", name, a.Statement, a.Key)
		}
	}
}

func flipInSignature(file []byte) []byte {
	out := bytes.Clone(file)
	i := bytes.Index(out, []byte(sshsigBegin)) + len(sshsigBegin) + 60
	if out[i] == 'A' {
		out[i] = 'B'
	} else {
		out[i] = 'A'
	}
	return out
}

func TestMalformedStatementsRejected(t *testing.T) {
	signer := newSigner(t, "alice")
	st := statementFor("a/b/c-1.gpkg.tar", "", []byte("x"))
	st.Signer = KeyID(signer.PublicKey())
	good, err := st.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseStatement(good); err != nil {
		t.Fatalf("good statement: %v", err)
	}
	g := string(good)
	cases := map[string]string{
		"CRLF":              strings.ReplaceAll(g, "\n", "\r\n"),
		"no final newline":  strings.TrimSuffix(g, "\n"),
		"field missing":     strings.Replace(g, "kind=built\n", "", 1),
		"field twice":       strings.Replace(g, "kind=built\n", "kind=built\nkind=built\n", 1),
		"order swapped":     strings.Replace(g, "kind=built\npath=a/b/c-1.gpkg.tar\n", "path=a/b/c-1.gpkg.tar\nkind=built\n", 1),
		"unknown kind":      strings.Replace(g, "kind=built", "kind=trusted", 1),
		"format v2":         strings.Replace(g, FormatV1, "distswarm-attestation-v2", 1),
		"size with plus":    strings.Replace(g, "size=1\n", "size=+1\n", 1),
		"size leading zero": strings.Replace(g, "size=1\n", "size=01\n", 1),
		"negative size":     strings.Replace(g, "size=1\n", "size=-1\n", 1),
		"upper hex":         strings.Replace(g, "sha512="+st.SHA512, "sha512="+strings.ToUpper(st.SHA512), 1),
		"short hex":         strings.Replace(g, "blake2b="+st.BLAKE2B, "blake2b="+st.BLAKE2B[:127], 1),
		"time offset":       strings.Replace(g, "12:00:00Z", "12:00:00+00:00", 1),
		"time fraction":     strings.Replace(g, "12:00:00Z", "12:00:00.5Z", 1),
		"path dotdot":       strings.Replace(g, "path=a/b/", "path=a/../", 1),
		"path absolute":     strings.Replace(g, "path=a/b/", "path=/a/b/", 1),
		"path space":        strings.Replace(g, "path=a/b/", "path=a b/b/", 1),
		"build key space":   strings.Replace(g, "build-key=", "build-key=a b", 1),
		"signer not fp":     strings.Replace(g, "signer=SHA256:", "signer=MD5:", 1),
		"trailing space":    strings.Replace(g, "kind=built", "kind=built ", 1),
		"extra line":        g + "note=hi\n",
		"oversize":          g + strings.Repeat("x", MaxFileSize),
	}
	for name, data := range cases {
		if data == g {
			t.Fatalf("%s: mutation did not apply", name)
		}
		if _, err := ParseStatement([]byte(data)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
		file, _ := Sign(st, signer)
		mutated := bytes.Replace(file, good, []byte(data), 1)
		if _, err := Parse(mutated); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s in a signed file: %v, want ErrMalformed", name, err)
		}
	}
}

func TestSignRejectsInvalidStatements(t *testing.T) {
	signer := newSigner(t, "alice")
	st := statementFor("a/b/c-1.gpkg.tar", "", []byte("x"))
	st.Time = time.Date(2026, 1, 1, 0, 0, 0, 5, time.UTC)
	if _, err := Sign(st, signer); !errors.Is(err, ErrMalformed) {
		t.Errorf("fractional time: %v", err)
	}
	st = statementFor("a/b/c-1.gpkg.tar", strings.Repeat("k", MaxBuildKeyLength+1), []byte("x"))
	if _, err := Sign(st, signer); !errors.Is(err, ErrMalformed) {
		t.Errorf("long build key: %v", err)
	}
}

func TestPathFor(t *testing.T) {
	signer := newSigner(t, "alice")
	p, err := PathFor(signer.PublicKey(), "acct-user/portage/portage-0-2.gpkg.tar")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(p, "/")
	if len(parts) != 5 || parts[0] != Dir || len(parts[1]) != 64 || !IsAttestationPath(p) ||
		!strings.HasSuffix(p, "/acct-user/portage/portage-0-2.gpkg.tar"+Suffix) {
		t.Errorf("PathFor = %q", p)
	}
	if _, err := PathFor(signer.PublicKey(), "../etc/passwd"); err == nil {
		t.Error("PathFor accepted ../etc/passwd")
	}
}
