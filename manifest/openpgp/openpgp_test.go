package openpgp

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/distswarm/distswarm/manifest"
)

// Real samples, copied into ../testdata (see ../../../shared/testdata/gentoo/SOURCES.txt).
const (
	gematoSigned      = "../testdata/gemato-tests__SIGNED_MANIFEST.txt"
	gematoDashEscaped = "../testdata/gemato-tests__DASH_ESCAPED_SIGNED_MANIFEST.txt"
	zlibSigned        = "../testdata/gentoo-portage-rsync-mirror__sys-libs__zlib__Manifest.signed"
	gpkgSample        = "../testdata/joepasss-gentoo-bin__amd64__acct-group__dnsmasq__dnsmasq-0-r3-1.gpkg.tar"
	gematoFingerprint = "81E12C16BD8DCD60BE180845136880E72A7B1384"
)

func keyring(t *testing.T, name string) *Keyring {
	t.Helper()
	kr, err := LoadKeyring(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// fixedNow is a clock after every sample signature and before 2030.
func fixedNow() time.Time { return time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC) }

func TestGematoSignedManifestsVerify(t *testing.T) {
	v := Verifier{Keyring: keyring(t, "gemato-valid-public-key.gpg"), Now: fixedNow}
	for _, path := range []string{gematoSigned, gematoDashEscaped} {
		m, sig, err := v.VerifyManifestFile(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if sig.Fingerprint != gematoFingerprint {
			t.Errorf("%s: signer %s, want %s", path, sig.Fingerprint, gematoFingerprint)
		}
		if !m.Signed || len(m.Entries) == 0 {
			t.Errorf("%s: signed=%v entries=%d", path, m.Signed, len(m.Entries))
		}
		unverified, err := manifest.ParseFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(unverified.Entries) != len(m.Entries) {
			t.Errorf("%s: %d entries verified, %d parsed unverified", path, len(m.Entries), len(unverified.Entries))
		}
	}
}

func TestGematoKeyStates(t *testing.T) {
	data := readFile(t, gematoSigned)
	cases := []struct {
		keyring string
		now     time.Time
		want    error
	}{
		{"gemato-other-valid-public-key.gpg", fixedNow(), ErrUnknownKey},
		{"gemato-revoked-public-key.gpg", fixedNow(), ErrKeyRevoked},
		// Stricter than gemato, which accepts a signature made before the
		// key expired: an expired key is judged at the verifier's clock.
		{"gemato-expired-public-key.gpg", fixedNow(), ErrKeyExpired},
	}
	for _, c := range cases {
		v := Verifier{Keyring: keyring(t, c.keyring), Now: func() time.Time { return c.now }}
		_, _, err := v.VerifyManifest(data, gematoSigned)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.keyring, err, c.want)
		}
	}
}

func TestTamperedManifestsFail(t *testing.T) {
	v := Verifier{Keyring: keyring(t, "gemato-valid-public-key.gpg"), Now: fixedNow}
	orig := string(readFile(t, gematoSigned))
	cases := map[string]struct {
		data string
		want error
	}{
		"digest changed": {strings.Replace(orig, "DIST mydistfile.tar.gz 0", "DIST mydistfile.tar.gz 1", 1), ErrBadSignature},
		"entry added":    {strings.Replace(orig, "IGNORE local\n", "IGNORE local\nIGNORE other\n", 1), ErrBadSignature},
		"unsigned tail":  {orig + "DIST evil 1 SHA512 00\n", ErrMalformed},
		"unsigned head":  {"DIST evil 1 SHA512 00\n" + orig, ErrMalformed},
		"no wrapper":     {"DIST a 1 SHA512 00\n", ErrUnsigned},
		"no sig block":   {orig[:strings.Index(orig, "-----BEGIN PGP SIGNATURE")], ErrMalformed},
	}
	for name, c := range cases {
		_, _, err := v.VerifyManifest([]byte(c.data), name)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", name, err, c.want)
		}
	}
}

