package integration

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/distswarm/distswarm/manifest/openpgp"
)

// Real Portage signs a GPKG (FEATURES=binpkg-signing, its default gpg
// command); distswarm's OpenPGP check accepts it with the builder's public
// key, and rejects it modified or against another keyring.
func TestPortageSignedGPKGVerifies(t *testing.T) {
	p := NewPortage(t)
	gpgHome, pub, keyring := newSigningKey(t)
	// Portage checks the package it just signed with gpg as the fetch
	// user: give it a keyring of its own that trusts the key.
	verifyHome := newVerifyHome(t, pub, keyring.Fingerprints()[0], p.UID, p.GID)
	p.WriteMakeConf(
		`FEATURES="${FEATURES} binpkg-signing"`,
		`BINPKG_FORMAT="gpkg"`,
		`BINPKG_GPG_SIGNING_GPG_HOME="`+gpgHome+`"`,
		`BINPKG_GPG_SIGNING_KEY="builder@test"`,
		`BINPKG_GPG_VERIFY_GPG_HOME="`+verifyHome+`"`,
	)
	ebuild := filepath.Join(p.Repo, "app-misc", "signed", "signed-1.ebuild")
	p.writeFile(ebuild, `EAPI=8
DESCRIPTION="distswarm signed binpkg test"
HOMEPAGE="https://example.org/"
LICENSE="MIT"
SLOT="0"
KEYWORDS="amd64"
S="${WORKDIR}"
src_install() {
	dodir /usr/share/signed
	echo "signed by the test" > "${ED}/usr/share/signed/README" || die
}
`)
	if r := p.Emerge(nil, "--buildpkgonly", "--oneshot", "=app-misc/signed-1"); r.Code != 0 {
		t.Fatalf("emerge --buildpkgonly: exit %d\n%s", r.Code, lastLines(r.Output, 40))
	}
	gpkg := filepath.Join(p.Root, "packages", "app-misc", "signed", "signed-1-1.gpkg.tar")
	data, err := os.ReadFile(gpkg)
	if err != nil {
		t.Fatalf("Portage built no GPKG: %v", err)
	}

	v := openpgp.Verifier{Keyring: keyring}
	res, err := v.VerifyGPKG(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("Portage's signed GPKG: %v", err)
	}
	if len(res.Members) != 2 || len(res.Manifest.Entries) < 3 {
		t.Errorf("signed members %v, Manifest entries %d", res.Members, len(res.Manifest.Entries))
	}
	t.Logf("Portage's GPKG: %d signed members, Manifest %s", len(res.Members), res.ManifestSignature)

	modified := flipInMember(t, data, "image.tar")
	if _, err := v.VerifyGPKG(bytes.NewReader(modified), int64(len(modified))); !errors.Is(err, openpgp.ErrBadSignature) {
		t.Errorf("modified image: %v, want ErrBadSignature", err)
	}
	other, err := openpgp.LoadKeyring("../manifest/openpgp/testdata/gemato-valid-public-key.gpg")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (openpgp.Verifier{Keyring: other}).VerifyGPKG(bytes.NewReader(data), int64(len(data))); !errors.Is(err, openpgp.ErrUnknownKey) {
		t.Errorf("another keyring: %v, want ErrUnknownKey", err)
	}
}

// newSigningKey makes a GnuPG home with an Ed25519 key "builder@test"
// (no passphrase) and returns it with the armoured public key and the
// keyring made of it.
func newSigningKey(t *testing.T) (string, []byte, *openpgp.Keyring) {
	t.Helper()
	home := newGnuPGHome(t)
	gpgRun(t, nil, home, "--passphrase", "", "--quick-gen-key", "Test Builder <builder@test>", "ed25519", "sign", "never")
	pub := gpgRun(t, nil, home, "--armor", "--export", "builder@test")
	kr, err := openpgp.ReadKeyring(bytes.NewReader(pub))
	if err != nil {
		t.Fatal(err)
	}
	return home, pub, kr
}

// newVerifyHome makes a GnuPG home, owned by uid:gid, that holds pub and
// trusts the key fpr ultimately (what Portage's verification requires).
func newVerifyHome(t *testing.T, pub []byte, fpr string, uid, gid int) string {
	t.Helper()
	home := newGnuPGHome(t)
	gpgRun(t, pub, home, "--import")
	gpgRun(t, []byte(fpr+":6:\n"), home, "--import-ownertrust")
	gpgRun(t, nil, home, "--check-trustdb") // Portage's gpg runs --no-auto-check-trustdb
	err := filepath.Walk(home, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	})
	if err != nil {
		t.Fatal(err)
	}
	return home
}

// newGnuPGHome is an empty GnuPG home; its agent is stopped at cleanup.
func newGnuPGHome(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("gpg"); err != nil {
		missingPortage(t, "gpg is missing (install gnupg)")
	}
	home, err := os.MkdirTemp("", "gpg") // short: gpg-agent's socket must fit in sun_path
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if conf, err := exec.LookPath("gpgconf"); err == nil {
			runBounded(time.Minute, nil, conf, "--homedir", home, "--kill", "all")
		}
		os.RemoveAll(home)
	})
	if err := os.Chmod(home, 0o700); err != nil {
		t.Fatal(err)
	}
	return home
}

// gpgRun runs gpg on home, bounded in time, and returns its standard
// output; it fails the test on error.
func gpgRun(t *testing.T, stdin []byte, home string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	base := []string{"--homedir", home, "--batch", "--no-tty", "--pinentry-mode", "loopback"}
	cmd := exec.CommandContext(ctx, "gpg", append(base, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("gpg %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

// flipInMember flips one byte in the middle of the first member whose
// base name starts with prefix (found by counting the tar stream).
func flipInMember(t *testing.T, data []byte, prefix string) []byte {
	t.Helper()
	cr := &countingReader{r: bytes.NewReader(data)}
	tr := tar.NewReader(cr)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("no member %s*: %v", prefix, err)
		}
		if strings.HasPrefix(filepath.Base(h.Name), prefix) && !strings.HasSuffix(h.Name, ".sig") && h.Size > 0 {
			out := bytes.Clone(data)
			out[cr.n+h.Size/2] ^= 0x01
			return out
		}
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
