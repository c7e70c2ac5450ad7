// Package openpgp checks OpenPGP signatures against a keyring the user
// chose: clear-signed Gentoo Manifests (the wrapper manifest.Parse only
// checks structurally) and detached signatures, such as the .sig members
// of a GLEP 78 GPKG, which Portage's binrepos.conf verify-signature checks
// with gpg.
//
// It uses github.com/ProtonMail/go-crypto, the maintained fork of the
// deprecated golang.org/x/crypto/openpgp. A signature is good only if it
// was made by a key of the keyring, the key (or signing subkey) was valid
// when the signature was made, and is neither revoked nor expired at the
// verifier's clock (Verifier.Now). Unlike gemato, which accepts a
// signature made before the key expired, an expired key fails with
// ErrKeyExpired: set Now to judge an old signature at another time.
//
// Inputs are bounded: keyrings by MaxKeyringSize, signed Manifests by
// manifest.MaxManifestSize, detached signatures by MaxSignatureSize.
package openpgp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/distswarm/distswarm/manifest"
)

// Size bounds of the inputs.
const (
	MaxKeyringSize   = 16 << 20
	MaxSignatureSize = 64 << 10
)

// Errors a verification can end with (wrapped; test with errors.Is).
var (
	ErrUnsigned     = errors.New("not OpenPGP-signed")
	ErrUnknownKey   = errors.New("signed by a key that is not in the keyring")
	ErrBadSignature = errors.New("bad signature")
	ErrKeyExpired   = errors.New("signing key expired")
	ErrKeyRevoked   = errors.New("signing key revoked")
	ErrMalformed    = errors.New("malformed OpenPGP data")
)

// Keyring is a set of OpenPGP public keys (certificates).
type Keyring struct {
	entities openpgp.EntityList
}

// ReadKeyring reads an armoured or binary keyring of at most
// MaxKeyringSize bytes.
func ReadKeyring(r io.Reader) (*Keyring, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxKeyringSize+1))
	if err != nil {
		return nil, fmt.Errorf("read keyring: %w", err)
	}
	if len(data) > MaxKeyringSize {
		return nil, fmt.Errorf("keyring larger than %d bytes", MaxKeyringSize)
	}
	var el openpgp.EntityList
	if bytes.Contains(data, []byte("-----BEGIN PGP")) {
		el, err = openpgp.ReadArmoredKeyRing(bytes.NewReader(data))
	} else {
		el, err = openpgp.ReadKeyRing(bytes.NewReader(data))
	}
	if err != nil {
		return nil, fmt.Errorf("%w: keyring: %v", ErrMalformed, err)
	}
	if len(el) == 0 {
		return nil, fmt.Errorf("%w: keyring holds no key", ErrMalformed)
	}
	return &Keyring{entities: el}, nil
}

// LoadKeyring reads the keyring file at path.
func LoadKeyring(path string) (*Keyring, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open keyring: %w", err)
	}
	defer f.Close()
	kr, err := ReadKeyring(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return kr, nil
}

// Fingerprints lists the primary-key fingerprints of the keyring (upper
// case hex, as gpg prints them).
func (k *Keyring) Fingerprints() []string {
	out := make([]string, 0, len(k.entities))
	for _, e := range k.entities {
		out = append(out, fmt.Sprintf("%X", e.PrimaryKey.Fingerprint))
	}
	return out
}

// Signature describes a good signature.
type Signature struct {
	// Fingerprint is the primary key's fingerprint (upper case hex).
	Fingerprint string
	// KeyID is the 64-bit ID of the key that made the signature (a
	// subkey's when a subkey signed).
	KeyID   uint64
	Created time.Time
	// UserIDs are the identities of the signing key.
	UserIDs []string
}

// Verifier checks signatures against one keyring.
type Verifier struct {
	Keyring *Keyring
	// Now is the clock expiry and revocation are judged at; nil means
	// time.Now.
	Now func() time.Time
}

func (v Verifier) config() *packet.Config {
	return &packet.Config{Time: v.Now}
}

// VerifyDetached checks a detached signature (armoured or binary, at most
// MaxSignatureSize bytes) over the bytes read from signed.
func (v Verifier) VerifyDetached(signed io.Reader, sig []byte) (Signature, error) {
	if v.Keyring == nil {
		return Signature{}, errors.New("verify detached signature: no keyring")
	}
	if len(sig) > MaxSignatureSize {
		return Signature{}, fmt.Errorf("%w: signature larger than %d bytes", ErrMalformed, MaxSignatureSize)
	}
	body := io.Reader(bytes.NewReader(sig))
	if bytes.HasPrefix(bytes.TrimSpace(sig), []byte("-----BEGIN PGP SIGNATURE-----")) {
		blk, err := armor.Decode(bytes.NewReader(sig))
		if err != nil {
			return Signature{}, fmt.Errorf("%w: signature armour: %v", ErrMalformed, err)
		}
		if blk.Type != "PGP SIGNATURE" {
			return Signature{}, fmt.Errorf("%w: armour type %q, want PGP SIGNATURE", ErrMalformed, blk.Type)
		}
		body = blk.Body
	}
	return v.check(signed, body)
}

