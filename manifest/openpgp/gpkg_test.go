package openpgp

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// gnupg is a throw-away GnuPG home with one Ed25519 signing key, driven
// through the real gpg binary the way Portage's binpkg-signing does.
type gnupg struct {
	gpg, home string
}

func newGnuPG(t *testing.T) gnupg {
	t.Helper()
	bin, err := exec.LookPath("gpg")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("gpg not found (install gnupg)")
		}
		t.Skip("gpg not found")
	}
	// A short path: gpg-agent's socket must fit in sun_path.
	home, err := os.MkdirTemp("", "gpg")
	if err != nil {
		t.Fatal(err)
	}
	g := gnupg{bin, home}
	t.Cleanup(func() {
		if conf, err := exec.LookPath("gpgconf"); err == nil {
			g.run(t, nil, conf, "--homedir", home, "--kill", "all")
		}
		os.RemoveAll(home)
	})
	if err := os.Chmod(home, 0o700); err != nil {
		t.Fatal(err)
	}
	g.gpgRun(t, nil, "--passphrase", "", "--quick-gen-key", "Test Builder <builder@test>", "ed25519", "sign", "never")
	return g
}

func (g gnupg) run(t *testing.T, stdin []byte, name string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "GNUPGHOME="+g.home)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, errb.String())
	}
	return out.Bytes()
}

func (g gnupg) gpgRun(t *testing.T, stdin []byte, args ...string) []byte {
	t.Helper()
	base := []string{"--batch", "--no-tty", "--pinentry-mode", "loopback", "--homedir", g.home}
	return g.run(t, stdin, g.gpg, append(base, args...)...)
}

func (g gnupg) publicKeyring(t *testing.T) *Keyring {
	t.Helper()
	kr, err := ReadKeyring(bytes.NewReader(g.gpgRun(t, nil, "--armor", "--export", "builder@test")))
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// detachSign and clearSign are Portage's BINPKG_GPG_SIGNING_BASE_COMMAND
// ("gpg --sign --armor") with --detach-sig or --clear-sign and
// BINPKG_GPG_SIGNING_DIGEST=SHA512.
func (g gnupg) detachSign(t *testing.T, data []byte) []byte {
	return g.gpgRun(t, data, "--sign", "--armor", "--detach-sig", "--digest-algo", "SHA512")
}

func (g gnupg) clearSign(t *testing.T, data []byte) []byte {
	return g.gpgRun(t, data, "--sign", "--armor", "--clear-sign", "--digest-algo", "SHA512")
}

type member struct {
	name string
	data []byte
}

// sampleMembers are the members of the real (unsigned) GPKG sample.
func sampleMembers(t *testing.T) []member {
	t.Helper()
	f, err := os.Open(gpkgSample)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []member
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		var b bytes.Buffer
		if _, err := b.ReadFrom(tr); err != nil {
			t.Fatal(err)
		}
		out = append(out, member{h.Name, b.Bytes()})
	}
	if len(out) != 4 {
		t.Fatalf("sample GPKG: %d members, want 4", len(out))
	}
	return out
}

// signedGPKG lays the members out as Portage does when signing: each
// metadata/image member followed by its .sig, the Manifest clear-signed.
func signedGPKG(t *testing.T, g gnupg, members []member) []member {
	t.Helper()
	var out []member
	for _, m := range members {
		switch {
		case strings.HasSuffix(m.name, "/Manifest"):
			out = append(out, member{m.name, g.clearSign(t, m.data)})
		case needsSignature(m.name):
			out = append(out, m, member{m.name + ".sig", g.detachSign(t, m.data)})
		default:
			out = append(out, m)
		}
	}
	return out
}

// verifyTar verifies an in-memory GPKG.
func verifyTar(v Verifier, r *bytes.Reader) (*GPKGSignatures, error) {
	return v.VerifyGPKG(r, r.Size())
}

