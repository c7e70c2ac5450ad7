package openpgp

import (
	"bytes"
	"os"
	"testing"
)

// FuzzVerifyClearsigned: no input panics, and only the gemato key's
// signature is ever accepted.
func FuzzVerifyClearsigned(f *testing.F) {
	kr, err := LoadKeyring("testdata/gemato-valid-public-key.gpg")
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range []string{gematoSigned, gematoDashEscaped, zlibSigned} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	v := Verifier{Keyring: kr, Now: fixedNow}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, sig, err := v.VerifyClearsigned(data)
		if err == nil && sig.Fingerprint != gematoFingerprint {
			t.Fatalf("accepted a signature by %q", sig.Fingerprint)
		}
	})
}

// FuzzVerifyGPKG: the tar walk over hostile input never panics and never
// accepts a package without a good Manifest signature.
func FuzzVerifyGPKG(f *testing.F) {
	kr, err := LoadKeyring("testdata/gemato-valid-public-key.gpg")
	if err != nil {
		f.Fatal(err)
	}
	data, err := os.ReadFile(gpkgSample)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	v := Verifier{Keyring: kr, Now: fixedNow}
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := v.VerifyGPKG(bytes.NewReader(data), int64(len(data)))
		if err == nil && res.ManifestSignature.Fingerprint != gematoFingerprint {
			t.Fatalf("accepted a GPKG signed by %q", res.ManifestSignature.Fingerprint)
		}
	})
}