// check verifies and maps go-crypto's errors to this package's.
func (v Verifier) check(signed, sig io.Reader) (Signature, error) {
	p, signer, err := openpgp.VerifyDetachedSignature(v.Keyring.entities, signed, sig, v.config())
	if err != nil {
		return Signature{}, classify(err)
	}
	s := Signature{Fingerprint: fmt.Sprintf("%X", signer.PrimaryKey.Fingerprint), Created: p.CreationTime}
	if p.IssuerKeyId != nil {
		s.KeyID = *p.IssuerKeyId
	}
	for name := range signer.Identities {
		s.UserIDs = append(s.UserIDs, name)
	}
	return s, nil
}

func classify(err error) error {
	switch {
	case errors.Is(err, pgperrors.ErrUnknownIssuer):
		return fmt.Errorf("%w: %v", ErrUnknownKey, err)
	case errors.Is(err, pgperrors.ErrKeyRevoked):
		return fmt.Errorf("%w: %v", ErrKeyRevoked, err)
	case errors.Is(err, pgperrors.ErrKeyExpired), errors.Is(err, pgperrors.ErrSignatureExpired):
		return fmt.Errorf("%w: %v", ErrKeyExpired, err)
	}
	var se pgperrors.SignatureError
	if errors.As(err, &se) {
		return fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	var ke pgperrors.KeyInvalidError
	if errors.As(err, &ke) {
		return fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	return fmt.Errorf("%w: %v", ErrMalformed, err)
}

// VerifyClearsigned checks a clear-signed message and returns the signed
// text (dash-escaping undone, as RFC 4880 §7 defines it). Anything but
// white space before the wrapper or after the signature is an error, like
// gemato's ManifestUnsignedData: such text would not be covered by the
// signature.
func (v Verifier) VerifyClearsigned(data []byte) ([]byte, Signature, error) {
	if v.Keyring == nil {
		return nil, Signature{}, errors.New("verify clear-signed message: no keyring")
	}
	start := bytes.Index(data, []byte("-----BEGIN PGP SIGNED MESSAGE-----"))
	if start < 0 {
		return nil, Signature{}, ErrUnsigned
	}
	if len(bytes.TrimSpace(data[:start])) != 0 {
		return nil, Signature{}, fmt.Errorf("%w: unsigned data before the signed message", ErrMalformed)
	}
	blk, rest := decodeClearsigned(data[start:])
	if blk == nil {
		return nil, Signature{}, fmt.Errorf("%w: incomplete clear-signed message", ErrMalformed)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, Signature{}, fmt.Errorf("%w: unsigned data after the signature", ErrMalformed)
	}
	sig, err := v.check(bytes.NewReader(blk.Bytes), blk.ArmoredSignature.Body)
	if err != nil {
		return nil, Signature{}, err
	}
	return blk.Plaintext, sig, nil
}

// VerifyManifest checks the signature of a clear-signed Manifest and
// parses the signed text only. An unsigned Manifest is ErrUnsigned: with
// a keyring given, a signature is required.
func (v Verifier) VerifyManifest(data []byte, name string) (*manifest.Manifest, Signature, error) {
	if len(data) > manifest.MaxManifestSize {
		return nil, Signature{}, fmt.Errorf("%s: larger than %d bytes", name, manifest.MaxManifestSize)
	}
	text, sig, err := v.VerifyClearsigned(data)
	if err != nil {
		return nil, Signature{}, fmt.Errorf("%s: %w", name, err)
	}
	m, err := manifest.Parse(bytes.NewReader(text), name)
	if err != nil {
		return nil, Signature{}, fmt.Errorf("parse signed text: %w", err)
	}
	m.Signed = true
	return m, sig, nil
}

// VerifyManifestFile is VerifyManifest on the file at path.
func (v Verifier) VerifyManifestFile(path string) (*manifest.Manifest, Signature, error) {
	data, err := readBounded(path, manifest.MaxManifestSize)
	if err != nil {
		return nil, Signature{}, err
	}
	return v.VerifyManifest(data, path)
}

func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, limit)
	}
	return data, nil
}

// String formats a signature for humans.
func (s Signature) String() string {
	ids := strings.Join(s.UserIDs, ", ")
	return fmt.Sprintf("good signature by %s (%s) made %s", s.Fingerprint, ids, s.Created.UTC().Format(time.RFC3339))
}

// decodeClearsigned is clearsign.Decode; nil when data holds no complete
// clear-signed message.
func decodeClearsigned(data []byte) (*clearsign.Block, []byte) {
	blk, rest := clearsign.Decode(data)
	if blk == nil || blk.ArmoredSignature == nil {
		return nil, rest
	}
	return blk, rest
}
