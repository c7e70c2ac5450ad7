package openpgp

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/distswarm/distswarm/manifest"
)

// Bounds of a GPKG's signature check.
const (
	// MaxGPKGMembers bounds the members of one GPKG (GLEP 78 has five
	// kinds, each with an optional .sig).
	MaxGPKGMembers = 64
	// MaxGPKGManifestSize bounds the inner Manifest.
	MaxGPKGManifestSize = 1 << 20
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

// VerifyGPKG checks the OpenPGP signatures of a GLEP 78 binary package
// as Portage does with binrepos.conf verify-signature: the inner Manifest
// must be clear-signed, and every metadata.tar.* and image.tar.* member
// must have a detached signature (member.sig) that verifies over it. Any
// missing signature is ErrUnsigned. It reads r twice: once for the small
// members (signatures and Manifest), once streaming the large ones.
// Checking the members against the Manifest's DATA entries is left to the
// caller (the binpkg reader).
func (v Verifier) VerifyGPKG(r io.ReadSeeker) (*GPKGSignatures, error) {
	if v.Keyring == nil {
		return nil, errors.New("verify GPKG: no keyring")
	}
	idx, err := indexGPKG(r)
	if err != nil {
		return nil, err
	}
	if idx.manifest == nil {
		return nil, fmt.Errorf("verify GPKG: %w: no Manifest member", ErrUnsigned)
	}
	m, msig, err := v.VerifyManifest(idx.manifest, idx.manifestName)
	if err != nil {
		return nil, fmt.Errorf("verify GPKG Manifest: %w", err)
	}
	for _, name := range idx.members {
		if needsSignature(name) && idx.sigs[name] == nil {
			return nil, fmt.Errorf("verify GPKG: %w: %s has no %s.sig", ErrUnsigned, name, path.Base(name))
		}
	}
	for name := range idx.sigs {
		if !idx.has(name) {
			return nil, fmt.Errorf("verify GPKG: %w: %s.sig signs no member", ErrMalformed, name)
		}
	}
	members, err := v.verifyMembers(r, idx.sigs)
	if err != nil {
		return nil, err
	}
	return &GPKGSignatures{Manifest: m, ManifestSignature: msig, Members: members}, nil
}

// needsSignature: the members Portage signs.
func needsSignature(name string) bool {
	base := path.Base(name)
	return strings.HasPrefix(base, "metadata.tar") || strings.HasPrefix(base, "image.tar")
}

type gpkgIndex struct {
	members      []string          // non-signature members, in order
	sigs         map[string][]byte // signed member name → signature
	manifest     []byte
	manifestName string
}

func (x gpkgIndex) has(name string) bool {
	for _, m := range x.members {
		if m == name {
			return true
		}
	}
	return false
}

// indexGPKG reads the member list, the signatures and the Manifest.
func indexGPKG(r io.ReadSeeker) (gpkgIndex, error) {
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return gpkgIndex{}, fmt.Errorf("verify GPKG: %w", err)
	}
	idx := gpkgIndex{sigs: map[string][]byte{}}
	tr := tar.NewReader(r)
	for n := 0; ; n++ {
		h, err := tr.Next()
		if err == io.EOF {
			return idx, nil
		}
		if err != nil {
			return gpkgIndex{}, fmt.Errorf("verify GPKG: %w: %v", ErrMalformed, err)
		}
		if n >= MaxGPKGMembers {
			return gpkgIndex{}, fmt.Errorf("verify GPKG: %w: more than %d members", ErrMalformed, MaxGPKGMembers)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		if err := idx.add(h.Name, tr); err != nil {
			return gpkgIndex{}, err
		}
	}
}

func (x *gpkgIndex) add(name string, r io.Reader) error {
	if signed, ok := strings.CutSuffix(name, ".sig"); ok {
		if x.sigs[signed] != nil {
			return fmt.Errorf("verify GPKG: %w: %s twice", ErrMalformed, name)
		}
		sig, err := readAtMost(r, MaxSignatureSize, name)
		x.sigs[signed] = sig
		return err
	}
	x.members = append(x.members, name)
	if path.Base(name) != "Manifest" {
		return nil
	}
	if x.manifest != nil {
		return fmt.Errorf("verify GPKG: %w: two Manifests", ErrMalformed)
	}
	data, err := readAtMost(r, MaxGPKGManifestSize, name)
	x.manifest, x.manifestName = data, name
	return err
}

func readAtMost(r io.Reader, limit int64, name string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("verify GPKG: read %s: %w", name, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("verify GPKG: %w: %s larger than %d bytes", ErrMalformed, name, limit)
	}
	return data, nil // never nil: io.ReadAll returns an empty slice
}

// verifyMembers streams every signed member through its signature check.
func (v Verifier) verifyMembers(r io.ReadSeeker, sigs map[string][]byte) (map[string]Signature, error) {
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("verify GPKG: %w", err)
	}
	out := map[string]Signature{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("verify GPKG: %w: %v", ErrMalformed, err)
		}
		sig := sigs[h.Name]
		if sig == nil || h.Typeflag != tar.TypeReg {
			continue
		}
		s, err := v.VerifyDetached(tr, sig)
		if err != nil {
			return nil, fmt.Errorf("verify GPKG member %s: %w", h.Name, err)
		}
		out[h.Name] = s
	}
}
