package collection

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/distswarm/distswarm/manifest/attest"
)

// MaxAttestationsPerTorrent bounds the attestation files of one binpkg
// torrent, at creation and when a node gathers them.
const MaxAttestationsPerTorrent = 4096

// AttestationFile is one attestation carried in a binpkg torrent.
type AttestationFile struct {
	// Path is its path in the torrent: attestations/<key>/<PKGDIR
	// path>.attestation (attest.PathFor).
	Path string
	Data []byte
}

// readAttestations reads the attestations/ tree under dir (none: no
// error) and returns the files by the package path they attest. Every
// file must be an attestation whose signature verifies and that sits at
// the path attest.PathFor gives for its signer and package: a publisher
// learns of a bad file now rather than its clients later.
func readAttestations(dir string) (map[string][]AttestationFile, error) {
	root := filepath.Join(dir, attest.Dir)
	out := map[string][]AttestationFile{}
	count := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() || strings.HasPrefix(d.Name(), ".") {
			return nil // temporary files of attest, dotfiles
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if count++; count > MaxAttestationsPerTorrent {
			return fmt.Errorf("more than %d attestation files", MaxAttestationsPerTorrent)
		}
		af, pkg, err := readAttestationFile(p, filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		out[pkg] = append(out[pkg], af)
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) && count == 0 {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("create binpkg collection: attestations: %w", err)
	}
	for _, files := range out {
		slices.SortFunc(files, func(a, b AttestationFile) int { return strings.Compare(a.Path, b.Path) })
	}
	return out, nil
}

// readAttestationFile reads and checks one attestation file at rel (its
// path in the collection); it returns the package path it attests.
func readAttestationFile(p, rel string) (AttestationFile, string, error) {
	if !attest.IsAttestationPath(rel) {
		return AttestationFile{}, "", fmt.Errorf("%s: not an attestation file (*%s)", rel, attest.Suffix)
	}
	f, err := os.Open(p)
	if err != nil {
		return AttestationFile{}, "", err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, attest.MaxFileSize+1))
	if err != nil {
		return AttestationFile{}, "", fmt.Errorf("%s: %w", rel, err)
	}
	a, err := attest.Parse(data)
	if err != nil {
		return AttestationFile{}, "", fmt.Errorf("%s: %w", rel, err)
	}
	if want, err := attest.PathFor(a.Key, a.Path); err != nil || want != rel {
		return AttestationFile{}, "", fmt.Errorf("%s: attests %s by %s, which belongs at %s", rel, a.Path, a.Signer, want)
	}
	return AttestationFile{Path: rel, Data: data}, a.Path, nil
}

// attestationEntries are the torrent entries of the attestations of the
// packages files, sorted by path.
func attestationEntries(files []*srcFile, atts map[string][]AttestationFile, pl int64) ([]torrentEntry, []AttestationFile) {
	var af []AttestationFile
	for _, f := range files {
		af = append(af, atts[f.tpath]...)
	}
	slices.SortFunc(af, func(a, b AttestationFile) int { return strings.Compare(a.Path, b.Path) })
	entries := make([]torrentEntry, len(af))
	for i, a := range af {
		e := memEntry("", a.Data, pl)
		e.path = strings.Split(a.Path, "/")
		entries[i] = e
	}
	return entries, af
}
