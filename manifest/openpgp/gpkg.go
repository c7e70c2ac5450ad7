package openpgp

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/distswarm/distswarm/manifest"
	"github.com/distswarm/distswarm/manifest/binpkg"
)

// GPKGSignatures is the result of a good GPKG signature check.
type GPKGSignatures struct {
	// Manifest is the inner Manifest, parsed from its signed text only:
	// its DATA entries are what the members must match.
	Manifest *manifest.Manifest
	// ManifestSignature signed the inner Manifest.
	ManifestSignature Signature
	// Members maps each signed member (e.g. "pkg-1/image.tar.zst") to
	// its detached signature.
	Members map[string]Signature
}

// VerifyGPKG checks the OpenPGP signatures of a GLEP 78 binary package of
// the given size as Portage does with binrepos.conf verify-signature: the
// container must pass binpkg.OpenGPKG's structure rules (else
// ErrMalformed), the inner Manifest must be clear-signed, and every
// metadata.tar.* and image.tar.* member must have a detached signature
// (member.sig) that verifies over it. Any missing signature is
// ErrUnsigned. Checking the members against the Manifest's DATA entries is
// left to the caller (binpkg.GPKG.Verify).
func (v Verifier) VerifyGPKG(r io.ReaderAt, size int64) (*GPKGSignatures, error) {
	if v.Keyring == nil {
		return nil, errors.New("verify GPKG: no keyring")
	}
	g, err := binpkg.OpenGPKG(r, size)
	if err != nil {
		return nil, fmt.Errorf("verify GPKG: %w: %w", ErrMalformed, err)
	}
	m, msig, err := v.verifyGPKGManifest(g)
	if err != nil {
		return nil, err
	}
	sigs, err := signaturesOf(g)
	if err != nil {
		return nil, err
	}
	members := map[string]Signature{}
	for _, name := range slices.Sorted(maps.Keys(sigs)) {
		mem, _ := g.Member(name) // signaturesOf checked it exists
		s, err := v.VerifyDetached(g.Open(mem), sigs[name])
		if err != nil {
			return nil, fmt.Errorf("verify GPKG member %s: %w", g.Prefix+"/"+name, err)
		}
		members[g.Prefix+"/"+name] = s
	}
	return &GPKGSignatures{Manifest: m, ManifestSignature: msig, Members: members}, nil
}

// verifyGPKGManifest checks the clear signature of the inner Manifest
// (OpenGPKG found it and bounded its size).
func (v Verifier) verifyGPKGManifest(g *binpkg.GPKG) (*manifest.Manifest, Signature, error) {
	mf, _ := g.Member("Manifest")
	name := g.Prefix + "/Manifest"
	data, err := io.ReadAll(g.Open(mf))
	if err != nil {
		return nil, Signature{}, fmt.Errorf("verify GPKG: read %s: %w", name, err)
	}
	m, sig, err := v.VerifyManifest(data, name)
	if err != nil {
		return nil, Signature{}, fmt.Errorf("verify GPKG Manifest: %w", err)
	}
	return m, sig, nil
}

// signaturesOf reads the .sig members of g, by the base name of the
// member they sign. A member Portage signs without its .sig is
// ErrUnsigned, a .sig without its member ErrMalformed.
func signaturesOf(g *binpkg.GPKG) (map[string][]byte, error) {
	sigs := map[string][]byte{}
	for _, mem := range g.Members {
		signed, ok := strings.CutSuffix(mem.Name, ".sig")
		if !ok {
			continue
		}
		if _, ok := g.Member(signed); !ok {
			return nil, fmt.Errorf("verify GPKG: %w: %s/%s signs no member", ErrMalformed, g.Prefix, mem.Name)
		}
		if mem.Size > MaxSignatureSize {
			return nil, fmt.Errorf("verify GPKG: %w: %s larger than %d bytes", ErrMalformed, mem.Name, MaxSignatureSize)
		}
		data, err := io.ReadAll(g.Open(mem))
		if err != nil {
			return nil, fmt.Errorf("verify GPKG: read %s: %w", mem.Name, err)
		}
		sigs[signed] = data
	}
	for _, mem := range g.Members {
		if needsSignature(mem.Name) && !strings.HasSuffix(mem.Name, ".sig") && sigs[mem.Name] == nil {
			return nil, fmt.Errorf("verify GPKG: %w: %s/%s has no %s.sig", ErrUnsigned, g.Prefix, mem.Name, path.Base(mem.Name))
		}
	}
	return sigs, nil
}

// needsSignature: the members Portage signs.
func needsSignature(name string) bool {
	base := path.Base(name)
	return strings.HasPrefix(base, "metadata.tar") || strings.HasPrefix(base, "image.tar")
}
