package attest

import (
	"bytes"
	"testing"
)

// FuzzParse: no input makes Parse panic; whatever it accepts re-encodes to
// the exact statement bytes it was given, and verifies under the key the
// statement names.
func FuzzParse(f *testing.F) {
	signer := newSigner(f, "fuzz")
	file, err := Sign(statementFor("a/b/b-1.gpkg.tar", "key", []byte("b")), signer)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(file)
	f.Add([]byte("format=distswarm-attestation-v1\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := Parse(data)
		if err != nil {
			return
		}
		body, err := a.Encode()
		if err != nil {
			t.Fatalf("accepted statement does not encode: %v", err)
		}
		if !bytes.HasPrefix(data, body) {
			t.Fatalf("accepted file does not start with its canonical statement:\n%q\n%q", data, body)
		}
		if a.Key == nil || KeyID(a.Key) != a.Signer {
			t.Fatalf("accepted without the signer's key")
		}
	})
}

// FuzzParseStatement: accepted statements are canonical (round trip).
func FuzzParseStatement(f *testing.F) {
	st := statementFor("a/b/b-1.gpkg.tar", "key", []byte("b"))
	st.Signer = "SHA256:" + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	good, err := st.Encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(bytes.ReplaceAll(good, []byte("\n"), []byte("\r\n")))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseStatement(data)
		if err != nil {
			return
		}
		again, err := s.Encode()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("round trip: %v\n%q\n%q", err, data, again)
		}
	})
}
