package collection

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/distswarm/distswarm/manifest/attest"
)

// signInto writes an attestation of pkgPath (made-up digests: the
// collection does not judge them) by a key derived from seed under
// dir/attestations, and returns its path in the collection.
func signInto(t *testing.T, dir, pkgPath string, seed byte) string {
	t.Helper()
	signer, err := ssh.NewSignerFromKey(ed25519.NewKeyFromSeed(slices.Repeat([]byte{seed}, ed25519.SeedSize)))
	if err != nil {
		t.Fatal(err)
	}
	sum := strings.Repeat("ab", 64)
	data, err := attest.Sign(attest.Statement{Kind: attest.Built, Path: pkgPath, BuildKey: "cfg", Size: 1,
		BLAKE2B: sum, SHA512: sum, Time: time.Unix(1700000000, 0).UTC()}, signer)
	if err != nil {
		t.Fatal(err)
	}
	rel, err := attest.PathFor(signer.PublicKey(), pkgPath)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, rel, data)
	return rel
}

// torrentPaths lists the file paths of a torrent, pads left out.
func torrentPaths(t *testing.T, c *Collection, i int) []string {
	t.Helper()
	info, err := ParseInfo(c.Torrents[i].InfoBytes)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range info.UpvertedFiles() {
		if !strings.Contains(f.Attr, "p") {
			out = append(out, strings.Join(f.Path, "/"))
		}
	}
	return out
}

// TestCreateBinpkgAttestations: the PKGDIR's attestations travel after the
// packages, sorted, byte for byte, each in its package's shard; those of
// packages the PKGDIR lacks are left out; two PKGDIRs with the same
// packages and attestations give one infohash; --attestations DIR is read
// instead of the PKGDIR's.
func TestCreateBinpkgAttestations(t *testing.T) {
	ctx := context.Background()
	a, b := samplePKGDIR(t), samplePKGDIR(t)
	var want []string
	for _, dir := range []string{a, b} {
		want = []string{
			signInto(t, dir, "acct-user/adm/adm-0-r2-1.xpak", 2),
			signInto(t, dir, "acct-group/adm/adm-0-r2-1.xpak", 1),
			signInto(t, dir, "acct-group/adm/adm-0-r2-1.xpak", 2),
		}
		signInto(t, dir, "app-misc/gone/gone-1-1.gpkg.tar", 1)
	}
	slices.Sort(want)
	ca, err := CreateBinpkg(ctx, CreateOptions{From: a})
	if err != nil {
		t.Fatal(err)
	}
	cb, err := CreateBinpkg(ctx, CreateOptions{From: b})
	if err != nil {
		t.Fatal(err)
	}
	if ca.Torrents[0].HashInfoBytes() != cb.Torrents[0].HashInfoBytes() {
		t.Fatal("same PKGDIR and attestations, two infohashes")
	}
	paths := torrentPaths(t, ca, 0)
	if got := paths[len(paths)-3:]; !slices.Equal(got, want) {
		t.Fatalf("torrent ends with %v, want the attestations %v", got, want)
	}
	for _, af := range ca.Binpkgs[0].Attestations {
		disk, _ := os.ReadFile(filepath.Join(a, filepath.FromSlash(af.Path)))
		if sha256.Sum256(disk) != sha256.Sum256(af.Data) {
			t.Fatalf("%s: other bytes than the file", af.Path)
		}
	}
	// Sharded: each attestation in its package's torrent.
	cs, err := CreateBinpkg(ctx, CreateOptions{From: a, MaxFilesPerTorrent: 1})
	if err != nil {
		t.Fatal(err)
	}
	carried := 0
	for i := range cs.Torrents {
		for _, p := range torrentPaths(t, cs, i) {
			if !attest.IsAttestationPath(p) {
				continue
			}
			carried++
			// attestations/<key>/<package path>.attestation
			pkg := strings.TrimSuffix(strings.SplitN(p, "/", 3)[2], attest.Suffix)
			if !slices.Contains(torrentPaths(t, cs, i), pkg) {
				t.Errorf("shard %d carries %s without %s", i, p, pkg)
			}
		}
	}
	if carried != 3 {
		t.Errorf("the shards carry %d attestations, want 3", carried)
	}
	// --attestations: another directory's tree instead of the PKGDIR's.
	other := t.TempDir()
	only := signInto(t, other, "acct-group/dnsmasq/dnsmasq-0-r3-1.gpkg.tar", 3)
	co, err := CreateBinpkg(ctx, CreateOptions{From: a, Attestations: other})
	if err != nil {
		t.Fatal(err)
	}
	if got := co.Binpkgs[0].Attestations; len(got) != 1 || got[0].Path != only {
		t.Fatalf("--attestations: carried %v", got)
	}
}

// TestCreateBinpkgBadAttestation: a tampered attestation, or one at
// another signer's path, fails the publish.
func TestCreateBinpkgBadAttestation(t *testing.T) {
	ctx := context.Background()
	dir := samplePKGDIR(t)
	rel := signInto(t, dir, "acct-group/adm/adm-0-r2-1.xpak", 1)
	p := filepath.Join(dir, filepath.FromSlash(rel))
	data, _ := os.ReadFile(p)
	writeFile(t, dir, rel, []byte(strings.Replace(string(data), "kind=built", "kind=checked", 1)))
	if _, err := CreateBinpkg(ctx, CreateOptions{From: dir}); err == nil || !strings.Contains(err.Error(), rel) {
		t.Fatalf("tampered attestation: %v", err)
	}
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	moved := strings.Replace(signInto(t, dir, "acct-group/adm/adm-0-r2-1.xpak", 2), "adm-0-r2-1.xpak", "adm-0-r2-2.xpak", 1)
	if err := os.Rename(filepath.Join(dir, filepath.FromSlash(strings.Replace(moved, "adm-0-r2-2.xpak", "adm-0-r2-1.xpak", 1))), filepath.Join(dir, filepath.FromSlash(moved))); err != nil {
		t.Fatal(err)
	}
	if _, err := CreateBinpkg(ctx, CreateOptions{From: dir}); err == nil || !strings.Contains(err.Error(), "belongs at") {
		t.Fatalf("attestation at another path: %v", err)
	}
}
