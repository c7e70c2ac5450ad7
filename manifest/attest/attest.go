// Package attest signs and verifies attestations: statements, by one
// signer, that a binary package at a PKGDIR path, built with a given
// build configuration, has a given size, BLAKE2B and SHA512, and whether
// the signer built it or only checked it. docs/attestations.md specifies
// the format (version 1).
//
// An attestation file is the canonical statement (Statement.Encode)
// followed by an SSH signature (OpenSSH PROTOCOL.sshsig, namespace
// Namespace) over exactly those bytes, made with an Ed25519 key. The
// signature carries the public key; Parse checks it and that its
// fingerprint is the statement's signer. Whether that key is trusted is
// not this package's business (see manifest/trust).
//
// Keys live in a KeyStore: OpenSSH files, so ssh-keygen can read them and
// `ssh-keygen -Y verify -n attestation@distswarm` can check an
// attestation independently.
package attest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"strings"

	"golang.org/x/crypto/ssh"
)

// ErrBadSignature marks an attestation whose signature does not verify or
// was not made by the key the statement names.
var ErrBadSignature = errors.New("bad attestation signature")

// Dir is the top directory of attestations inside a collection.
const Dir = "attestations"

// Suffix ends every attestation file name.
const Suffix = ".attestation"

// Attestation is a statement whose signature verified.
type Attestation struct {
	Statement
	// Key is the public key that signed it (KeyID(Key) == Signer).
	Key ssh.PublicKey
}

// KeyID is the identity of a key in attestations and trust files: its
// OpenSSH SHA256 fingerprint ("SHA256:" and unpadded base64), as
// `ssh-keygen -l` prints it.
func KeyID(k ssh.PublicKey) string { return ssh.FingerprintSHA256(k) }

// keyHex is the hex SHA-256 of the key's wire form: KeyID without the
// characters base64 puts in file names ('/', '+').
func keyHex(k ssh.PublicKey) string {
	sum := sha256.Sum256(k.Marshal())
	return hex.EncodeToString(sum[:])
}

// PathFor is where signer's attestation of the package at pkgPath lives in
// a collection: attestations/<hex SHA-256 of the key>/<pkgPath>.attestation.
// One signer has one attestation per package path; signing again replaces
// it.
func PathFor(signer ssh.PublicKey, pkgPath string) (string, error) {
	if err := CheckPath(pkgPath); err != nil {
		return "", fmt.Errorf("attestation path: %w", err)
	}
	return path.Join(Dir, keyHex(signer), pkgPath+Suffix), nil
}

// IsAttestationPath reports whether a collection path is in the
// attestations tree and names an attestation file.
func IsAttestationPath(p string) bool {
	return strings.HasPrefix(p, Dir+"/") && strings.HasSuffix(p, Suffix)
}

// Sign fills in the statement's Signer and returns the attestation file:
// the canonical statement followed by its armoured SSH signature.
func Sign(s Statement, signer ssh.Signer) ([]byte, error) {
	s.Signer = KeyID(signer.PublicKey())
	body, err := s.Encode()
	if err != nil {
		return nil, fmt.Errorf("attest %s: %w", s.Path, err)
	}
	sig, err := sshSign(signer, Namespace, body)
	if err != nil {
		return nil, fmt.Errorf("attest %s: %w", s.Path, err)
	}
	return append(body, sig...), nil
}

// Parse reads an attestation file of at most MaxFileSize bytes and
// verifies its signature. Errors wrap ErrMalformed or ErrBadSignature.
// With ErrBadSignature the returned Attestation holds the statement the
// file claims (Key nil), so a caller can say which package and key a bad
// signature was about.
func Parse(data []byte) (Attestation, error) {
	if len(data) > MaxFileSize {
		return Attestation{}, fmt.Errorf("%w: file larger than %d bytes", ErrMalformed, MaxFileSize)
	}
	i := bytes.Index(data, []byte("\n"+sshsigBegin+"\n"))
	if i < 0 {
		return Attestation{}, fmt.Errorf("%w: no %s line", ErrMalformed, sshsigBegin)
	}
	body, sig := data[:i+1], data[i+1:]
	s, err := ParseStatement(body)
	if err != nil {
		return Attestation{}, err
	}
	claimed := Attestation{Statement: s}
	key, err := sshVerify(sig, Namespace, body)
	if err != nil {
		return claimed, fmt.Errorf("%w: %s by %s: %v", ErrBadSignature, s.Path, s.Signer, err)
	}
	if KeyID(key) != s.Signer {
		return claimed, fmt.Errorf("%w: %s: signed by %s, statement names %s", ErrBadSignature, s.Path, KeyID(key), s.Signer)
	}
	return Attestation{Statement: s, Key: key}, nil
}

// SameBuild reports whether two statements are about the same package
// built the same way (path and build key).
func (s Statement) SameBuild(o Statement) bool {
	return s.Path == o.Path && s.BuildKey == o.BuildKey
}

// SameBytes reports whether two statements attest the same size and
// digests.
func (s Statement) SameBytes(o Statement) bool {
	return s.Size == o.Size && s.BLAKE2B == o.BLAKE2B && s.SHA512 == o.SHA512
}