// The 2013 zlib Manifest was signed by a Gentoo developer key that is not
// available here: with the gemato key it must fail as an unknown key, not
// as malformed data. Re-signed with a key made in the test, its text
// verifies and a one-byte change fails.
func TestRealZlibManifest(t *testing.T) {
	data := readFile(t, zlibSigned)
	v := Verifier{Keyring: keyring(t, "gemato-valid-public-key.gpg"), Now: fixedNow}
	if _, _, err := v.VerifyManifest(data, zlibSigned); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("zlib Manifest with the wrong key: %v, want ErrUnknownKey", err)
	}
	blk, _ := clearsign.Decode(data)
	if blk == nil {
		t.Fatal("zlib Manifest: no clear-signed block")
	}
	entity, ring := newKey(t)
	resigned := clearsignWith(t, entity, blk.Plaintext)
	v = Verifier{Keyring: ring}
	m, sig, err := v.VerifyManifest(resigned, "resigned zlib")
	if err != nil {
		t.Fatal(err)
	}
	orig, err := manifest.ParseFile(zlibSigned)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Entries) != len(orig.Entries) || len(m.Entries) < 10 {
		t.Errorf("re-signed zlib: %d entries, original %d", len(m.Entries), len(orig.Entries))
	}
	if sig.Fingerprint != ring.Fingerprints()[0] {
		t.Errorf("signer %s, want %s", sig.Fingerprint, ring.Fingerprints()[0])
	}
	tampered := bytes.Replace(resigned, []byte("DIST zlib-1.2.8.tar.gz 571091"), []byte("DIST zlib-1.2.8.tar.gz 571092"), 1)
	if bytes.Equal(tampered, resigned) {
		t.Fatal("tamper target not found in the zlib Manifest")
	}
	if _, _, err := v.VerifyManifest(tampered, "tampered zlib"); !errors.Is(err, ErrBadSignature) {
		t.Errorf("tampered zlib: %v, want ErrBadSignature", err)
	}
}

func TestDetachedSignatureOverGPKGMember(t *testing.T) {
	member := gpkgMember(t, "dnsmasq-0-r3-1/metadata.tar.zst")
	entity, ring := newKey(t)
	_, otherRing := newKey(t)
	var armoured, binary bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&armoured, entity, bytes.NewReader(member), nil); err != nil {
		t.Fatal(err)
	}
	if err := openpgp.DetachSign(&binary, entity, bytes.NewReader(member), nil); err != nil {
		t.Fatal(err)
	}
	v := Verifier{Keyring: ring}
	for name, sig := range map[string][]byte{"armoured": armoured.Bytes(), "binary": binary.Bytes()} {
		if _, err := v.VerifyDetached(bytes.NewReader(member), sig); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	modified := bytes.Clone(member)
	modified[len(modified)/2] ^= 1
	if _, err := v.VerifyDetached(bytes.NewReader(modified), armoured.Bytes()); !errors.Is(err, ErrBadSignature) {
		t.Errorf("modified member: %v, want ErrBadSignature", err)
	}
	other := Verifier{Keyring: otherRing}
	if _, err := other.VerifyDetached(bytes.NewReader(member), armoured.Bytes()); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("other keyring: %v, want ErrUnknownKey", err)
	}
	if _, err := v.VerifyDetached(bytes.NewReader(member), []byte("not a signature")); !errors.Is(err, ErrMalformed) {
		t.Errorf("garbage signature: %v, want ErrMalformed", err)
	}
}

func TestKeyringRejectsGarbageAndOversize(t *testing.T) {
	if _, err := ReadKeyring(strings.NewReader("hello")); !errors.Is(err, ErrMalformed) {
		t.Errorf("garbage keyring: %v", err)
	}
	if _, err := ReadKeyring(bytes.NewReader(make([]byte, MaxKeyringSize+1))); err == nil {
		t.Error("oversize keyring accepted")
	}
}

func gpkgMember(t *testing.T, name string) []byte {
	t.Helper()
	f, err := os.Open(gpkgSample)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s: no member %s: %v", gpkgSample, name, err)
		}
		if h.Name == name {
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return data
		}
	}
}

// newKey makes an Ed25519 OpenPGP key and a keyring holding its public part.
func newKey(t *testing.T) (*openpgp.Entity, *Keyring) {
	t.Helper()
	e, err := openpgp.NewEntity("test", "", "test@example.org", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	var pub bytes.Buffer
	if err := e.Serialize(&pub); err != nil {
		t.Fatal(err)
	}
	kr, err := ReadKeyring(&pub)
	if err != nil {
		t.Fatal(err)
	}
	return e, kr
}

func clearsignWith(t *testing.T, e *openpgp.Entity, text []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := clearsign.Encode(&out, e.PrivateKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(text); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}