func tarOf(t *testing.T, members []member) *bytes.Reader {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, m := range members {
		if err := tw.WriteHeader(&tar.Header{Name: m.name, Mode: 0o644, Size: int64(len(m.data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(m.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return bytes.NewReader(b.Bytes())
}

func TestGPKGSignedByGnuPG(t *testing.T) {
	g := newGnuPG(t)
	ring := g.publicKeyring(t)
	orig := sampleMembers(t)
	signed := signedGPKG(t, g, orig)
	v := Verifier{Keyring: ring}

	res, err := verifyTar(v, tarOf(t, signed))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Members) != 2 || res.Members["dnsmasq-0-r3-1/image.tar.zst"].Fingerprint != ring.Fingerprints()[0] {
		t.Errorf("members: %+v", res.Members)
	}
	if n := len(res.Manifest.Entries); n != 3 || res.ManifestSignature.Fingerprint != ring.Fingerprints()[0] {
		t.Errorf("Manifest: %d entries, signer %s", n, res.ManifestSignature.Fingerprint)
	}

	cases := map[string]struct {
		members []member
		want    error
	}{
		"unsigned original":  {orig, ErrUnsigned},
		"image modified":     {modify(signed, "dnsmasq-0-r3-1/image.tar.zst", flipMiddle), ErrBadSignature},
		"metadata modified":  {modify(signed, "dnsmasq-0-r3-1/metadata.tar.zst", flipMiddle), ErrBadSignature},
		"Manifest modified":  {modify(signed, "dnsmasq-0-r3-1/Manifest", changeDataSize), ErrBadSignature},
		"image sig missing":  {drop(signed, "dnsmasq-0-r3-1/image.tar.zst.sig"), ErrUnsigned},
		"sig swapped":        {swapSigs(signed), ErrBadSignature},
		"unsigned Manifest":  {modify(signed, "dnsmasq-0-r3-1/Manifest", func([]byte) []byte { return orig[3].data }), ErrUnsigned},
		"sig without member": {drop(signed, "dnsmasq-0-r3-1/image.tar.zst"), ErrMalformed},
		"duplicate image":    {insertAfter(signed, "dnsmasq-0-r3-1/image.tar.zst.sig", member{"dnsmasq-0-r3-1/image.tar.zst", []byte("evil")}), ErrMalformed},
		"not a GPKG":         {drop(signed, "dnsmasq-0-r3-1/gpkg-1"), ErrMalformed},
	}
	for name, c := range cases {
		if _, err := verifyTar(v, tarOf(t, c.members)); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	_, otherRing := newKey(t)
	if _, err := verifyTar(Verifier{Keyring: otherRing}, tarOf(t, signed)); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("other keyring: %v, want ErrUnknownKey", err)
	}
}

func modify(ms []member, name string, f func([]byte) []byte) []member {
	out := make([]member, len(ms))
	for i, m := range ms {
		out[i] = m
		if m.name == name {
			out[i].data = f(bytes.Clone(m.data))
		}
	}
	return out
}

func drop(ms []member, name string) []member {
	var out []member
	for _, m := range ms {
		if m.name != name {
			out = append(out, m)
		}
	}
	return out
}

func insertAfter(ms []member, name string, extra member) []member {
	var out []member
	for _, m := range ms {
		out = append(out, m)
		if m.name == name {
			out = append(out, extra)
		}
	}
	return out
}

// swapSigs gives image.tar.zst the signature of metadata.tar.zst and back.
func swapSigs(ms []member) []member {
	out := append([]member(nil), ms...)
	var a, b int
	for i, m := range out {
		switch filepath.Base(m.name) {
		case "metadata.tar.zst.sig":
			a = i
		case "image.tar.zst.sig":
			b = i
		}
	}
	out[a].data, out[b].data = out[b].data, out[a].data
	return out
}

func flipMiddle(b []byte) []byte {
	b[len(b)/2] ^= 1
	return b
}

func changeDataSize(b []byte) []byte {
	return bytes.Replace(b, []byte("DATA image.tar.zst 181 "), []byte("DATA image.tar.zst 182 "), 1)
}
