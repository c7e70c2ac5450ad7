package attest

import "testing"

// BenchmarkParse: parsing and verifying one attestation (a node gathering
// the attestations of a 10,000-package binhost does this 10,000 times per
// signer).
func BenchmarkParse(b *testing.B) {
	signer := newSigner(b, "bench")
	file, err := Sign(statementFor("a/b/b-1.gpkg.tar", "cfg", []byte("b")), signer)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(file); err != nil {
			b.Fatal(err)
		}
	}
}
